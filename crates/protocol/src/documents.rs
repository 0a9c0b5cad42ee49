//! The two documents an instance sends besides its ping, as GitLab's SubmitService sends them:
//! the per-metric timings after a successful send (`POST /usage_ping_metadata`) and the report of
//! a failed one (`POST /usage_ping_errors`). The instance writes them with these types and the
//! collector reads them with the same ones, refusing unknown keys.

use serde::{Deserialize, Serialize};

/// `{"metadata": {"uuid", "metrics": [{"name", "time_elapsed", "error"}]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataDocument {
    pub metadata: Metadata,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub uuid: String,
    pub metrics: Vec<MetricTiming>,
}

/// How long one metric took, in seconds, and why it failed if it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricTiming {
    pub name: String,
    pub time_elapsed: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `{"error": {time, uuid, hostname, version, message, elapsed}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDocument {
    pub error: ErrorReport,
}

/// An instance's report that it could not send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorReport {
    pub uuid: String,
    pub hostname: Option<String>,
    pub version: Option<String>,
    pub message: String,
    /// Seconds the failed attempt took.
    pub elapsed: Option<f64>,
    pub time: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_without_an_error_is_written_without_the_key_and_reads_back() {
        let document = MetadataDocument {
            metadata: Metadata {
                uuid: "u".into(),
                metrics: vec![MetricTiming {
                    name: "counts.issues".into(),
                    time_elapsed: 0.5,
                    error: None,
                }],
            },
        };
        let text = serde_json::to_string(&document).unwrap();
        assert_eq!(
            text,
            r#"{"metadata":{"uuid":"u","metrics":[{"name":"counts.issues","time_elapsed":0.5}]}}"#
        );
        assert_eq!(
            serde_json::from_str::<MetadataDocument>(&text).unwrap(),
            document
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = r#"{"error": {"uuid": "u", "message": "m", "extra": 1}}"#;
        assert!(serde_json::from_str::<ErrorDocument>(text).is_err());
    }
}
