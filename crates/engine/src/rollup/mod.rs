//! Rollups: database metrics answered from per-day partial aggregates instead of from the rows.
//!
//! A metric's *measure* is what it aggregates, whatever its time frame: table, time column,
//! operation, column and filter (`counts.issues`, `counts_weekly.issues` and
//! `counts_monthly.issues` share one). For every day of the time column the rollup keeps each
//! measure's partial: a count and a sum (counts, sums, averages), or the set of values as a
//! Roaring bitmap (distinct counts and estimates). A time frame, made of whole days (see
//! `time_frame`), is then a sum or a union over its days; all time is every day, plus the rows
//! without a date. Distinct sets are also kept per month, so that all time reads a few sets.
//!
//! Triggers copy the image of every row a write removes or adds into the table's change log
//! (`log`); a refresh *folds* the log into the rollup as deltas (`fold`), reading the table's
//! rows only for the few days deltas cannot settle. One runs before each payload, and the server
//! runs one every ten minutes (`service_ping::rollups`). The first refresh of a table, and any
//! after its measures changed or its triggers went missing, *rebuilds* its rollup in one pass
//! over all its rows (`rebuild`), then folds what was written meanwhile. Values of distinct
//! counts must be whole numbers from 0 to 2^32 - 1 (they are ids); a table whose rollup cannot
//! be computed is evaluated by fused scans instead, so a rollup changes how fast a value is
//! found, never the value.

mod comparison;
mod fold;
mod grouped;
mod log;
mod rebuild;
mod scan;

pub use log::Installed;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, bail};
use chrono::{Duration, NaiveDate};
use roaring::RoaringBitmap;
use serde_json::{Value, json};

use super::definition::MetricDefinition;
use super::hll;
use super::instrumentation::{Condition, DatabaseMetric, Instrumentation, Literal, Operation};
use super::sql::{Cell, Statement, conditions, number_at, parallelism, round};
use super::time_frame::{DATE_FORMAT, TimeFrame, Window};
use service_ping_database::{Backend, Conn, Db, execute_in, on_conn, on_pool};

const UNDATED: &str = "";

/// What a measure keeps per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partial {
    /// `n` = matching rows.
    Rows,
    /// `n` = matching non-NULL values of the column, `total` = their sum.
    Sum,
    /// The set of matching non-NULL values.
    Distinct,
}

/// One measure of a table's rollup.
#[derive(Debug, Clone)]
pub struct Measure {
    /// Its identity in the rollup tables: `table.time_column partial(column) [filter]`.
    key: String,
    partial: Partial,
    metric: DatabaseMetric,
    /// Whether an all-time metric uses it: only those count the rows without a date, so only
    /// their time column's undated rows are ever read.
    all_time: bool,
}

impl Measure {
    fn of(metric: &DatabaseMetric) -> Self {
        let partial = match metric.operation {
            Operation::Count => Partial::Rows,
            Operation::Sum | Operation::Average => Partial::Sum,
            Operation::DistinctCount | Operation::EstimateDistinct => Partial::Distinct,
        };
        let column = match partial {
            Partial::Rows => "*",
            _ => metric.column.as_deref().unwrap_or("*"),
        };
        let filter: Vec<String> = metric.filter.iter().map(describe).collect();
        let key = format!(
            "{}.{} {partial:?}({column}) [{}]",
            metric.table,
            metric.time_column,
            filter.join(" AND ")
        );
        Measure {
            key,
            partial,
            metric: metric.clone(),
            all_time: false,
        }
    }

    /// The filter as SQL with its parameters, or `None` without a filter.
    fn filter_sql(&self) -> Option<Statement> {
        let mut binds = Vec::new();
        let sql = conditions(&self.metric, None, &mut binds);
        (!sql.is_empty()).then_some(Statement { sql, binds })
    }
}

/// A condition in words for a measure's key; literals inline, so equal filters give equal keys.
fn describe(condition: &Condition) -> String {
    let values: Vec<String> = condition
        .values
        .iter()
        .map(|value| match value {
            // As 1 or 0, as booleans were keyed before they had a variant of their own.
            Literal::Bool(v) => i64::from(*v).to_string(),
            Literal::Int(v) => v.to_string(),
            Literal::Real(v) => format!("{v:?}"),
            Literal::Text(v) => format!("{v:?}"),
        })
        .collect();
    format!(
        "{} {:?} ({})",
        condition.column,
        condition.comparison,
        values.join(", ")
    )
}

