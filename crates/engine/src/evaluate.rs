//! Evaluating metric definitions against the database.
//!
//! The product answers database metrics from per-day rollups (see `rollup`), one job per table:
//! its rollup is brought up to date, then each metric is a sum or a union over its days. Without
//! rollups (the fallback, and the benchmark's comparison), metrics over the same table and time
//! column are fused into one scan: each metric becomes one aggregate (`COUNT(*) FILTER (WHERE
//! ...)`, `COUNT(DISTINCT ...)`, ...) of a single `SELECT ... FROM table`. All-time metrics of a
//! table share one full read of it;
//! windowed (7d, 28d) metrics share one read of the union of their windows, which the time
//! column's index serves. If a fused scan fails, its metrics are evaluated one by one so that
//! only the faulty ones fall back to their sentinel. HyperLogLog estimates and reviewed SQL
//! queries run as their own statements.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::definition::MetricDefinition;
use super::hll;
use super::value_type::ValueType;
use service_ping_database::Db;
use service_ping_protocol::time::format_timestamp;

use super::instrumentation::{
    DatabaseMetric, Instrumentation, LicenseField, Literal, NamedQuery, Operation, SystemValue,
};
use super::rollup;
use super::sql::{Cell, Statement, conditions, number_at, parallelism, within};
use super::time_frame::{TimeFrame, Window};

/// GitLab's sentinel for a failed metric.
pub const FAILED: i64 = -1;
/// GitLab's sentinel for a failed HyperLogLog estimate.
pub const ESTIMATE_FAILED: i64 = -2;
/// GitLab's value for a retired metric whose key is kept.
pub const DEPRECATED: i64 = -1000;

/// Facts about the instance that system metrics report.
#[derive(Debug, Clone)]
pub struct Facts {
    pub uuid: String,
    pub hostname: String,
    pub version: String,
    pub installation_type: String,
    pub edition: String,
    pub database_adapter: String,
    pub database_version: String,
    /// The managed PostgreSQL service, if any (`database.flavor`).
    pub database_flavor: Option<String>,
    /// PostgreSQL's system identifier (`database.pg_system_id`), exact.
    pub pg_system_id: Option<i64>,
    pub operating_system: String,
    pub service_ping_enabled: bool,
    pub include_optional_data: bool,
    pub collected_data_categories: Vec<String>,
    /// The installed license, in force or not.
    pub license: Option<LicenseFacts>,
    /// The `topology` object, gathered before the evaluation (it asks Prometheus); `null` when
    /// the payload does not report it.
    pub topology: Value,
    /// Whether this instance is a Geo site.
    pub geo_enabled: bool,
    /// One object per Geo secondary site (an array, empty without secondaries).
    pub geo_node_usage: Value,
}

/// What the payload reports of the installed license.
#[derive(Debug, Clone, Default)]
pub struct LicenseFacts {
    pub md5: String,
    pub sha256: String,
    pub id: u64,
    pub plan: String,
    pub user_count: u32,
    pub starts_at: String,
    pub expires_at: String,
    pub trial: bool,
    pub licensee_name: String,
    pub licensee_email: String,
    pub licensee_company: String,
}

impl LicenseFacts {
    fn value(&self, field: LicenseField) -> Value {
        match field {
            LicenseField::Md5 => json!(self.md5),
            LicenseField::Sha256 => json!(self.sha256),
            LicenseField::Id => json!(self.id),
            LicenseField::Plan => json!(self.plan),
            LicenseField::UserCount => json!(self.user_count),
            LicenseField::StartsAt => json!(self.starts_at),
            LicenseField::ExpiresAt => json!(self.expires_at),
            LicenseField::Trial => json!(self.trial),
            LicenseField::LicenseeName => json!(self.licensee_name),
            LicenseField::LicenseeEmail => json!(self.licensee_email),
            LicenseField::LicenseeCompany => json!(self.licensee_company),
        }
    }
}

