//! SQL for `devops_scores`: the scores the collector returned.

use crate::db::{Db, on_pool};
use chrono::{DateTime, Utc};

pub async fn insert(
    db: &Db,
    raw_usage_data_id: i64,
    usage_data_id: i64,
    overall: f64,
    conv_index: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_scalar(
        "INSERT INTO devops_scores (raw_usage_data_id, usage_data_id, overall, conv_index, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(raw_usage_data_id)
    .bind(usage_data_id)
    .bind(overall)
    .bind(conv_index.to_string())
    .bind(service_ping_protocol::time::format_timestamp(now)).fetch_one(p).await
    })
}

/// The newest score's `conv_index` and date.
pub async fn latest(db: &Db) -> Result<Option<(String, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT conv_index, created_at FROM devops_scores ORDER BY id DESC LIMIT 1"
    )
    .fetch_optional(p)
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
