//! The SQLite rebuild's pass over a table, with the per-day partials computed in Rust inside
//! SQLite's scan: an aggregate function (through `rusqlite`, on its own read connection to the
//! same file) receives each row's time columns and the raw columns its filters and measures
//! read, decides the filters itself (`comparison`) and keeps the days in a hash map. SQL alone
//! would group by day (`substr(created_at, 1, 10)` has no index, so SQLite sorts every row) and
//! sort each day's values again for `DISTINCT`; this reads every row once, for all the table's
//! time columns at once.
//!
//! The pass runs on a few blocking threads (`rebuild::batches_at_once`), each reading every
//! other primary-key batch, one statement per batch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use roaring::RoaringBitmap;
use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};

use super::comparison::{Affinity, Test};
use super::{Measure, Partial, Partials, TablePlan, Total, UNDATED, not_an_id};
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
    let schema = tokio::task::spawn_blocking(move || Schema::read(&open(&schema_file)?, &table))
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
        for batch in thread.await.context("a rollup scan thread panicked")?? {
            pass.add_to(&mut partials, batch);
        }
    }
    Ok(partials)
}

/// One pass's statement, and where each measure finds its row's filter and value.
struct Pass {
    /// The table's time columns, in argument order (the first arguments).
    time_columns: usize,
    /// Every condition of the table's filters, each once: the argument it reads, and the test.
    tests: Vec<(usize, Test)>,
    measures: Vec<Slot>,
    statement: Statement,
}

/// Where a measure finds what it needs among the aggregate's arguments.
struct Slot {
    measure: Measure,
    time_column: usize,
    /// Its place among the measures on its time column.
    position: usize,
    /// The tests (indices into `Pass::tests`) a row must pass: the measure's filter.
    filter: Vec<usize>,
    /// The argument holding the aggregated column.
    value: Option<usize>,
}

/// What one measure kept of one day.
#[derive(Clone)]
enum Kept {
    Rows(i64),
    Sum(i64, Option<Total>),
    Distinct(RoaringBitmap),
}

/// The days of one time column: each day's kept values, one per measure.
#[derive(Default)]
struct Days {
    days: Vec<(String, Vec<Kept>)>,
    index: HashMap<String, usize>,
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

/// The aggregate's arguments after the time columns, each once, with their parameters.
#[derive(Default)]
struct Arguments {
    expressions: Vec<Statement>,
}

impl Arguments {
    fn place(&mut self, expression: Statement) -> usize {
        self.expressions
            .iter()
            .position(|e| e.sql == expression.sql && e.binds == expression.binds)
            .unwrap_or_else(|| {
                self.expressions.push(expression);
                self.expressions.len() - 1
            })
    }

