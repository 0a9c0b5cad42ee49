//! Backups of a role's database, and on request its data directory's secrets, taken while the
//! server runs, and their restore.
//!
//! A backup is one file, written readable by its owner only: a zstd-compressed tar of
//! - `database.sqlite3`: SQLite's online backup, in one step and so one read transaction: a
//!   consistent snapshot while writers go on; or `database.pgdump`: `pg_dump --format=custom`, also one
//!   snapshot, restored by `pg_restore`;
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

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tokio::process::Command;

use anyhow::{Context, bail, ensure};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;

use crate::{Backend, Db, on_pool};

mod schedule;
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

/// The backup format this binary writes and reads.
const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const SQLITE_PART: &str = "database.sqlite3";
const POSTGRES_PART: &str = "database.pgdump";
const SECRETS: &str = "secrets/";

/// What a backup holds, written into it last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub role: String,
    /// The product version and git commit that wrote it.
    pub version: String,
    pub commit: String,
    /// `sqlite` or `postgresql`.
    pub backend: String,
    /// The newest migration applied to the database when it was copied.
    pub schema_version: i64,
    pub created_at: String,
    pub secrets_included: bool,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Part {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    }
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
        Db::Sqlite(_) => {
            let copy = staging.path().join(SQLITE_PART);
            let source = crate::sqlite::options(target.url)?
                .get_filename()
                .to_path_buf();
            let destination = copy.clone();
            tokio::task::spawn_blocking(move || copy_sqlite(&source, &destination))
                .await?
                .context("copying the SQLite database (online backup)")?;
            copy
        }
        Db::Postgres(_) => {
            let dump = staging.path().join(POSTGRES_PART);
            let mut pg_dump = Command::new("pg_dump");
            pg_dump
                .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(&dump);
            run_postgres_tool(pg_dump, target.url, "pg_dump").await?;
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
        backend: backend_name(db.backend()).to_string(),
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

/// Writes `files` and then the manifest, with each file's size and sha256, into a compressed
/// tar at `out`: first as a private file beside the parts, renamed over `out` once synced.
fn write_archive(
    staging: &Path,
    files: &[(String, PathBuf)],
    manifest: &mut Manifest,
    out: &Path,
) -> anyhow::Result<()> {
    let partial = staging.join("backup.partial");
    let file = private_file(&partial)?;
    let mut archive = tar::Builder::new(zstd::Encoder::new(file, 3)?);
    for (name, path) in files {
        // Hashed as it is written: one read of each part, however large.
        let file = std::fs::File::open(path)?;
        let bytes = file.metadata()?.len();
        let mut source = Hashing::new(file);
        archive
            .append_data(&mut entry_header(bytes), name, &mut source)
            .with_context(|| format!("writing {name} into the backup"))?;
        ensure!(
            source.bytes == bytes,
            "{} changed while it was written into the backup",
            path.display()
        );
        manifest.parts.push(Part {
            name: name.clone(),
            bytes,
            sha256: hex::encode(source.hasher.finalize()),
        });
    }
    let text = serde_json::to_vec_pretty(&manifest)?;
    archive.append_data(
        &mut entry_header(text.len() as u64),
        MANIFEST,
        text.as_slice(),
    )?;
    let file = archive.into_inner()?.finish()?;
    file.sync_all()?;
    std::fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// A tar entry readable by its owner only, with no timestamp to leak or vary.
fn entry_header(bytes: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes);
    header.set_mode(0o600);
    header.set_mtime(0);
    header
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
        Backend::Sqlite => {
            let database = crate::sqlite::options(target.url)?
                .get_filename()
                .to_path_buf();
            for stale in [suffixed(&database, "-wal"), suffixed(&database, "-shm")] {
                match std::fs::remove_file(&stale) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        return Err(error).context(format!("removing {}", stale.display()));
                    }
                    _ => {}
                }
            }
            std::fs::rename(staging.path().join(SQLITE_PART), &database)
                .with_context(|| format!("replacing {}", database.display()))?;
        }
        Backend::Postgres => {
            let db = Db::connect(target.url, 1).await?;
            drop_every_table(&db).await?;
            db.close().await;
            let mut pg_restore = Command::new("pg_restore");
            pg_restore
                .args([
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                ])
                .arg(format!("--dbname={}", conninfo_dbname(target.url)?))
                .arg(staging.path().join(POSTGRES_PART));
            run_postgres_tool(pg_restore, target.url, "pg_restore").await?;
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

/// Unpacks a backup into `staging`, each part's size and sha256 checked against the manifest.
fn unpack(file: &Path, staging: &Path) -> anyhow::Result<Manifest> {
    let opened =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let damaged = || {
        format!(
            "{} is not a whole Service Ping backup (truncated or damaged)",
            file.display()
        )
    };
    let decoder = zstd::Decoder::new(opened).with_context(damaged)?;
    let mut archive = tar::Archive::new(decoder);
    let mut seen: Vec<Part> = Vec::new();
    let mut manifest: Option<Manifest> = None;
    for entry in archive.entries().with_context(damaged)? {
        let mut entry = entry.with_context(damaged)?;
        let name = entry
            .path()
            .with_context(damaged)?
            .to_string_lossy()
            .to_string();
        if name == MANIFEST {
            let mut text = Vec::new();
            entry.read_to_end(&mut text).with_context(damaged)?;
            manifest = Some(
                serde_json::from_slice(&text)
                    .with_context(|| format!("{}: its manifest does not read", file.display()))?,
            );
            continue;
        }
        ensure!(
            is_part_name(&name),
            "{}: unexpected entry {name:?}; not a Service Ping backup",
            file.display()
        );
        let destination = staging.join(&name);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = private_file(&destination)?;
        let mut source = Hashing::new(&mut entry);
        let mut buffer = vec![0; 1 << 16];
        loop {
            let n = source.read(&mut buffer).with_context(damaged)?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n])?;
        }
        seen.push(Part {
            name,
            bytes: source.bytes,
            sha256: hex::encode(source.hasher.finalize()),
        });
    }
    let manifest = manifest.with_context(|| format!("{} (no manifest)", damaged()))?;
    ensure!(
        manifest.format == FORMAT,
        "{}: backup format {} is not one this release reads ({FORMAT})",
        file.display(),
        manifest.format
    );
    for part in &manifest.parts {
        let Some(found) = seen.iter().find(|s| s.name == part.name) else {
            bail!("{}: {} is missing", damaged(), part.name);
        };
        ensure!(
            found == part,
            "{}: {} does not match its sha256 in the manifest",
            damaged(),
            part.name
        );
    }
    ensure!(
        seen.len() == manifest.parts.len(),
        "{}: it holds parts its manifest does not list",
        damaged()
    );
    Ok(manifest)
}

