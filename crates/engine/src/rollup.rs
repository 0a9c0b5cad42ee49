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
//! Triggers on every table the dictionary reads mark the days a write touches (old and new value
//! of each time column the rollup uses), so a refresh recomputes only those days, in one grouped
//! statement per time column and day. One runs before each payload, and the server runs one
//! every ten minutes (`service_ping::rollups`). The first refresh of a table, and any after its
//! measures changed or its triggers went missing, rebuilds its rollup in one grouped pass over all
//! its rows. Each refresh folds in the marks up to a sequence number read before it reads any
//! row, and stores that number: a write made while it runs leaves a later mark for the next
//! refresh, and of two concurrent refreshes the one that read an older number stores nothing. Values of distinct counts must be whole numbers
//! from 0 to 2^32 - 1 (they are ids); a table whose rollup cannot be computed is evaluated by
//! fused scans instead, so a rollup changes how fast a value is found, never the value.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, bail};
use chrono::{Duration, NaiveDate};
use roaring::RoaringBitmap;
use serde_json::{Value, json};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::definition::MetricDefinition;
use super::hll;
use super::instrumentation::{Condition, DatabaseMetric, Instrumentation, Literal, Operation};
use super::sql::{Statement, conditions, number_at, round};
use super::time_frame::{DATE_FORMAT, TimeFrame, Window};
use service_ping_database::{SqliteDb as Db, begin_write};

/// The day of rows whose time column is NULL: part of all time, of no window.
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
    fn days_on(&self, time_column: &str, days: &Days) -> Days {
        match days {
            Days::All => Days::All,
            Days::Some(days) => {
                let undated = self.measures_on(time_column).any(|m| m.all_time);
                Days::Some(
                    days.iter()
                        .filter(|day| undated || day.as_str() != UNDATED)
                        .cloned()
                        .collect(),
                )
            }
        }
    }

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

    /// Refreshes every table's rollup, one table at a time; the tables that could not be
    /// refreshed, with why (their metrics will be scanned until they can).
    pub async fn refresh_all(&self, db: &Db) -> Vec<(String, anyhow::Error)> {
        let mut failures = Vec::new();
        for table in self.tables.values() {
            if let Err(error) = refresh(db, table).await {
                failures.push((table.table.clone(), error));
            }
        }
        failures
    }
}

/// Brings `plan`'s rollup up to date: rebuilds it, or recomputes the days marked as changed.
pub async fn refresh(db: &Db, plan: &TablePlan) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let table = plan.table.as_str();
    let stored: Option<(String, String)> = sqlx::query_as(
        "SELECT time_columns, measures FROM metric_rollup_tables WHERE table_name = ?",
    )
    .bind(table)
    .fetch_optional(db)
    .await?;
    let rebuild = match stored {
        Some((columns, measures)) => {
            columns != plan.watched_columns()
                || measures != plan.fingerprint()
                || !triggers_installed(db, table).await?
        }
        None => true,
    };
    if rebuild {
        install_triggers(db, plan).await?;
    }
    let through = last_change(db).await?;
    let days = if rebuild {
        Days::All
    } else {
        let days: Vec<String> = sqlx::query_scalar(
            "SELECT day FROM metric_rollup_changes WHERE table_name = ? AND id <= ? ORDER BY day",
        )
        .bind(table)
        .bind(through)
        .fetch_all(db)
        .await?;
        match days.len() {
            0 => return Ok(()),
            // Each day is read through the time column's index, row by row; past this many,
            // one sequential pass over the table is cheaper.
            n if n > MANY_DAYS => Days::All,
            _ => Days::Some(days),
        }
    };
    let recomputed = match &days {
        Days::All => "all".to_string(),
        Days::Some(days) => days.len().to_string(),
    };
    let mut partials = Partials::default();
    for time_column in plan.time_columns() {
        let days = plan.days_on(time_column, &days);
        partials
            .add(db, plan, time_column, &days)
            .await
            .with_context(|| format!("rolling up {table} by {time_column}"))?;
    }
    store(db, plan, &days, &partials, through).await?;
    tracing::debug!(
        table,
        rebuild,
        days = recomputed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "metric rollup refreshed"
    );
    Ok(())
}

