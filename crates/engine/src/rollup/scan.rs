//! The SQLite rebuild's pass over a table, with the per-day partials computed in Rust inside
//! SQLite's scan: an aggregate function (through `rusqlite`, on its own read connection to the
//! same file) receives each row's time columns, its filters' results as bit masks and the
//! aggregated columns, and keeps the days in a hash map. SQL alone would group by day (`substr(created_at, 1, 10)` has no index, so
//! SQLite sorts every row) and sort each day's values again for `DISTINCT`; this reads every
//! row once, for all the table's time columns at once.
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

use super::{Measure, Partial, Partials, TablePlan, Total, UNDATED, not_an_id};
use crate::instrumentation::{DatabaseMetric, Literal};
use crate::sql::Statement;
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
    let pass = Arc::new(Pass::of(plan));
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
    measures: Vec<Slot>,
    statement: Statement,
}

/// Where a measure finds what it needs among the aggregate's arguments.
struct Slot {
    measure: Measure,
    time_column: usize,
    /// Its place among the measures on its time column.
    position: usize,
    /// The bit of the filter-mask argument saying the row passes the measure's filter.
    filter: Option<(usize, u32)>,
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

/// Filters per mask argument (bits of a SQLite integer, the sign bit left alone).
const FILTERS_PER_MASK: usize = 62;

impl Pass {
    /// One aggregate call over the table: its time columns, then its filters as bit masks
    /// (each distinct filter evaluated once per row, `(filter) << bit` ORed together; NULL
    /// counts as false, as in `FILTER (WHERE …)`), then the aggregated columns, each once.
    fn of(plan: &TablePlan) -> Self {
        let time_columns: Vec<&str> = plan.time_columns().into_iter().collect();
        let mut filters: Vec<Statement> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let mut measures = Vec::new();
        for measure in plan.measures.values() {
            let filter = measure.filter_sql().map(|filter| {
                let at = filters
                    .iter()
                    .position(|f| f.sql == filter.sql && f.binds == filter.binds)
                    .unwrap_or_else(|| {
                        filters.push(filter);
                        filters.len() - 1
                    });
                (at / FILTERS_PER_MASK, (at % FILTERS_PER_MASK) as u32)
            });
            let value = match (measure.partial, measure.metric.column.as_deref()) {
                (Partial::Rows, _) | (_, None) => None,
                (_, Some(column)) => {
                    Some(values.iter().position(|v| v == column).unwrap_or_else(|| {
                        values.push(column.to_string());
                        values.len() - 1
                    }))
                }
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
        let mut statement = Statement::default();
        let mut arguments: Vec<String> = time_columns.iter().map(|c| c.to_string()).collect();
        for chunk in filters.chunks(FILTERS_PER_MASK) {
            let bits: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(bit, filter)| {
                    statement.binds.extend(filter.binds.iter().cloned());
                    format!("(COALESCE(({}), 0) << {bit})", filter.sql)
                })
                .collect();
            arguments.push(bits.join(" | "));
        }
        let masks = filters.len().div_ceil(FILTERS_PER_MASK);
        for slot in &mut measures {
            if let Some(value) = &mut slot.value {
                *value += time_columns.len() + masks;
            }
            if let Some((mask, _)) = &mut slot.filter {
                *mask += time_columns.len();
            }
        }
        arguments.extend(values);
        statement.sql = format!(
            "SELECT metric_rollup({}) FROM {} WHERE id >= ? AND id < ?",
            arguments.join(", "),
            plan.table
        );
        Pass {
            time_columns: time_columns.len(),
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
        let connection = rusqlite::Connection::open_with_flags(
            file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.pragma_update(None, "query_only", true)?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
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

impl Aggregate<Vec<Days>, i64> for Keep {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Vec<Days>> {
        Ok((0..self.pass.time_columns)
            .map(|_| Days::default())
            .collect())
    }

    fn step(&self, ctx: &mut Context<'_>, days: &mut Vec<Days>) -> rusqlite::Result<()> {
        for (index, days) in days.iter_mut().enumerate() {
            days.enter(&day_of(ctx.get_raw(index))?, index, &self.pass.measures);
        }
        for slot in &self.pass.measures {
            if let Some((mask, bit)) = slot.filter {
                let passes = match ctx.get_raw(mask) {
                    ValueRef::Integer(mask) => mask >> bit & 1 == 1,
                    _ => false,
                };
                if !passes {
                    continue;
                }
            }
            let value = match slot.value {
                Some(argument) => ctx.get_raw(argument),
                None => ValueRef::Integer(1),
            };
            let days = &mut days[slot.time_column];
            let kept = &mut days.days[days.current].1[slot.position];
            keep(kept, &slot.measure.metric, value)?;
        }
        Ok(())
    }

    fn finalize(&self, _: &mut Context<'_>, days: Option<Vec<Days>>) -> rusqlite::Result<i64> {
        if let Some(days) = days {
            self.kept
                .lock()
                .map_err(|_| user_error("a scan thread panicked"))?
                .push(days);
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
