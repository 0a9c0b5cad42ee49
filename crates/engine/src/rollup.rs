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

use super::definition::MetricDefinition;
use super::hll;
use super::instrumentation::{Condition, DatabaseMetric, Instrumentation, Literal, Operation};
use super::sql::{Cell, Statement, conditions, number_at, parallelism, round};
use super::time_frame::{DATE_FORMAT, TimeFrame, Window};
use service_ping_database::{Backend, Conn, Db, execute_in, on_conn, on_pool};

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
    let stored: Option<(String, String)> = on_pool!(db, |pool| sqlx::query_as(
        "SELECT time_columns, measures FROM metric_rollup_tables WHERE table_name = $1",
    )
    .bind(table)
    .fetch_optional(pool)
    .await)?;
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
    let ticket = ticket(db).await?;
    let marks: Vec<(i64, String)> = on_pool!(db, |pool| {
        sqlx::query_as(
        "SELECT id, day FROM metric_rollup_changes WHERE table_name = $1 AND id <= $2 ORDER BY day",
    )
    .bind(table)
    .bind(ticket)
    .fetch_all(pool)
    .await
    })?;
    let days = if rebuild {
        Days::All
    } else {
        match marks.len() {
            0 => return Ok(()),
            // Each day is read through the time column's index, row by row; past this many,
            // one sequential pass over the table is cheaper.
            n if n > MANY_DAYS => Days::All,
            _ => Days::Some(marks.iter().map(|(_, day)| day.clone()).collect()),
        }
    };
    let recomputed = match &days {
        Days::All => "all".to_string(),
        Days::Some(days) => days.len().to_string(),
    };
    // A pass over every row reads the table in primary-key batches, whatever its time column.
    let ids = match days {
        Days::All => id_bounds(db, table).await,
        Days::Some(_) => None,
    };
    let mut partials = Partials::default();
    for time_column in plan.time_columns() {
        let days = plan.days_on(time_column, &days);
        partials
            .add(db, plan, time_column, &days, ids)
            .await
            .with_context(|| format!("rolling up {table} by {time_column}"))?;
    }
    let folded: Vec<i64> = marks.iter().map(|(id, _)| *id).collect();
    store(db, plan, &days, &partials, ticket, &folded).await?;
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

/// The number a refresh stores as how far it folded changes in; of two refreshes, the one with
/// the higher number read later and wins. SQLite: the highest mark ever written (AUTOINCREMENT
/// never reuses one; its single writer orders marks and data). PostgreSQL: a number of the
/// marks' own sequence, taken now: every mark committed before it is lower. A mark a writer
/// took earlier but commits later may be lower too, so a refresh deletes only the marks it read
/// (see [`store`]), never "everything up to its number".
async fn ticket(db: &Db) -> sqlx::Result<i64> {
    match db {
        Db::Sqlite(pool) => Ok(sqlx::query_scalar(
            "SELECT seq FROM sqlite_sequence WHERE name = 'metric_rollup_changes'",
        )
        .fetch_optional(pool)
        .await?
        .unwrap_or(0)),
        Db::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence('metric_rollup_changes', 'id'))",
            )
            .fetch_one(pool)
            .await
        }
    }
}

/// Drops every rollup and its triggers, for a writer that replaces the platform wholesale (the
/// seed): rather than every written row leaving a mark, the next refresh rebuilds each table in
/// one pass. Inside the writer's transaction, so both happen or neither.
pub async fn forget(mut conn: Conn<'_>) -> sqlx::Result<()> {
    let sql = match conn {
        Conn::Sqlite(_) => {
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'metric_rollup_*'"
        }
        Conn::Postgres(_) => {
            "SELECT t.tgname::text, c.relname::text FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND starts_with(t.tgname::text, 'metric_rollup_')"
        }
    };
    let triggers: Vec<(String, String)> =
        on_conn!(conn, |c| sqlx::query_as(sql).fetch_all(c).await)?;
    for (trigger, table) in triggers {
        let drop = match conn {
            Conn::Sqlite(_) => format!("DROP TRIGGER {trigger}"),
            Conn::Postgres(_) => format!("DROP TRIGGER {trigger} ON {table}"),
        };
        execute_in!(conn, sqlx::query(&drop))?;
    }
    for rollup in [
        "metric_rollup_tables",
        "metric_rollup_changes",
        "metric_rollup_days",
        "metric_rollup_months",
    ] {
        execute_in!(conn, sqlx::query(&format!("DELETE FROM {rollup}")))?;
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
    let sql = match db {
        Db::Sqlite(_) => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1 \
             AND name IN ($2, $3, $4)"
        }
        Db::Postgres(_) => {
            "SELECT COUNT(*) FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = $1 \
             AND t.tgname IN ($2, $3, $4)"
        }
    };
    let found: i64 = on_pool!(db, |pool| sqlx::query_scalar(sql)
        .bind(table)
        .bind(&names[0])
        .bind(&names[1])
        .bind(&names[2])
        .fetch_one(pool)
        .await)?;
    Ok(found == 3)
}

