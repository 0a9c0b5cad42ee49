//! A metric's `value_type`: what its YAML declares and what its instrumentation must produce.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    Number,
    String,
    Boolean,
    Object,
}