    fn column(&mut self, column: &str) -> usize {
        self.place(Statement {
            sql: column.to_string(),
            binds: Vec::new(),
        })
    }
}

impl Pass {
    /// One aggregate call over the table: its time columns, then the columns its filters and
    /// measures read, each once. A condition Rust cannot decide as SQLite would (see
    /// `comparison`) is passed as its SQL's outcome instead, 1 or 0 (NULL counts as false, as
    /// in `FILTER (WHERE …)`).
    fn of(plan: &TablePlan, schema: &Schema) -> Self {
        let time_columns: Vec<&str> = plan.time_columns().into_iter().collect();
        let mut arguments = Arguments::default();
        let mut tests: Vec<(usize, Test)> = Vec::new();
        let mut measures = Vec::new();
        for measure in plan.measures.values() {
            let filter = measure
                .metric
                .filter
                .iter()
                .map(|condition| {
                    let test = test_of(condition, schema, &mut arguments);
                    tests.iter().position(|t| *t == test).unwrap_or_else(|| {
                        tests.push(test);
                        tests.len() - 1
                    })
                })
                .collect();
            let value = match (measure.partial, measure.metric.column.as_deref()) {
                (Partial::Rows, _) | (_, None) => None,
                (_, Some(column)) => Some(arguments.column(column)),
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
        // Arguments are counted after the time columns until here.
        for (argument, _) in &mut tests {
            *argument += time_columns.len();
        }
        for slot in &mut measures {
            if let Some(value) = &mut slot.value {
                *value += time_columns.len();
            }
        }
        let mut statement = Statement::default();
        let mut list: Vec<String> = time_columns.iter().map(|c| c.to_string()).collect();
        for expression in arguments.expressions {
            list.push(expression.sql);
            statement.binds.extend(expression.binds);
        }
        statement.sql = format!(
            "SELECT metric_rollup({}) FROM {} WHERE id >= ? AND id < ?",
            list.join(", "),
            plan.table
        );
        Pass {
            time_columns: time_columns.len(),
            tests,
            measures,
            statement,
        }
    }

    /// Runs the statement over each batch on a connection of its own; what each batch kept.
    fn read(
        self: &Arc<Self>,
        file: &Path,
        batches: &[(i64, i64)],
    ) -> anyhow::Result<Vec<Vec<Days>>> {
        let connection = open(file)?;
        let kept = Arc::new(Mutex::new(Vec::new()));
        connection.create_aggregate_function(
            "metric_rollup",
            -1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            Keep {
                pass: Arc::clone(self),
                kept: Arc::clone(&kept),
            },
        )?;
        let mut statement = connection.prepare(&self.statement.sql)?;
        for (first, end) in batches {
            let mut values: Vec<Value> = self.statement.binds.iter().map(value_of).collect();
            values.extend([Value::Integer(*first), Value::Integer(*end)]);
            statement.query_row(rusqlite::params_from_iter(values), |_| Ok(()))?;
        }
        drop(statement);
        let kept = std::mem::take(&mut *kept.lock().expect("no scan thread panicked holding it"));
        Ok(kept)
    }

    /// Adds one batch's days to the partials.
    fn add_to(&self, partials: &mut Partials, batch: Vec<Days>) {
        for (time_column, days) in batch.into_iter().enumerate() {
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
                        Kept::Distinct(set) => {
                            *partials
                                .sets
                                .entry(key.clone())
                                .or_default()
                                .entry(day.clone())
                                .or_default() |= set;
                        }
                    }
                }
            }
        }
    }
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

/// A condition as the argument it reads and the test of that argument: the raw column, or
/// where only SQL can promise SQLite's outcome, that outcome.
fn test_of(condition: &Condition, schema: &Schema, arguments: &mut Arguments) -> (usize, Test) {
    let decided = schema
        .affinities
        .get(&condition.column)
        .and_then(|affinity| Test::of(condition, *affinity, schema.collated));
    match decided {
        Some(test) => (arguments.column(&condition.column), test),
        None => {
            let mut binds = Vec::new();
            let sql = condition_sql(condition, &mut binds);
            let outcome = Statement {
                sql: format!("COALESCE(({sql}), 0)"),
                binds,
            };
            (arguments.place(outcome), Test::is_true())
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

/// The aggregate function: per time column, the days.
struct Keep {
    pass: Arc<Pass>,
    kept: Arc<Mutex<Vec<Vec<Days>>>>,
}

/// What the aggregate keeps while it runs: the days of each time column, and which tests the
/// current row passed.
struct Scan {
    days: Vec<Days>,
    passed: Vec<bool>,
}

impl Aggregate<Scan, i64> for Keep {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Scan> {
        Ok(Scan {
            days: (0..self.pass.time_columns)
                .map(|_| Days::default())
                .collect(),
            passed: vec![false; self.pass.tests.len()],
        })
    }

    fn step(&self, ctx: &mut Context<'_>, scan: &mut Scan) -> rusqlite::Result<()> {
        for (index, days) in scan.days.iter_mut().enumerate() {
            days.enter(&day_of(ctx.get_raw(index))?, index, &self.pass.measures);
        }
        for ((argument, test), passed) in self.pass.tests.iter().zip(&mut scan.passed) {
            *passed = test.passes(ctx.get_raw(*argument));
        }
        for slot in &self.pass.measures {
            if !slot.filter.iter().all(|test| scan.passed[*test]) {
                continue;
            }
            let value = match slot.value {
                Some(argument) => ctx.get_raw(argument),
                None => ValueRef::Integer(1),
            };
            let days = &mut scan.days[slot.time_column];
            let kept = &mut days.days[days.current].1[slot.position];
            keep(kept, &slot.measure.metric, value)?;
        }
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, scan: Option<Scan>) -> rusqlite::Result<i64> {
        if let Some(scan) = scan {
            self.kept
                .lock()
                .map_err(|_| user_error("a scan thread panicked"))?
                .push(scan.days);
        }
        Ok(0)
    }
}

/// `substr(value, 1, 10)` of a time column, as the rollup's SQL takes the day; `UNDATED` for
/// NULL.
fn day_of(value: ValueRef<'_>) -> rusqlite::Result<std::borrow::Cow<'_, str>> {
    Ok(match value {
        ValueRef::Null => UNDATED.into(),
        ValueRef::Text(text) => {
            let text = std::str::from_utf8(text).map_err(user_error)?;
            let end = text.char_indices().nth(10).map_or(text.len(), |(at, _)| at);
            text[..end].into()
        }
        ValueRef::Integer(v) => v.to_string().chars().take(10).collect::<String>().into(),
        _ => {
            return Err(user_error(
                "a time column holds neither text nor an integer",
            ));
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
            .is_some_and(|(current, _)| current == day)
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
                        Partial::Distinct => Kept::Distinct(RoaringBitmap::new()),
                    })
                    .collect();
                self.days.push((day.to_string(), empty));
                self.index.insert(day.to_string(), self.days.len() - 1);
                self.days.len() - 1
            }
        };
    }
}

/// Adds one row's value to what a measure kept of its day, as `COUNT(*)`, `COUNT(column)`
/// with `SUM(column)`, or the set of ids would.
fn keep(kept: &mut Kept, metric: &DatabaseMetric, value: ValueRef<'_>) -> rusqlite::Result<()> {
    match (kept, value) {
        (_, ValueRef::Null) => {}
        (Kept::Rows(n), _) => *n += 1,
        (Kept::Sum(n, total), ValueRef::Integer(v)) => {
            *n += 1;
            *total = Some(match *total {
                None => Total::Int(v),
                Some(Total::Int(sum)) => Total::Int(
                    sum.checked_add(v)
                        .ok_or_else(|| user_error("integer overflow"))?,
                ),
                Some(sum) => sum.plus(Total::Int(v)),
            });
        }
        (Kept::Sum(n, total), ValueRef::Real(v)) => {
            *n += 1;
            *total = Some(total.map_or(Total::Real(v), |sum| sum.plus(Total::Real(v))));
        }
        (Kept::Distinct(set), ValueRef::Integer(v)) if u32::try_from(v).is_ok() => {
            set.insert(v as u32);
        }
        (Kept::Distinct(_), _) => return Err(user_error(not_an_id(metric))),
        (Kept::Sum(..), _) => {
            return Err(user_error(format!(
                "{}.{} holds a value that is not a number",
                metric.table,
                metric.column.as_deref().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

fn user_error(error: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(error.to_string().into())
}
