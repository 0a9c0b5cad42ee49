//! The SQLite rebuild's pass over a table, with the per-day partials computed in Rust: on its
//! own read connection to the same file (through `rusqlite`), one statement per primary-key
//! batch selects each row's time columns and the raw columns its filters and measures read;
//! Rust decides the filters itself (`comparison`) and keeps the days in a hash map. SQL alone
//! would group by day (`substr(created_at, 1, 10)` has no index, so SQLite sorts every row) and
//! sort each day's values again for `DISTINCT`; this reads every row once, for all the table's
//! time columns at once.
//!
//! The pass runs on a few blocking threads (`rebuild::batches_at_once`), each reading every
//! other batch into one state of its own, so the threads' days are added up once at the end.
//! The connections are kept for the next table's pass (`Connections`): opening one parses the
//! whole schema again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use roaring::RoaringBitmap;
use rusqlite::types::{Value, ValueRef};

use super::comparison::{Affinity, Test};
use super::{Measure, Partial, Partials, TablePlan, Total, UNDATED, not_an_id, place};
use crate::instrumentation::{Condition, DatabaseMetric, Literal};
use crate::sql::{Statement, condition_sql};
use service_ping_database::Db;

/// The database file behind a SQLite pool, when it is one (not an in-memory database).
pub(super) fn file_of(db: &Db) -> Option<PathBuf> {
    match db {
        Db::Sqlite(pool) => {
            let path = pool.connect_options().get_filename().to_path_buf();
            path.is_file().then_some(path)
        }
        Db::Postgres(_) => None,
    }
}

/// Every measure's partials over the rows with ids in `batches`, read by `workers` threads.
pub(super) async fn read_all(
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
    let pass = Arc::new(Pass::of(plan, &schema));
    let mut threads = Vec::new();
    for worker in 0..workers {
        let mine: Vec<(i64, i64)> = batches
            .iter()
            .copied()
            .skip(worker)
            .step_by(workers)
            .collect();
        let (pass, file) = (Arc::clone(&pass), file.clone());
        threads.push(tokio::task::spawn_blocking(move || pass.read(&file, &mine)));
    }
    let mut partials = Partials::default();
    for thread in threads {
        let days = thread.await.context("a rollup scan thread panicked")??;
        pass.add_to(&mut partials, days);
    }
    Ok(partials)
}

/// One pass's statement, and where each measure finds its row's filter and value.
struct Pass {
    /// The table's time columns: the first columns of the statement's rows.
    time_columns: usize,
    /// Every condition of the table's filters, each once, by the column it reads: the
    /// column's place in the statement's row, and the tests of it with their indices (the
    /// outcomes' places in `Scan::passed`).
    tests: Vec<(usize, Vec<(usize, Test)>)>,
    measures: Vec<Slot>,
    /// The measures (indices into `measures`) in the order of the columns they aggregate, so
    /// that a row's value of each is read once.
    reading_order: Vec<usize>,
    statement: Statement,
}

/// Where a measure finds what it needs among a row's columns.
struct Slot {
    measure: Measure,
    time_column: usize,
    /// Its place among the measures on its time column.
    position: usize,
    /// The tests a row must pass (their outcomes' places in `Scan::passed`): the measure's
    /// filter.
    filter: Vec<usize>,
    /// The place in the row of the aggregated column.
    value: Option<usize>,
}

/// What one measure kept of one day.
enum Kept {
    Rows(i64),
    Sum(i64, Option<Total>),
    Distinct(Members),
}

/// A day's set of ids while the scan adds to it. Rows come in id order, their ids in no order:
/// inserting each into the set would shift the sorted array it holds most of the time, so ids
/// are gathered and merged in, sorted, a few thousand at a time.
#[derive(Default)]
struct Members {
    set: RoaringBitmap,
    pending: Vec<u32>,
}

/// Ids gathered before they are merged into the set.
const PENDING_IDS: usize = 4096;

impl Members {
    fn insert(&mut self, id: u32) {
        self.pending.push(id);
        if self.pending.len() == PENDING_IDS {
            self.merge();
        }
    }

    fn merge(&mut self) {
        // A new vector, not the drained one: a day left behind keeps no spare capacity.
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable();
        pending.dedup();
        self.set |= RoaringBitmap::from_sorted_iter(pending).expect("sorted and deduplicated");
    }

