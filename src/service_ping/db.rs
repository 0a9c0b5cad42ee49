//! SQL for `raw_usage_data`: every generated payload, kept once as its exact bytes, with the
//! value, error and cost of each metric.

use crate::db::{Db, execute, on_conn, on_pool, stamp};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use service_ping_engine::MetricOutcome;

/// A payload to store.
#[derive(Debug)]
pub struct NewRawUsageData<'a> {
    pub recorded_at: &'a str,
    pub payload: &'a [u8],
    pub sha256: &'a str,
    pub generation_ms: i64,
    pub trigger: &'a str,
    pub triggered_by: Option<i64>,
    pub outcomes: &'a [MetricOutcome],
}

/// A stored payload without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RawUsageData {
    pub id: i64,
    pub recorded_at: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub metrics_total: i64,
    pub metrics_failed: i64,
    pub generation_ms: i64,
    pub trigger: String,
    /// Username of the account that asked for it, if a person did.
    pub triggered_by: Option<String>,
    pub sent_at: Option<String>,
    pub usage_data_id: Option<i64>,
    /// How the newest attempt to send it ended (`sending`, `sent`, `failed`), if it was sent.
    pub submission_status: Option<String>,
    pub submission_attempts: i64,
}

/// The value, error and cost of one metric of a stored payload.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MetricResult {
    pub key_path: String,
    /// The value as JSON text.
    pub value: String,
    pub error: Option<String>,
    pub duration_us: i64,
}

const SELECT_RAW_USAGE_DATA: &str = "SELECT r.id, r.recorded_at, r.sha256, r.size_bytes, \
    r.metrics_total, r.metrics_failed, r.generation_ms, r.trigger, a.username AS triggered_by, \
    r.sent_at, r.usage_data_id, \
    (SELECT s.status FROM service_ping_submissions AS s WHERE s.raw_usage_data_id = r.id ORDER BY s.id DESC LIMIT 1) AS submission_status, \
    (SELECT count(*) FROM service_ping_submissions AS s WHERE s.raw_usage_data_id = r.id) AS submission_attempts \
    FROM raw_usage_data AS r LEFT JOIN accounts AS a ON a.id = r.triggered_by";

/// Stores a payload and its metric results in one transaction; returns its id. A second payload
/// with the same `recorded_at` is refused by the unique constraint.
#[tracing::instrument(skip_all, err)]
pub async fn insert(
    db: &Db,
    new: &NewRawUsageData<'_>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let failed = new.outcomes.iter().filter(|o| o.error.is_some()).count() as i64;
    let id: i64 = on_conn!(tx.conn(), |c| sqlx::query_scalar(
        "INSERT INTO raw_usage_data (recorded_at, payload, sha256, size_bytes, metrics_total, \
         metrics_failed, generation_ms, trigger, triggered_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(new.recorded_at)
    .bind(new.payload)
    .bind(new.sha256)
    .bind(new.payload.len() as i64)
    .bind(new.outcomes.len() as i64)
    .bind(failed)
    .bind(new.generation_ms)
    .bind(new.trigger)
    .bind(new.triggered_by)
    .bind(stamp(now))
    .fetch_one(c)
    .await)?;
    // Chunks keep each statement well under SQLite's limit of bound parameters.
    for chunk in new.outcomes.chunks(1000) {
        on_conn!(tx.conn(), |c| {
            let mut query = QueryBuilder::new(
                "INSERT INTO raw_usage_data_metrics (raw_usage_data_id, key_path, value, error, duration_us, scan) ",
            );
            query.push_values(chunk, |mut row, outcome| {
                row.push_bind(id)
                    .push_bind(outcome.key_path.as_str())
                    .push_bind(outcome.value.to_string())
                    .push_bind(outcome.error.as_deref())
                    .push_bind(outcome.duration.as_micros() as i64)
                    .push_bind(outcome.scan.as_deref());
            });
            query.build().execute(c).await.map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(id)
}

/// What the sends so far say about delivery to the collector.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRecord {
    /// When a payload last reached the collector.
    pub last_sent_at: Option<String>,
    pub sent: i64,
    pub failed: i64,
    /// Failed attempts since the last success (all of them, if none succeeded).
    pub failures_since_success: i64,
    /// The error of the newest failed attempt.
    pub last_failure: Option<String>,
}

/// One read of the submissions for [`DeliveryRecord`].
#[tracing::instrument(skip_all, err)]
pub async fn delivery_record(db: &Db) -> Result<DeliveryRecord, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT max(CASE WHEN status = 'sent' THEN finished_at END) AS last_sent_at, \
                count(CASE WHEN status = 'sent' THEN 1 END) AS sent, \
                count(CASE WHEN status = 'failed' THEN 1 END) AS failed, \
                count(CASE WHEN status = 'failed' AND id > coalesce( \
                    (SELECT max(id) FROM service_ping_submissions WHERE status = 'sent'), 0) \
                    THEN 1 END) AS failures_since_success, \
                (SELECT error FROM service_ping_submissions WHERE status = 'failed' \
                 ORDER BY id DESC LIMIT 1) AS last_failure \
         FROM service_ping_submissions"
    )
    .fetch_one(p)
    .await)
}