/// Changed days past which a refresh recomputes every day of a table in one pass.
const MANY_DAYS: usize = 50;

/// The days a refresh recomputes.
enum Days {
    All,
    Some(Vec<String>),
}

/// The highest change mark ever written; AUTOINCREMENT never reuses one.
async fn last_change(db: &Db) -> sqlx::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'metric_rollup_changes'")
            .fetch_optional(db)
            .await?
            .unwrap_or(0),
    )
}

/// Drops every rollup and its triggers, for a writer that replaces the platform wholesale (the
/// seed): rather than every written row leaving a mark, the next refresh rebuilds each table in
/// one pass. Inside the writer's transaction, so both happen or neither.
pub async fn forget(connection: &mut sqlx::SqliteConnection) -> sqlx::Result<()> {
    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'metric_rollup_*'",
    )
    .fetch_all(&mut *connection)
    .await?;
    for trigger in triggers {
        sqlx::query(&format!("DROP TRIGGER {trigger}"))
            .execute(&mut *connection)
            .await?;
    }
    for rollup in [
        "metric_rollup_tables",
        "metric_rollup_changes",
        "metric_rollup_days",
        "metric_rollup_months",
    ] {
        sqlx::query(&format!("DELETE FROM {rollup}"))
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

const TRIGGER_EVENTS: [&str; 3] = ["insert", "update", "delete"];

fn trigger_name(table: &str, event: &str) -> String {
    format!("metric_rollup_{table}_{event}")
}

async fn triggers_installed(db: &Db, table: &str) -> sqlx::Result<bool> {
    let names: Vec<String> = TRIGGER_EVENTS
        .iter()
        .map(|event| trigger_name(table, event))
        .collect();
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? \
         AND name IN (?, ?, ?)",
    )
    .bind(table)
    .bind(&names[0])
    .bind(&names[1])
    .bind(&names[2])
    .fetch_one(db)
    .await?;
    Ok(found == 3)
}