/// (Re)creates the triggers that mark the days a write to the table touches: for every time
/// column, the day of the old row (update, delete) and of the new row (insert, update). The
/// table's stored state goes with them: what was written while they were missing left no mark.
async fn install_triggers(db: &Db, plan: &TablePlan) -> sqlx::Result<()> {
    let table = plan.table.as_str();
    let mut tx = db.begin_write().await?;
    let statements = match db {
        Db::Sqlite(_) => trigger_statements(plan),
        Db::Postgres(_) => postgres_trigger_statements(plan),
    };
    for statement in statements {
        execute_in!(tx.conn(), sqlx::query(&statement))?;
    }
    execute_in!(
        tx.conn(),
        sqlx::query("DELETE FROM metric_rollup_tables WHERE table_name = $1").bind(table)
    )?;
    tx.commit().await
}

/// SQLite's row triggers: each written row replaces its days' marks (a replaced mark gets a new
/// id).
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

/// PostgreSQL's statement triggers: once per statement, whatever its number of rows, the days
/// of the rows it wrote (its transition tables), each mark upserted once with a new id. A bulk
/// write pays one small insert, not one per row (`bench/pg_triggers.sh` measures both).
fn postgres_trigger_statements(plan: &TablePlan) -> Vec<String> {
    let table = plan.table.as_str();
    let days = |rows: &str| -> Vec<String> {
        plan.time_columns()
            .into_iter()
            .map(|column| format!("SELECT coalesce(substr({column}, 1, 10), '') FROM {rows}"))
            .collect()
    };
    let mut statements = Vec::new();
    for event in TRIGGER_EVENTS {
        let (selects, transition) = match event {
            "insert" => (days("new_rows"), "NEW TABLE AS new_rows"),
            "delete" => (days("old_rows"), "OLD TABLE AS old_rows"),
            _ => (
                [days("old_rows"), days("new_rows")].concat(),
                "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            ),
        };
        let name = trigger_name(table, event);
        statements.push(format!(
            "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $marks$ BEGIN \
             INSERT INTO metric_rollup_changes (table_name, day) \
             SELECT DISTINCT '{table}', day FROM ({}) AS changed (day) ORDER BY day \
             ON CONFLICT (table_name, day) DO UPDATE SET id = DEFAULT; \
             RETURN NULL; END $marks$",
            selects.join(" UNION ")
        ));
        statements.push(format!("DROP TRIGGER IF EXISTS {name} ON {table}"));
        statements.push(format!(
            "CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transition} \
             FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        ));
    }
    statements
}

/// The partials a refresh computed, before they are stored.
#[derive(Default)]
struct Partials {
    /// (measure, day) → (n, total), added up over the batches that read the day's rows.
    sums: BTreeMap<(String, String), (i64, Option<Total>)>,
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

/// Rows per batch of a pass over a whole table, by primary key, as GitLab's batch counter reads
/// big tables: no statement reads more than this many ids, so none holds a snapshot for long or
/// meets a `statement_timeout`.
const BATCH_IDS: i64 = 100_000;

/// Batches of one pass read at once, each on its own connection: two, unless that would take
/// more than half the pool with the generation's other jobs running beside it
/// ([`parallelism`]), so the dashboard always has connections left.
fn batches_at_once(db: &Db) -> usize {
    let pool = on_pool!(db, |pool| pool.options().get_max_connections()) as usize;
    (pool / (2 * parallelism())).clamp(1, 2)
}

/// The statements computing one time column's partials: for all days, grouped by day, one per
/// range of `ids` (the table's primary-key bounds, when known) or one for the whole table; or
/// one per day. `columns` (the aggregates) bind first.
fn per_day_statements(
    table: &str,
    time_column: &str,
    columns: &Statement,
    days: &Days,
    ids: Option<(i64, i64)>,
) -> Vec<Statement> {
    let day = day_of(time_column);
    match (days, ids) {
        (Days::All, None) => vec![Statement {
            sql: format!("SELECT {day}, {} FROM {table} GROUP BY 1", columns.sql),
            binds: columns.binds.clone(),
        }],
        (Days::All, Some((first, last))) => (first..=last)
            .step_by(BATCH_IDS as usize)
            .map(|start| {
                let mut binds = columns.binds.clone();
                binds.extend([Literal::Int(start), Literal::Int(start + BATCH_IDS)]);
                Statement {
                    sql: format!(
                        "SELECT {day}, {} FROM {table} WHERE id >= ? AND id < ? GROUP BY 1",
                        columns.sql
                    ),
                    binds,
                }
            })
            .collect(),
        (Days::Some(days), _) => days
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

/// The smallest and largest `id` of `table`, read through its primary key; `None` when it has
/// no rows or no integer `id` (it is then read in one pass).
async fn id_bounds(db: &Db, table: &str) -> Option<(i64, i64)> {
    let statement = Statement {
        sql: format!("SELECT MIN(id), MAX(id) FROM {table}"),
        binds: Vec::new(),
    };
    match statement.fetch_one(db).await.ok()?.as_slice() {
        [Cell::Int(first), Cell::Int(last)] => Some((*first, *last)),
        _ => None,
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
            let max = u32::MAX;
            let list = match backend {
                Backend::Sqlite => format!(
                    "group_concat(DISTINCT CASE WHEN {column} IS NULL THEN NULL \
                     WHEN typeof({column}) = 'integer' AND {column} BETWEEN 0 AND {max} THEN {column} \
                     ELSE 'x' END)"
                ),
                Backend::Postgres => format!(
                    "string_agg(DISTINCT CASE WHEN {column} IS NULL THEN NULL \
                     WHEN {column} BETWEEN 0 AND {max} THEN {column}::text ELSE 'x' END, ',')"
                ),
            };
            vec![only(list, columns)]
        }
    }
}

impl Partials {
    /// Every measure on `time_column`, per day, in one pass over the rows (batched by primary
    /// key within `ids`, a few batches at once, when the table's bounds are known) or over each
    /// changed day's rows.
    async fn add(
        &mut self,
        db: &Db,
        plan: &TablePlan,
        time_column: &str,
        days: &Days,
        ids: Option<(i64, i64)>,
    ) -> anyhow::Result<()> {
        use futures::{StreamExt, TryStreamExt};

        let measures: Vec<&Measure> = plan.measures_on(time_column).collect();
        let mut columns = Statement::default();
        let mut expressions = Vec::new();
        for measure in &measures {
            expressions.extend(aggregates_of(measure, db.backend(), &mut columns));
        }
        columns.sql = expressions.join(", ");
        let statements = per_day_statements(&plan.table, time_column, &columns, days, ids);
        // The futures are made before they go into the stream (see `evaluate`): a closure
        // inside it would make the stream's type too general to prove it `Send`.
        let pending: Vec<_> = statements.iter().map(|s| s.fetch_all(db)).collect();
        let mut batches = futures::stream::iter(pending).buffer_unordered(batches_at_once(db));
        let mut seen = BTreeSet::new();
        while let Some(rows) = batches.try_next().await? {
            for row in rows {
                let day = match row.first() {
                    Some(Cell::Text(day)) => day.clone(),
                    _ => UNDATED.to_string(),
                };
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

    /// Adds one day's row of a statement made by [`aggregates_of`] (one batch's share of the
    /// day) to the partials.
    fn add_row(&mut self, row: &[Cell], measures: &[&Measure], day: &str) -> anyhow::Result<()> {
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
                        let (sum_n, sum_total) = self
                            .sums
                            .entry((measure.key.clone(), day.to_string()))
                            .or_insert((0, None));
                        *sum_n += n;
                        *sum_total = match (*sum_total, total) {
                            (Some(a), Some(b)) => Some(a.plus(b)),
                            (a, b) => a.or(b),
                        };
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
/// ticket folded in, and deletes the marks it read (`folded`), in one transaction; stores
/// nothing if a refresh with a later ticket already stored.
async fn store(
    db: &Db,
    plan: &TablePlan,
    days: &Days,
    partials: &Partials,
    ticket: i64,
    folded: &[i64],
) -> anyhow::Result<()> {
    let table = plan.table.as_str();
    let mut tx = db.begin_write().await?;
    let claimed = execute_in!(tx.conn(), sqlx::query(
        "INSERT INTO metric_rollup_tables (table_name, time_columns, measures, refreshed_through)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (table_name) DO UPDATE SET time_columns = excluded.time_columns,
             measures = excluded.measures, refreshed_through = excluded.refreshed_through
         WHERE metric_rollup_tables.refreshed_through < excluded.refreshed_through
            OR metric_rollup_tables.time_columns <> excluded.time_columns
            OR metric_rollup_tables.measures <> excluded.measures",
    )
    .bind(table)
    .bind(plan.watched_columns())
    .bind(plan.fingerprint())
    .bind(ticket))?;
    if claimed == 0 {
        return Ok(());
    }
    // Every measure of the table is keyed `table.…`: the range [`table.`, `table/`).
    let (prefix, after) = (format!("{table}."), format!("{table}/"));
    match days {
        // Rebuilt: everything goes, including measures the dictionary dropped.
        Days::All => {
            for rollup in ["metric_rollup_days", "metric_rollup_months"] {
                let sql = format!("DELETE FROM {rollup} WHERE measure >= $1 AND measure < $2");
                execute_in!(tx.conn(), sqlx::query(&sql).bind(&prefix).bind(&after))?;
            }
        }
        Days::Some(days) => {
            for day in days {
                execute_in!(tx.conn(), sqlx::query(
                    "DELETE FROM metric_rollup_days WHERE measure >= $1 AND measure < $2 AND day = $3",
                )
                .bind(&prefix)
                .bind(&after)
                .bind(day))?;
            }
        }
    }
    let sums: Vec<_> = partials.sums.iter().collect();
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
        statement.execute(&mut tx.conn()).await?;
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
            execute_in!(tx.conn(), sqlx::query(
                "INSERT INTO metric_rollup_days (measure, day, n, members) VALUES ($1, $2, $3, $4)",
            )
            .bind(measure)
            .bind(day)
            .bind(set.len() as i64)
            .bind(serialize(set)))?;
        }
        for (month, union) in &mut months {
            if matches!(days, Days::Some(_)) {
                let stored: Vec<Vec<u8>> = on_conn!(tx.conn(), |c| sqlx::query_scalar(
                    "SELECT members FROM metric_rollup_days WHERE measure = $1 \
                     AND day >= $2 AND day < $3",
                )
                .bind(measure)
                .bind(*month)
                .bind(format!("{month}~"))
                .fetch_all(c)
                .await)?;
                for bytes in stored {
                    *union |= deserialize(&bytes)?;
                }
            }
            execute_in!(
                tx.conn(),
                sqlx::query("DELETE FROM metric_rollup_months WHERE measure = $1 AND month = $2")
                    .bind(measure)
                    .bind(*month)
            )?;
            if !union.is_empty() {
                execute_in!(tx.conn(), sqlx::query(
                    "INSERT INTO metric_rollup_months (measure, month, members) VALUES ($1, $2, $3)",
                )
                .bind(measure)
                .bind(*month)
                .bind(serialize(union)))?;
            }
        }
    }
    for chunk in folded.chunks(INSERT_CHUNK) {
        let statement = Statement {
            sql: format!(
                "DELETE FROM metric_rollup_changes WHERE id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            ),
            binds: chunk.iter().map(|id| Literal::Int(*id)).collect(),
        };
        statement.execute(&mut tx.conn()).await?;
    }
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

    #[test]
    fn postgres_marks_each_day_once_per_statement() {
        let mut plan = TablePlan {
            table: "issues".into(),
            ..TablePlan::default()
        };
        let measure = Measure::of(&metric("CountMetric", json!({"table": "issues"})));
        plan.measures.insert(measure.key.clone(), measure);
        let statements = postgres_trigger_statements(&plan);
        assert_eq!(statements.len(), 9);
        // A statement writing many rows of one day upserts that day once: ON CONFLICT may not
        // touch a row twice in one command.
        assert!(statements[0].contains("SELECT DISTINCT 'issues', day FROM (SELECT coalesce(substr(created_at, 1, 10), '') FROM new_rows)"));
        assert!(statements[5].contains(
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
        ));
    }
}
