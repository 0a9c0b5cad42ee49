//! A client of the operator's Prometheus HTTP query API (`prometheus.url`): instant queries with
//! the configured timeout, no redirects, and each way of failing named in a word. The payload's
//! topology and a Geo secondary's weekly Git traffic both read through it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::PrometheusSettings;

/// One sample of an instant query's vector.
#[derive(Debug, Clone)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// The label's value, empty when the sample has none.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// Why a query gave nothing, in a word (`unreachable`, `timeout`, `empty_result`, ...).
pub type Failure = &'static str;

pub struct Prometheus {
    http: reqwest::Client,
    base: url::Url,
}

impl Prometheus {
    /// The configured Prometheus; `None` without `prometheus.url`.
    pub fn new(settings: &PrometheusSettings) -> Option<Self> {
        let base = settings.url.clone()?;
        let timeout = Duration::from_secs(u64::from(settings.timeout_seconds.max(1)));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok()?;
        Some(Self { http, base })
    }

    pub async fn is_ready(&self) -> Result<(), Failure> {
        let url = self.base.join("-/ready").map_err(|_| "bad_url")?;
        let response = self.http.get(url).send().await.map_err(transport)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err("not_ready")
        }
    }

    /// An instant query; a vector with no sample is a failure (`empty_result`), as in GitLab.
    pub async fn query(&self, promql: &str) -> Result<Vec<Sample>, Failure> {
        #[derive(Deserialize)]
        struct Answer {
            status: String,
            data: Option<Data>,
        }
        #[derive(Deserialize)]
        struct Data {
            result: Vec<RawSample>,
        }
        #[derive(Deserialize)]
        struct RawSample {
            metric: BTreeMap<String, String>,
            value: (f64, String),
        }
        let url = self.base.join("api/v1/query").map_err(|_| "bad_url")?;
        let response = self
            .http
            .get(url)
            .query(&[("query", promql)])
            .send()
            .await
            .map_err(transport)?;
        let body = response.bytes().await.map_err(transport)?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|_| "bad_response")?;
        let result = match (answer.status.as_str(), answer.data) {
            ("success", Some(data)) => data.result,
            _ => return Err("query_error"),
        };
        let samples: Vec<Sample> = result
            .into_iter()
            .filter_map(|raw| {
                Some(Sample {
                    labels: raw.metric,
                    value: raw.value.1.parse().ok()?,
                })
            })
            .collect();
        if samples.is_empty() {
            Err("empty_result")
        } else {
            Ok(samples)
        }
    }
}

fn transport(error: reqwest::Error) -> Failure {
    if error.is_timeout() {
        "timeout"
    } else {
        "unreachable"
    }
}