    fn into_set(mut self) -> RoaringBitmap {
        self.merge();
        self.set
    }
}

/// The days of one time column: each day's kept values, one per measure.
#[derive(Default)]
struct Days {
    days: Vec<(String, Vec<Kept>)>,
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    /// The current row's day; rows come in id order, mostly day after day, so it is usually
    /// the previous row's.
    current: usize,
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
}

/// The columns of the statement's rows after the time columns, each once, with their
/// parameters.
#[derive(Default)]
struct Selected {
    expressions: Vec<Statement>,
}

impl Selected {
    fn place(&mut self, expression: Statement) -> usize {
        place(&mut self.expressions, expression)
    }

    fn column(&mut self, column: &str) -> usize {
        self.place(Statement {
            sql: column.to_string(),
            binds: Vec::new(),
        })
    }
}

impl Pass {
    /// One statement over the table's rows: their time columns, then the columns its filters
    /// and measures read, each once. A condition Rust cannot decide as SQLite would (see
    /// `comparison`) is selected as its SQL's outcome instead, 1 or 0 (NULL counts as false, as
    /// in `FILTER (WHERE …)`).
    fn of(plan: &TablePlan, schema: &Schema) -> Self {
        let time_columns: Vec<&str> = plan.time_columns().into_iter().collect();
        let mut selected = Selected::default();
        let mut tests: Vec<(usize, Test)> = Vec::new();
        let mut measures = Vec::new();
        for measure in plan.measures.values() {
            let filter = measure
                .metric
                .filter
                .iter()
                .map(|condition| {
                    let test = test_of(condition, schema, &mut selected);
                    place(&mut tests, test)
                })
                .collect();
            let value = match (measure.partial, measure.metric.column.as_deref()) {
                (Partial::Rows, _) | (_, None) => None,
                (_, Some(column)) => Some(selected.column(column)),
            };
            let time_column = time_columns
                .iter()
                .position(|c| *c == measure.metric.time_column)
                .expect("every measure's time column is one of the table's");
            let position = measures
                .iter()
                .filter(|slot: &&Slot| slot.time_column == time_column)
                .count();
            measures.push(Slot {
                measure: measure.clone(),
                time_column,
                position,
                filter,
                value,
            });
        }
        let offset = time_columns.len();
        let mut by_column: Vec<(usize, Vec<(usize, Test)>)> = Vec::new();
        for (index, (column, test)) in tests.into_iter().enumerate() {
            let column = column + offset;
            match by_column.iter_mut().find(|(a, _)| *a == column) {
                Some((_, tests)) => tests.push((index, test)),
                None => by_column.push((column, vec![(index, test)])),
            }
        }
        for slot in &mut measures {
            if let Some(value) = &mut slot.value {
                *value += offset;
            }
        }
        let mut statement = Statement::default();
        let mut list: Vec<String> = time_columns.iter().map(|c| c.to_string()).collect();
        for expression in selected.expressions {
            list.push(expression.sql);
            statement.binds.extend(expression.binds);
        }
        statement.sql = format!(
            "SELECT {} FROM {} WHERE id >= ? AND id < ?",
            list.join(", "),
            plan.table
        );
        let mut reading_order: Vec<usize> = (0..measures.len()).collect();
        reading_order.sort_by_key(|at| measures[*at].value);
        Pass {
            time_columns: offset,
            tests: by_column,
            measures,
            reading_order,
            statement,
        }
    }

    /// Runs the statement over each batch, on a connection of its own; the days it kept.
    fn read(&self, file: &Path, batches: &[(i64, i64)]) -> anyhow::Result<Vec<Days>> {
        let connection = CONNECTIONS.take(file)?;
        let days = self.read_on(&connection, batches);
        CONNECTIONS.give_back(file, connection);
        days
    }

    fn read_on(
        &self,
        connection: &rusqlite::Connection,
        batches: &[(i64, i64)],
    ) -> anyhow::Result<Vec<Days>> {
        let mut scan = Scan::of(self);
        let mut statement = connection.prepare_cached(&self.statement.sql)?;
        for (first, end) in batches {
            let mut values: Vec<Value> = self.statement.binds.iter().map(value_of).collect();
            values.extend([Value::Integer(*first), Value::Integer(*end)]);
            let mut rows = statement.query(rusqlite::params_from_iter(values))?;
            while let Some(row) = rows.next()? {
                scan.step(self, row)?;
            }
        }
        Ok(scan.days)
    }

