//! Backups of the instance: one taken while a payload is generated and sent restores into a
//! fresh directory with every table a consistent copy of the source and every stored payload's
//! bytes; damaged, foreign, newer and unwanted restores are refused and change nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use secrecy::SecretString;
use service_ping::db::{Db, ROLE};
use service_ping::service_ping::submit::CollectorClient;
use service_ping::service_ping::submit_now;
use service_ping_database::backup::{
    self, Schedule, Target, next_due, scheduled_backups, take_scheduled,
};
use service_ping_database::testing::{self, backend_under_test, every_row};
use service_ping_protocol::hash::sha256_hex;

use crate::support::{CLI, Instance, database, settings};

/// A seeded instance with one payload already sent, its database URL and data directory (with a
/// secret of its own), and a collector to send to.
struct Source {
    db: Db,
    dir: tempfile::TempDir,
    url: SecretString,
    instance: Instance,
    client: CollectorClient,
    _collector: crate::collector_support::TestCollector,
}

impl Source {
    async fn new() -> Self {
        let (db, dir) = database().await;
        let anchor = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        service_ping::platform::seed::seed(&db, 1, anchor, false)
            .await
            .unwrap();
        std::fs::write(dir.path().join("initial_root_password"), "correct horse").unwrap();
        let collector = crate::support::spawn_collector(|_| {}).await;
        let instance = Instance::new(&db).await;
        let client = CollectorClient::new(
            Some(collector.url("/").parse().unwrap()),
            Duration::from_secs(10),
        )
        .unwrap();
        submit_now(instance.deps(&db), &client, CLI, &|_| {})
            .await
            .unwrap();
        let url = settings(dir.path()).database_url();
        Self {
            db,
            dir,
            url,
            instance,
            client,
            _collector: collector,
        }
    }

    fn target(&self) -> Target<'_> {
        Target {
            url: &self.url,
            data_dir: self.dir.path(),
        }
    }

    fn backup_file(&self) -> PathBuf {
        let backups = self.dir.path().join("backups");
        std::fs::create_dir_all(&backups).unwrap();
        backups.join("instance.tar.zst")
    }

    /// A backup of the source as it is, its file and manifest.
    async fn backed_up(&self, include_secrets: bool) -> (PathBuf, backup::Manifest) {
        let file = self.backup_file();
        let manifest = backup::backup(&self.db, &self.target(), &ROLE, &file, include_secrets)
            .await
            .unwrap();
        (file, manifest)
    }
}

/// An empty database of the backend under test and a data directory that does not exist yet.
pub(crate) struct Fresh {
    _dir: tempfile::TempDir,
    url: SecretString,
    data_dir: PathBuf,
}

impl Fresh {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url =
            testing::fresh_database(backend_under_test(), dir.path(), "restored.sqlite3").await;
        let data_dir = dir.path().join("data");
        Self {
            _dir: dir,
            url,
            data_dir,
        }
    }

    pub(crate) fn target(&self) -> Target<'_> {
        Target {
            url: &self.url,
            data_dir: &self.data_dir,
        }
    }

    pub(crate) async fn db(&self) -> Db {
        Db::connect(&self.url, 2).await.unwrap()
    }
}

/// Every stored payload: its id, its bytes' sha256 as computed here, and the one recorded.
pub(crate) async fn stored_payloads(db: &Db) -> Vec<(i64, String, String)> {
    let rows: Vec<(i64, Vec<u8>, String)> = service_ping::db::on_pool!(db, |pool| {
        sqlx::query_as("SELECT id, payload, sha256 FROM raw_usage_data ORDER BY id")
            .fetch_all(pool)
            .await
    })
    .unwrap();
    rows.into_iter()
        .map(|(id, bytes, recorded)| (id, sha256_hex(&bytes), recorded))
        .collect()
}