#[tracing::instrument(skip_all, err)]
pub async fn latest(db: &Db) -> Result<Option<RawUsageData>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(&format!(
        "{SELECT_RAW_USAGE_DATA} ORDER BY r.recorded_at DESC, r.id DESC LIMIT 1"
    ))
    .fetch_optional(p)
    .await)
}

#[tracing::instrument(skip(db), err)]
pub async fn find(db: &Db, id: i64) -> Result<Option<RawUsageData>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(&format!(
        "{SELECT_RAW_USAGE_DATA} WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(p)
    .await)
}

/// The newest `limit` payloads, newest first.
#[tracing::instrument(skip(db), err)]
pub async fn list(db: &Db, limit: i64) -> Result<Vec<RawUsageData>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(&format!(
        "{SELECT_RAW_USAGE_DATA} ORDER BY r.recorded_at DESC, r.id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// The exact stored bytes of a payload.
#[tracing::instrument(skip(db), err)]
pub async fn payload_bytes(db: &Db, id: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar(
        "SELECT payload FROM raw_usage_data WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)
}

/// Every metric result of a stored payload, by key path.
#[tracing::instrument(skip(db), err)]
pub async fn metric_results(
    db: &Db,
    raw_usage_data_id: i64,
) -> Result<Vec<MetricResult>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT key_path, value, error, duration_us FROM raw_usage_data_metrics \
         WHERE raw_usage_data_id = $1 ORDER BY key_path",
    )
    .bind(raw_usage_data_id)
    .fetch_all(p)
    .await)
}

/// Records that a send of payload `raw_usage_data_id` has started; returns the attempt's id.
#[tracing::instrument(skip(db), err)]
pub async fn start_submission(
    db: &Db,
    raw_usage_data_id: i64,
    trigger: &str,
    triggered_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_scalar(
        "INSERT INTO service_ping_submissions (raw_usage_data_id, trigger, triggered_by, started_at, status) \
         VALUES ($1, $2, $3, $4, 'sending') RETURNING id",
    )
    .bind(raw_usage_data_id)
    .bind(trigger)
    .bind(triggered_by)
    .bind(timestamp(now)).fetch_one(p).await
    })
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionEnd {
    pub http_status: Option<u16>,
    pub duration_ms: i64,
    /// The collector's id on success, else why it failed.
    pub result: Result<i64, String>,
    /// The hash of the bytes the collector says it stored, when it says.
    pub confirmed_sha256: Option<String>,
}

/// Records how attempt `id` of payload `raw_usage_data_id` ended. On success the payload is
/// marked sent with the collector's id *first*, on its own: that fact is what keeps the payload
/// from being sent again, so it must not be lost with the attempt's row.
#[tracing::instrument(skip(db, end), err)]
pub async fn finish_submission(
    db: &Db,
    id: i64,
    raw_usage_data_id: i64,
    end: &SubmissionEnd,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (status, usage_data_id, error) = match &end.result {
        Ok(usage_data_id) => ("sent", Some(*usage_data_id), None),
        Err(error) => ("failed", None, Some(error.as_str())),
    };
    if let Some(usage_data_id) = usage_data_id {
        execute!(db, sqlx::query(
            "UPDATE raw_usage_data SET sent_at = $2, usage_data_id = $3, updated_at = $2 WHERE id = $1",
        )
        .bind(raw_usage_data_id)
        .bind(timestamp(now))
        .bind(usage_data_id))?;
    }
    execute!(
        db,
        sqlx::query(
            "UPDATE service_ping_submissions SET finished_at = $2, status = $3, http_status = $4, \
         error = $5, duration_ms = $6, usage_data_id = $7, confirmed_sha256 = $8 WHERE id = $1",
        )
        .bind(id)
        .bind(timestamp(now))
        .bind(status)
        .bind(end.http_status.map(i64::from))
        .bind(error)
        .bind(end.duration_ms)
        .bind(usage_data_id)
        .bind(&end.confirmed_sha256)
    )
    .map(|_| ())
}

/// One attempt to send a payload, as history shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Submission {
    pub id: i64,
    pub raw_usage_data_id: i64,
    pub trigger: String,
    pub triggered_by: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    pub usage_data_id: Option<i64>,
    pub confirmed_sha256: Option<String>,
}

/// Every attempt to send payload `raw_usage_data_id`, oldest first.
#[tracing::instrument(skip(db), err)]
pub async fn submissions(db: &Db, raw_usage_data_id: i64) -> Result<Vec<Submission>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT s.id, s.raw_usage_data_id, s.trigger, a.username AS triggered_by, s.started_at, \
         s.finished_at, s.status, s.http_status, s.error, s.duration_ms, s.usage_data_id, \
         s.confirmed_sha256 \
         FROM service_ping_submissions AS s LEFT JOIN accounts AS a ON a.id = s.triggered_by \
         WHERE s.raw_usage_data_id = $1 ORDER BY s.id",
    )
    .bind(raw_usage_data_id)
    .fetch_all(p)
    .await)
}

fn timestamp(at: DateTime<Utc>) -> String {
    service_ping_protocol::time::format_timestamp(at)
}
