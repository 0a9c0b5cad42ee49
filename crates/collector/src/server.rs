//! The collector as a running server: bound to its address, serving until told to stop.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use std::path::PathBuf;

use secrecy::SecretString;
use service_ping_database::backup;

use crate::db::{ROLE, open_database};
use crate::routes::router;
use crate::settings::CollectorConfig;
use crate::state::CollectorState;

/// A collector bound to its address, not yet serving.
pub struct Collector {
    listener: TcpListener,
    state: CollectorState,
    backups: ScheduledBackups,
}

/// What the scheduled backups need besides the database.
struct ScheduledBackups {
    url: SecretString,
    data_dir: PathBuf,
    schedule: backup::Schedule,
}

impl Collector {
    pub async fn build(config: &CollectorConfig) -> anyhow::Result<Self> {
        let (db, writer) = open_database(config).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        Ok(Self {
            listener,
            state: CollectorState::new(db, writer, &config.settings)
                .with_monitoring(&config.monitoring),
            backups: ScheduledBackups {
                url: config.database_url(),
                data_dir: config.data_dir.clone(),
                schedule: config.backup.clone(),
            },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &CollectorState {
        &self.state
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let pruning = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                state.forget_quiet_instances();
            }
        });
        let backups = tokio::spawn(backup::run_scheduled(
            self.state.db.clone(),
            self.backups.url,
            self.backups.data_dir,
            &ROLE,
            self.backups.schedule,
            std::future::pending(),
        ));
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        pruning.abort();
        backups.abort();
        served.context("collector server")
    }
}