/// The result of one metric: its value (or sentinel), the error if it failed, and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricOutcome {
    pub key_path: String,
    pub value: Value,
    pub error: Option<String>,
    /// For rolled-up and fused metrics, an equal share of their table's refresh or scan.
    pub duration: Duration,
    /// The table whose rollup or fused scan computed it, if any.
    pub scan: Option<String>,
}

/// How database metrics are evaluated.
#[derive(Debug, Clone, Copy)]
pub enum Strategy<'a> {
    /// From per-day rollups of the measures `plan` holds (see `rollup`), the product's way;
    /// metrics the plan lacks, and tables whose rollup fails, fall back to fused scans.
    Rollup(&'a rollup::Plan),
    /// One scan per table and time column, reading the rows every time.
    Fused,
    /// One query per metric: the naive baseline the benchmark compares with.
    PerMetric,
}

/// Reports progress as (metrics done, metrics in total).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Send + Sync);

/// One unit of database work: a table's rollup, a fused scan of a table, or one metric.
enum Job<'a> {
    Rollup(
        &'a rollup::TablePlan,
        Vec<&'a MetricDefinition>,
        Option<&'a rollup::Installed>,
    ),
    Scan(&'a str, Vec<&'a MetricDefinition>),
    Single(&'a MetricDefinition),
}

impl Job<'_> {
    async fn run(self, db: &Db, recorded_at: DateTime<Utc>) -> Vec<MetricOutcome> {
        match self {
            Job::Rollup(plan, group, installed) => {
                match rolled_up(db, plan, &group, installed, recorded_at).await {
                    Ok(outcomes) => outcomes,
                    Err(error) => {
                        tracing::warn!(
                            table = plan.table(),
                            error = format!("{error:#}"),
                            "rollup failed; scanning the table instead"
                        );
                        scanned(db, &group, recorded_at).await
                    }
                }
            }
            Job::Scan(table, group) => fused_scan(db, table, &group, recorded_at).await,
            Job::Single(definition) => vec![single(db, definition, recorded_at).await],
        }
    }
}

/// The fused scan a database metric joins: its table and, when windowed, its time column
/// (windowed metrics read only their windows' rows, through the time column's index). None for
/// estimates, which run as their own statement.
fn scan_of(definition: &MetricDefinition, recorded_at: DateTime<Utc>) -> Option<ScanKey<'_>> {
    let metric = database_metric(definition);
    if metric.operation == Operation::EstimateDistinct {
        return None;
    }
    let windowed = definition.time_frame.window(recorded_at).is_some();
    Some((
        metric.table.as_str(),
        windowed.then_some(metric.time_column.as_str()),
    ))
}

type ScanKey<'a> = (&'a str, Option<&'a str>);

