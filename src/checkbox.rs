//! A checkbox that posts in a plain form, before the bundle has loaded or without JavaScript.
//!
//! A cleared checkbox posts nothing, and a server function refuses a body without a field as
//! malformed (a truncated body must change nothing). So the form posts a hidden `false` under the
//! list name `field[]` ahead of the checkbox's `true` under the same name, and the value is the
//! last one posted: `false` alone when cleared, `false, true` when checked. A call from the
//! bundle posts the field itself (`field=true`), and JSON carries a plain boolean; both read
//! the same.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, SeqAccess, Unexpected, Visitor};

/// For `#[serde(deserialize_with = "crate::checkbox::deserialize")]` on a `bool`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    deserializer.deserialize_any(Checkbox)
}

/// The `name` of a checkbox (and of its hidden `false`) for `field` of the argument `argument`.
pub fn field_name(argument: &str, field: &str) -> String {
    format!("{argument}[{field}][]")
}

struct Checkbox;

impl<'de> Visitor<'de> for Checkbox {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true or false, or a list of them of which the last counts")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<bool, E> {
        Ok(value)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<bool, E> {
        match value {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(E::invalid_value(Unexpected::Str(other), &self)),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut values: A) -> Result<bool, A::Error> {
        let mut last = None;
        while let Some(One(value)) = values.next_element()? {
            last = Some(value);
        }
        last.ok_or_else(|| de::Error::invalid_length(0, &self))
    }
}

/// One posted value of the list.
struct One(bool);

impl<'de> de::Deserialize<'de> for One {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Checkbox).map(One)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Rules {
        #[serde(deserialize_with = "super::deserialize")]
        strict: bool,
    }

    fn form(body: &str) -> Result<Rules, serde_qs::Error> {
        serde_qs::from_str(body)
    }

    #[test]
    fn the_last_posted_value_counts_and_a_missing_one_is_refused() {
        assert_eq!(form("strict[]=false").unwrap(), Rules { strict: false });
        assert_eq!(
            form("strict[]=false&strict[]=true").unwrap(),
            Rules { strict: true }
        );
        assert_eq!(form("strict=true").unwrap(), Rules { strict: true });
        assert_eq!(form("strict=false").unwrap(), Rules { strict: false });
        assert!(form("").is_err());
        assert!(form("strict=on").is_err());
        let json: Rules = serde_json::from_str(r#"{"strict":true}"#).unwrap();
        assert_eq!(json, Rules { strict: true });
    }
}