/// (Re)creates the triggers that mark the days a write to the table touches: for every time
/// column, the day of the old row (update, delete) and of the new row (insert, update). The
/// table's stored state goes with them: what was written while they were missing left no mark.
async fn install_triggers(db: &Db, plan: &TablePlan) -> sqlx::Result<()> {
    let table = plan.table.as_str();
    let mut tx = begin_write(db).await?;
    for statement in trigger_statements(plan) {
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
    sqlx::query("DELETE FROM metric_rollup_tables WHERE table_name = ?")
        .bind(table)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

fn trigger_statements(plan: &TablePlan) -> Vec<String> {
    let table = plan.table.as_str();
    let marks = |row: &str| -> Vec<String> {
        plan.time_columns()
            .into_iter()
            .map(|column| format!("('{table}', coalesce(substr({row}.{column}, 1, 10), ''))"))
            .collect()
    };
    let mut statements = Vec::new();
    for event in TRIGGER_EVENTS {
        let rows = match event {
            "insert" => marks("NEW"),
            "delete" => marks("OLD"),
            _ => [marks("OLD"), marks("NEW")].concat(),
        };
        let name = trigger_name(table, event);
        statements.push(format!("DROP TRIGGER IF EXISTS {name}"));
        statements.push(format!(
            "CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN \
             INSERT OR REPLACE INTO metric_rollup_changes (table_name, day) VALUES {}; END",
            rows.join(", ")
        ));
    }
    statements
}

/// The partials a refresh computed, before they are stored.
#[derive(Default)]
struct Partials {
    /// (measure, day) → (n, total).
    sums: Vec<(String, String, i64, Option<Total>)>,
    /// measure → day → values.
    sets: HashMap<String, BTreeMap<String, RoaringBitmap>>,
}

/// A sum as SQLite gave it: integers stay integers.
#[derive(Debug, Clone, Copy)]
enum Total {
    Int(i64),
    Real(f64),
}

fn total_at(row: &sqlx::sqlite::SqliteRow, index: usize) -> sqlx::Result<Option<Total>> {
    if let Ok(value) = row.try_get::<Option<i64>, _>(index) {
        return Ok(value.map(Total::Int));
    }
    Ok(row.try_get::<Option<f64>, _>(index)?.map(Total::Real))
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

/// The statements computing one time column's partials: one for all days, grouped by day, or
/// one per day. `columns` (the aggregates) bind first.
fn per_day_statements(
    table: &str,
    time_column: &str,
    columns: &Statement,
    days: &Days,
) -> Vec<Statement> {
    let day = day_of(time_column);
    match days {
        Days::All => vec![Statement {
            sql: format!("SELECT {day}, {} FROM {table} GROUP BY 1", columns.sql),
            binds: columns.binds.clone(),
        }],
        Days::Some(days) => days
            .iter()
            .map(|d| {
                let rows = rows_of_day(time_column, d);
                let mut binds = columns.binds.clone();
                binds.extend(rows.binds);
                Statement {
                    sql: format!(
                        "SELECT {day}, {} FROM {table} WHERE {} GROUP BY 1",
                        columns.sql, rows.sql
                    ),
                    binds,
                }
            })
            .collect(),
    }
}

/// The aggregates of one measure's partial: `COUNT` (and `SUM`) for counts, sums and averages;
/// for distinct counts the day's distinct values as a comma-separated list, where anything but
/// an id (a whole number from 0 to 2^32 - 1) becomes `x`, which fails to parse, so the rollup
/// refuses it rather than count it wrongly.
fn aggregates_of(measure: &Measure, columns: &mut Statement) -> Vec<String> {
    let filter = measure.filter_sql();
    let column = measure.metric.column.as_deref().unwrap_or("NULL");
    let only = |aggregate: String, columns: &mut Statement| match &filter {
        None => aggregate,
        Some(filter) => {
            columns.binds.extend(filter.binds.iter().cloned());
            format!("{aggregate} FILTER (WHERE {})", filter.sql)
        }
    };
    match measure.partial {
        Partial::Rows => vec![only("COUNT(*)".into(), columns)],
        Partial::Sum => vec![
            only(format!("COUNT({column})"), columns),
            only(format!("SUM({column})"), columns),
        ],
        Partial::Distinct => {
            let id = format!(
                "CASE WHEN {column} IS NULL THEN NULL \
                 WHEN typeof({column}) = 'integer' AND {column} BETWEEN 0 AND {} THEN {column} \
                 ELSE 'x' END",
                u32::MAX
            );
            vec![only(format!("group_concat(DISTINCT {id})"), columns)]
        }
    }
}

impl Partials {
    /// Every measure on `time_column`, per day, in one pass over the rows (or over each day's).
    async fn add(
        &mut self,
        db: &Db,
        plan: &TablePlan,
        time_column: &str,
        days: &Days,
    ) -> anyhow::Result<()> {
        let measures: Vec<&Measure> = plan.measures_on(time_column).collect();
        let mut columns = Statement::default();
        let mut expressions = Vec::new();
        for measure in &measures {
            expressions.extend(aggregates_of(measure, &mut columns));
        }
        columns.sql = expressions.join(", ");
        let mut seen = BTreeSet::new();
        for statement in per_day_statements(&plan.table, time_column, &columns, days) {
            for row in statement.bind_all().fetch_all(db).await? {
                let day: Option<String> = row.try_get(0)?;
                let day = day.unwrap_or_default();
                self.add_row(&row, &measures, &day)?;
                seen.insert(day);
            }
        }
        // A recomputed day whose rows are all gone must still replace its stored sets.
        if let Days::Some(days) = days {
            for day in days.iter().filter(|day| !seen.contains(*day)) {
                for measure in measures.iter().filter(|m| m.partial == Partial::Distinct) {
                    self.sets
                        .entry(measure.key.clone())
                        .or_default()
                        .insert(day.clone(), RoaringBitmap::new());
                }
            }
        }
        Ok(())
    }

    /// The partials of one day's row of a statement made by [`aggregates_of`].
    fn add_row(
        &mut self,
        row: &sqlx::sqlite::SqliteRow,
        measures: &[&Measure],
        day: &str,
    ) -> anyhow::Result<()> {
        let mut index = 1;
        for measure in measures {
            match measure.partial {
                Partial::Distinct => {
                    let values: Option<&str> = row.try_get(index)?;
                    let set = members(values.unwrap_or_default(), &measure.metric)?;
                    self.sets
                        .entry(measure.key.clone())
                        .or_default()
                        .insert(day.to_string(), set);
                    index += 1;
                }
                Partial::Rows | Partial::Sum => {
                    let n: i64 = row.try_get(index)?;
                    let total = match measure.partial {
                        Partial::Sum => {
                            index += 1;
                            total_at(row, index)?
                        }
                        _ => None,
                    };
                    index += 1;
                    if n > 0 {
                        self.sums
                            .push((measure.key.clone(), day.to_string(), n, total));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The set of a comma-separated list of ids.
fn members(values: &str, metric: &DatabaseMetric) -> anyhow::Result<RoaringBitmap> {
    let mut set = RoaringBitmap::new();
    for value in values.split(',').filter(|v| !v.is_empty()) {
        match value.parse::<u32>() {
            Ok(member) => {
                set.insert(member);
            }
            Err(_) => bail!(
                "{}.{} holds a value other than a whole number from 0 to {}; \
                 rollups only count distinct ids",
                metric.table,
                metric.column.as_deref().unwrap_or_default(),
                u32::MAX
            ),
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

/// Rows per multi-row INSERT, well under SQLite's limit on parameters.
const INSERT_CHUNK: usize = 500;

/// Writes the recomputed days (or the whole rebuilt rollup), the months they fall in, and the
/// sequence number folded in, in one transaction; stores nothing if a refresh that read a later
/// number already stored.
async fn store(
    db: &Db,
    plan: &TablePlan,
    days: &Days,
    partials: &Partials,
    through: i64,
) -> anyhow::Result<()> {
    let table = plan.table.as_str();
    let mut tx = begin_write(db).await?;
    let claimed = sqlx::query(
        "INSERT INTO metric_rollup_tables (table_name, time_columns, measures, refreshed_through)
         VALUES (?, ?, ?, ?)
         ON CONFLICT (table_name) DO UPDATE SET time_columns = excluded.time_columns,
             measures = excluded.measures, refreshed_through = excluded.refreshed_through
         WHERE refreshed_through < excluded.refreshed_through
            OR time_columns <> excluded.time_columns OR measures <> excluded.measures",
    )
    .bind(table)
    .bind(plan.watched_columns())
    .bind(plan.fingerprint())
    .bind(through)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(());
    }
    // Every measure of the table is keyed `table.…`: the range [`table.`, `table/`).
    let (prefix, after) = (format!("{table}."), format!("{table}/"));
    match days {
        // Rebuilt: everything goes, including measures the dictionary dropped.
        Days::All => {
            for rollup in ["metric_rollup_days", "metric_rollup_months"] {
                sqlx::query(&format!(
                    "DELETE FROM {rollup} WHERE measure >= ? AND measure < ?"
                ))
                .bind(&prefix)
                .bind(&after)
                .execute(&mut *tx)
                .await?;
            }
        }
        Days::Some(days) => {
            for day in days {
                sqlx::query(
                    "DELETE FROM metric_rollup_days WHERE measure >= ? AND measure < ? AND day = ?",
                )
                .bind(&prefix)
                .bind(&after)
                .bind(day)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    for chunk in partials.sums.chunks(INSERT_CHUNK) {
        let mut insert: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO metric_rollup_days (measure, day, n, total) ");
        insert.push_values(chunk, |mut row, (measure, day, n, total)| {
            row.push_bind(measure.clone())
                .push_bind(day.clone())
                .push_bind(*n);
            match total {
                Some(Total::Int(v)) => row.push_bind(*v),
                Some(Total::Real(v)) => row.push_bind(*v),
                None => row.push_bind(None::<i64>),
            };
        });
        insert.build().execute(&mut *tx).await?;
    }
    for (measure, day_sets) in &partials.sets {
        // A month is the union of its days' sets: the ones just computed and, unless every day
        // was, the ones kept from before (reading the just written again changes nothing).
        let mut months: BTreeMap<&str, RoaringBitmap> = BTreeMap::new();
        for (day, set) in day_sets {
            *months.entry(month_of(day)).or_default() |= set;
            if set.is_empty() {
                continue;
            }
            sqlx::query(
                "INSERT INTO metric_rollup_days (measure, day, n, members) VALUES (?, ?, ?, ?)",
            )
            .bind(measure)
            .bind(day)
            .bind(set.len() as i64)
            .bind(serialize(set))
            .execute(&mut *tx)
            .await?;
        }
        for (month, union) in &mut months {
            if matches!(days, Days::Some(_)) {
                let stored = sqlx::query(
                    "SELECT members FROM metric_rollup_days WHERE measure = ? \
                     AND substr(day, 1, 7) = ? AND day >= ? AND day < ?",
                )
                .bind(measure)
                .bind(*month)
                .bind(*month)
                .bind(format!("{month}~"))
                .fetch_all(&mut *tx)
                .await?;
                for row in stored {
                    let bytes: Vec<u8> = row.try_get(0)?;
                    *union |= deserialize(&bytes)?;
                }
            }
            sqlx::query("DELETE FROM metric_rollup_months WHERE measure = ? AND month = ?")
                .bind(measure)
                .bind(*month)
                .execute(&mut *tx)
                .await?;
            if !union.is_empty() {
                sqlx::query(
                    "INSERT INTO metric_rollup_months (measure, month, members) VALUES (?, ?, ?)",
                )
                .bind(measure)
                .bind(*month)
                .bind(serialize(union))
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    sqlx::query("DELETE FROM metric_rollup_changes WHERE table_name = ? AND id <= ?")
        .bind(table)
        .bind(through)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
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
    let row = statement.bind_all().fetch_one(db).await?;
    let n: i64 = row.try_get(0)?;
    Ok(match metric.operation {
        Operation::Count => json!(n),
        Operation::Average if n == 0 => json!(0),
        Operation::Average => {
            let total = match total_at(&row, 1)? {
                Some(Total::Int(v)) => v as f64,
                Some(Total::Real(v)) => v,
                None => 0.0,
            };
            json!(round(total / n as f64))
        }
        _ => number_at(&row, 1)?,
    })
}

/// The union of a distinct measure's sets over `window`'s days, or over every month.
async fn union(db: &Db, measure: &str, window: Option<&Window>) -> anyhow::Result<RoaringBitmap> {
    let sets: Vec<Vec<u8>> =
        match window {
            Some(window) => sqlx::query_scalar(
                "SELECT members FROM metric_rollup_days WHERE measure = ? AND day >= ? AND day < ?",
            )
            .bind(measure)
            .bind(&window.start)
            .bind(&window.end)
            .fetch_all(db)
            .await?,
            None => {
                sqlx::query_scalar("SELECT members FROM metric_rollup_months WHERE measure = ?")
                    .bind(measure)
                    .fetch_all(db)
                    .await?
            }
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
    fn triggers_mark_the_old_and_new_day_of_every_watched_column() {
        let mut plan = TablePlan {
            table: "issues".into(),
            ..TablePlan::default()
        };
        for options in [
            json!({"table": "issues"}),
            json!({"table": "issues", "time_column": "closed_at"}),
        ] {
            let measure = Measure::of(&metric("CountMetric", options));
            plan.measures.insert(measure.key.clone(), measure);
        }
        let statements = trigger_statements(&plan);
        assert_eq!(statements.len(), 6);
        assert_eq!(
            statements[5],
            "CREATE TRIGGER metric_rollup_issues_delete AFTER delete ON issues BEGIN \
             INSERT OR REPLACE INTO metric_rollup_changes (table_name, day) VALUES \
             ('issues', coalesce(substr(OLD.closed_at, 1, 10), '')), \
             ('issues', coalesce(substr(OLD.created_at, 1, 10), '')); END"
        );
        assert!(statements[3].contains("substr(OLD.closed_at, 1, 10)"));
        assert!(statements[3].contains("substr(NEW.created_at, 1, 10)"));
    }
}