/// Evaluates `definitions` for a payload recorded at `recorded_at`. Never fails as a whole:
/// a metric that cannot be computed gets its sentinel and its error. Every strategy runs its
/// statements [`parallelism`] at a time, so they differ only in what the statements read.
pub async fn evaluate(
    db: &Db,
    definitions: &[&MetricDefinition],
    facts: &Facts,
    recorded_at: DateTime<Utc>,
    strategy: Strategy<'_>,
    progress: Progress<'_>,
) -> Vec<MetricOutcome> {
    use futures::StreamExt;

    let total = definitions.len();
    let mut outcomes: Vec<MetricOutcome> = Vec::with_capacity(total);
    let mut rolled: BTreeMap<&str, (&rollup::TablePlan, Vec<&MetricDefinition>)> = BTreeMap::new();
    let mut scans: BTreeMap<ScanKey, Vec<&MetricDefinition>> = BTreeMap::new();
    let mut jobs = Vec::new();
    for definition in definitions {
        let metric = match &definition.instrumentation {
            Instrumentation::System(value) => {
                outcomes.push(system_outcome(definition, *value, facts, recorded_at));
                continue;
            }
            Instrumentation::Sql(_) => {
                jobs.push(Job::Single(definition));
                continue;
            }
            Instrumentation::Database(metric) => metric,
        };
        let table = match strategy {
            Strategy::Rollup(plan) => plan.table_of(metric),
            Strategy::Fused | Strategy::PerMetric => None,
        };
        if let Some(table) = table {
            rolled
                .entry(table.table())
                .or_insert_with(|| (table, Vec::new()))
                .1
                .push(definition);
            continue;
        }
        match scan_of(definition, recorded_at) {
            Some(key) if !matches!(strategy, Strategy::PerMetric) => {
                scans.entry(key).or_default().push(definition)
            }
            _ => jobs.push(Job::Single(definition)),
        }
    }
    // The rollups' triggers are checked once for every table (see `rollup::Installed`).
    let installed = if rolled.is_empty() {
        None
    } else {
        rollup::Installed::snapshot(db).await
    };
    jobs.extend(
        rolled
            .into_values()
            .map(|(table, group)| Job::Rollup(table, group, installed.as_ref())),
    );
    jobs.extend(
        scans
            .into_iter()
            .map(|((table, _), group)| Job::Scan(table, group)),
    );
    progress(outcomes.len(), total);
    // The futures are made before they go into the stream: a closure inside it would make the
    // stream's type too general for the compiler to prove it `Send`.
    let pending: Vec<_> = jobs
        .into_iter()
        .map(|job| job.run(db, recorded_at))
        .collect();
    let mut running = futures::stream::iter(pending).buffer_unordered(parallelism());
    while let Some(done) = running.next().await {
        outcomes.extend(done);
        progress(outcomes.len(), total);
    }
    outcomes
}

/// A table's metrics from its rollup, brought up to date first. The refresh's time is shared
/// equally; each metric adds the time its own answer took.
async fn rolled_up(
    db: &Db,
    plan: &rollup::TablePlan,
    group: &[&MetricDefinition],
    installed: Option<&rollup::Installed>,
    recorded_at: DateTime<Utc>,
) -> anyhow::Result<Vec<MetricOutcome>> {
    let started = Instant::now();
    rollup::refresh(db, plan, installed).await?;
    let share = started.elapsed() / group.len() as u32;
    let mut outcomes = Vec::with_capacity(group.len());
    for definition in group {
        let started = Instant::now();
        let window = definition.time_frame.window(recorded_at);
        let value = rollup::answer(db, database_metric(definition), window.as_ref()).await?;
        outcomes.push(MetricOutcome {
            key_path: definition.key_path.clone(),
            value,
            error: None,
            duration: share + started.elapsed(),
            scan: Some(plan.table().to_string()),
        });
    }
    Ok(outcomes)
}

/// A table's metrics by fused scans, one after the other: what a failed rollup falls back to.
async fn scanned(
    db: &Db,
    group: &[&MetricDefinition],
    recorded_at: DateTime<Utc>,
) -> Vec<MetricOutcome> {
    let mut scans: BTreeMap<ScanKey, Vec<&MetricDefinition>> = BTreeMap::new();
    let mut alone = Vec::new();
    for definition in group {
        match scan_of(definition, recorded_at) {
            Some(key) => scans.entry(key).or_default().push(*definition),
            None => alone.push(*definition),
        }
    }
    let mut outcomes = Vec::with_capacity(group.len());
    for definition in alone {
        outcomes.push(single(db, definition, recorded_at).await);
    }
    for ((table, _), group) in scans {
        outcomes.extend(fused_scan(db, table, &group, recorded_at).await);
    }
    outcomes
}

