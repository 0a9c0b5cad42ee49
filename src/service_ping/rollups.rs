//! Keeps the metric rollups (see `engine::rollup`) current between payloads: every ten minutes
//! the server folds the platform's latest writes into them, so a payload only folds in the
//! minutes since. Nothing is done while Service Ping is off; the next payload catches up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::Locks;
use crate::db::Db;
use service_ping_engine::Dictionary;
use service_ping_engine::rollup::Plan;

/// How often the rollups are refreshed.
pub const INTERVAL: Duration = Duration::from_secs(600);

/// The background job: a refresh on start and every [`INTERVAL`] until `stop`.
pub async fn run_forever(
    db: Db,
    dictionary: Arc<Dictionary>,
    locks: Arc<Locks>,
    stop: CancellationToken,
) {
    let plan = Plan::new(&dictionary.definitions);
    loop {
        match crate::settings::db::service_ping(&db, &locks).await {
            Ok(settings) if settings.enabled => refresh(&db, &plan).await,
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "reading the Service Ping settings failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            () = stop.cancelled() => return,
        }
    }
}

async fn refresh(db: &Db, plan: &Plan) {
    let started = Instant::now();
    for (table, error) in plan.refresh_all(db).await {
        tracing::warn!(
            table,
            error = format!("{error:#}"),
            "refreshing a metric rollup failed"
        );
    }
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "metric rollups refreshed"
    );
}
