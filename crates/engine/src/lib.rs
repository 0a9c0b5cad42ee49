//! The payload engine: metric dictionary → values → one JSON document. A plain library: no
//! Leptos, no HTTP; it takes a database pool and returns data.
//!
//! Modules, bottom up: `time_frame`, `value_type`, `hll`; `instrumentation` (the classes a YAML
//! definition names) and `definition` (loading and validating the dictionary); `sql` (statement
//! pieces); `rollup` (per-day partial aggregates kept by triggers) and `evaluate` (the three
//! strategies); `catalog` (checking the dictionary against the database); `payload` (bytes).
#![forbid(unsafe_code)]

pub mod catalog;
pub mod definition;
pub mod evaluate;
pub mod hll;
pub mod instrumentation;
pub mod payload;
pub mod rollup;
mod sql;
pub mod time_frame;
pub mod value_type;

pub use definition::{DataCategory, Dictionary, DictionaryError, MetricDefinition};
pub use evaluate::{Facts, LicenseFacts, MetricOutcome, Strategy};
