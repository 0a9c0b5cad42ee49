//! SQL for `devops_scores`: the scores the collector returned.

use crate::db::{Db, on_pool};
use chrono::{DateTime, Utc};

/// Keeps a score the collector returned: its `conv_index` and, when it sent one, its `cohort`.
pub async fn insert(
    db: &Db,
    raw_usage_data_id: i64,
    usage_data_id: i64,
    overall: f64,
    conv_index: &serde_json::Value,
    cohort: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_scalar(
        "INSERT INTO devops_scores (raw_usage_data_id, usage_data_id, overall, conv_index, cohort, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(raw_usage_data_id)
    .bind(usage_data_id)
    .bind(overall)
    .bind(conv_index.to_string())
    .bind(cohort.map(serde_json::Value::to_string))
    .bind(service_ping_protocol::time::format_timestamp(now)).fetch_one(p).await
    })
}

/// A score as stored: `conv_index` and `cohort` as received, and when it came back.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredScore {
    pub conv_index: String,
    pub cohort: Option<String>,
    pub created_at: String,
}

/// The newest `limit` scores, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<StoredScore>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT conv_index, cohort, created_at FROM devops_scores ORDER BY id DESC LIMIT $1"
    )
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// (date, overall) of the newest `limit` scores, oldest first.
pub async fn history(db: &Db, limit: i64) -> Result<Vec<(String, f64)>, sqlx::Error> {
    let mut rows: Vec<(String, f64)> = on_pool!(db, |p| sqlx::query_as(
        "SELECT created_at, overall FROM devops_scores ORDER BY id DESC LIMIT $1"
    )
    .bind(limit)
    .fetch_all(p)
    .await)?;
    rows.reverse();
    Ok(rows)
}