fn system_outcome(
    definition: &MetricDefinition,
    value: SystemValue,
    facts: &Facts,
    recorded_at: DateTime<Utc>,
) -> MetricOutcome {
    let value = match value {
        SystemValue::RecordedAt => json!(format_timestamp(recorded_at)),
        // Filled in when the payload is assembled, after every other metric.
        SystemValue::RecordingFinishedAt => Value::Null,
        SystemValue::Uuid => json!(facts.uuid),
        SystemValue::Hostname => json!(facts.hostname),
        SystemValue::Version => json!(facts.version),
        SystemValue::InstallationType => json!(facts.installation_type),
        SystemValue::Edition => json!(facts.edition),
        SystemValue::DatabaseAdapter => json!(facts.database_adapter),
        SystemValue::DatabaseVersion => json!(facts.database_version),
        // Only PostgreSQL has a system identifier and a flavor; SQLite reports null for both.
        SystemValue::PgSystemId => json!(facts.pg_system_id),
        SystemValue::DatabaseFlavor => json!(facts.database_flavor),
        SystemValue::OperatingSystem => json!(facts.operating_system),
        SystemValue::CollectedDataCategories => json!(facts.collected_data_categories),
        SystemValue::ServicePingEnabled => json!(facts.service_ping_enabled),
        SystemValue::IncludeOptionalData => json!(facts.include_optional_data),
        SystemValue::License(field) => facts
            .license
            .as_ref()
            .map_or(Value::Null, |license| license.value(field)),
        SystemValue::Deprecated => json!(DEPRECATED),
        SystemValue::Topology => facts.topology.clone(),
        SystemValue::GeoEnabled => json!(facts.geo_enabled),
        SystemValue::GeoNodeUsage => facts.geo_node_usage.clone(),
    };
    MetricOutcome {
        key_path: definition.key_path.clone(),
        value,
        error: None,
        duration: Duration::ZERO,
        scan: None,
    }
}

/// What a failed metric reports, by type.
pub fn sentinel(definition: &MetricDefinition) -> Value {
    match (&definition.instrumentation, definition.value_type) {
        (Instrumentation::Database(m), _) if m.operation == Operation::EstimateDistinct => {
            json!(ESTIMATE_FAILED)
        }
        (_, ValueType::Number) => json!(FAILED),
        _ => Value::Null,
    }
}

fn failed(
    definition: &MetricDefinition,
    error: String,
    duration: Duration,
    scan: Option<String>,
) -> MetricOutcome {
    MetricOutcome {
        key_path: definition.key_path.clone(),
        value: sentinel(definition),
        error: Some(error),
        duration,
        scan,
    }
}

/// One aggregate expression for `metric`.
fn aggregate(metric: &DatabaseMetric, window: Option<&Window>, binds: &mut Vec<Literal>) -> String {
    let condition = conditions(metric, window, binds);
    let filter = if condition.is_empty() {
        String::new()
    } else {
        format!(" FILTER (WHERE {condition})")
    };
    let column = metric.column.as_deref().unwrap_or("*");
    match metric.operation {
        Operation::Count => format!("COUNT(*){filter}"),
        Operation::DistinctCount => format!("COUNT(DISTINCT {column}){filter}"),
        Operation::Sum => format!("COALESCE(SUM({column}){filter}, 0)"),
        Operation::Average => format!("COALESCE(AVG({column}){filter}, 0)"),
        Operation::EstimateDistinct => unreachable!("estimates run as their own statement"),
    }
}

fn database_metric(definition: &MetricDefinition) -> &DatabaseMetric {
    match &definition.instrumentation {
        Instrumentation::Database(metric) => metric,
        _ => unreachable!("only database metrics are scanned"),
    }
}

/// The statement computing every metric of `group` (all over `table`) in one pass.
fn fused_statement(
    table: &str,
    group: &[&MetricDefinition],
    recorded_at: DateTime<Utc>,
) -> Statement {
    let mut statement = Statement::default();
    let aggregates: Vec<String> = group
        .iter()
        .map(|d| {
            aggregate(
                database_metric(d),
                d.time_frame.window(recorded_at).as_ref(),
                &mut statement.binds,
            )
        })
        .collect();
    statement.sql = format!("SELECT {} FROM {table}", aggregates.join(", "));
    if let Some((column, window)) = covering_window(group, recorded_at) {
        statement
            .sql
            .push_str(&format!(" WHERE {}", within(&column)));
        statement.binds.push(Literal::Text(window.start));
        statement.binds.push(Literal::Text(window.end));
    }
    statement
}

