//! The collector's settings: the `[collector]` section of the configuration, which both roles
//! read (the instance its `url` and `timeout_seconds`, the collector role the rest), and what the
//! collector role runs with.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// Both sides of the collector: where this instance sends (`url`), and how the collector role
/// (`service-ping collector`) guards what it receives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorSettings {
    /// Base URL the instance sends its pings to. Without one, sending fails with a clear error.
    pub url: Option<url::Url>,
    /// Whole-request timeout for each request to the collector.
    pub timeout_seconds: u32,
    /// Largest ping body the collector accepts.
    pub max_body_bytes: usize,
    /// Deepest JSON nesting the collector accepts.
    pub max_depth: usize,
    /// Requests per hour the collector accepts from one instance uuid at one address, per
    /// endpoint. (Keyed by the address too, so a stranger who knows an instance's uuid cannot
    /// spend its quota; the uuid is not a secret until pings are signed.)
    pub rate_limit_per_hour: u32,
    /// Requests per hour the collector accepts from one client address, all endpoints together,
    /// counted before the body is read: rotating uuids does not get around it.
    pub rate_limit_per_address_per_hour: u32,
    /// Body bytes per hour the collector reads from one client address.
    pub max_bytes_per_address_per_hour: u64,
    /// Ping bytes stored per instance uuid in any seven days; a ping beyond it is refused (429).
    pub max_stored_bytes_per_instance_per_week: u64,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    /// Empty (the default): the connecting address is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// DevOps Score leaders come from the latest ping of each instance seen in this many weeks.
    pub leader_window_weeks: u32,
    /// Below this many instances in the window, the baseline leaders are used.
    pub min_fleet_for_leaders: usize,
    /// Leaders used while the fleet is too small (and for a feature nobody uses), in the order
    /// issues, notes, milestones, boards, merge_requests, ci_pipelines, environments,
    /// deployments, projects_prometheus_active, service_desk_issues.
    pub baseline_leaders: [f64; 10],
    /// How long computed leaders (and cohorts) are reused before they are computed again.
    pub leaders_refresh_seconds: u64,
    /// Whether each reply compares the instance with organizations of its size (the `cohort`
    /// object beside `conv_index`).
    pub cohorts: bool,
    /// Instances a cohort must hold before any figure of it is reported; a smaller cohort's
    /// members are compared with a wider group (see `service_ping_protocol::cohort`).
    pub min_cohort_size: usize,
    /// Cohorts by size band and edition, rather than by size band alone.
    pub cohorts_by_edition: bool,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        Self {
            url: None,
            timeout_seconds: 30,
            max_body_bytes: 10 * 1024 * 1024,
            max_depth: 32,
            rate_limit_per_hour: 60,
            rate_limit_per_address_per_hour: 600,
            max_bytes_per_address_per_hour: 200 * 1024 * 1024,
            max_stored_bytes_per_instance_per_week: 50 * 1024 * 1024,
            trusted_proxies: Vec::new(),
            leader_window_weeks: 12,
            min_fleet_for_leaders: 10,
            baseline_leaders: [3.0, 15.0, 0.3, 0.2, 4.0, 25.0, 0.5, 6.0, 0.3, 0.5],
            leaders_refresh_seconds: 300,
            cohorts: true,
            min_cohort_size: 10,
            cohorts_by_edition: false,
        }
    }
}

/// The smallest `collector.min_cohort_size` accepted.
pub const MIN_COHORT_SIZE: usize = 5;

impl CollectorSettings {
    /// The instance's whole-request timeout for each request to the collector.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.timeout_seconds))
    }

    /// Checks every value; an error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.timeout_seconds > 0 && self.timeout_seconds <= 600,
            "collector.timeout_seconds must be between 1 and 600"
        );
        anyhow::ensure!(
            self.max_body_bytes >= 1024 && self.max_depth >= 4,
            "collector.max_body_bytes must be at least 1024 and collector.max_depth at least 4"
        );
        anyhow::ensure!(
            self.leader_window_weeks > 0
                && self
                    .baseline_leaders
                    .iter()
                    .all(|v| v.is_finite() && *v > 0.0),
            "collector.leader_window_weeks must be at least 1 and every collector.baseline_leaders value positive"
        );
        anyhow::ensure!(
            self.min_cohort_size >= MIN_COHORT_SIZE,
            "collector.min_cohort_size must be at least {MIN_COHORT_SIZE}: a smaller cohort's percentiles are nearly its members' own values"
        );
        anyhow::ensure!(
            self.rate_limit_per_hour > 0 && self.rate_limit_per_address_per_hour > 0,
            "collector.rate_limit_per_hour and rate_limit_per_address_per_hour must be at least 1"
        );
        let body = self.max_body_bytes as u64;
        anyhow::ensure!(
            self.max_bytes_per_address_per_hour >= body
                && self.max_stored_bytes_per_instance_per_week >= body
                && self.max_bytes_per_address_per_hour / 1024 <= u64::from(u32::MAX),
            "collector.max_bytes_per_address_per_hour and max_stored_bytes_per_instance_per_week must each hold at least one ping of collector.max_body_bytes (and the hourly budget at most 4 TiB)"
        );
        if let Some(url) = &self.url {
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https") && url.host().is_some(),
                "collector.url must be an http or https URL"
            );
        }
        Ok(())
    }
}

/// What the collector role runs with, taken from the process's configuration.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Holds the collector's SQLite database (`collector.sqlite3`) unless `database_url` names
    /// another.
    pub data_dir: PathBuf,
    /// `database.url`: a `postgres://` (or `sqlite:`) URL; unset, SQLite in the data directory.
    pub database_url: Option<SecretString>,
    pub listen: SocketAddr,
    pub max_connections: u32,
    pub settings: CollectorSettings,
    /// `[backup]`: the collector's scheduled backups.
    pub backup: service_ping_database::backup::Schedule,
    /// `[monitoring]`: who may read the collector's `/-/metrics`.
    pub monitoring: service_ping_web::metrics::MonitoringSettings,
}

impl CollectorConfig {
    /// The collector's own database: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> SecretString {
        self.database_url.clone().unwrap_or_else(|| {
            let file = self.data_dir.join("collector.sqlite3");
            SecretString::from(format!("sqlite://{}?mode=rwc", file.display()))
        })
    }
}