/// A row's key: its first column, as `every_row` writes it.
fn key_of(row: &str) -> &str {
    row.split(',').next().unwrap_or(row)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_a_generation_and_a_send_restores_a_consistent_copy() {
    let source = Source::new().await;
    let before = every_row(&source.db).await;
    let file = source.backup_file();
    let target = source.target();
    let (sent, manifest) = tokio::join!(
        submit_now(
            source.instance.deps(&source.db),
            &source.client,
            CLI,
            &|_| {}
        ),
        backup::backup(&source.db, &target, &ROLE, &file, true),
    );
    sent.unwrap();
    let manifest = manifest.unwrap();
    let after = every_row(&source.db).await;
    assert_eq!(manifest.role, "instance");
    assert_eq!(
        manifest.schema_version,
        ROLE.newest_schema(source.db.backend())
    );
    assert!(manifest.secrets_included);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the backup is readable by its owner only"
    );

    let fresh = Fresh::new().await;
    backup::restore(&file, &fresh.target(), &ROLE, false)
        .await
        .unwrap();
    let restored_db = fresh.db().await;
    let restored = every_row(&restored_db).await;

    assert_eq!(
        restored.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "every table is restored"
    );
    let mut written_meanwhile = Vec::new();
    for (table, rows) in &restored {
        if before[table] == after[table] {
            assert_eq!(rows, &after[table], "{table}: untouched, restored whole");
            continue;
        }
        written_meanwhile.push(table.as_str());
        // A snapshot of a moment during the work: each row is as it was before, as it is now,
        // or (written again since) one whose key is still there.
        for row in rows {
            let known = before[table].binary_search(row).is_ok()
                || after[table].binary_search(row).is_ok()
                || after[table].iter().any(|now| key_of(now) == key_of(row));
            assert!(
                known,
                "{table}: restored a row the source never held: {row}"
            );
        }
    }
    assert!(
        written_meanwhile.contains(&"raw_usage_data"),
        "the generation ran while the backup was taken: {written_meanwhile:?}"
    );

    let payloads = stored_payloads(&restored_db).await;
    assert!(
        !payloads.is_empty(),
        "the payload sent before the backup is restored"
    );
    let sources: BTreeMap<i64, (String, String)> = stored_payloads(&source.db)
        .await
        .into_iter()
        .map(|(id, computed, recorded)| (id, (computed, recorded)))
        .collect();
    for (id, computed, recorded) in payloads {
        assert_eq!(
            computed, recorded,
            "payload {id}: its bytes match its sha256"
        );
        assert_eq!(
            sources[&id].0, computed,
            "payload {id}: the same bytes as the source's"
        );
    }
    let secret = fresh.data_dir.join("initial_root_password");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "correct horse");
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn secrets_stay_out_unless_asked_for() {
    let source = Source::new().await;
    let (file, manifest) = source.backed_up(false).await;
    assert!(!manifest.secrets_included);
    assert!(
        manifest
            .parts
            .iter()
            .all(|part| !part.name.starts_with("secrets/"))
    );
    let fresh = Fresh::new().await;
    backup::restore(&file, &fresh.target(), &ROLE, false)
        .await
        .unwrap();
    assert!(!fresh.data_dir.join("initial_root_password").exists());
}

/// Restoring `file` into a fresh target fails with a message that contains `reason`, and the
/// target stays empty.
async fn refused(file: &Path, reason: &str) {
    let fresh = Fresh::new().await;
    let error = backup::restore(file, &fresh.target(), &ROLE, false)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains(reason), "{error:#}");
    let db = fresh.db().await;
    assert!(every_row(&db).await.is_empty(), "the target is left empty");
}

#[tokio::test]
async fn a_damaged_backup_is_refused_and_changes_nothing() {
    let source = Source::new().await;
    let (file, _) = source.backed_up(false).await;
    let whole = std::fs::read(&file).unwrap();

    let truncated = file.with_extension("truncated");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    refused(&truncated, "truncated or damaged").await;

    let mut flipped = whole.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let altered = file.with_extension("altered");
    std::fs::write(&altered, flipped).unwrap();
    refused(&altered, "damaged").await;
}

