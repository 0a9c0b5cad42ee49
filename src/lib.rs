//! Service Ping: usage payloads an administrator can inspect byte for byte, the weekly job that
//! sends them, and the collector that receives them.
//!
//! The dashboard package of the workspace, with two features: `ssr` builds the server (axum,
//! sqlx, sessions, jobs) and `hydrate` builds the browser bundle. Each dashboard area is one
//! folder with its wire types and server functions (`mod.rs`), its SQL (`db.rs`, ssr only), its
//! components (`view.rs`) and, where it has plain routes, `routes()`.
//!
//! Layers, bottom up: the workspace's crates (`service_ping_protocol`, `service_ping_database`,
//! `service_ping_engine`, `service_ping_collector`); `config`, `db`, `error`, `instance`,
//! `checkbox`;
//! `state` (the shared `AppState`); the slices; `app` (the routes of the pages); `server` (the
//! composition root: command line, start-up, background jobs, the router).
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

pub mod access_tokens;
pub mod announcements;
pub mod app;
pub mod auth;
pub mod checkbox;
pub mod components;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
pub mod devops_adoption;
pub mod devops_score;
pub mod error;
pub mod geo;
pub mod layout;
pub mod license;
pub mod licensing;
pub mod maintenance;
pub mod metric_dictionary;
pub mod overview;
pub mod password_rules;
pub mod payload_history;
#[cfg(feature = "ssr")]
pub mod platform;
#[cfg(feature = "ssr")]
pub mod prometheus;
#[cfg(feature = "ssr")]
pub mod service_ping;
pub mod settings;
pub mod usage_statistics;
pub mod usage_trends;
pub mod user_permissions;

#[cfg(feature = "ssr")]
pub mod instance;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod state;
