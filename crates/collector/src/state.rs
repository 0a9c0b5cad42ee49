//! What the collector's handlers share: the database (a pool to read, one connection to write),
//! the ingest limits, the per-instance rate limiter and the DevOps Score leaders.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use service_ping_database::Db;
use service_ping_protocol::devops_score::{self, Score, Values};
use service_ping_protocol::ingest::IngestLimits;

use crate::db;
use crate::refusal::Refusal;
use crate::settings::CollectorSettings;

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
    pub fn new(db: Db, writer: Db, settings: &CollectorSettings) -> Self {
        let per_hour = NonZeroU32::new(settings.rate_limit_per_hour).unwrap_or(NonZeroU32::MIN);
        Self {
            db,
            writer,
            limits: IngestLimits {
                max_body_bytes: settings.max_body_bytes,
                max_depth: settings.max_depth,
            },
            limiter: Arc::new(RateLimiter::keyed(Quota::per_hour(per_hour))),
            scoring: Arc::new(Scoring {
                window: chrono::Duration::weeks(i64::from(settings.leader_window_weeks)),
                min_fleet: settings.min_fleet_for_leaders,
                baseline: settings.baseline_leaders,
                refresh: Duration::from_secs(settings.leaders_refresh_seconds),
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
        Ok(devops_score::leaders(
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
        Ok(devops_score::compute(&usage, &self.leaders().await?))
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
    pub(crate) fn forget_quiet_instances(&self) {
        self.limiter.retain_recent();
    }
}