/// When every metric of a scan is windowed on the same column, the smallest window holding
/// them all: rows outside it cannot count, so the scan skips them.
fn covering_window(
    group: &[&MetricDefinition],
    recorded_at: DateTime<Utc>,
) -> Option<(String, Window)> {
    let columns: HashSet<&str> = group
        .iter()
        .map(|d| database_metric(d).time_column.as_str())
        .collect();
    if columns.len() != 1 {
        return None;
    }
    let windows: Option<Vec<Window>> = group
        .iter()
        .map(|d| d.time_frame.window(recorded_at))
        .collect();
    let windows = windows?;
    let start = windows.iter().map(|w| w.start.clone()).min()?;
    let end = windows.iter().map(|w| w.end.clone()).max()?;
    Some((
        columns.into_iter().next()?.to_string(),
        Window { start, end },
    ))
}

async fn fused_scan(
    db: &Db,
    table: &str,
    group: &[&MetricDefinition],
    recorded_at: DateTime<Utc>,
) -> Vec<MetricOutcome> {
    let statement = fused_statement(table, group, recorded_at);
    let started = Instant::now();
    let result = statement.fetch_one(db).await;
    let share = started.elapsed() / group.len() as u32;
    match result {
        Ok(row) => group
            .iter()
            .enumerate()
            .map(|(index, definition)| match number_at(&row, index) {
                Ok(value) => MetricOutcome {
                    key_path: definition.key_path.clone(),
                    value,
                    error: None,
                    duration: share,
                    scan: Some(table.to_string()),
                },
                Err(error) => failed(
                    definition,
                    error.to_string(),
                    share,
                    Some(table.to_string()),
                ),
            })
            .collect(),
        Err(error) => {
            tracing::warn!(table, %error, "fused scan failed; evaluating its metrics one by one");
            let mut outcomes = Vec::with_capacity(group.len());
            for definition in group {
                outcomes.push(single(db, definition, recorded_at).await);
            }
            outcomes
        }
    }
}

/// Evaluates one metric with its own statement.
async fn single(
    db: &Db,
    definition: &MetricDefinition,
    recorded_at: DateTime<Utc>,
) -> MetricOutcome {
    let started = Instant::now();
    let window = definition.time_frame.window(recorded_at);
    let result = match &definition.instrumentation {
        Instrumentation::Database(metric) if metric.operation == Operation::EstimateDistinct => {
            estimate(db, metric, window.as_ref()).await
        }
        Instrumentation::Database(metric) => {
            let mut statement = Statement::default();
            let expression = aggregate(metric, window.as_ref(), &mut statement.binds);
            statement.sql = format!("SELECT {expression} FROM {}", metric.table);
            statement
                .fetch_one(db)
                .await
                .and_then(|row| number_at(&row, 0))
        }
        Instrumentation::Sql(query) => {
            named_query(db, query, definition.time_frame, recorded_at).await
        }
        Instrumentation::System(_) => unreachable!("system metrics need no statement"),
    };
    match result {
        Ok(value) => MetricOutcome {
            key_path: definition.key_path.clone(),
            value,
            error: None,
            duration: started.elapsed(),
            scan: None,
        },
        Err(error) => failed(definition, error.to_string(), started.elapsed(), None),
    }
}

async fn named_query(
    db: &Db,
    query: &NamedQuery,
    time_frame: TimeFrame,
    recorded_at: DateTime<Utc>,
) -> Result<Value, sqlx::Error> {
    let window = time_frame.window(recorded_at).unwrap_or_else(|| Window {
        start: "0000-01-01".into(),
        end: "9999-12-31".into(),
    });
    let statement = Statement {
        sql: query.sql.into(),
        binds: vec![Literal::Text(window.start), Literal::Text(window.end)],
    };
    number_at(&statement.fetch_one(db).await?, 0)
}