/// The measures of one table.
#[derive(Debug, Clone, Default)]
pub struct TablePlan {
    table: String,
    /// By key: the order the fingerprint and the statements use.
    measures: BTreeMap<String, Measure>,
}

impl TablePlan {
    pub fn table(&self) -> &str {
        &self.table
    }

    fn time_columns(&self) -> BTreeSet<&str> {
        self.measures
            .values()
            .map(|m| m.metric.time_column.as_str())
            .collect()
    }

    fn fingerprint(&self) -> String {
        let lines: Vec<String> = self
            .measures
            .values()
            .map(|m| format!("{}{}", m.key, if m.all_time { " all" } else { "" }))
            .collect();
        lines.join("\n")
    }

    /// The days to recompute on `time_column`: without an all-time measure, the undated day
    /// is nobody's (and reading it could mean reading most of the table, e.g. open issues).
    fn days_on<'a>(
        &self,
        time_column: &str,
        days: impl IntoIterator<Item = &'a String>,
    ) -> Vec<String> {
        let undated = self.measures_on(time_column).any(|m| m.all_time);
        days.into_iter()
            .filter(|day| undated || day.as_str() != UNDATED)
            .cloned()
            .collect()
    }

    /// The time columns, as `metric_rollup_tables.time_columns` keeps them.
    fn watched_columns(&self) -> String {
        self.time_columns()
            .into_iter()
            .collect::<Vec<_>>()
            .join(",")
    }

    fn measures_on<'a>(&'a self, time_column: &'a str) -> impl Iterator<Item = &'a Measure> {
        self.measures
            .values()
            .filter(move |m| m.metric.time_column == time_column)
    }
}

/// Where `item` is in `items`, appended first if it is not there yet: what a pass reads once
/// for many measures (a filter, a column, a test).
fn place<T: PartialEq>(items: &mut Vec<T>, item: T) -> usize {
    match items.iter().position(|known| *known == item) {
        Some(at) => at,
        None => {
            items.push(item);
            items.len() - 1
        }
    }
}

/// Every table's measures, from the whole dictionary: a rollup keeps what any payload may ask,
/// whatever the optional-data setting includes this time, so changing it rebuilds nothing.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    tables: BTreeMap<String, TablePlan>,
}

impl Plan {
    pub fn new(definitions: &[MetricDefinition]) -> Self {
        let mut plan = Plan::default();
        for definition in definitions {
            if let Instrumentation::Database(metric) = &definition.instrumentation {
                let measure = Measure::of(metric);
                let table = plan.tables.entry(metric.table.clone()).or_default();
                table.table = metric.table.clone();
                table
                    .measures
                    .entry(measure.key.clone())
                    .or_insert(measure)
                    .all_time |= definition.time_frame == TimeFrame::All;
            }
        }
        plan
    }

    /// The plan of the table `metric` reads, if it holds the metric's measure.
    pub fn table_of(&self, metric: &DatabaseMetric) -> Option<&TablePlan> {
        let table = self.tables.get(&metric.table)?;
        table
            .measures
            .contains_key(&Measure::of(metric).key)
            .then_some(table)
    }

    /// Refreshes every table's rollup, a few tables at once as a payload does; the tables that
    /// could not be refreshed, with why (their metrics will be scanned until they can).
    pub async fn refresh_all(&self, db: &Db) -> Vec<(String, anyhow::Error)> {
        use futures::StreamExt;
        let installed = Installed::snapshot(db).await;
        let installed = installed.as_ref();
        // Made before they go into the stream (see `evaluate`), so that the stream is `Send`.
        let refreshes: Vec<_> = self
            .tables
            .values()
            .map(|table| async move { (table.table.clone(), refresh(db, table, installed).await) })
            .collect();
        let mut failures: Vec<(String, anyhow::Error)> = futures::stream::iter(refreshes)
            .buffer_unordered(parallelism())
            .filter_map(|(table, outcome)| async move { outcome.err().map(|error| (table, error)) })
            .collect()
            .await;
        let tables = self.tables.keys().map(String::as_str).collect();
        if installed.is_some_and(|installed| !installed.has_stale(&tables)) {
            return failures;
        }
        if let Err(error) = log::retire_stale(db, &tables).await {
            failures.push(("(retired tables)".into(), error.into()));
        }
        failures
    }
}

