//! The collector role (`service-ping collector`): GitLab's "Versions application". It receives
//! pings from instances, validates them strictly, stores the exact bytes once per
//! (uuid, recorded_at), and answers with the id the instance records as sent.

pub mod api;
pub mod db;
pub mod fleet;
pub mod ingest;
pub mod licenses;
pub mod openapi;
pub mod pages;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use self::api::Refusal;
use self::ingest::IngestLimits;
use crate::devops_score::{Score, Values};
use crate::server::config::Settings;
use crate::server::db::{self as server_db, Db};

/// What the collector's handlers share.
#[derive(Clone)]
pub struct CollectorState {
    /// For reading.
    pub db: Db,
    /// One connection that does every write: SQLite has one writer at a time, and pings
    /// queued on one connection go faster than connections retrying the write lock.
    pub writer: Db,
    pub limits: IngestLimits,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    scoring: Arc<Scoring>,
}

/// How the collector computes DevOps Scores, and the leaders it computed last.
struct Scoring {
    window: chrono::Duration,
    min_fleet: usize,
    baseline: Values,
    refresh: Duration,
    cached: std::sync::Mutex<Option<(std::time::Instant, Values)>>,
}

impl CollectorState {
    pub fn new(db: Db, writer: Db, settings: &Settings) -> Self {
        let per_hour =
            NonZeroU32::new(settings.collector.rate_limit_per_hour).unwrap_or(NonZeroU32::MIN);
        Self {
            db,
            writer,
            limits: IngestLimits {
                max_body_bytes: settings.collector.max_body_bytes,
                max_depth: settings.collector.max_depth,
            },
            limiter: Arc::new(RateLimiter::keyed(Quota::per_hour(per_hour))),
            scoring: Arc::new(Scoring {
                window: chrono::Duration::weeks(i64::from(settings.collector.leader_window_weeks)),
                min_fleet: settings.collector.min_fleet_for_leaders,
                baseline: settings.collector.baseline_leaders,
                refresh: Duration::from_secs(settings.collector.leaders_refresh_seconds),
                cached: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The fleet's current leaders, computed again when the last ones are older than the
    /// refresh interval.
    pub async fn leaders(&self) -> Result<Values, sqlx::Error> {
        let scoring = &self.scoring;
        let fresh = |cached: &Option<(std::time::Instant, Values)>| {
            cached
                .as_ref()
                .filter(|(at, _)| at.elapsed() < scoring.refresh)
                .map(|(_, leaders)| *leaders)
        };
        if let Some(leaders) = fresh(&scoring.cached.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(leaders);
        }
        let leaders = self.compute_leaders(chrono::Utc::now()).await?;
        *scoring.cached.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), leaders));
        Ok(leaders)
    }

    /// Leaders from the latest ping of each instance received within the window before `now`.
    pub async fn compute_leaders(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Values, sqlx::Error> {
        let fleet: Vec<Values> = db::fleet(&self.db, now - self.scoring.window)
            .await?
            .into_iter()
            .map(|(_, values)| values)
            .collect();
        Ok(crate::devops_score::leaders(
            &fleet,
            &self.scoring.baseline,
            self.scoring.min_fleet,
        ))
    }

    /// The DevOps Score of stored ping `id` against the current leaders.
    pub async fn score_of(&self, id: i64) -> anyhow::Result<Score> {
        let usage = db::features(&self.db, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("ping {id} has no DevOps Score inputs"))?;
        Ok(crate::devops_score::compute(&usage, &self.leaders().await?))
    }

    /// Counts a request from instance `uuid` to `endpoint`; refuses with 429 over the limit.
    pub fn admit(&self, endpoint: &str, uuid: &str) -> Result<(), Refusal> {
        self.limiter
            .check_key(&format!("{endpoint}:{uuid}"))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Refusal {
                    retry_after_secs: Some(wait.as_secs().max(1)),
                    ..Refusal::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too many requests from this instance; try again later",
                    )
                }
            })
    }

    /// Forgets instances that have not sent for a while, so the limiter's memory stays bounded.
    fn forget_quiet_instances(&self) {
        self.limiter.retain_recent();
    }
}

/// The collector's routes.
pub fn router(state: CollectorState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let routes = Router::new()
        .route("/", get(pages::index))
        .route("/collector.css", get(pages::stylesheet))
        .route("/-/health", get(health))
        .route(
            "/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .route("/usage_data", post(api::receive_usage_data))
        .route(
            "/usage_data/new",
            get(pages::upload_page).post(pages::receive_upload),
        )
        .route("/usage_ping_metadata", post(api::receive_metadata))
        .route("/usage_ping_errors", post(api::receive_error))
        .fallback(api::not_found)
        // The multipart upload carries a little more than the file itself.
        .layer(DefaultBodyLimit::max(body_limit + 64 * 1024))
        .with_state(state);
    crate::server::security::with_headers(routes).layer(TraceLayer::new_for_http())
}

async fn health(axum::extract::State(state): axum::extract::State<CollectorState>) -> StatusCode {
    match server_db::ping(&state.db).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Opens (creating and migrating) the collector's database in the data directory: a pool for
/// reading and one connection for writing.
pub async fn open_database(settings: &Settings) -> anyhow::Result<(Db, Db)> {
    crate::server::prepare_data_dir(&settings.data_dir)?;
    let url = settings.collector_database_url();
    let db = server_db::connect_url(&url, settings.database.max_connections).await?;
    server_db::migrate_collector(&db).await?;
    let writer = server_db::connect_url(&url, 1).await?;
    Ok((db, writer))
}

/// A collector bound to its address, not yet serving.
pub struct Collector {
    listener: TcpListener,
    state: CollectorState,
}

impl Collector {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let (db, writer) = open_database(settings).await?;
        let listener = TcpListener::bind(settings.server.listen)
            .await
            .with_context(|| format!("listening on {}", settings.server.listen))?;
        Ok(Self {
            listener,
            state: CollectorState::new(db, writer, settings),
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
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        pruning.abort();
        served.context("collector server")
    }
}