/// HyperLogLog estimate of the distinct values of an integer column. The database hands over
/// each distinct value once (duplicates never change a HyperLogLog register, so the estimate is
/// the same as over every row); they are hashed and bucketed here as they stream in, so memory
/// stays at 512 registers whatever the table's size.
async fn estimate(
    db: &Db,
    metric: &DatabaseMetric,
    window: Option<&Window>,
) -> Result<Value, sqlx::Error> {
    let column = metric.column.as_deref().expect("estimates have a column");
    let mut binds = Vec::new();
    let mut condition = conditions(metric, window, &mut binds);
    if !condition.is_empty() {
        condition = format!(" AND {condition}");
    }
    let sql = format!(
        "SELECT DISTINCT {column} FROM {} WHERE {column} IS NOT NULL{condition}",
        metric.table
    );
    let statement = Statement { sql, binds };
    let mut sketch = hll::Sketch::default();
    let mut not_whole = None;
    statement
        .for_each_first(db, |value| match value {
            // The low 32 bits identify an id well enough for an estimate.
            Cell::Int(value) => sketch.add(value as u32),
            other => not_whole = Some(other),
        })
        .await?;
    if let Some(value) = not_whole {
        return Err(sqlx::Error::Decode(
            format!(
                "{}.{column} holds {value:?}: estimates count whole numbers",
                metric.table
            )
            .into(),
        ));
    }
    Ok(json!(sketch.estimate().round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{DataCategory, Status};
    use crate::instrumentation::Instrumentation;
    use chrono::TimeZone;

    fn definition(
        key_path: &str,
        time_frame: TimeFrame,
        class: &str,
        options: serde_json::Value,
    ) -> MetricDefinition {
        let instrumentation =
            Instrumentation::parse(class, options.as_object().unwrap(), ValueType::Number).unwrap();
        MetricDefinition {
            key_path: key_path.into(),
            description: String::new(),
            product_group: "test".into(),
            value_type: ValueType::Number,
            status: Status::Active,
            time_frame,
            data_source: "database".into(),
            data_category: DataCategory::Operational,
            instrumentation_class: class.into(),
            instrumentation,
            tier: vec!["free".into()],
            milestone: "1.0".into(),
            file: "test.yml".into(),
        }
    }

    #[test]
    fn a_fused_statement_reads_the_table_once_with_one_aggregate_per_metric() {
        let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let all = definition(
            "counts.pipelines",
            TimeFrame::All,
            "CountMetric",
            json!({"table": "ci_pipelines"}),
        );
        let failed = definition(
            "counts.failed",
            TimeFrame::All,
            "CountMetric",
            json!({"table": "ci_pipelines", "filter": {"status": "failed"}}),
        );
        let weekly = definition(
            "w.users",
            TimeFrame::Week,
            "DistinctCountMetric",
            json!({"table": "ci_pipelines", "column": "user_id"}),
        );
        let statement = fused_statement("ci_pipelines", &[&all, &failed, &weekly], recorded_at);
        assert_eq!(
            statement.sql,
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = ?), COUNT(DISTINCT user_id) FILTER (WHERE created_at >= ? AND created_at < ?) FROM ci_pipelines"
        );
        assert_eq!(statement.binds.len(), 3);
    }

    #[test]
    fn a_scan_of_only_windowed_metrics_is_limited_to_their_union() {
        let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        let weekly = definition(
            "w",
            TimeFrame::Week,
            "CountMetric",
            json!({"table": "issues"}),
        );
        let monthly = definition(
            "m",
            TimeFrame::FourWeeks,
            "CountMetric",
            json!({"table": "issues"}),
        );
        let statement = fused_statement("issues", &[&weekly, &monthly], recorded_at);
        assert!(
            statement
                .sql
                .ends_with("FROM issues WHERE created_at >= ? AND created_at < ?"),
            "{}",
            statement.sql
        );
        assert_eq!(
            statement.binds[4..],
            [
                Literal::Text("2026-10-26".into()),
                Literal::Text("2026-11-23".into())
            ]
        );
    }
}
