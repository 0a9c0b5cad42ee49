//! The scan on a SQLite file: on read connections of its own to the same file (through
//! `rusqlite`), blocking threads step through the rows, and Rust decides the filters itself
//! (`comparison`) wherever it can promise SQLite's outcome. The connections are kept for the
//! next table's pass (`Connections`): opening one parses the whole schema again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rusqlite::types::{Value, ValueRef};

use super::super::comparison::{Affinity, Test};
use super::super::{Partials, TablePlan};
use super::{Columns, Days, Pass, Scan};
use crate::instrumentation::{Condition, Literal};
use service_ping_database::Db;

/// The database file behind a SQLite pool, when it is one (not an in-memory database).
pub(in super::super) fn file_of(db: &Db) -> Option<PathBuf> {
    match db {
        Db::Sqlite(pool) => {
            let path = pool.connect_options().get_filename().to_path_buf();
            path.is_file().then_some(path)
        }
        Db::Postgres(_) => None,
    }
}

/// Every measure's partials over the rows with ids in `batches`, read by `workers` threads.
pub(in super::super) async fn read_all(
    file: PathBuf,
    plan: &TablePlan,
    batches: Vec<(i64, i64)>,
    workers: usize,
) -> anyhow::Result<Partials> {
    let (table, schema_file) = (plan.table.clone(), file.clone());
    let schema = tokio::task::spawn_blocking(move || {
        let connection = CONNECTIONS.take(&schema_file)?;
        let schema = Schema::read(&connection, &table);
        CONNECTIONS.give_back(&schema_file, connection);
        anyhow::Ok(schema?)
    })
    .await
    .context("reading a table's schema panicked")??;
    let pass = Arc::new(Pass::of(plan, &|condition| schema.test_of(condition)));
    let mut threads = Vec::new();
    for mine in super::shares(&batches, workers) {
        let (pass, file) = (Arc::clone(&pass), file.clone());
        threads.push(tokio::task::spawn_blocking(move || {
            read(&pass, &file, &mine)
        }));
    }
    let mut partials = Partials::default();
    for thread in threads {
        let days = thread.await.context("a rollup scan thread panicked")??;
        pass.add_to(&mut partials, days);
    }
    Ok(partials)
}

/// Runs the pass's statement over each batch, on a connection of its own; the days it kept.
fn read(pass: &Pass, file: &Path, batches: &[(i64, i64)]) -> anyhow::Result<Vec<Days>> {
    let connection = CONNECTIONS.take(file)?;
    let days = read_on(pass, &connection, batches);
    CONNECTIONS.give_back(file, connection);
    days
}

fn read_on(
    pass: &Pass,
    connection: &rusqlite::Connection,
    batches: &[(i64, i64)],
) -> anyhow::Result<Vec<Days>> {
    let mut scan = Scan::of(pass);
    let mut statement = connection.prepare_cached(&pass.statement.sql)?;
    for (first, end) in batches {
        let mut values: Vec<Value> = pass.statement.binds.iter().map(value_of).collect();
        values.extend([Value::Integer(*first), Value::Integer(*end)]);
        let mut rows = statement.query(rusqlite::params_from_iter(values))?;
        while let Some(row) = rows.next()? {
            scan.step(pass, row)?;
        }
    }
    Ok(scan.days)
}

impl Columns for rusqlite::Row<'_> {
    fn value(&self, column: usize) -> anyhow::Result<ValueRef<'_>> {
        Ok(self.get_ref(column)?)
    }
}

/// What SQLite's comparisons depend on of a table's columns: their affinities, and whether any
/// has a collation of its own.
struct Schema {
    affinities: HashMap<String, Affinity>,
    collated: bool,
}

impl Schema {
    fn read(connection: &rusqlite::Connection, table: &str) -> rusqlite::Result<Self> {
        let mut columns = connection.prepare("SELECT name, type FROM pragma_table_info(?1)")?;
        let affinities = columns
            .query_map([table], |row| {
                let (name, declared): (String, String) = (row.get(0)?, row.get(1)?);
                Ok((name, Affinity::of_declared(&declared)))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let definition: Option<String> = connection
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = ?1",
                [table],
                |row| row.get(0),
            )
            .ok();
        let collated = definition.is_none_or(|sql| sql.to_ascii_uppercase().contains("COLLATE"));
        Ok(Schema {
            affinities,
            collated,
        })
    }

    /// The test of a condition's raw column, where Rust can promise SQLite's outcome.
    fn test_of(&self, condition: &Condition) -> Option<Test> {
        let affinity = self.affinities.get(&condition.column)?;
        Test::of(condition, *affinity, self.collated)
    }
}

fn value_of(literal: &Literal) -> Value {
    match literal {
        Literal::Bool(v) => Value::Integer(i64::from(*v)),
        Literal::Int(v) => Value::Integer(*v),
        Literal::Real(v) => Value::Real(*v),
        Literal::Text(v) => Value::Text(v.clone()),
    }
}

/// The scan threads' connections, kept between passes: a process rebuilds its tables one after
/// another, and opening a connection parses the whole schema again. A few at most, each with
/// the identity of the file it opened, so a file replaced at the same path (a test's fresh
/// database) is never read through a connection to the old one.
struct Connections(Mutex<Vec<(FileId, rusqlite::Connection)>>);

static CONNECTIONS: Connections = Connections(Mutex::new(Vec::new()));

/// Kept connections at most: two tables rebuilt at once, two threads each.
const KEPT_CONNECTIONS: usize = 4;

type FileId = (PathBuf, Option<(u64, u64)>);

impl Connections {
    /// A kept connection to `file`, or a new one.
    fn take(&self, file: &Path) -> anyhow::Result<rusqlite::Connection> {
        let id = file_id(file)?;
        let kept = {
            let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let at = kept.iter().position(|(of, _)| *of == id && id.1.is_some());
            at.map(|at| kept.swap_remove(at).1)
        };
        match kept {
            Some(connection) => Ok(connection),
            None => Ok(open(file)?),
        }
    }

    /// Keeps `connection` for the next pass, the oldest kept one making room.
    fn give_back(&self, file: &Path, connection: rusqlite::Connection) {
        let Ok(id) = file_id(file) else { return };
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == KEPT_CONNECTIONS {
            kept.remove(0);
        }
        kept.push((id, connection));
    }
}

/// The file's path, and on Unix its device and inode.
fn file_id(file: &Path) -> std::io::Result<FileId> {
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(file)?;
        Some((metadata.dev(), metadata.ino()))
    };
    #[cfg(not(unix))]
    let inode = None;
    Ok((file.to_path_buf(), inode))
}

/// A read-only connection of the scan's own to the database file.
fn open(file: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let connection = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.pragma_update(None, "query_only", true)?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(connection)
}