/// A copy of the backup `file` at `out` whose manifest says `manifest` (its parts unchanged).
fn with_manifest(file: &Path, manifest: &backup::Manifest, out: &Path) {
    let mut archive =
        tar::Archive::new(zstd::Decoder::new(std::fs::File::open(file).unwrap()).unwrap());
    let mut builder = tar::Builder::new(Vec::new());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if entry.path().unwrap().to_str() == Some("manifest.json") {
            bytes = serde_json::to_vec(manifest).unwrap();
            header.set_size(bytes.len() as u64);
            header.set_cksum();
        }
        builder.append(&header, bytes.as_slice()).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    std::fs::write(out, zstd::encode_all(tar.as_slice(), 3).unwrap()).unwrap();
}

#[tokio::test]
async fn a_backup_of_a_newer_schema_or_another_role_is_refused() {
    let source = Source::new().await;
    let (file, manifest) = source.backed_up(false).await;
    let rewritten = |change: &dyn Fn(&mut backup::Manifest)| {
        let mut manifest = manifest.clone();
        change(&mut manifest);
        let out = file.with_extension(format!("{}-{}", manifest.role, manifest.schema_version));
        with_manifest(&file, &manifest, &out);
        out
    };
    let newer = rewritten(&|m| m.schema_version += 1);
    refused(&newer, "newer than this release knows").await;
    let collectors = rewritten(&|m| m.role = "collector".into());
    refused(&collectors, "this is a backup of the collector").await;
}

#[tokio::test]
async fn a_target_that_holds_data_is_replaced_only_with_force() {
    let source = Source::new().await;
    let (file, _) = source.backed_up(true).await;
    let expected = every_row(&source.db).await;

    let target = Source::new().await;
    let mut target_rows = every_row(&target.db).await;
    let error = backup::restore(&file, &target.target(), &ROLE, false)
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("already holds data"),
        "{error:#}"
    );
    assert_eq!(
        every_row(&target.db).await,
        target_rows,
        "refused: unchanged"
    );

    target.db.close().await;
    backup::restore(&file, &target.target(), &ROLE, true)
        .await
        .unwrap();
    let db = Db::connect(&target.url, 2).await.unwrap();
    target_rows = every_row(&db).await;
    assert_eq!(
        target_rows, expected,
        "with --force, the backup replaces it"
    );
}

#[tokio::test]
async fn scheduled_backups_keep_the_newest_few_and_leave_others_alone() {
    use chrono::TimeZone;
    let (db, dir) = database().await;
    let url = settings(dir.path()).database_url();
    let target = Target {
        url: &url,
        data_dir: dir.path(),
    };
    let schedule = Schedule {
        every_hours: 24,
        keep: 2,
        ..Schedule::default()
    };
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    std::fs::write(
        backups.join("instance-before-upgrade.tar.zst"),
        "kept by hand",
    )
    .unwrap();
    assert_eq!(
        next_due(&schedule, &backups, &ROLE).unwrap(),
        None,
        "due at once"
    );
    let day = |n| chrono::Utc.with_ymd_and_hms(2026, 12, n, 3, 0, 0).unwrap();
    for n in 1..=3 {
        take_scheduled(&db, &target, &ROLE, &schedule, day(n))
            .await
            .unwrap();
    }
    let mut names: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "instance-20261202T030000Z.tar.zst",
            "instance-20261203T030000Z.tar.zst",
            "instance-before-upgrade.tar.zst",
        ]
    );
    assert_eq!(
        next_due(&schedule, &backups, &ROLE).unwrap(),
        Some(day(4)),
        "the next one a period after the newest"
    );
}

#[tokio::test]
async fn the_server_takes_a_scheduled_backup_when_one_is_due() {
    let app = crate::support::spawn_app_with(|settings, _| {
        settings.backup.every_hours = 24;
    })
    .await;
    let backups = app.data_dir.path().join("backups");
    let mut found = Vec::new();
    for _ in 0..100 {
        found = scheduled_backups(&backups, &ROLE).unwrap();
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        found.len(),
        1,
        "one backup, taken at start as none was there"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&backups).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the backup directory is private");
    app.stop().await.unwrap();
}