    /// Adds one thread's days to the partials.
    fn add_to(&self, partials: &mut Partials, kept: Vec<Days>) {
        for (time_column, days) in kept.into_iter().enumerate() {
            let slots: Vec<&Slot> = self
                .measures
                .iter()
                .filter(|slot| slot.time_column == time_column)
                .collect();
            for (day, kept) in days.days {
                for (slot, kept) in slots.iter().zip(kept) {
                    let key = &slot.measure.key;
                    match kept {
                        Kept::Rows(0) | Kept::Sum(0, _) => {}
                        Kept::Rows(n) => partials.add_sum(key, &day, n, None),
                        Kept::Sum(n, total) => partials.add_sum(key, &day, n, total),
                        Kept::Distinct(members) => {
                            *partials
                                .sets
                                .entry(key.clone())
                                .or_default()
                                .entry(day.clone())
                                .or_default() |= members.into_set();
                        }
                    }
                }
            }
        }
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

/// A condition as the column of the statement's rows it reads and the test of that column:
/// the raw column, or where only SQL can promise SQLite's outcome, that outcome.
fn test_of(condition: &Condition, schema: &Schema, selected: &mut Selected) -> (usize, Test) {
    let decided = schema
        .affinities
        .get(&condition.column)
        .and_then(|affinity| Test::of(condition, *affinity, schema.collated));
    match decided {
        Some(test) => (selected.column(&condition.column), test),
        None => {
            let mut binds = Vec::new();
            let sql = condition_sql(condition, &mut binds);
            let outcome = Statement {
                sql: format!("COALESCE(({sql}), 0)"),
                binds,
            };
            (selected.place(outcome), Test::is_true())
        }
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

/// What a thread keeps while it reads: the days of each time column, and which tests the
/// current row passed.
struct Scan {
    days: Vec<Days>,
    passed: Vec<bool>,
}

impl Scan {
    fn of(pass: &Pass) -> Self {
        let tests = pass.tests.iter().map(|(_, tests)| tests.len()).sum();
        Scan {
            days: (0..pass.time_columns).map(|_| Days::default()).collect(),
            passed: vec![false; tests],
        }
    }

    /// Adds one row to the days of each of its time columns, for each measure whose filter it
    /// passes.
    fn step(&mut self, pass: &Pass, row: &rusqlite::Row<'_>) -> anyhow::Result<()> {
        for (index, days) in self.days.iter_mut().enumerate() {
            days.enter(&day_of(row.get_ref(index)?)?, index, &pass.measures);
        }
        for (column, tests) in &pass.tests {
            let value = row.get_ref(*column)?;
            for (index, test) in tests {
                self.passed[*index] = test.passes(value);
            }
        }
        let mut read: Option<(usize, ValueRef<'_>)> = None;
        for slot in pass.reading_order.iter().map(|at| &pass.measures[*at]) {
            if !slot.filter.iter().all(|test| self.passed[*test]) {
                continue;
            }
            let value = match (slot.value, read) {
                (None, _) => ValueRef::Integer(1),
                (Some(column), Some((of, value))) if of == column => value,
                (Some(column), _) => {
                    let value = row.get_ref(column)?;
                    read = Some((column, value));
                    value
                }
            };
            let days = &mut self.days[slot.time_column];
            let kept = &mut days.days[days.current].1[slot.position];
            keep(kept, &slot.measure.metric, value)?;
        }
        Ok(())
    }
}

/// `substr(value, 1, 10)` of a time column, as the rollup's SQL takes the day; `UNDATED` for
/// NULL.
fn day_of(value: ValueRef<'_>) -> anyhow::Result<std::borrow::Cow<'_, str>> {
    Ok(match value {
        ValueRef::Null => UNDATED.into(),
        // A platform timestamp: its first ten bytes are ASCII, so ten characters.
        ValueRef::Text(text) if text.get(..10).is_some_and(|day| day.is_ascii()) => {
            std::str::from_utf8(&text[..10])?.into()
        }
        ValueRef::Text(text) => {
            let text = std::str::from_utf8(text)?;
            let end = text.char_indices().nth(10).map_or(text.len(), |(at, _)| at);
            text[..end].into()
        }
        ValueRef::Integer(v) => v.to_string().chars().take(10).collect::<String>().into(),
        _ => {
            anyhow::bail!("a time column holds neither text nor an integer");
        }
    })
}

impl Days {
    /// Makes `day` the current row's day of time column `index`, started empty on its first
    /// row.
    fn enter(&mut self, day: &str, index: usize, slots: &[Slot]) {
        if self
            .days
            .get(self.current)
            .is_some_and(|(current, _)| same_day(current, day))
        {
            return;
        }
        self.current = match self.index.get(day) {
            Some(at) => *at,
            None => {
                let empty = slots
                    .iter()
                    .filter(|slot| slot.time_column == index)
                    .map(|slot| match slot.measure.partial {
                        Partial::Rows => Kept::Rows(0),
                        Partial::Sum => Kept::Sum(0, None),
                        Partial::Distinct => Kept::Distinct(Members::default()),
                    })
                    .collect();
                self.days.push((day.to_string(), empty));
                self.index.insert(day.to_string(), self.days.len() - 1);
                self.days.len() - 1
            }
        };
    }
}

/// `a == b`, the usual ten bytes of a day compared as one fixed-size value, not by `memcmp`:
/// the scan asks this of every row.
fn same_day(a: &str, b: &str) -> bool {
    match (
        <&[u8; 10]>::try_from(a.as_bytes()),
        <&[u8; 10]>::try_from(b.as_bytes()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Adds one row's value to what a measure kept of its day, as `COUNT(*)`, `COUNT(column)`
/// with `SUM(column)`, or the set of ids would.
fn keep(kept: &mut Kept, metric: &DatabaseMetric, value: ValueRef<'_>) -> anyhow::Result<()> {
    match (kept, value) {
        (_, ValueRef::Null) => {}
        (Kept::Rows(n), _) => *n += 1,
        (Kept::Sum(n, total), ValueRef::Integer(v)) => {
            *n += 1;
            *total = Some(match *total {
                None => Total::Int(v),
                Some(Total::Int(sum)) => {
                    Total::Int(sum.checked_add(v).context("integer overflow")?)
                }
                Some(sum) => sum.plus(Total::Int(v)),
            });
        }
        (Kept::Sum(n, total), ValueRef::Real(v)) => {
            *n += 1;
            *total = Some(total.map_or(Total::Real(v), |sum| sum.plus(Total::Real(v))));
        }
        (Kept::Distinct(members), ValueRef::Integer(v)) if u32::try_from(v).is_ok() => {
            members.insert(v as u32);
        }
        (Kept::Distinct(_), _) => anyhow::bail!(not_an_id(metric)),
        (Kept::Sum(..), _) => {
            anyhow::bail!(
                "{}.{} holds a value that is not a number",
                metric.table,
                metric.column.as_deref().unwrap_or_default()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_gathered_out_of_order_make_the_same_set_as_inserting_each() {
        let ids: Vec<u32> = (0..3 * PENDING_IDS as u32 + 17)
            .map(|i| i.wrapping_mul(2_654_435_761) % 70_000)
            .collect();
        let mut members = Members::default();
        ids.iter().for_each(|id| members.insert(*id));
        assert_eq!(
            members.into_set(),
            ids.into_iter().collect::<RoaringBitmap>()
        );
        assert_eq!(Members::default().into_set(), RoaringBitmap::new());
    }

    #[test]
    fn days_compare_whole_whatever_their_length() {
        assert!(same_day("2026-11-03", "2026-11-03"));
        assert!(!same_day("2026-11-03", "2026-11-04"));
        assert!(!same_day("2026-11-0", "2026-11-03"));
        assert!(same_day("", ""));
        assert!(same_day("20261103", "20261103"));
    }

    #[test]
    fn a_day_is_the_first_ten_characters_of_a_time_column() {
        let day = |value| day_of(value).unwrap().into_owned();
        assert_eq!(day(ValueRef::Text(b"2026-11-03T10:00:00Z")), "2026-11-03");
        assert_eq!(
            day(ValueRef::Text("é026-11-03T10".as_bytes())),
            "é026-11-03"
        );
        assert_eq!(day(ValueRef::Text(b"2026")), "2026");
        assert_eq!(day(ValueRef::Integer(1_764_000_000_123)), "1764000000");
        assert_eq!(day(ValueRef::Null), UNDATED);
    }
}
