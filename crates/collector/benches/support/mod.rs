//! What the collector's benchmarks share: their settings from the environment, the backends to
//! run on, and a collector's configuration on a fresh database.

// Only the ingest benchmarks use it.
#[allow(dead_code)]
pub mod ingest;

use service_ping_collector::{CollectorConfig, CollectorSettings};
use service_ping_database::Backend;

pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SQLite, and PostgreSQL when `SERVICE_PING_TEST_POSTGRES_URL` names a server; only the one
/// named by the variable `only` (`sqlite` or `postgres`) when it is set.
pub fn backends(only: &str) -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if service_ping_database::testing::postgres_admin_url().is_some() {
        backends.push(Backend::Postgres);
    }
    if let Ok(only) = std::env::var(only) {
        backends.retain(|b| format!("{b:?}").eq_ignore_ascii_case(&only));
    }
    backends
}

/// A collector's configuration on a fresh database of `backend` (its SQLite file in `dir`).
pub async fn config_on(
    backend: Backend,
    dir: &std::path::Path,
    settings: CollectorSettings,
    max_connections: u32,
) -> CollectorConfig {
    let url =
        service_ping_database::testing::fresh_database(backend, dir, "collector.sqlite3").await;
    CollectorConfig {
        data_dir: dir.to_owned(),
        database_url: Some(url),
        listen: "127.0.0.1:0".parse().unwrap(),
        max_connections,
        settings,
        backup: Default::default(),
        monitoring: Default::default(),
    }
}
