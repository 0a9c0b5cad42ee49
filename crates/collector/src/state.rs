//! What the collector's handlers share: the database (a pool to read, one connection to write),
//! the ingest limits, the rate limiters, and the DevOps Score leaders and cohorts.
//!
//! Three limits stand between the internet and the disk: requests per client address (all
//! endpoints, counted before a body is read), body bytes per client address, and requests per
//! instance uuid *at that address* per endpoint. The stored bytes per uuid are capped by
//! [`crate::db::store_pings`].

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use service_ping_database::Db;
use service_ping_protocol::cohort::Cohorts;
use service_ping_protocol::devops_score::{self, Values};
use service_ping_protocol::ingest::IngestLimits;

use service_ping_web::client::{ClientAddress, TrustedProxies};
use service_ping_web::metrics::MonitoringSettings;

use crate::db;
use crate::monitoring::CollectorMetrics;
use crate::refusal::Refusal;
use crate::settings::CollectorSettings;
use crate::writer::PingWriter;

/// What the collector's handlers share.
#[derive(Clone)]
pub struct CollectorState {
    /// For reading.
    pub db: Db,
    /// What writes: on SQLite one connection (one writer at a time, and pings queued on one
    /// connection go faster than connections retrying the write lock); on PostgreSQL the same
    /// pool as `db`, every connection writing at once.
    pub writer: Db,
    /// Stores pings in batches, on `writer`.
    pub pings: PingWriter,
    pub limits: IngestLimits,
    /// Ping bytes one uuid may have stored in any seven days.
    pub max_stored_bytes_per_week: u64,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    address_requests: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Counted in KiB.
    address_bytes: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    scoring: Arc<Scoring>,
    /// What `/-/metrics` reports, and who may read it.
    pub metrics: CollectorMetrics,
}

/// How the collector computes DevOps Scores and cohorts, and the figures it computed last.
struct Scoring {
    window: chrono::Duration,
    min_fleet: usize,
    baseline: Values,
    refresh: Duration,
    cohorts: CohortRules,
    cached: std::sync::Mutex<Option<(std::time::Instant, Arc<FleetFigures>)>>,
    /// Held while the figures are computed, so that requests finding them stale wait for one
    /// computation instead of each starting its own.
    refreshing: tokio::sync::Mutex<()>,
}