/// Brings `plan`'s rollup up to date: rebuilds it if it is missing or stale, then folds the
/// table's change log into it. Its triggers are checked against `installed` (read once for
/// many tables), or without it against the catalog itself.
pub async fn refresh(
    db: &Db,
    plan: &TablePlan,
    installed: Option<&Installed>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let table = plan.table.as_str();
    let stored: Option<(String, String)> = on_pool!(db, |pool| sqlx::query_as(
        "SELECT time_columns, measures FROM metric_rollup_tables WHERE table_name = $1",
    )
    .bind(table)
    .fetch_optional(pool)
    .await)?;
    let current = match stored {
        Some((columns, measures)) => {
            columns == plan.watched_columns()
                && measures == plan.fingerprint()
                && match installed {
                    Some(installed) => installed.covers(plan),
                    None => Installed::read(db).await?.covers(plan),
                }
        }
        None => false,
    };
    if !current {
        rebuild::rebuild(db, plan)
            .await
            .with_context(|| format!("rebuilding the rollup of {table}"))?;
    }
    let folded = fold::fold(db, plan)
        .await
        .with_context(|| format!("folding the changes of {table} into its rollup"))?;
    if !current || folded.is_some() {
        let folded = folded.unwrap_or_default();
        tracing::debug!(
            table,
            rebuilt = !current,
            images = folded.images,
            recomputed_days = folded.recomputed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "metric rollup refreshed"
        );
    }
    Ok(())
}

/// Drops every rollup, its triggers and logs, for a writer that replaces the platform
/// wholesale (the seed): rather than every written row leaving a log row, the next refresh
/// rebuilds each table in one pass. Inside the writer's transaction, so both happen or neither.
pub async fn forget(mut conn: Conn<'_>) -> sqlx::Result<()> {
    log::drop_all(&mut conn).await?;
    for rollup in [
        "metric_rollup_tables",
        "metric_rollup_days",
        "metric_rollup_months",
    ] {
        execute_in!(conn, sqlx::query(&format!("DELETE FROM {rollup}")))?;
    }
    Ok(())
}

fn trigger_name(table: &str, event: &str) -> String {
    format!("metric_rollup_{table}_{event}")
}

/// A measure's day: (measure, day).
type DayKey = (String, String);

/// The partials a refresh computed, before they are stored.
#[derive(Default)]
struct Partials {
    /// (measure, day) → (n, total), added up over the batches that read the day's rows.
    sums: BTreeMap<DayKey, (i64, Option<Total>)>,
    /// measure → day → values.
    sets: HashMap<String, BTreeMap<String, RoaringBitmap>>,
}

/// A sum as the database gave it: integers stay integers.
#[derive(Debug, Clone, Copy)]
enum Total {
    Int(i64),
    Real(f64),
}

impl Total {
    fn plus(self, other: Total) -> Total {
        match (self, other) {
            (Total::Int(a), Total::Int(b)) => Total::Int(a + b),
            (a, b) => Total::Real(a.real() + b.real()),
        }
    }

    fn real(self) -> f64 {
        match self {
            Total::Int(v) => v as f64,
            Total::Real(v) => v,
        }
    }
}

fn count_at(row: &[Cell], index: usize) -> anyhow::Result<i64> {
    match row.get(index) {
        Some(Cell::Int(n)) => Ok(*n),
        other => bail!("a count that is not a whole number: {other:?}"),
    }
}

fn total_at(row: &[Cell], index: usize) -> anyhow::Result<Option<Total>> {
    match row.get(index) {
        Some(Cell::Int(v)) => Ok(Some(Total::Int(*v))),
        Some(Cell::Real(v)) => Ok(Some(Total::Real(*v))),
        Some(Cell::Null) => Ok(None),
        other => bail!("a sum that is not a number: {other:?}"),
    }
}

/// `substr(column, 1, 10)`: the day of a platform timestamp.
fn day_of(column: &str) -> String {
    format!("substr({column}, 1, 10)")
}

