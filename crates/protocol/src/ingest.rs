//! What the collector accepts: strict validation of a received ping, before anything is stored.
//! Every rejection says what was wrong in words an instance's operator can act on.

use chrono::{DateTime, Utc};

use crate::devops_score::PingUsage;

/// Limits on what a ping may be.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    pub max_body_bytes: usize,
    /// Deepest nesting of objects and arrays allowed (the payload itself needs 4).
    pub max_depth: usize,
}

/// A ping that passed validation: the columns the collector extracts from it. (Later stages
/// read what else they need from the stored bytes.)
#[derive(Debug, Clone, PartialEq)]
pub struct Ping {
    pub uuid: String,
    /// As the instance wrote it; the idempotency key is on this text.
    pub recorded_at: String,
    pub hostname: Option<String>,
    pub version: String,
    pub edition: Option<String>,
    /// Names the license the instance runs on, if any.
    pub license_sha256: Option<String>,
    /// The counters the DevOps Score reads, noted on the way through (a second parse of the
    /// body to find them cost as much as the validation itself).
    pub usage: PingUsage,
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
    /// A key twice in one object: which copy counts would differ between readers.
    #[error("`{key}` appears more than once")]
    DuplicateKey { key: String },
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
    /// Anything (keys this collector does not know).
    Any,
}

impl Expected {
    fn describe(self) -> &'static str {
        match self {
            Expected::Text => "a string",
            Expected::Number => "a number",
            Expected::Boolean => "true or false",
            Expected::Counters => "an object of numbers",
            Expected::Object => "an object",
            Expected::Any => "any value",
        }
    }

    fn of(key: &str) -> Self {
        KNOWN_KEYS
            .iter()
            .find(|(known, _)| *known == key)
            .map_or(Expected::Any, |(_, expected)| *expected)
    }
}

const KNOWN_KEYS: &[(&str, Expected)] = &[
    ("uuid", Expected::Text),
    ("recorded_at", Expected::Text),
    ("version", Expected::Text),
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

/// Parses and checks a received ping in one pass over the bytes, building no JSON tree: the
/// nesting limit, the type of every known key (counters all the way down) and the required keys.
/// Nothing about the body is trusted until this returns.
pub fn validate(body: &[u8], limits: IngestLimits) -> Result<Ping, Rejection> {
    use serde::de::DeserializeSeed;
    if body.len() > limits.max_body_bytes {
        return Err(Rejection::TooLarge {
            limit: limits.max_body_bytes,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::Empty);
    }
    let found = std::cell::RefCell::new(None);
    let usage = std::cell::RefCell::new(PingUsage::default());
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let fields = TopLevel {
        max_depth: limits.max_depth,
        rejection: &found,
        usage: &usage,
    }
    .deserialize(&mut deserializer)
    .and_then(|fields| deserializer.end().map(|()| fields));
    let fields = match (fields, found.into_inner()) {
        (_, Some(rejection)) => return Err(rejection),
        (Ok(fields), None) => fields,
        (Err(error), None) => return Err(Rejection::Malformed(error.to_string())),
    };
    let required = |value: Option<String>, key: &'static str| match value {
        None => Err(Rejection::Missing { key }),
        Some(text) if text.trim().is_empty() => Err(Rejection::Invalid {
            key,
            reason: "must not be empty".into(),
        }),
        Some(text) => Ok(text),
    };
    let uuid = required(fields.uuid, "uuid")?;
    let valid_uuid =
        uuid.len() <= 64 && uuid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid_uuid {
        return Err(Rejection::Invalid {
            key: "uuid",
            reason: "must be at most 64 letters, digits and dashes".into(),
        });
    }
    let recorded_at = required(fields.recorded_at, "recorded_at")?;
    parse_recorded_at(&recorded_at)?;
    let version = required(fields.version, "version")?;
    if version.len() > 64 {
        return Err(Rejection::Invalid {
            key: "version",
            reason: "must be at most 64 characters".into(),
        });
    }
    let hostname = at_most(fields.hostname, "hostname", 255)?;
    let edition = at_most(fields.edition, "edition", 64)?;
    let license_sha256 = at_most(fields.license_sha256, "license_sha256", 128)?;
    Ok(Ping {
        uuid,
        recorded_at,
        hostname,
        version,
        edition,
        license_sha256,
        usage: usage.into_inner(),
    })
}

/// An optional extracted string, refused past `max` characters (the collector stores it in a
/// column and shows it on its pages).
fn at_most(
    value: Option<String>,
    key: &'static str,
    max: usize,
) -> Result<Option<String>, Rejection> {
    match value {
        Some(text) if text.chars().count() > max => Err(Rejection::Invalid {
            key,
            reason: format!("must be at most {max} characters"),
        }),
        other => Ok(other),
    }
}

/// The top-level strings the collector keeps.
#[derive(Default)]
struct Fields {
    uuid: Option<String>,
    recorded_at: Option<String>,
    version: Option<String>,
    hostname: Option<String>,
    edition: Option<String>,
    license_sha256: Option<String>,
}

/// Visits the top-level object. A rejection found deeper is put in `rejection` (serde's error
/// type cannot carry it) and the parse stops.
struct TopLevel<'a> {
    max_depth: usize,
    rejection: &'a std::cell::RefCell<Option<Rejection>>,
    usage: &'a std::cell::RefCell<PingUsage>,
}

