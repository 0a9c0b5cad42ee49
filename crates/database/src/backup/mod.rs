//! Backups of a role's database, and on request its data directory's secrets, taken while the
//! server runs, and their restore.
//!
//! A backup is one file, written readable by its owner only: a zstd-compressed tar of
//! - `database.sqlite3`: SQLite's online backup, in one step and so one read transaction: a
//!   consistent snapshot while writers go on; or `database.pgdump`: `pg_dump --format=custom`,
//!   also one snapshot, restored by `pg_restore`;
//! - `secrets/NAME` with `--include-secrets`: the data directory's own files (generated keys and
//!   passwords), never its databases;
//! - `manifest.json` last: the product version and commit that wrote it, the role, the backend,
//!   the schema version (the newest migration applied) and every other part's size and sha256.
//!
//! A restore unpacks into a staging directory and checks everything before it touches the
//! target: a truncated or altered file, another role's backup, another backend's, a schema
//! newer than this binary knows, or a target that already holds data (without `--force`) is
//! refused with the reason, the target unchanged. The restored database is then migrated to
//! this binary's schema. PostgreSQL's tools get the connection from `PG*` variables, never on
//! their command line, where other users could read the password.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use secrecy::SecretString;
use sqlx::migrate::Migrator;

use crate::{Backend, Db, on_pool};

mod archive;
mod postgres;
mod schedule;
mod sqlite;

use archive::{FORMAT, POSTGRES_PART, SECRETS, SQLITE_PART, unpack, write_archive};
pub use archive::{Manifest, Part};
pub use schedule::{Schedule, next_due, run_scheduled, scheduled_backups, take_scheduled};

/// What a backup is of: a role, with its migrations, as this binary knows them.
pub struct Role {
    /// `instance` or `collector`.
    pub name: &'static str,
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

impl Role {
    fn migrator(&self, backend: Backend) -> &'static Migrator {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }

    /// The newest schema version this binary can migrate to.
    pub fn newest_schema(&self, backend: Backend) -> i64 {
        let migrator = self.migrator(backend);
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }
}

/// Where a role keeps its data: its database and its data directory.
pub struct Target<'a> {
    pub url: &'a SecretString,
    pub data_dir: &'a Path,
}

/// Writes a backup of `db` (and with `include_secrets` the data directory's secrets) to `out`,
/// readable by its owner only. The file appears whole or not at all.
pub async fn backup(
    db: &Db,
    target: &Target<'_>,
    role: &Role,
    out: &Path,
    include_secrets: bool,
) -> anyhow::Result<Manifest> {
    let directory = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let staging = tempfile::tempdir_in(directory)
        .with_context(|| format!("creating a staging directory in {}", directory.display()))?;
    let schema_version = schema_version(db).await?;
    let database = match db {
        Db::Sqlite(pool) => {
            let copy = staging.path().join(SQLITE_PART);
            let source = pool.connect_options().get_filename().to_path_buf();
            let destination = copy.clone();
            tokio::task::spawn_blocking(move || sqlite::copy(&source, &destination))
                .await?
                .context("copying the SQLite database (online backup)")?;
            copy
        }
        Db::Postgres(_) => {
            let dump = staging.path().join(POSTGRES_PART);
            postgres::dump(target.url, &dump).await?;
            dump
        }
    };
    let mut files = vec![(file_name(&database), database)];
    if include_secrets {
        for secret in secrets_in(target.data_dir)? {
            files.push((format!("{SECRETS}{}", file_name(&secret)), secret));
        }
    }
    let mut manifest = Manifest {
        format: FORMAT,
        role: role.name.to_string(),
        version: crate::VERSION.to_string(),
        commit: crate::COMMIT.to_string(),
        backend: db.backend().name().to_string(),
        schema_version,
        created_at: now(),
        secrets_included: include_secrets,
        parts: Vec::new(),
    };
    let out = out.to_path_buf();
    tokio::task::spawn_blocking(move || {
        write_archive(staging.path(), &files, &mut manifest, &out)?;
        Ok(manifest)
    })
    .await?
}

/// Restores the backup in `file` into `target`, then migrates it to this binary's schema.
/// Refuses, changing nothing, a file that does not check out or a target that holds data
/// (unless `force`).
pub async fn restore(
    file: &Path,
    target: &Target<'_>,
    role: &Role,
    force: bool,
) -> anyhow::Result<Manifest> {
    let backend = Backend::of_url(target.url)?;
    crate::prepare_data_dir(target.data_dir)?;
    let staging = tempfile::tempdir_in(target.data_dir).context("creating a staging directory")?;
    let manifest = unpack(file, staging.path())?;
    check(&manifest, role, backend)?;
    let secrets: Vec<&Part> = manifest
        .parts
        .iter()
        .filter(|part| part.name.starts_with(SECRETS))
        .collect();
    if !force {
        refuse_data_in(target, backend, &secrets).await?;
    }
    match backend {
        Backend::Sqlite => sqlite::replace(target.url, &staging.path().join(SQLITE_PART))?,
        Backend::Postgres => {
            postgres::restore(target.url, &staging.path().join(POSTGRES_PART)).await?
        }
    }
    for secret in secrets {
        let name = &secret.name[SECRETS.len()..];
        let destination = target.data_dir.join(name);
        std::fs::rename(staging.path().join(&secret.name), &destination)
            .with_context(|| format!("restoring {}", destination.display()))?;
    }
    let db = Db::connect(target.url, 1).await?;
    let migrated = db.migrate(role.sqlite, role.postgres).await;
    db.close().await;
    migrated?;
    Ok(manifest)
}

