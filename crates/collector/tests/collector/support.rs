//! Starting a real collector for tests: on port 0, with a temporary data directory.

use std::net::SocketAddr;

use service_ping_collector::{Collector, CollectorConfig, CollectorSettings};
use service_ping_database::{Backend, Db};
use tokio::sync::oneshot;

pub struct TestCollector {
    pub address: SocketAddr,
    _data_dir: tempfile::TempDir,
    pub db: Db,
    stop: Option<oneshot::Sender<()>>,
}

/// Declares a test that runs once on SQLite and once on PostgreSQL: a module named after it
/// with the tests `sqlite` and `postgres`, each calling the body with its `Backend`. (The
/// dashboard's tests include this module too, without using it.)
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident: Backend) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: service_ping_database::Backend) $body
            #[tokio::test]
            async fn sqlite() {
                run(service_ping_database::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                run(service_ping_database::Backend::Postgres).await
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

/// Starts a collector on SQLite; `configure` adjusts its settings (limits) first.
pub async fn spawn_collector(configure: impl FnOnce(&mut CollectorSettings)) -> TestCollector {
    spawn_collector_on(Backend::Sqlite, configure).await
}

/// Starts a collector on a fresh database of `backend`.
pub async fn spawn_collector_on(
    backend: Backend,
    configure: impl FnOnce(&mut CollectorSettings),
) -> TestCollector {
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = CollectorSettings::default();
    configure(&mut settings);
    let database_url = service_ping_database::testing::fresh_database(
        backend,
        data_dir.path(),
        "collector.sqlite3",
    )
    .await;
    let config = CollectorConfig {
        data_dir: data_dir.path().to_owned(),
        database_url: Some(database_url),
        listen: "127.0.0.1:0".parse().unwrap(),
        max_connections: 8,
        settings,
        backup: Default::default(),
        monitoring: Default::default(),
    };
    let collector = Collector::build(&config).await.unwrap();
    let address = collector.local_addr();
    let db = collector.state().db.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(collector.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestCollector {
        address,
        _data_dir: data_dir,
        db,
        stop: Some(stop),
    }
}

impl TestCollector {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Rows in `usage_data`, checked against the instances' counts.
    pub async fn ping_count(&self) -> i64 {
        let rows = service_ping_collector::db::ping_rows(&self.db)
            .await
            .unwrap();
        let counted = service_ping_collector::db::counts(&self.db)
            .await
            .unwrap()
            .0;
        assert_eq!(rows, counted, "the instances count every stored ping");
        rows
    }
}

impl Drop for TestCollector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The process's peak resident memory (VmHWM), in MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
