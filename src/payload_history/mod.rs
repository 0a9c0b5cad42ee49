//! Payload history (`/admin/service_ping/history`): every stored payload with whether and when it
//! was sent, any one of them in full with its send attempts, and the difference between two.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::usage_statistics::{PayloadPreview, PayloadSummary};

pub mod view;

/// How many payloads the history page lists.
pub const HISTORY_LIMIT: i64 = 200;

/// One attempt to send a payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionRow {
    pub started_at: String,
    pub trigger: String,
    pub triggered_by: Option<String>,
    pub status: String,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    pub usage_data_id: Option<i64>,
}

/// A stored payload in full, with every attempt to send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadDetail {
    pub preview: PayloadPreview,
    pub submissions: Vec<SubmissionRow>,
}

/// A key whose value differs between two payloads (`old` is `None` when it was added, `new` is
/// `None` when it was removed). Values are JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// What changed from one payload to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadDiff {
    pub from: PayloadSummary,
    pub to: PayloadSummary,
    pub added: Vec<KeyChange>,
    pub removed: Vec<KeyChange>,
    pub changed: Vec<KeyChange>,
    /// Keys with the same value in both.
    pub unchanged: usize,
}

/// Compares two payload documents key path by key path.
pub fn diff_documents(
    old: &serde_json::Value,
    new: &serde_json::Value,
) -> (Vec<KeyChange>, Vec<KeyChange>, Vec<KeyChange>, usize) {
    use crate::usage_statistics::json_tree::leaves;
    use std::collections::BTreeMap;
    let old: BTreeMap<_, _> = leaves(old).into_iter().collect();
    let new: BTreeMap<_, _> = leaves(new).into_iter().collect();
    let (mut added, mut removed, mut changed, mut unchanged) = (vec![], vec![], vec![], 0);
    for (key, value) in &new {
        match old.get(key) {
            None => added.push(KeyChange {
                key: key.clone(),
                old: None,
                new: Some(value.to_string()),
            }),
            Some(before) if before != value => changed.push(KeyChange {
                key: key.clone(),
                old: Some(before.to_string()),
                new: Some(value.to_string()),
            }),
            Some(_) => unchanged += 1,
        }
    }
    for (key, value) in &old {
        if !new.contains_key(key) {
            removed.push(KeyChange {
                key: key.clone(),
                old: Some(value.to_string()),
                new: None,
            });
        }
    }
    (added, removed, changed, unchanged)
}

#[server(endpoint = "payload_history")]
pub async fn get_payload_history() -> Result<Vec<PayloadSummary>, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let rows = crate::service_ping::db::list(&state.db, HISTORY_LIMIT)
        .await
        .map_err(crate::error::AppError::from)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[cfg(feature = "ssr")]
async fn preview(id: i64) -> Result<PayloadPreview, ApiError> {
    use crate::error::AppError;
    let state = crate::state::app_state()?;
    let row = crate::service_ping::db::find(&state.db, id)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| AppError::NotFound(format!("There is no payload #{id}.")))?;
    Ok(crate::usage_statistics::stored_preview(&state.db, row).await?)
}

#[server(endpoint = "payload_detail")]
pub async fn get_payload_detail(id: i64) -> Result<PayloadDetail, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let preview = preview(id).await?;
    let submissions = crate::service_ping::db::submissions(&state.db, id)
        .await
        .map_err(crate::error::AppError::from)?
        .into_iter()
        .map(|s| SubmissionRow {
            status: result_text(
                &s.status,
                s.confirmed_sha256.as_deref(),
                &preview.summary.sha256,
            ),
            started_at: s.started_at,
            trigger: s.trigger,
            triggered_by: s.triggered_by,
            http_status: s.http_status,
            error: s.error,
            duration_ms: s.duration_ms,
            usage_data_id: s.usage_data_id,
        })
        .collect();
    Ok(PayloadDetail {
        preview,
        submissions,
    })
}

#[server(endpoint = "payload_diff")]
pub async fn get_payload_diff(from: i64, to: i64) -> Result<PayloadDiff, ApiError> {
    use crate::error::AppError;
    crate::auth::session::require_admin().await?;
    let (old, new) = (preview(from).await?, preview(to).await?);
    let parse = |p: &PayloadPreview| {
        serde_json::from_str::<serde_json::Value>(&p.text).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("payload {} is not JSON: {e}", p.summary.id))
        })
    };
    let (added, removed, changed, unchanged) = diff_documents(&parse(&old)?, &parse(&new)?);
    Ok(PayloadDiff {
        from: old.summary,
        to: new.summary,
        added,
        removed,
        changed,
        unchanged,
    })
}

/// An attempt's result as its row says it: a sent attempt the collector confirmed names the hash
/// it stored; one whose hash is not the payload's is an alarm.
#[cfg(feature = "ssr")]
fn result_text(status: &str, confirmed_sha256: Option<&str>, payload_sha256: &str) -> String {
    match confirmed_sha256 {
        Some(stored) if status == "sent" && stored == payload_sha256 => {
            format!("sent · collector confirmed {stored}")
        }
        Some(stored) if status == "sent" => {
            format!("sent · ALARM: the collector stored other bytes ({stored})")
        }
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ssr")]
    #[test]
    fn a_sent_attempt_names_the_hash_the_collector_confirmed_and_a_different_one_is_an_alarm() {
        let ours = "a".repeat(64);
        assert_eq!(
            result_text("sent", Some(&ours), &ours),
            format!("sent · collector confirmed {ours}")
        );
        let theirs = "b".repeat(64);
        assert!(result_text("sent", Some(&theirs), &ours).contains("ALARM"));
        assert_eq!(result_text("sent", None, &ours), "sent");
        assert_eq!(result_text("failed", None, &ours), "failed");
    }
    use serde_json::json;

    #[test]
    fn the_diff_names_added_removed_and_changed_keys_with_old_and_new_values() {
        let old = json!({"uuid": "a", "counts": {"issues": 3, "notes": 5, "boards": 1}, "edition": "EE Free"});
        let new = json!({"uuid": "a", "counts": {"issues": 4, "notes": 5, "labels": 2}, "edition": "EE Free"});
        let (added, removed, changed, unchanged) = diff_documents(&old, &new);
        assert_eq!(
            added,
            vec![KeyChange {
                key: "counts.labels".into(),
                old: None,
                new: Some("2".into())
            }]
        );
        assert_eq!(
            removed,
            vec![KeyChange {
                key: "counts.boards".into(),
                old: Some("1".into()),
                new: None
            }]
        );
        assert_eq!(
            changed,
            vec![KeyChange {
                key: "counts.issues".into(),
                old: Some("3".into()),
                new: Some("4".into())
            }]
        );
        assert_eq!(unchanged, 3);
    }
}
