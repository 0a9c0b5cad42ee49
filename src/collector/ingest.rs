//! What the collector accepts: strict validation of a received ping, before anything is stored.
//! Every rejection says what was wrong in words an instance's operator can act on.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Limits on what a ping may be.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    pub max_body_bytes: usize,
    /// Deepest nesting of objects and arrays allowed (the payload itself needs 4).
    pub max_depth: usize,
}

/// A ping that passed validation: the columns the collector extracts from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub uuid: String,
    /// As the instance wrote it; the idempotency key is on this text.
    pub recorded_at: String,
    pub hostname: Option<String>,
    pub version: String,
    pub edition: Option<String>,
    /// The whole document, for what later stages (DevOps Score, licenses) read from it.
    pub document: Map<String, Value>,
}

/// Why a ping was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the body is empty")]
    Empty,
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body is not valid JSON: {0}")]
    Malformed(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("the JSON is nested deeper than the limit of {limit} levels")]
    TooDeep { limit: usize },
    #[error("`{key}` is required")]
    Missing { key: &'static str },
    #[error("`{key}` must be {expected}")]
    WrongType { key: String, expected: &'static str },
    #[error("`{key}` {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// The JSON type a known top-level key must have (`null` is allowed for the optional ones: it is
/// GitLab's fallback for a value that could not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Text,
    Number,
    Boolean,
    /// An object whose leaves are all numbers (counters, possibly sentinels such as -1).
    Counters,
    Object,
}

impl Expected {
    fn describe(self) -> &'static str {
        match self {
            Expected::Text => "a string",
            Expected::Number => "a number",
            Expected::Boolean => "true or false",
            Expected::Counters => "an object of numbers",
            Expected::Object => "an object",
        }
    }
}

const KNOWN_KEYS: &[(&str, Expected)] = &[
    ("hostname", Expected::Text),
    ("edition", Expected::Text),
    ("installation_type", Expected::Text),
    ("recording_ce_finished_at", Expected::Text),
    ("active_user_count", Expected::Number),
    ("historical_max_users", Expected::Number),
    ("license_md5", Expected::Text),
    ("license_sha256", Expected::Text),
    ("license_id", Expected::Number),
    ("license_plan", Expected::Text),
    ("license_user_count", Expected::Number),
    ("license_starts_at", Expected::Text),
    ("license_expires_at", Expected::Text),
    ("license_trial", Expected::Boolean),
    ("counts", Expected::Counters),
    ("counts_weekly", Expected::Counters),
    ("counts_monthly", Expected::Counters),
    ("usage_activity_by_stage", Expected::Counters),
    ("usage_activity_by_stage_monthly", Expected::Counters),
    ("settings", Expected::Object),
    ("database", Expected::Object),
];

/// Parses and checks a received ping. Nothing about the body is trusted until this returns.
pub fn validate(body: &[u8], limits: IngestLimits) -> Result<Ping, Rejection> {
    if body.len() > limits.max_body_bytes {
        return Err(Rejection::TooLarge {
            limit: limits.max_body_bytes,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::Empty);
    }
    let document = parse_object(body, limits)?;
    let uuid = required_text(&document, "uuid")?;
    let valid_uuid =
        uuid.len() <= 64 && uuid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid_uuid {
        return Err(Rejection::Invalid {
            key: "uuid",
            reason: "must be at most 64 letters, digits and dashes".into(),
        });
    }
    let recorded_at = required_text(&document, "recorded_at")?;
    parse_recorded_at(&recorded_at)?;
    let version = required_text(&document, "version")?;
    if version.len() > 64 {
        return Err(Rejection::Invalid {
            key: "version",
            reason: "must be at most 64 characters".into(),
        });
    }
    for (key, expected) in KNOWN_KEYS {
        if let Some(value) = document.get(*key) {
            check_type(key, value, *expected)?;
        }
    }
    let optional_text = |key: &str| document.get(key).and_then(Value::as_str).map(String::from);
    Ok(Ping {
        uuid,
        recorded_at,
        hostname: optional_text("hostname"),
        version,
        edition: optional_text("edition"),
        document,
    })
}

/// Parses a JSON object within the nesting limit.
pub fn parse_object(body: &[u8], limits: IngestLimits) -> Result<Map<String, Value>, Rejection> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Rejection::Malformed(e.to_string()))?;
    if depth(&value) > limits.max_depth {
        return Err(Rejection::TooDeep {
            limit: limits.max_depth,
        });
    }
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Rejection::NotAnObject),
    }
}

/// Nesting depth of a JSON value (a scalar is 0), without recursion.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, level)) = stack.pop() {
        deepest = deepest.max(level);
        match value {
            Value::Object(map) => stack.extend(map.values().map(|v| (v, level + 1))),
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, level + 1))),
            _ => {}
        }
    }
    deepest
}

fn required_text(document: &Map<String, Value>, key: &'static str) -> Result<String, Rejection> {
    match document.get(key) {
        None | Some(Value::Null) => Err(Rejection::Missing { key }),
        Some(Value::String(text)) if text.trim().is_empty() => Err(Rejection::Invalid {
            key,
            reason: "must not be empty".into(),
        }),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(Rejection::WrongType {
            key: key.into(),
            expected: "a string",
        }),
    }
}

