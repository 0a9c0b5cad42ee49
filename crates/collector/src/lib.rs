//! The collector role (`service-ping collector`): GitLab's "Versions application". It receives
//! pings from instances, validates them strictly, stores the exact bytes once per
//! (uuid, recorded_at), and answers with the id the instance records as sent.

#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod cohorts_view;
pub mod commands;
pub mod db;
pub mod fleet;
pub mod licenses;
pub mod monitoring;
pub mod openapi;
pub mod pages;
pub mod refusal;
pub mod routes;
pub mod server;
pub mod settings;
pub mod state;
pub mod writer;

pub use self::db::open_database;
pub use self::server::Collector;
pub use self::settings::{CollectorConfig, CollectorSettings};
pub use self::state::CollectorState;
