//! Sending a stored payload to the collector, as GitLab's SubmitService does: the exact stored
//! bytes to `/usage_data`, a positive `usage_data_id` required back, then the per-metric timings
//! and errors to `/usage_ping_metadata`; on failure a report to `/usage_ping_errors`. Every
//! attempt is recorded.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::db::{self, SubmissionEnd};
use super::generate::{GenerationDeps, Trigger, TriggerKind, generate_and_store};
use crate::server::config::CollectorSettings;

/// How long connecting to the collector may take, within the whole-request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to the collector failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("no collector is configured (set collector.url or SERVICE_PING__COLLECTOR__URL)")]
    NotConfigured,
    #[error("could not connect to the collector: {0}")]
    Connect(String),
    #[error("the collector did not answer within {0} s")]
    Timeout(u64),
    #[error("the collector answered {status}: {reason}")]
    Status { status: u16, reason: String },
    #[error("the collector's answer is not what was expected: {0}")]
    MalformedReply(String),
    #[error("invalid usage_data_id in the collector's answer: {0}")]
    InvalidUsageDataId(String),
    #[error("the request to the collector failed: {0}")]
    Other(String),
}

impl SendError {
    /// The HTTP status the collector answered with, when it answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            SendError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What the collector answered to an accepted ping.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub usage_data_id: i64,
    pub http_status: u16,
    /// The whole `conv_index` object: the DevOps Score numbers come in it.
    pub conv_index: Value,
}

/// The HTTP client for the collector's endpoints.
#[derive(Debug, Clone)]
pub struct CollectorClient {
    http: reqwest::Client,
    base: Option<url::Url>,
    timeout: Duration,
}

impl CollectorClient {
    pub fn new(settings: &CollectorSettings) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(u64::from(settings.timeout_seconds));
        let http = reqwest::Client::builder()
            .user_agent(concat!("service-ping/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            base: settings.url.clone(),
            timeout,
        })
    }

    pub fn is_configured(&self) -> bool {
        self.base.is_some()
    }

    /// The collector's base URL, for display.
    pub fn base_url(&self) -> Option<&url::Url> {
        self.base.as_ref()
    }

    fn endpoint(&self, path: &str) -> Result<url::Url, SendError> {
        let base = self.base.as_ref().ok_or(SendError::NotConfigured)?;
        base.join(path).map_err(|e| SendError::Other(e.to_string()))
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), SendError> {
        let response = self
            .http
            .post(self.endpoint(path)?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.classify(e))?;
        if !status.is_success() {
            return Err(SendError::Status {
                status: status.as_u16(),
                reason: reason_in(&body),
            });
        }
        Ok((status.as_u16(), body.to_vec()))
    }

    fn classify(&self, error: reqwest::Error) -> SendError {
        if error.is_timeout() {
            SendError::Timeout(self.timeout.as_secs())
        } else if error.is_connect() {
            SendError::Connect(root_cause(&error))
        } else {
            SendError::Other(root_cause(&error))
        }
    }

    /// `POST /usage_data` with exactly `bytes`; the answer must carry a positive
    /// `conv_index.usage_data_id` (or the legacy `dev_ops_score.usage_data_id`).
    pub async fn send_usage_data(&self, bytes: Vec<u8>) -> Result<Accepted, SendError> {
        let (http_status, body) = self.post("usage_data", bytes).await?;
        let reply: Value = serde_json::from_slice(&body)
            .map_err(|e| SendError::MalformedReply(format!("not JSON ({e})")))?;
        let conv_index = reply
            .get("conv_index")
            .or_else(|| reply.get("dev_ops_score"))
            .cloned()
            .ok_or_else(|| SendError::MalformedReply("no conv_index in the answer".into()))?;
        let id = conv_index.get("usage_data_id");
        match id.and_then(Value::as_i64) {
            Some(usage_data_id) if usage_data_id > 0 => Ok(Accepted {
                usage_data_id,
                http_status,
                conv_index,
            }),
            _ => Err(SendError::InvalidUsageDataId(
                id.map_or_else(|| "missing".into(), Value::to_string),
            )),
        }
    }

    /// `POST /usage_ping_metadata`.
    pub async fn send_metadata(&self, metadata: &Value) -> Result<(), SendError> {
        self.post("usage_ping_metadata", metadata.to_string().into_bytes())
            .await
            .map(|_| ())
    }

    /// `POST /usage_ping_errors`.
    pub async fn send_error_report(&self, report: &Value) -> Result<(), SendError> {
        self.post("usage_ping_errors", report.to_string().into_bytes())
            .await
            .map(|_| ())
    }
}

/// The collector's `reason`, or the start of whatever it answered.
fn reason_in(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("reason").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Why a submission did not happen or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("Service Ping is off{}: nothing was generated or sent", .0.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Disabled(Option<String>),
    #[error("payload #{payload_id} was stored but not sent: {error}")]
    Send { payload_id: i64, error: SendError },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SubmitError {
    fn from(error: sqlx::Error) -> Self {
        SubmitError::Internal(error.into())
    }
}

/// Where a submission is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Generating { done: usize, total: usize },
    Sending,
}

pub type StageProgress<'a> = &'a (dyn Fn(Stage) + Send + Sync);

/// A payload the collector accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub payload_id: i64,
    pub accepted: Accepted,
}

