//! The instance's side of the wire: the HTTP client for the collector's endpoints, as GitLab's
//! SubmitService speaks to the Versions application. `POST /usage_data` with exact bytes and a
//! positive `conv_index.usage_data_id` required back; `POST /usage_ping_metadata` and
//! `POST /usage_ping_errors` with their documents.

use std::time::Duration;

use serde_json::Value;

use crate::documents::{ErrorDocument, MetadataDocument};

/// The largest answer read from the collector: its replies are a few hundred bytes of JSON.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

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
    /// The `cohort` object beside it, as received: how the instance compares with organizations
    /// of its size (`crate::cohort::CohortReport`). Our collector sends it; GitLab's does not.
    pub cohort: Option<Value>,
    /// The hash of the bytes the collector says it stored (`sha256`, 64 hex digits); none from a
    /// collector that does not say (GitLab's).
    pub stored_sha256: Option<String>,
}

/// The HTTP client for the collector's endpoints.
#[derive(Debug, Clone)]
pub struct CollectorClient {
    http: reqwest::Client,
    base: Option<url::Url>,
    timeout: Duration,
}

impl CollectorClient {
    /// A client for the collector at `base` (none: every send fails as not configured), each
    /// request bounded by `timeout`.
    pub fn new(base: Option<url::Url>, timeout: Duration) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("service-ping/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            // A redirect would re-post the payload to wherever it points: the collector is
            // configured, not discovered, so a 3xx is an answer like any other non-2xx.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            base,
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
        self.answer(response).await
    }

    /// The status and body of a 2xx answer; any other status is an error with its reason.
    async fn answer(&self, response: reqwest::Response) -> Result<(u16, Vec<u8>), SendError> {
        let status = response.status();
        let body = self.read_reply(response).await?;
        if !status.is_success() {
            return Err(SendError::Status {
                status: status.as_u16(),
                reason: reason_in(&body),
            });
        }
        Ok((status.as_u16(), body))
    }

    /// The reply's body, refused past [`MAX_REPLY_BYTES`] whatever its `Content-Length` says.
    async fn read_reply(&self, mut response: reqwest::Response) -> Result<Vec<u8>, SendError> {
        let too_large = || {
            SendError::MalformedReply(format!("the answer is larger than {MAX_REPLY_BYTES} bytes"))
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_REPLY_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
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
                cohort: reply.get("cohort").filter(|c| c.is_object()).cloned(),
                stored_sha256: reply
                    .get("sha256")
                    .and_then(Value::as_str)
                    .filter(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
                    .map(str::to_ascii_lowercase),
            }),
            _ => Err(SendError::InvalidUsageDataId(
                id.map_or_else(|| "missing".into(), Value::to_string),
            )),
        }
    }

    /// `GET /-/health`: whether the collector answers, sending nothing about this instance (the
    /// dashboard's "Test connection"). Answers the HTTP status and how long it took.
    pub async fn check_health(&self) -> Result<(u16, Duration), SendError> {
        let started = std::time::Instant::now();
        let response = self
            .http
            .get(self.endpoint("-/health")?)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let (status, _) = self.answer(response).await?;
        Ok((status, started.elapsed()))
    }

    /// `POST /usage_ping_metadata`.
    pub async fn send_metadata(&self, metadata: &MetadataDocument) -> Result<(), SendError> {
        self.post_json("usage_ping_metadata", metadata).await
    }

    /// `POST /usage_ping_errors`.
    pub async fn send_error_report(&self, report: &ErrorDocument) -> Result<(), SendError> {
        self.post_json("usage_ping_errors", report).await
    }

    async fn post_json(
        &self,
        path: &str,
        document: &impl serde::Serialize,
    ) -> Result<(), SendError> {
        let body = serde_json::to_vec(document).map_err(|e| SendError::Other(e.to_string()))?;
        self.post(path, body).await.map(|_| ())
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