impl<'de> serde::de::DeserializeSeed<'de> for TopLevel<'_> {
    type Value = Fields;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Fields, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TopLevel<'_> {
    type Value = Fields;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if !seen.insert(key.clone()) {
                return self.reject(Rejection::DuplicateKey {
                    key: key.into_owned(),
                });
            }
            let check = Check {
                name: &key,
                parent: None,
                expected: Expected::of(&key),
                depth: 1,
                max_depth: self.max_depth,
                rejection: self.rejection,
                usage: self.usage,
            };
            let text = map.next_value_seed(check)?;
            let slot = match key.as_ref() {
                "uuid" => &mut fields.uuid,
                "recorded_at" => &mut fields.recorded_at,
                "version" => &mut fields.version,
                "hostname" => &mut fields.hostname,
                "edition" => &mut fields.edition,
                "license_sha256" => &mut fields.license_sha256,
                _ => continue,
            };
            *slot = text;
        }
        Ok(fields)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Fields, A::Error> {
        self.reject(Rejection::NotAnObject)
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Fields, E> {
        self.reject(Rejection::NotAnObject)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Fields, E> {
        self.reject(Rejection::NotAnObject)
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Fields, E> {
        self.reject(Rejection::NotAnObject)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Fields, E> {
        self.reject(Rejection::NotAnObject)
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Fields, E> {
        self.reject(Rejection::NotAnObject)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Fields, E> {
        self.reject(Rejection::NotAnObject)
    }
}

impl TopLevel<'_> {
    fn reject<T, E: serde::de::Error>(&self, rejection: Rejection) -> Result<T, E> {
        let message = rejection.to_string();
        *self.rejection.borrow_mut() = Some(rejection);
        Err(E::custom(message))
    }
}

/// Checks one value against what its key expects, within the nesting limit; keeps the text of
/// a string value (the caller decides whether it wants it). The key's dotted path is only
/// spelled out when there is something wrong with it.
struct Check<'a> {
    name: &'a str,
    parent: Option<&'a Check<'a>>,
    expected: Expected,
    /// Nesting level of the container this value is in (the top-level object is 1).
    depth: usize,
    max_depth: usize,
    rejection: &'a std::cell::RefCell<Option<Rejection>>,
    usage: &'a std::cell::RefCell<PingUsage>,
}

impl Check<'_> {
    /// Notes `value` if it is one of the counters the DevOps Score reads.
    fn note(&self, value: f64) {
        let mut usage = self.usage.borrow_mut();
        let section = self.parent.filter(|p| p.parent.is_none()).map(|p| p.name);
        let slot = match (section, self.name) {
            (None, "active_user_count") if self.parent.is_none() => &mut usage.active_user_count,
            (Some("counts_monthly"), name) => match usage.counts_monthly.slot(name) {
                Some(slot) => slot,
                None => return,
            },
            (Some("counts"), "projects") => &mut usage.counts.projects,
            (Some("counts"), "projects_prometheus_active") => {
                &mut usage.counts.projects_prometheus_active
            }
            _ => return,
        };
        *slot = Some(value);
    }

    fn reject<T, E: serde::de::Error>(&self, rejection: Rejection) -> Result<T, E> {
        let message = rejection.to_string();
        *self.rejection.borrow_mut() = Some(rejection);
        Err(E::custom(message))
    }

    fn path(&self) -> String {
        match self.parent {
            Some(parent) => format!("{}.{}", parent.path(), self.name),
            None => self.name.to_string(),
        }
    }

    fn wrong_type<T, E: serde::de::Error>(&self) -> Result<T, E> {
        let expected = match self.expected {
            // Inside counters, each leaf must be a number.
            Expected::Counters if self.depth > 1 => "a number",
            other => other.describe(),
        };
        self.reject(Rejection::WrongType {
            key: self.path(),
            expected,
        })
    }

    fn scalar<E: serde::de::Error>(&self, fits: bool) -> Result<Option<String>, E> {
        if fits || self.expected == Expected::Any {
            Ok(None)
        } else {
            self.wrong_type()
        }
    }

    /// The check for the value `name` inside this container.
    fn child<'b>(&'b self, name: &'b str, expected: Expected) -> Check<'b> {
        Check {
            name,
            parent: Some(self),
            expected,
            depth: self.depth + 1,
            max_depth: self.max_depth,
            rejection: self.rejection,
            usage: self.usage,
        }
    }

    fn enter<E: serde::de::Error>(&self) -> Result<(), E> {
        if self.depth + 1 > self.max_depth {
            return self.reject(Rejection::TooDeep {
                limit: self.max_depth,
            });
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Check<'_> {
    type Value = Option<String>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Check<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.expected.describe())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Option<String>, E> {
        self.scalar(self.expected == Expected::Boolean)
    }
    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Option<String>, E> {
        self.note(value as f64);
        self.scalar(matches!(
            self.expected,
            Expected::Number | Expected::Counters
        ))
    }
    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Option<String>, E> {
        self.note(value as f64);
        self.scalar(matches!(
            self.expected,
            Expected::Number | Expected::Counters
        ))
    }
    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Option<String>, E> {
        self.note(value);
        self.scalar(matches!(
            self.expected,
            Expected::Number | Expected::Counters
        ))
    }
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Option<String>, E> {
        match self.expected {
            Expected::Text => Ok(Some(text.to_string())),
            Expected::Any => Ok(None),
            _ => self.wrong_type(),
        }
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<Option<String>, A::Error> {
        if self.expected != Expected::Any {
            return self.wrong_type();
        }
        self.enter()?;
        while seq
            .next_element_seed(self.child("[]", Expected::Any))?
            .is_some()
        {}
        Ok(None)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<Option<String>, A::Error> {
        if !matches!(
            self.expected,
            Expected::Counters | Expected::Object | Expected::Any
        ) {
            return self.wrong_type();
        }
        self.enter()?;
        let expected = match self.expected {
            Expected::Counters => Expected::Counters,
            _ => Expected::Any,
        };
        let mut seen = std::collections::HashSet::new();
        while let Some(name) = map.next_key_seed(Key)? {
            // GitLab's one list among the stage counters: one object per Geo secondary site.
            let expected = if expected == Expected::Counters && name == "geo_node_usage" {
                Expected::Any
            } else {
                expected
            };
            let child = self.child(&name, expected);
            if !seen.insert(name.clone()) {
                return child.reject(Rejection::DuplicateKey { key: child.path() });
            }
            map.next_value_seed(child)?;
        }
        Ok(None)
    }
}

/// A key, borrowed from the body unless it has escapes (serde's own `Cow` always copies).
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = std::borrow::Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(key))
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(key.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: IngestLimits = IngestLimits {
        max_body_bytes: 10_000,
        max_depth: 8,
    };

    const RECORDED: &str = r#""recorded_at": "2026-11-25T10:00:00.000Z", "version": "1.0""#;

    #[test]
    fn the_counters_noted_while_validating_are_the_ones_a_full_parse_reads() {
        let body = format!(
            r#"{{"uuid": "a", {RECORDED}, "active_user_count": 12,
                "counts": {{"projects": 40, "projects_prometheus_active": 10, "issues": 3,
                            "nested": {{"projects": 999}}}},
                "counts_monthly": {{"active_users": 9, "issues": 4.5, "notes": -1, "boards": 0,
                                    "deployments": 77, "unrelated": 5}},
                "settings": {{"projects": 1, "counts": {{"projects": 2}}}},
                "usage_activity_by_stage": {{"create": {{"active_user_count": 1000}}}}}}"#
        );
        let ping = validate(body.as_bytes(), LIMITS).unwrap();
        let parsed: PingUsage = serde_json::from_str(&body).unwrap();
        assert_eq!(ping.usage, parsed);
        assert_eq!(ping.usage.counts.projects, Some(40.0));
        assert_eq!(ping.usage.counts_monthly.issues, Some(4.5));
        assert_eq!(ping.usage.active_user_count, Some(12.0));
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        let top = format!(r#"{{"uuid": "a", "uuid": "b", {RECORDED}}}"#);
        assert_eq!(
            validate(top.as_bytes(), LIMITS),
            Err(Rejection::DuplicateKey { key: "uuid".into() })
        );
        let nested =
            format!(r#"{{"uuid": "a", {RECORDED}, "counts": {{"issues": 1, "issues": 2}}}}"#);
        assert_eq!(
            validate(nested.as_bytes(), LIMITS),
            Err(Rejection::DuplicateKey {
                key: "counts.issues".into()
            })
        );
        let distinct = format!(
            r#"{{"uuid": "a", {RECORDED}, "counts": {{"issues": 1}}, "x": {{"issues": 2}}}}"#
        );
        assert!(validate(distinct.as_bytes(), LIMITS).is_ok());
    }

    #[test]
    fn extracted_strings_are_bounded() {
        let long = "h".repeat(256);
        let body = format!(r#"{{"uuid": "a", {RECORDED}, "hostname": "{long}"}}"#);
        assert!(matches!(
            validate(body.as_bytes(), LIMITS),
            Err(Rejection::Invalid {
                key: "hostname",
                ..
            })
        ));
        let body = format!(
            r#"{{"uuid": "a", {RECORDED}, "hostname": "{}"}}"#,
            &long[..255]
        );
        assert!(validate(body.as_bytes(), LIMITS).is_ok());
    }

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
    fn the_geo_node_list_is_the_one_list_among_the_stage_counters() {
        let nodes = r#"[{"git_fetch_event_count_weekly":3,"git_push_event_count_weekly":null}]"#;
        let body = ping(&format!(
            r#","usage_activity_by_stage_monthly":{{"enablement":{{"geo_node_usage":{nodes}}}}}"#
        ));
        assert!(validate(&body, LIMITS).is_ok());
        let elsewhere = ping(r#","usage_activity_by_stage_monthly":{"enablement":{"other":[1]}}"#);
        assert!(matches!(
            validate(&elsewhere, LIMITS),
            Err(Rejection::WrongType { .. })
        ));
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