/// Sends the stored payload `payload_id`, recording the attempt; then reports its metric timings
/// (or, on failure, the error) to the collector. Reports are best effort: their failure is logged,
/// never turned into a failed submission.
pub async fn send_stored(
    deps: GenerationDeps<'_>,
    client: &CollectorClient,
    payload_id: i64,
    trigger: Trigger,
) -> Result<Sent, SubmitError> {
    let bytes = db::payload_bytes(deps.db, payload_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("payload #{payload_id} does not exist"))?;
    let document: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let attempt = db::start_submission(
        deps.db,
        payload_id,
        trigger.kind.as_str(),
        trigger.account_id,
        Utc::now(),
    )
    .await?;
    let started = Instant::now();
    let result = client.send_usage_data(bytes).await;
    let elapsed = started.elapsed();
    let end = SubmissionEnd {
        http_status: match &result {
            Ok(accepted) => Some(accepted.http_status),
            Err(error) => error.http_status(),
        },
        duration_ms: elapsed.as_millis() as i64,
        result: result
            .as_ref()
            .map(|a| a.usage_data_id)
            .map_err(ToString::to_string),
    };
    db::finish_submission(deps.db, attempt, payload_id, &end, Utc::now()).await?;
    match result {
        Ok(accepted) => {
            tracing::info!(
                payload_id,
                usage_data_id = accepted.usage_data_id,
                "Service Ping sent"
            );
            store_devops_score(deps, payload_id, &accepted).await?;
            let metadata = metadata_report(deps, payload_id, &document).await?;
            if let Err(error) = client.send_metadata(&metadata).await {
                tracing::warn!(%error, payload_id, "sending the metric timings failed");
            }
            Ok(Sent {
                payload_id,
                accepted,
            })
        }
        Err(error) => {
            tracing::warn!(%error, payload_id, "sending Service Ping failed");
            let report = error_report(&document, &error, elapsed, Utc::now());
            if let Err(report_error) = client.send_error_report(&report).await {
                tracing::debug!(error = %report_error, "reporting the failure failed too");
            }
            Err(SubmitError::Send { payload_id, error })
        }
    }
}

/// Keeps the DevOps Score the collector sent back, when it sent one.
async fn store_devops_score(
    deps: GenerationDeps<'_>,
    payload_id: i64,
    accepted: &Accepted,
) -> Result<(), sqlx::Error> {
    let Some(score) = crate::devops_score::from_conv_index(&accepted.conv_index) else {
        return Ok(());
    };
    crate::devops_score::db::insert(
        deps.db,
        payload_id,
        accepted.usage_data_id,
        score.overall,
        &accepted.conv_index,
        Utc::now(),
    )
    .await
    .map(|_| ())
}

/// `{"metadata": {"uuid", "metrics": [{"name", "time_elapsed", "error"}]}}`.
async fn metadata_report(
    deps: GenerationDeps<'_>,
    payload_id: i64,
    document: &Value,
) -> Result<Value, sqlx::Error> {
    let metrics: Vec<Value> = db::metric_results(deps.db, payload_id)
        .await?
        .into_iter()
        .map(|m| {
            let mut metric = json!({
                "name": m.key_path,
                "time_elapsed": m.duration_us as f64 / 1_000_000.0,
            });
            if let Some(error) = m.error {
                metric["error"] = json!(error);
            }
            metric
        })
        .collect();
    Ok(json!({ "metadata": { "uuid": document["uuid"], "metrics": metrics } }))
}

/// `{"error": {time, uuid, hostname, version, message, elapsed}}`.
fn error_report(
    document: &Value,
    error: &SendError,
    elapsed: Duration,
    now: DateTime<Utc>,
) -> Value {
    json!({ "error": {
        "time": crate::engine::evaluate::format_timestamp(now),
        "uuid": document["uuid"],
        "hostname": document["hostname"],
        "version": document["version"],
        "message": error.to_string(),
        "elapsed": elapsed.as_secs_f64(),
    }})
}

/// "Send now" and `service-ping submit`: refuses when Service Ping is off; otherwise generates,
/// stores and sends a new payload.
pub async fn submit_now(
    deps: GenerationDeps<'_>,
    client: &CollectorClient,
    trigger: Trigger,
    progress: StageProgress<'_>,
) -> Result<Sent, SubmitError> {
    debug_assert!(trigger.kind != TriggerKind::Preview);
    let service_ping = crate::settings::db::service_ping(deps.db, deps.locks).await?;
    if !service_ping.enabled {
        return Err(SubmitError::Disabled(service_ping.locked_reason));
    }
    if !client.is_configured() {
        return Err(SubmitError::Internal(anyhow::anyhow!(
            SendError::NotConfigured
        )));
    }
    let generating = |done, total| progress(Stage::Generating { done, total });
    let stored = generate_and_store(deps, trigger, Utc::now(), &generating).await?;
    progress(Stage::Sending);
    send_stored(deps, client, stored.id, trigger).await
}