/// A part's name: the database, or a secret's plain file name (no directory, no `..`).
fn is_part_name(name: &str) -> bool {
    match name.strip_prefix(SECRETS) {
        Some(secret) => {
            !secret.is_empty() && !secret.contains('/') && secret != ".." && secret != "."
        }
        None => name == SQLITE_PART || name == POSTGRES_PART,
    }
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
        manifest.backend == backend_name(backend),
        "this backup holds a {} database and database.url names a {} one; restore it into the backend it came from",
        manifest.backend,
        backend_name(backend)
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
        Backend::Sqlite => crate::sqlite::options(target.url)?.get_filename().exists(),
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

/// Empties the current schema of tables (`--force` on PostgreSQL): tables a newer schema added
/// would otherwise stay beside the restored ones.
async fn drop_every_table(db: &Db) -> anyhow::Result<()> {
    let Db::Postgres(pool) = db else {
        return Ok(());
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_name) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await?;
    if !tables.is_empty() {
        sqlx::query(&format!("DROP TABLE {} CASCADE", tables.join(", ")))
            .execute(pool)
            .await
            .context("emptying the target database")?;
    }
    Ok(())
}

/// Runs `pg_dump` or `pg_restore` on the database `url` names, which it reads from `PG*`
/// variables (libpq's own), so the password never appears in a process listing.
async fn run_postgres_tool(
    mut command: Command,
    url: &SecretString,
    tool: &str,
) -> anyhow::Result<()> {
    for (variable, value) in libpq_environment(url)? {
        command.env(variable, value);
    }
    // A scheduled backup stopped with the server stops its pg_dump too.
    command.kill_on_drop(true);
    let output = command.output().await.map_err(|error| {
        anyhow::anyhow!(
            "running {tool}: {error} (install PostgreSQL's client tools, Debian's postgresql-client, of the server's major version or newer)"
        )
    })?;
    ensure!(
        output.status.success(),
        "{tool} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

/// libpq's variables for a `postgres://user:password@host:port/database?sslmode=…` URL.
fn libpq_environment(url: &SecretString) -> anyhow::Result<Vec<(&'static str, String)>> {
    let parsed = url::Url::parse(url.expose_secret())
        .map_err(|_| anyhow::anyhow!("database.url is not a valid postgres:// URL"))?;
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| anyhow::anyhow!("database.url is not a valid URL"))
    };
    let mut environment = Vec::new();
    if let Some(host) = parsed.host_str() {
        environment.push(("PGHOST", host.trim_matches(['[', ']']).to_string()));
    }
    if let Some(port) = parsed.port() {
        environment.push(("PGPORT", port.to_string()));
    }
    if !parsed.username().is_empty() {
        environment.push(("PGUSER", decode(parsed.username())?));
    }
    if let Some(password) = parsed.password() {
        environment.push(("PGPASSWORD", decode(password)?));
    }
    let database = parsed.path().trim_start_matches('/');
    if !database.is_empty() {
        environment.push(("PGDATABASE", decode(database)?));
    }
    for (key, value) in parsed.query_pairs() {
        let variable = match key.as_ref() {
            "sslmode" => "PGSSLMODE",
            "sslrootcert" => "PGSSLROOTCERT",
            "sslcert" => "PGSSLCERT",
            "sslkey" => "PGSSLKEY",
            "host" => "PGHOST",
            "port" => "PGPORT",
            "user" => "PGUSER",
            "password" => "PGPASSWORD",
            "dbname" => "PGDATABASE",
            "options" => "PGOPTIONS",
            _ => continue,
        };
        environment.push((variable, value.into_owned()));
    }
    Ok(environment)
}

/// `dbname='…'`: `pg_restore` must be told the database by argument (the rest of the connection
/// comes from the variables); a bare name with `=` in it would read as a connection string.
fn conninfo_dbname(url: &SecretString) -> anyhow::Result<String> {
    let (_, name) = libpq_environment(url)?
        .into_iter()
        .rev()
        .find(|(variable, _)| *variable == "PGDATABASE")
        .context("database.url names no database")?;
    Ok(format!(
        "dbname='{}'",
        name.replace('\\', "\\\\").replace('\'', "\\'")
    ))
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

/// A new file readable and writable by its owner only.
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Copies the SQLite database at `source` page by page with SQLite's online backup, in one step:
/// one read transaction, so a consistent snapshot while the server goes on writing (in WAL mode
/// writers do not wait for it). Several times faster than `VACUUM INTO`, which rebuilds every
/// table and index.
fn copy_sqlite(source: &Path, destination: &Path) -> anyhow::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    use rusqlite::{Connection, OpenFlags};
    let source = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(std::time::Duration::from_secs(30))?;
    let mut copy = Connection::open(destination)?;
    {
        let backup = Backup::new(&source, &mut copy)?;
        // -1: every page in one step. Busy or locked (a checkpoint holding the lock): wait, retry.
        let mut done = false;
        for _ in 0..300 {
            if backup.step(-1)? == StepResult::Done {
                done = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        ensure!(done, "the database stayed locked for 30 seconds");
    }
    // The copy stands alone: one file, no journal beside it.
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// A reader that hashes and counts what is read through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_database_and_plain_secret_names_are_parts() {
        assert!(is_part_name("database.sqlite3"));
        assert!(is_part_name("database.pgdump"));
        assert!(is_part_name("secrets/initial_root_password"));
        for name in [
            "secrets/",
            "secrets/../x",
            "secrets/a/b",
            "etc/passwd",
            "../x",
            "secrets/..",
        ] {
            assert!(!is_part_name(name), "{name}");
        }
    }

    #[test]
    fn libpq_gets_the_connection_from_variables() {
        let url = SecretString::from(
            "postgres://ping%40ops:p%3Ass@db.example:5433/service_ping?sslmode=verify-full&application_name=x",
        );
        let environment = libpq_environment(&url).unwrap();
        assert_eq!(
            environment,
            vec![
                ("PGHOST", "db.example".to_string()),
                ("PGPORT", "5433".to_string()),
                ("PGUSER", "ping@ops".to_string()),
                ("PGPASSWORD", "p:ss".to_string()),
                ("PGDATABASE", "service_ping".to_string()),
                ("PGSSLMODE", "verify-full".to_string()),
            ]
        );
    }
}
