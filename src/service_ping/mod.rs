//! Service Ping on the instance side: generating payloads from the metric dictionary and keeping
//! them, byte for byte, as raw usage data. Plain server code (no Leptos): the dashboard, the
//! command line and the weekly job all call these functions.

pub mod db;
pub mod facts;
pub mod generate;
pub mod health;
pub mod rollups;
pub mod schedule;
pub mod submit;
pub mod topology;

pub use generate::{GenerationDeps, Trigger, TriggerKind, generate_and_store};
pub use submit::{CollectorClient, SubmitError, submit_now};

/// Loads the metric dictionary in `dir` and checks it against the database: every table and
/// column it names must exist, and be one of the platform's tables.
pub async fn load_dictionary(
    dir: &std::path::Path,
    db: &crate::db::Db,
) -> anyhow::Result<service_ping_engine::Dictionary> {
    service_ping_engine::catalog::load_checked(dir, db, crate::platform::TABLES).await
}

/// The client for the collector this instance sends to (`collector.url`, `collector.timeout_seconds`).
pub fn collector_client(
    settings: &crate::config::CollectorSettings,
) -> reqwest::Result<CollectorClient> {
    CollectorClient::new(settings.url.clone(), settings.timeout())
}