/// What `backup` prints: the file and what it holds.
pub fn describe(manifest: &Manifest, file: &Path) -> String {
    let bytes = std::fs::metadata(file).map_or(0, |m| m.len());
    let parts: Vec<String> = manifest
        .parts
        .iter()
        .map(|p| format!("  {}  {} bytes  sha256 {}", p.name, p.bytes, p.sha256))
        .collect();
    format!(
        "Wrote {} ({bytes} bytes): the {}'s {} database, schema {}{}.\n{}",
        file.display(),
        manifest.role,
        manifest.backend,
        manifest.schema_version,
        if manifest.secrets_included {
            ", with the data directory's secrets"
        } else {
            ", without secrets (--include-secrets adds them)"
        },
        parts.join("\n")
    )
}

/// What `restore` prints.
pub fn restored(manifest: &Manifest) -> String {
    format!(
        "Restored the {}'s {} database (schema {}, written by Service Ping {} at {}) and migrated it to this release.",
        manifest.role,
        manifest.backend,
        manifest.schema_version,
        manifest.version,
        manifest.created_at
    )
}

/// The newest migration applied to `db`, or a refusal when it has none of ours.
async fn schema_version(db: &Db) -> anyhow::Result<i64> {
    let version: Option<i64> = on_pool!(db, |pool| sqlx::query_scalar(
        "SELECT MAX(version) FROM _sqlx_migrations WHERE success"
    )
    .fetch_one(pool)
    .await)
    .context("reading the schema version (is this Service Ping's database?)")?;
    version.context("the database has no migrations applied: nothing to back up")
}

/// Whether this binary may restore the backup as `role` on `backend`.
fn check(manifest: &Manifest, role: &Role, backend: Backend) -> anyhow::Result<()> {
    ensure!(
        manifest.role == role.name,
        "this is a backup of the {}, not of the {}: restore it with the {0}'s command",
        manifest.role,
        role.name
    );
    ensure!(
        manifest.backend == backend.name(),
        "this backup holds a {} database and database.url names a {} one; restore it into the backend it came from",
        manifest.backend,
        backend.name()
    );
    let newest = role.newest_schema(backend);
    ensure!(
        manifest.schema_version <= newest,
        "this backup was written by Service Ping {} with schema version {}, newer than this release knows ({newest}); \
         restore it with that release or a later one",
        manifest.version,
        manifest.schema_version
    );
    let database = match backend {
        Backend::Sqlite => SQLITE_PART,
        Backend::Postgres => POSTGRES_PART,
    };
    ensure!(
        manifest.parts.iter().any(|p| p.name == database),
        "the backup holds no {database}"
    );
    Ok(())
}

/// Refuses a target that already holds data: a database with any table, or a secret of the
/// same name in the data directory.
async fn refuse_data_in(
    target: &Target<'_>,
    backend: Backend,
    secrets: &[&Part],
) -> anyhow::Result<()> {
    let exists = match backend {
        Backend::Sqlite => crate::sqlite::file_of(target.url)?.exists(),
        Backend::Postgres => true,
    };
    let holds_tables = exists && {
        let db = Db::connect(target.url, 1).await?;
        let tables = db.table_names().await;
        db.close().await;
        !tables?.is_empty()
    };
    ensure!(
        !holds_tables,
        "the database that database.url names already holds data; restore into an empty one, or add --force to replace it"
    );
    for secret in secrets {
        let path = target.data_dir.join(&secret.name[SECRETS.len()..]);
        ensure!(
            !path.exists(),
            "{} already exists; add --force to replace it",
            path.display()
        );
    }
    Ok(())
}

/// The data directory's own files: everything at its top level but the databases (and their
/// journals), backups and directories.
fn secrets_in(data_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut secrets = Vec::new();
    for entry in std::fs::read_dir(data_dir)
        .with_context(|| format!("reading the data directory {}", data_dir.display()))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let is_database = [
            ".sqlite3",
            ".sqlite3-wal",
            ".sqlite3-shm",
            ".sqlite3-journal",
        ]
        .iter()
        .any(|suffix| name.ends_with(suffix));
        // A backup left beside the database is not a secret, and would grow every later one.
        let is_backup = name.ends_with(".tar.zst");
        if entry.file_type()?.is_file() && !is_database && !is_backup {
            secrets.push(entry.path());
        }
    }
    secrets.sort();
    Ok(secrets)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