/// `recorded_at` as RFC 3339 (ours) or GitLab's `2026-11-25 10:00:00 UTC`.
fn parse_recorded_at(text: &str) -> Result<DateTime<Utc>, Rejection> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S UTC")
                .map(|t| t.and_utc())
        })
        .map_err(|_| Rejection::Invalid {
            key: "recorded_at",
            reason: "must be a timestamp such as 2026-11-25T10:00:00.000Z".into(),
        })
}

fn check_type(key: &str, value: &Value, expected: Expected) -> Result<(), Rejection> {
    let fits = match (expected, value) {
        (_, Value::Null) => true,
        (Expected::Text, Value::String(_))
        | (Expected::Number, Value::Number(_))
        | (Expected::Boolean, Value::Bool(_))
        | (Expected::Object, Value::Object(_)) => true,
        (Expected::Counters, Value::Object(map)) => {
            return map.iter().try_for_each(|(name, v)| match v {
                Value::Number(_) | Value::Null => Ok(()),
                Value::Object(_) => check_type(&format!("{key}.{name}"), v, Expected::Counters),
                _ => Err(Rejection::WrongType {
                    key: format!("{key}.{name}"),
                    expected: "a number",
                }),
            });
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(Rejection::WrongType {
            key: key.into(),
            expected: expected.describe(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: IngestLimits = IngestLimits {
        max_body_bytes: 10_000,
        max_depth: 8,
    };

    fn ping(extra: &str) -> Vec<u8> {
        format!(
            r#"{{"uuid":"0b8c-41","recorded_at":"2026-11-25T10:00:00.000Z","version":"1.2.0"{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_minimal_ping_is_accepted_and_its_columns_extracted() {
        let accepted = validate(
            &ping(r#","hostname":"git.example","edition":"EE Free""#),
            LIMITS,
        )
        .unwrap();
        assert_eq!(accepted.uuid, "0b8c-41");
        assert_eq!(accepted.recorded_at, "2026-11-25T10:00:00.000Z");
        assert_eq!(accepted.hostname.as_deref(), Some("git.example"));
        assert_eq!(accepted.edition.as_deref(), Some("EE Free"));
        assert_eq!(accepted.version, "1.2.0");
    }

    #[test]
    fn gitlab_timestamps_are_accepted_too() {
        let body = br#"{"uuid":"a","recorded_at":"2026-11-25 10:00:00 UTC","version":"17.0"}"#;
        assert!(validate(body, LIMITS).is_ok());
    }

    #[test]
    fn each_kind_of_bad_ping_is_refused_with_its_reason() {
        let cases: Vec<(Vec<u8>, Rejection)> = vec![
            (b"  ".to_vec(), Rejection::Empty),
            (b"{\"uuid\":".to_vec(), Rejection::Malformed(String::new())),
            (b"[1,2]".to_vec(), Rejection::NotAnObject),
            (
                br#"{"recorded_at":"2026-11-25T10:00:00Z","version":"1"}"#.to_vec(),
                Rejection::Missing { key: "uuid" },
            ),
            (
                br#"{"uuid":7,"recorded_at":"2026-11-25T10:00:00Z","version":"1"}"#.to_vec(),
                Rejection::WrongType {
                    key: "uuid".into(),
                    expected: "a string",
                },
            ),
            (
                ping(r#","counts":{"issues":"many"}"#),
                Rejection::WrongType {
                    key: "counts.issues".into(),
                    expected: "a number",
                },
            ),
            (
                ping(r#","active_user_count":"3""#),
                Rejection::WrongType {
                    key: "active_user_count".into(),
                    expected: "a number",
                },
            ),
            (
                ping(&format!(r#","deep":{}1{}"#, "[".repeat(9), "]".repeat(9))),
                Rejection::TooDeep { limit: 8 },
            ),
            (vec![b' '; 10_001], Rejection::TooLarge { limit: 10_000 }),
        ];
        for (body, expected) in cases {
            let rejection = validate(&body, LIMITS).unwrap_err();
            match (&rejection, &expected) {
                (Rejection::Malformed(_), Rejection::Malformed(_)) => {}
                _ => assert_eq!(rejection, expected),
            }
        }
    }

    #[test]
    fn a_bad_uuid_or_timestamp_is_invalid() {
        let body = br#"{"uuid":"a b","recorded_at":"2026-11-25T10:00:00Z","version":"1"}"#;
        assert!(matches!(
            validate(body, LIMITS),
            Err(Rejection::Invalid { key: "uuid", .. })
        ));
        let body = br#"{"uuid":"a","recorded_at":"last tuesday","version":"1"}"#;
        assert!(matches!(
            validate(body, LIMITS),
            Err(Rejection::Invalid {
                key: "recorded_at",
                ..
            })
        ));
    }

    #[test]
    fn nulls_are_allowed_for_optional_values_as_gitlab_falls_back_to_them() {
        assert!(
            validate(
                &ping(r#","hostname":null,"counts":{"x":null,"y":-1}"#),
                LIMITS
            )
            .is_ok()
        );
    }
}
