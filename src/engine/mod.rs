//! The payload engine: metric dictionary → values → one JSON document. A plain library module:
//! no Leptos, no HTTP; it takes a database pool and returns data.

pub mod catalog;
pub mod definition;
pub mod evaluate;
pub mod hll;
pub mod instrumentation;
pub mod payload;
pub mod rollup;
pub mod time_frame;

pub use definition::{DataCategory, Dictionary, DictionaryError, MetricDefinition};
pub use evaluate::{Facts, LicenseFacts, MetricOutcome, Strategy};