/// The rows of one day: through the time column's index for a date, by comparison otherwise.
fn rows_of_day(column: &str, day: &str) -> Statement {
    if day == UNDATED {
        return Statement {
            sql: format!("{column} IS NULL"),
            binds: Vec::new(),
        };
    }
    match NaiveDate::parse_from_str(day, DATE_FORMAT) {
        Ok(date) => Statement {
            sql: format!("{column} >= ? AND {column} < ?"),
            binds: vec![
                Literal::Text(day.to_string()),
                Literal::Text((date + Duration::days(1)).format(DATE_FORMAT).to_string()),
            ],
        },
        Err(_) => Statement {
            sql: format!("{} = ?", day_of(column)),
            binds: vec![Literal::Text(day.to_string())],
        },
    }
}

/// The aggregates of one measure's partial: `COUNT` (and `SUM`) for counts, sums and averages;
/// for distinct counts the day's distinct values as a comma-separated list, where anything but
/// an id (a whole number from 0 to 2^32 - 1) becomes `x`, which fails to parse, so the rollup
/// refuses it rather than count it wrongly (on PostgreSQL a column that is not a number fails
/// the statement: the same refusal, earlier).
fn aggregates_of(measure: &Measure, backend: Backend, columns: &mut Statement) -> Vec<String> {
    let filter = measure.filter_sql();
    let column = measure.metric.column.as_deref().unwrap_or("NULL");
    let only = |aggregate: String, columns: &mut Statement| only(aggregate, &filter, columns);
    match measure.partial {
        Partial::Rows => vec![only("COUNT(*)".into(), columns)],
        Partial::Sum => vec![
            only(format!("COUNT({column})"), columns),
            only(format!("SUM({column})"), columns),
        ],
        Partial::Distinct => vec![only(id_list(column, backend, "DISTINCT "), columns)],
    }
}

/// `aggregate` over the rows `filter` keeps (all without one); the filter's values bind into
/// `statement`.
fn only(aggregate: String, filter: &Option<Statement>, statement: &mut Statement) -> String {
    match filter {
        None => aggregate,
        Some(filter) => {
            statement.binds.extend(filter.binds.iter().cloned());
            format!("{aggregate} FILTER (WHERE {})", filter.sql)
        }
    }
}

/// The comma-separated list of `value`'s ids (`distinct`: each once), where anything but an id
/// (a whole number from 0 to 2^32 - 1) becomes `x`, which [`members`] refuses.
fn id_list(value: &str, backend: Backend, distinct: &str) -> String {
    let max = u32::MAX;
    match backend {
        Backend::Sqlite => format!(
            "group_concat({distinct}CASE WHEN {value} IS NULL THEN NULL \
             WHEN typeof({value}) = 'integer' AND {value} BETWEEN 0 AND {max} THEN {value} \
             ELSE 'x' END)"
        ),
        Backend::Postgres => format!(
            "string_agg({distinct}CASE WHEN {value} IS NULL THEN NULL \
             WHEN {value} BETWEEN 0 AND {max} THEN {value}::text ELSE 'x' END, ',')"
        ),
    }
}

