//! Turning metric outcomes into the payload's bytes.
//!
//! Dotted key paths become nested objects; keys are sorted (serde_json's map), so the same
//! values always give the same bytes. The document is pretty-printed with a final newline:
//! the bytes an administrator reads in the preview are the bytes that are sent.

use serde_json::{Map, Value};

use super::evaluate::MetricOutcome;

/// Builds the nested document from `outcomes`. Later outcomes win on the same key path.
pub fn assemble(outcomes: &[MetricOutcome]) -> Value {
    let mut root = Map::new();
    for outcome in outcomes {
        insert(&mut root, &outcome.key_path, outcome.value.clone());
    }
    Value::Object(root)
}

fn insert(root: &mut Map<String, Value>, key_path: &str, value: Value) {
    let mut parts = key_path.split('.').peekable();
    let mut node = root;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_string(), value);
            return;
        }
        let child = node
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            // The dictionary refuses a value that is also a parent, so this cannot happen.
            *child = Value::Object(Map::new());
        }
        node = child.as_object_mut().expect("just made an object");
    }
}

/// The bytes of a payload document.
pub fn to_bytes(document: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(document).expect("a JSON value always serializes");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn outcome(key_path: &str, value: Value) -> MetricOutcome {
        MetricOutcome {
            key_path: key_path.into(),
            value,
            error: None,
            duration: Duration::ZERO,
            scan: None,
        }
    }

    #[test]
    fn key_paths_nest_and_keys_are_sorted() {
        let document = assemble(&[
            outcome("uuid", json!("u")),
            outcome("counts.issues", json!(3)),
            outcome("counts.boards", json!(1)),
            outcome("usage_activity_by_stage.plan.issues", json!(2)),
        ]);
        assert_eq!(
            document,
            json!({"counts": {"boards": 1, "issues": 3}, "usage_activity_by_stage": {"plan": {"issues": 2}}, "uuid": "u"})
        );
        let text = String::from_utf8(to_bytes(&document)).unwrap();
        assert!(
            text.starts_with("{\n  \"counts\": {\n    \"boards\": 1,"),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
    }
}
