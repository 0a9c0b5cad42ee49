//! The dashboard's integration tests, in one binary: the real server over sockets and through
//! its router, payload generation and storage, submission to a fake and to the real collector,
//! the paid features, usage trends, and the demo platform's reseed.

mod app;
mod auth_suite;
mod backup;
mod bad_input;
/// The collector crate's test support (a real collector on a free port), shared rather than copied.
#[path = "../../crates/collector/tests/collector/support.rs"]
#[allow(dead_code)]
mod collector_support;
mod dashboard_submission;
mod geo;
mod parity;
mod payload;
mod prometheus;
mod registration_features;
mod rollups;
mod router;
mod submission;
mod support;
mod upgrade;
mod usage_statistics;
mod usage_trends;