impl Partials {
    /// Adds one day's row of a statement made by [`aggregates_of`] (the day, then the
    /// measures' aggregates; one batch's share of the day) to the partials.
    fn add_row(&mut self, row: &[Cell], measures: &[&Measure]) -> anyhow::Result<()> {
        let day = match row.first() {
            Some(Cell::Text(day)) => day.as_str(),
            _ => UNDATED,
        };
        let mut index = 1;
        for measure in measures {
            match measure.partial {
                Partial::Distinct => {
                    let values = match &row[index] {
                        Cell::Text(values) => values.as_str(),
                        _ => "",
                    };
                    let set = members(values, &measure.metric)?;
                    *self
                        .sets
                        .entry(measure.key.clone())
                        .or_default()
                        .entry(day.to_string())
                        .or_default() |= set;
                    index += 1;
                }
                Partial::Rows | Partial::Sum => {
                    let n = count_at(row, index)?;
                    let total = match measure.partial {
                        Partial::Sum => {
                            index += 1;
                            total_at(row, index)?
                        }
                        _ => None,
                    };
                    index += 1;
                    if n > 0 {
                        self.add_sum(&measure.key, day, n, total);
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds `n` rows or values summing to `total` to a measure's day.
    fn add_sum(&mut self, measure: &str, day: &str, n: i64, total: Option<Total>) {
        let (sum_n, sum_total) = self
            .sums
            .entry((measure.to_string(), day.to_string()))
            .or_insert((0, None));
        *sum_n += n;
        *sum_total = match (*sum_total, total) {
            (Some(a), Some(b)) => Some(a.plus(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The statement recomputing every measure on `time_column` for `days`, grouped by day.
fn recompute_statement(
    plan: &TablePlan,
    time_column: &str,
    days: &[String],
    backend: Backend,
) -> Statement {
    let mut statement = Statement::default();
    let expressions: Vec<String> = plan
        .measures_on(time_column)
        .flat_map(|m| aggregates_of(m, backend, &mut statement))
        .collect();
    let mut rows = Vec::new();
    for day in days {
        let day = rows_of_day(time_column, day);
        rows.push(format!("({})", day.sql));
        statement.binds.extend(day.binds);
    }
    let rows = if rows.is_empty() {
        "FALSE".to_string()
    } else {
        rows.join(" OR ")
    };
    statement.sql = format!(
        "SELECT {}, {} FROM {} WHERE {rows} GROUP BY 1",
        day_of(time_column),
        expressions.join(", "),
        plan.table
    );
    statement
}

/// The set of a comma-separated list of ids.
fn members(values: &str, metric: &DatabaseMetric) -> anyhow::Result<RoaringBitmap> {
    let mut set = RoaringBitmap::new();
    for value in values.split(',').filter(|v| !v.is_empty()) {
        match value.parse::<u32>() {
            Ok(member) => {
                set.insert(member);
            }
            Err(_) => bail!(not_an_id(metric)),
        }
    }
    Ok(set)
}

fn month_of(day: &str) -> &str {
    day.get(..7).unwrap_or(day)
}

fn serialize(set: &RoaringBitmap) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(set.serialized_size());
    set.serialize_into(&mut bytes)
        .expect("writing to a Vec cannot fail");
    bytes
}

fn deserialize(bytes: &[u8]) -> anyhow::Result<RoaringBitmap> {
    RoaringBitmap::deserialize_from(bytes).context("reading a stored rollup set")
}

fn not_an_id(metric: &DatabaseMetric) -> String {
    format!(
        "{}.{} holds a value other than a whole number from 0 to {}; rollups only count distinct ids",
        metric.table,
        metric.column.as_deref().unwrap_or_default(),
        u32::MAX
    )
}

/// Rows per multi-row INSERT, well under SQLite's limit on parameters.
const INSERT_CHUNK: usize = 500;

/// Inserts days' counts and sums, `on_conflict` deciding what an existing day becomes.
async fn insert_sums(
    conn: &mut Conn<'_>,
    sums: &[(&DayKey, &(i64, Option<Total>))],
    on_conflict: &str,
) -> sqlx::Result<()> {
    for chunk in sums.chunks(INSERT_CHUNK) {
        let mut statement = Statement {
            sql: "INSERT INTO metric_rollup_days (measure, day, n, total) VALUES ".into(),
            binds: Vec::with_capacity(chunk.len() * 4),
        };
        let rows: Vec<&str> = chunk
            .iter()
            .map(|((measure, day), (n, total))| {
                statement.binds.extend([
                    Literal::Text(measure.clone()),
                    Literal::Text(day.clone()),
                    Literal::Int(*n),
                ]);
                match total {
                    Some(Total::Int(v)) => statement.binds.push(Literal::Int(*v)),
                    Some(Total::Real(v)) => statement.binds.push(Literal::Real(*v)),
                    None => return "(?, ?, ?, NULL)",
                }
                "(?, ?, ?, ?)"
            })
            .collect();
        statement.sql.push_str(&rows.join(", "));
        statement.sql.push_str(on_conflict);
        statement.execute(conn).await?;
    }
    Ok(())
}

/// A stored set (`members` of `rollup` where `measure` and `key_column` = `key`), empty when
/// there is none.
async fn stored_set(
    conn: &mut Conn<'_>,
    rollup: &str,
    key_column: &str,
    measure: &str,
    key: &str,
) -> anyhow::Result<RoaringBitmap> {
    let sql = format!("SELECT members FROM {rollup} WHERE measure = $1 AND {key_column} = $2");
    let stored: Option<Option<Vec<u8>>> = on_conn!(conn.reborrow(), |c| sqlx::query_scalar(&sql)
        .bind(measure)
        .bind(key)
        .fetch_optional(c)
        .await)?;
    match stored.flatten() {
        Some(bytes) => deserialize(&bytes),
        None => Ok(RoaringBitmap::new()),
    }
}

/// Inserts the computed partials: the days' counts and sums with rows, and the non-empty sets.
/// The days they replace are deleted already.
async fn write_partials(conn: &mut Conn<'_>, partials: &Partials) -> anyhow::Result<()> {
    let sums: Vec<_> = partials.sums.iter().filter(|(_, (n, _))| *n > 0).collect();
    insert_sums(conn, &sums, "").await?;
    let sets: Vec<(&str, &str, &RoaringBitmap)> = partials
        .sets
        .iter()
        .flat_map(|(measure, days)| {
            days.iter()
                .map(move |(day, set)| (measure.as_str(), day.as_str(), set))
        })
        .collect();
    insert_sets(conn, SetRollup::Days, &sets).await
}

/// Where sets are kept: per day (with their sizes, as counts are), or per month.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetRollup {
    Days,
    Months,
}

/// Inserts non-empty sets, keyed by measure and day or month, many rows per statement: a
/// rebuild writes thousands, under the write lock on SQLite.
async fn insert_sets(
    conn: &mut Conn<'_>,
    rollup: SetRollup,
    sets: &[(&str, &str, &RoaringBitmap)],
) -> anyhow::Result<()> {
    let insert = match rollup {
        SetRollup::Days => "INSERT INTO metric_rollup_days (measure, day, n, members) ",
        SetRollup::Months => "INSERT INTO metric_rollup_months (measure, month, members) ",
    };
    let sets: Vec<_> = sets.iter().filter(|(_, _, set)| !set.is_empty()).collect();
    for chunk in sets.chunks(INSERT_CHUNK) {
        on_conn!(conn.reborrow(), |c| {
            let mut query = sqlx::QueryBuilder::new(insert);
            query.push_values(chunk, |mut row, (measure, key, set)| {
                row.push_bind(*measure).push_bind(*key);
                if rollup == SetRollup::Days {
                    row.push_bind(set.len() as i64);
                }
                row.push_bind(serialize(set));
            });
            query.build().execute(c).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// `metric`'s value over `window` (all time without one), from its measure's rollup.
pub async fn answer(
    db: &Db,
    metric: &DatabaseMetric,
    window: Option<&Window>,
) -> anyhow::Result<Value> {
    let measure = Measure::of(metric);
    if measure.partial == Partial::Distinct {
        let members = union(db, &measure.key, window).await?;
        return Ok(match metric.operation {
            Operation::EstimateDistinct => {
                json!(hll::estimate_of(members.iter()).round() as i64)
            }
            _ => json!(members.len()),
        });
    }
    let mut statement = Statement {
        sql: "SELECT COALESCE(SUM(n), 0), SUM(total) FROM metric_rollup_days WHERE measure = ?"
            .into(),
        binds: vec![Literal::Text(measure.key)],
    };
    if let Some(window) = window {
        statement.sql.push_str(" AND day >= ? AND day < ?");
        statement.binds.push(Literal::Text(window.start.clone()));
        statement.binds.push(Literal::Text(window.end.clone()));
    }
    let row = statement.fetch_one(db).await?;
    let n = count_at(&row, 0)?;
    Ok(match metric.operation {
        Operation::Count => json!(n),
        Operation::Average if n == 0 => json!(0),
        Operation::Average => {
            let total = total_at(&row, 1)?.map_or(0.0, Total::real);
            json!(round(total / n as f64))
        }
        _ => number_at(&row, 1)?,
    })
}

/// The union of a distinct measure's sets over `window`'s days, or over every month.
async fn union(db: &Db, measure: &str, window: Option<&Window>) -> anyhow::Result<RoaringBitmap> {
    let sets: Vec<Vec<u8>> = match window {
        Some(window) => on_pool!(db, |pool| {
            sqlx::query_scalar(
            "SELECT members FROM metric_rollup_days WHERE measure = $1 AND day >= $2 AND day < $3",
        )
        .bind(measure)
        .bind(&window.start)
        .bind(&window.end)
        .fetch_all(pool)
        .await
        })?,
        None => on_pool!(db, |pool| sqlx::query_scalar(
            "SELECT members FROM metric_rollup_months WHERE measure = $1",
        )
        .bind(measure)
        .fetch_all(pool)
        .await)?,
    };
    let mut members = RoaringBitmap::new();
    for bytes in sets {
        members |= deserialize(&bytes)?;
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value_type::ValueType;

    fn metric(class: &str, options: Value) -> DatabaseMetric {
        match Instrumentation::parse(class, options.as_object().unwrap(), ValueType::Number) {
            Ok(Instrumentation::Database(metric)) => metric,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn metrics_share_a_measure_exactly_when_they_aggregate_the_same_rows_the_same_way() {
        let issues = metric("CountMetric", json!({"table": "issues"}));
        let opened = metric(
            "CountMetric",
            json!({"table": "issues", "filter": {"state": "opened"}}),
        );
        let closed = metric(
            "CountMetric",
            json!({"table": "issues", "time_column": "closed_at"}),
        );
        let sum = metric(
            "SumMetric",
            json!({"table": "ci_pipelines", "column": "duration"}),
        );
        let average = metric(
            "AverageMetric",
            json!({"table": "ci_pipelines", "column": "duration"}),
        );
        let authors = metric(
            "DistinctCountMetric",
            json!({"table": "events", "column": "author_id"}),
        );
        let estimate = metric(
            "EstimateDistinctMetric",
            json!({"table": "events", "column": "author_id"}),
        );
        let key = |m: &DatabaseMetric| Measure::of(m).key;
        assert_eq!(key(&issues), "issues.created_at Rows(*) []");
        assert_eq!(
            key(&opened),
            "issues.created_at Rows(*) [state Eq (\"opened\")]"
        );
        assert_ne!(key(&issues), key(&closed));
        // An average is a sum and a count: both read the same partial.
        assert_eq!(key(&sum), key(&average));
        assert_eq!(key(&authors), key(&estimate));
    }

    #[test]
    fn triggers_log_the_old_and_new_image_of_the_columns_measures_read() {
        let mut plan = TablePlan {
            table: "issues".into(),
            ..TablePlan::default()
        };
        for options in [
            json!({"table": "issues", "filter": {"state": "opened"}}),
            json!({"table": "issues", "time_column": "closed_at"}),
        ] {
            let measure = Measure::of(&metric("CountMetric", options));
            plan.measures.insert(measure.key.clone(), measure);
        }
        assert_eq!(
            log::logged_columns(&plan),
            ["closed_at", "created_at", "state"]
        );
        let statements = log::trigger_statements(&plan);
        assert_eq!(statements.len(), 6);
        // An update assigning none of them (say `updated_at`) does not fire.
        assert_eq!(
            statements[3],
            "CREATE TRIGGER metric_rollup_issues_update AFTER UPDATE OF closed_at, created_at, state \
             ON issues BEGIN INSERT INTO metric_rollup_log_issues (sign, closed_at, created_at, state) \
             VALUES (-1, OLD.closed_at, OLD.created_at, OLD.state), \
             (1, NEW.closed_at, NEW.created_at, NEW.state); END"
        );
        assert!(statements[5].contains("VALUES (-1, OLD.closed_at, OLD.created_at, OLD.state)"));
    }

    #[test]
    fn postgres_logs_a_statements_rows_in_one_insert() {
        let mut plan = TablePlan {
            table: "issues".into(),
            ..TablePlan::default()
        };
        let measure = Measure::of(&metric("CountMetric", json!({"table": "issues"})));
        plan.measures.insert(measure.key.clone(), measure);
        let statements = log::postgres_trigger_statements(&plan);
        assert_eq!(statements.len(), 9);
        assert!(statements[3].contains(
            "INSERT INTO metric_rollup_log_issues (sign, created_at) \
             SELECT -1, created_at FROM old_rows UNION ALL SELECT 1, created_at FROM new_rows"
        ));
        assert!(statements[5].contains(
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
        ));
    }
}
