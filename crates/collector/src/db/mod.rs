//! SQL for the collector's own database: received pings, their metadata and error reports.

use chrono::{DateTime, Utc};
use service_ping_database::backup::Role;
use service_ping_database::{Db, on_pool};
use service_ping_protocol::devops_score::{self, Values};
use service_ping_protocol::documents::ErrorReport;
use service_ping_protocol::time::format_timestamp;
use sqlx::migrate::Migrator;

use crate::settings::CollectorConfig;

/// Opens (creating and migrating) the collector's database: a pool for reading, and the pool
/// that writes. On SQLite the writer is one connection: SQLite has one writer at a time, and
/// pings queued on one connection go faster than connections retrying the write lock. On
/// PostgreSQL every connection writes at once (the unique key and a per-instance lock keep
/// concurrent pings apart), so both are the same pool.
pub async fn open_database(config: &CollectorConfig) -> anyhow::Result<(Db, Db)> {
    service_ping_database::prepare_data_dir(&config.data_dir)?;
    let url = config.database_url();
    let db = Db::connect(&url, config.max_connections).await?;
    migrate(&db).await?;
    let writer = match &db {
        Db::Sqlite(_) => Db::connect(&url, 1).await?,
        Db::Postgres(_) => db.clone(),
    };
    Ok((db, writer))
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The collector's migrations (`migrations/<backend>/` of this crate); its database is not the
/// instance's.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    db.migrate(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS).await
}

/// What the collector's backups are of.
pub static ROLE: Role = Role {
    name: "collector",
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};

mod cohorts;
mod store;

/// The DevOps Score inputs, in the order of `devops_score::FEATURES`.
pub(crate) const FEATURE_COLUMNS: &str = "issues, notes, milestones, boards, merge_requests, ci_pipelines, \
    environments, deployments, projects_prometheus_active, service_desk_issues";

pub use cohorts::{
    CohortWeek, cohort_history, fleet_members, fleet_members_between, record_cohort_week,
};
pub use store::{NewPing, Pending, Source, Stored, store_pings, store_pings_in_transaction};

/// The ten feature values of `row` from column `first` on.
fn values_of<R: sqlx::Row>(row: &R, first: usize) -> Result<Values, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    f64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut values = [0.0; 10];
    for (i, value) in values.iter_mut().enumerate() {
        *value = row.try_get(first + i)?;
    }
    Ok(values)
}

/// The inputs of the latest ping of each instance last heard from since `since`, with its uuid.
pub async fn fleet(db: &Db, since: DateTime<Utc>) -> Result<Vec<(String, Values)>, sqlx::Error> {
    let sql = format!("SELECT uuid, {FEATURE_COLUMNS} FROM instances WHERE last_received_at >= $1");
    on_pool!(db, |pool| {
        use sqlx::Row;
        let rows = sqlx::query(&sql)
            .bind(format_timestamp(since))
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, values_of(row, 1)?)))
            .collect()
    })
}

/// How many instances were last heard from since `since`, and the 90th percentile (nearest
/// rank) of each feature over their latest pings, each value within its bound: PostgreSQL
/// answers it in one statement with `percentile_disc`, without sending the fleet's rows over.
pub async fn fleet_p90(
    pool: &sqlx::PgPool,
    since: DateTime<Utc>,
) -> Result<(usize, Values), sqlx::Error> {
    use sqlx::Row;
    let percentiles = FEATURE_COLUMNS
        .split(", ")
        .enumerate()
        .map(|(i, column)| {
            format!(
                "COALESCE(percentile_disc(0.9) WITHIN GROUP (ORDER BY LEAST(GREATEST({}, 0), {})), 0)",
                column.trim(),
                devops_score::bound(i)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let row = sqlx::query(&format!(
        "SELECT count(*), {percentiles} FROM instances WHERE last_received_at >= $1"
    ))
    .bind(format_timestamp(since))
    .fetch_one(pool)
    .await?;
    let instances: i64 = row.try_get(0)?;
    Ok((instances.unsigned_abs() as usize, values_of(&row, 1)?))
}

/// The most recently seen `limit` instances: uuid, hostname, latest ping time, and that ping's
/// DevOps Score inputs.
pub async fn latest_instances(
    db: &Db,
    limit: i64,
) -> Result<Vec<(String, Option<String>, String, Values)>, sqlx::Error> {
    let sql = format!(
        "SELECT uuid, hostname, last_received_at, {FEATURE_COLUMNS} FROM instances \
         ORDER BY last_received_at DESC, latest_usage_data_id DESC LIMIT $1"
    );
    on_pool!(db, |pool| {
        use sqlx::Row;
        let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    values_of(row, 3)?,
                ))
            })
            .collect()
    })
}