impl Scoring {
    fn new(settings: &CollectorSettings) -> Self {
        Self {
            window: chrono::Duration::weeks(i64::from(settings.leader_window_weeks)),
            min_fleet: settings.min_fleet_for_leaders,
            baseline: settings.baseline_leaders,
            refresh: Duration::from_secs(settings.leaders_refresh_seconds),
            cohorts: CohortRules {
                enabled: settings.cohorts,
                min_size: settings.min_cohort_size,
                by_edition: settings.cohorts_by_edition,
            },
            cached: std::sync::Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }
}

/// The Monday of `at`'s ISO week: what `cohort_history` is keyed by.
pub fn week_of(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    at.date_naive().week(chrono::Weekday::Mon).first_day()
}

/// `collector.cohorts`, `min_cohort_size` and `cohorts_by_edition`.
#[derive(Debug, Clone, Copy)]
struct CohortRules {
    enabled: bool,
    min_size: usize,
    by_edition: bool,
}

/// What each reply is computed against: the fleet's leaders and its cohorts' distributions, as
/// of one refresh.
#[derive(Debug)]
pub struct FleetFigures {
    pub leaders: Values,
    /// Empty when cohorts are off.
    pub cohorts: Cohorts,
}

impl CollectorState {
    pub fn new(db: Db, writer: Db, settings: &CollectorSettings) -> Self {
        let per_hour = |n: u64| {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            Quota::per_hour(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
        };
        // As many PostgreSQL writers as this machine has cores, at most half the pool (the
        // rest serves reads). Measured on two cores (bench/collector.sh): one or two writers
        // with larger batches beat eight with small ones.
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let postgres_writers = cores.min(settings_pool_size(&db) / 2).max(1);
        Self {
            pings: PingWriter::start(
                writer.clone(),
                postgres_writers,
                settings.max_stored_bytes_per_instance_per_week,
            ),
            db,
            writer,
            limits: IngestLimits {
                max_body_bytes: settings.max_body_bytes,
                max_depth: settings.max_depth,
            },
            max_stored_bytes_per_week: settings.max_stored_bytes_per_instance_per_week,
            trusted_proxies: TrustedProxies::new(&settings.trusted_proxies),
            limiter: Arc::new(RateLimiter::keyed(per_hour(u64::from(
                settings.rate_limit_per_hour,
            )))),
            address_requests: Arc::new(RateLimiter::keyed(per_hour(u64::from(
                settings.rate_limit_per_address_per_hour,
            )))),
            address_bytes: Arc::new(RateLimiter::keyed(per_hour(
                settings.max_bytes_per_address_per_hour / 1024,
            ))),
            scoring: Arc::new(Scoring::new(settings)),
            metrics: CollectorMetrics::new(&MonitoringSettings::default()),
        }
    }

    /// With `/-/metrics` read by whom `settings` says (by default this machine only).
    pub fn with_monitoring(self, settings: &MonitoringSettings) -> Self {
        Self {
            metrics: CollectorMetrics::new(settings),
            ..self
        }
    }

    /// The fleet's current leaders and cohorts, computed again when the last ones are older
    /// than the refresh interval.
    pub async fn figures(&self) -> Result<Arc<FleetFigures>, sqlx::Error> {
        let scoring = &self.scoring;
        let fresh = || {
            scoring
                .cached
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .filter(|(at, _)| at.elapsed() < scoring.refresh)
                .map(|(_, figures)| figures.clone())
        };
        if let Some(figures) = fresh() {
            return Ok(figures);
        }
        let _refreshing = scoring.refreshing.lock().await;
        // Another request may have computed them while this one waited.
        if let Some(figures) = fresh() {
            return Ok(figures);
        }
        let now = chrono::Utc::now();
        let figures = Arc::new(self.compute_figures(now).await?);
        *scoring.cached.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), figures.clone()));
        if scoring.cohorts.enabled {
            // The history is for the vendor's page; a reply does not wait on it or fail with it.
            let (writer, groups) = (self.writer.clone(), figures.cohorts.summaries());
            tokio::spawn(async move {
                if let Err(error) =
                    db::record_cohort_week(&writer, week_of(now), &groups, now).await
                {
                    tracing::warn!(%error, "collector: recording the cohorts' week failed");
                }
            });
        }
        Ok(figures)
    }

    /// Leaders and cohorts from the latest ping of each instance received within the window
    /// before `now`.
    pub async fn compute_figures(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<FleetFigures, sqlx::Error> {
        let leaders = self.compute_leaders(now).await?;
        let rules = self.scoring.cohorts;
        let cohorts = if rules.enabled {
            let members = db::fleet_members(&self.db, now - self.scoring.window).await?;
            Cohorts::build(&members, &leaders, rules.min_size, rules.by_edition)
        } else {
            Cohorts::default()
        };
        Ok(FleetFigures { leaders, cohorts })
    }

    /// Writes the cohorts' history for each of the `weeks` ISO weeks before the current one (a
    /// week's figures as they stood at its end, from the pings then stored), as the refreshes
    /// would have had the collector been running: what `seed-fleet` does for its demo history.
    /// Returns how many weeks had a reportable group.
    pub async fn backfill_cohort_history(
        &self,
        weeks: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, sqlx::Error> {
        let scoring = &self.scoring;
        let mut recorded = 0;
        for back in (1..=i64::from(weeks)).rev() {
            let week = week_of(now) - chrono::Duration::weeks(back);
            let end = (week + chrono::Duration::weeks(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc();
            let members = db::fleet_members_between(&self.db, end - scoring.window, end).await?;
            let usage: Vec<Values> = members.iter().map(|m| m.usage).collect();
            let leaders = devops_score::leaders(&usage, &scoring.baseline, scoring.min_fleet);
            let rules = scoring.cohorts;
            let groups =
                Cohorts::build(&members, &leaders, rules.min_size, rules.by_edition).summaries();
            if !groups.is_empty() {
                db::record_cohort_week(&self.writer, week, &groups, end).await?;
                recorded += 1;
            }
        }
        Ok(recorded)
    }

    /// The fewest instances a reported group holds; None when cohorts are off (replies carry
    /// no comparison).
    pub fn min_cohort_size(&self) -> Option<usize> {
        let rules = self.scoring.cohorts;
        rules.enabled.then_some(rules.min_size)
    }

    /// Leaders from the latest ping of each instance received within the window before `now`:
    /// PostgreSQL computes the percentiles itself; from SQLite the latest values are read.
    pub async fn compute_leaders(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Values, sqlx::Error> {
        let since = now - self.scoring.window;
        let (baseline, min_fleet) = (&self.scoring.baseline, self.scoring.min_fleet);
        Ok(match &self.db {
            Db::Postgres(pool) => {
                let (instances, p90) = db::fleet_p90(pool, since).await?;
                devops_score::leaders_from_p90(instances, &p90, baseline, min_fleet)
            }
            Db::Sqlite(_) => {
                let fleet: Vec<Values> = db::fleet(&self.db, since)
                    .await?
                    .into_iter()
                    .map(|(_, values)| values)
                    .collect();
                devops_score::leaders(&fleet, baseline, min_fleet)
            }
        })
    }

    /// Counts a request from instance `uuid` at `address` to `endpoint`; refuses with 429 over
    /// the limit.
    pub fn admit(&self, endpoint: &str, uuid: &str, address: ClientAddress) -> Result<(), Refusal> {
        let key = format!("{endpoint}:{uuid}@{}", address.key());
        self.limiter
            .check_key(&key)
            .map_err(|not_until| too_many("from this instance", &not_until))
    }

    /// Counts a request from `address` (before its body is read); 429 over the limit.
    pub fn admit_address(&self, address: ClientAddress) -> Result<(), Refusal> {
        self.address_requests
            .check_key(&address_key(address))
            .map_err(|not_until| too_many("from this address", &not_until))
    }

    /// Counts `bytes` of body read from `address`; 429 over the hourly budget.
    pub fn admit_bytes(&self, address: ClientAddress, bytes: usize) -> Result<(), Refusal> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let Some(kib) = NonZeroU32::new(kib) else {
            return Ok(());
        };
        match self.address_bytes.check_key_n(&address_key(address), kib) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(too_many("from this address (bytes)", &not_until)),
            // More than the whole budget at once; settings validation makes this unreachable
            // for a body within the size limit.
            Err(_) => Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "this request is larger than the hourly budget of its address",
            )),
        }
    }

    /// Forgets instances that have not sent for a while, so the limiter's memory stays bounded.
    pub(crate) fn forget_quiet_instances(&self) {
        self.limiter.retain_recent();
        self.address_requests.retain_recent();
        self.address_bytes.retain_recent();
    }
}

/// The connections `db` may open.
fn settings_pool_size(db: &Db) -> usize {
    service_ping_database::on_pool!(db, |pool| pool.options().get_max_connections() as usize)
}

/// The key an address is counted under; requests without connection info (tests driving the
/// router directly) share one.
fn address_key(address: ClientAddress) -> IpAddr {
    address.0.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// 429 with `Retry-After`.
fn too_many(
    whom: &str,
    not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>,
) -> Refusal {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    Refusal {
        retry_after_secs: Some(wait.as_secs().max(1)),
        ..Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests {whom}; try again later"),
        )
    }
}