/// Stores an instance's per-metric timings and errors.
#[tracing::instrument(skip_all, err)]
pub async fn store_metadata(
    db: &Db,
    uuid: &str,
    metrics: &serde_json::Value,
    metric_count: usize,
    failed_count: usize,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar(
        "INSERT INTO usage_ping_metadata (uuid, metrics, metric_count, failed_count, received_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(uuid)
    .bind(metrics.to_string())
    .bind(metric_count as i64)
    .bind(failed_count as i64)
    .bind(format_timestamp(now))
    .fetch_one(pool)
    .await)
}

#[tracing::instrument(skip_all, err)]
pub async fn store_error(
    db: &Db,
    report: &ErrorReport,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query_scalar(
        "INSERT INTO usage_ping_errors (uuid, hostname, version, message, elapsed, time, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&report.uuid)
    .bind(&report.hostname)
    .bind(&report.version)
    .bind(&report.message)
    .bind(report.elapsed)
    .bind(&report.time)
    .bind(format_timestamp(now))
    .fetch_one(pool)
    .await
    })
}

/// A received ping as the collector's pages list it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReceivedPing {
    pub id: i64,
    pub uuid: String,
    pub recorded_at: String,
    pub hostname: Option<String>,
    pub version: String,
    pub edition: Option<String>,
    pub sha256: String,
    pub size_bytes: i64,
    pub source: String,
    pub received_at: String,
}

/// The newest `limit` pings, newest first.
#[tracing::instrument(skip(db), err)]
pub async fn recent_pings(db: &Db, limit: i64) -> Result<Vec<ReceivedPing>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as(
        "SELECT id, uuid, recorded_at, hostname, version, edition, sha256, size_bytes, source, \
         received_at FROM usage_data ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await)
}

/// How many rows each of the collector's tables holds: pings, metadata, error reports. (Pings
/// are summed from the instances: a row per instance rather than per ping.)
pub async fn counts(db: &Db) -> Result<(i64, i64, i64), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as(
        "SELECT (SELECT CAST(COALESCE(SUM(pings), 0) AS BIGINT) FROM instances), \
         (SELECT count(*) FROM usage_ping_metadata), (SELECT count(*) FROM usage_ping_errors)",
    )
    .fetch_one(pool)
    .await)
}

/// The rows of `usage_data`, counted one by one (what tests and benchmarks check the
/// instances' counts against).
pub async fn ping_rows(db: &Db) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar(
        "SELECT count(*) FROM usage_data"
    )
    .fetch_one(pool)
    .await)
}

/// The exact bytes received for ping `id`.
pub async fn ping_bytes(db: &Db, id: i64) -> anyhow::Result<Option<Vec<u8>>> {
    let stored: Option<(Vec<u8>, String, i64)> = on_pool!(db, |pool| sqlx::query_as(
        "SELECT payload, payload_encoding, size_bytes FROM usage_data WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await)?;
    let Some((payload, encoding, size)) = stored else {
        return Ok(None);
    };
    Ok(Some(match encoding.as_str() {
        "identity" => payload,
        "zstd" => zstd::bulk::decompress(&payload, usize::try_from(size)?)?,
        other => anyhow::bail!("ping {id} is stored with an unknown encoding {other:?}"),
    }))
}
