//! `/-/metrics`: both roles' own figures in Prometheus's text format, for the operator's
//! Prometheus to scrape like everything else it watches.
//!
//! Each role builds a [`Monitoring`] from its `[monitoring]` settings, registers its own figures
//! in [`Monitoring::registry`] before serving, and wraps its router in
//! [`Monitoring::record_requests`]: every request is counted by matched route (never the raw
//! path, which is unbounded and may carry a token), method and status class, and timed in a
//! histogram per route. Figures that live in the database (the last send, the silent instances)
//! are read when Prometheus scrapes, so they are right after a restart and cost nothing between
//! scrapes.
//!
//! Who may scrape: a client in `allowed_addresses` (by default this machine only, as GitLab's
//! monitoring allow-list), or anyone presenting `Authorization: Bearer <token>` when a `token`
//! is set. Anyone else gets 403 with the reason, and the figures are not read.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The `[monitoring]` section, the same for the dashboard and the collector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringSettings {
    /// Whether `/-/metrics` exists and requests are counted. Off: the route answers 404 and no
    /// request pays for the counting.
    pub enabled: bool,
    /// Client addresses (or CIDR ranges) that may scrape without a token. The client is the
    /// one `trusted_proxies` names behind a reverse proxy.
    pub allowed_addresses: Vec<IpNet>,
    /// A bearer token that lets any address scrape. Secret: never logged.
    pub token: Option<SecretString>,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_addresses: ["127.0.0.0/8", "::1/128"]
                .iter()
                .map(|net| net.parse().expect("a valid CIDR range"))
                .collect(),
            token: None,
        }
    }
}

/// A stored RFC 3339 moment as Prometheus reports times (Unix seconds), 0 for none (or one that
/// cannot be read): the convention of `*_timestamp_seconds` gauges.
pub fn unix_seconds(stored: Option<&str>) -> f64 {
    stored
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .map_or(0.0, |at| at.timestamp_millis() as f64 / 1000.0)
}

/// The path both roles serve their figures at.
pub const METRICS_PATH: &str = "/-/metrics";

/// A request, as counted.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// Seconds, from a millisecond to ten seconds: a dashboard page takes a few milliseconds, a
/// ping's ingest tens, a payload download of a large platform seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The registry a role's figures are in, who may read it, and the request counters.
#[derive(Clone)]
pub struct Monitoring {
    registry: Arc<Registry>,
    access: Arc<Access>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    process: ProcessFigures,
    enabled: bool,
}

/// This process, as Prometheus's client libraries report theirs (`process_*`), read from
/// `/proc/self` on each scrape: what the payload's topology averages per service.
#[derive(Clone, Default)]
struct ProcessFigures {
    resident_memory: Gauge,
    unique_memory: Gauge,
    proportional_memory: Gauge,
    start_time: Gauge<f64, AtomicU64>,
    cpu_seconds: Counter<f64, AtomicU64>,
    workers: Family<ServerLabels, Gauge>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: &'static str,
}

impl ProcessFigures {
    fn register(&self, registry: &mut Registry) {
        let process = registry.sub_registry_with_prefix("process");
        process.register(
            "resident_memory_bytes",
            "Resident memory size in bytes",
            self.resident_memory.clone(),
        );
        process.register(
            "unique_memory_bytes",
            "Memory only this process maps (USS: private clean and dirty pages), in bytes",
            self.unique_memory.clone(),
        );
        process.register(
            "proportional_memory_bytes",
            "Proportional set size (PSS: shared pages divided among their users), in bytes",
            self.proportional_memory.clone(),
        );
        process.register(
            "start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            self.start_time.clone(),
        );
        process.register(
            "cpu_seconds",
            "User and system CPU time spent in seconds",
            self.cpu_seconds.clone(),
        );
        registry.register(
            "app_server_workers",
            "Worker threads of the application server, by server",
            self.workers.clone(),
        );
    }

    /// Reads `/proc/self/stat` (Linux); elsewhere the figures stay 0.
    fn refresh(&self) {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return;
        };
        let Some(stat) = ProcStat::parse(&stat) else {
            return;
        };
        // The kernel's clock ticks and page size are 100 and 4096 on every Linux we ship to.
        const TICKS: f64 = 100.0;
        const PAGE: i64 = 4096;
        self.resident_memory.set(stat.rss_pages * PAGE);
        let cpu = (stat.utime + stat.stime) as f64 / TICKS;
        self.cpu_seconds
            .inner()
            .store(cpu.to_bits(), std::sync::atomic::Ordering::Relaxed);
        if let Some(boot) = boot_time() {
            self.start_time
                .set(boot as f64 + stat.start_ticks as f64 / TICKS);
        }
        if let Ok(rollup) = std::fs::read_to_string("/proc/self/smaps_rollup") {
            let memory = MemoryRollup::parse(&rollup);
            self.unique_memory.set(memory.unique_bytes);
            self.proportional_memory.set(memory.proportional_bytes);
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let workers = i64::try_from(runtime.metrics().num_workers()).unwrap_or(i64::MAX);
            self.workers
                .get_or_create(&ServerLabels { server: "axum" })
                .set(workers);
        }
    }
}

/// USS and PSS from `/proc/self/smaps_rollup` (its figures are in kB).
#[derive(Debug, PartialEq)]
struct MemoryRollup {
    unique_bytes: i64,
    proportional_bytes: i64,
}

impl MemoryRollup {
    fn parse(text: &str) -> Self {
        let kilobytes = |field: &str| -> i64 {
            text.lines()
                .filter_map(|line| line.strip_prefix(field))
                .filter_map(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<i64>()
                        .ok()
                })
                .sum()
        };
        Self {
            unique_bytes: (kilobytes("Private_Clean:") + kilobytes("Private_Dirty:")) * 1024,
            proportional_bytes: kilobytes("Pss:") * 1024,
        }
    }
}

/// The fields of `/proc/self/stat` the figures need.
struct ProcStat {
    utime: u64,
    stime: u64,
    start_ticks: u64,
    rss_pages: i64,
}

impl ProcStat {
    /// Fields after the command name (which may hold spaces, so it is skipped to its last `)`).
    fn parse(stat: &str) -> Option<Self> {
        let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
        // Counted from the state, the third field of the line: utime is the 14th.
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<i64>().ok());
        Some(Self {
            utime: u64::try_from(field(14)?).ok()?,
            stime: u64::try_from(field(15)?).ok()?,
            start_ticks: u64::try_from(field(22)?).ok()?,
            rss_pages: field(24)?,
        })
    }
}

/// When the machine booted (Unix time), from `/proc/stat`'s `btime`.
fn boot_time() -> Option<u64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
}

struct Access {
    allowed: Vec<IpNet>,
    token_digest: Option<[u8; 32]>,
}

impl Monitoring {
    /// Builds the request counters; `register` adds the role's own figures before the registry
    /// is shared.
    pub fn new(settings: &MonitoringSettings, register: impl FnOnce(&mut Registry)) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "http_requests",
            "HTTP requests answered, by matched route, method and status class",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response head, by matched route",
            latency.clone(),
        );
        let process = ProcessFigures::default();
        process.register(&mut registry);
        register(&mut registry);
        Self {
            registry: Arc::new(registry),
            access: Arc::new(Access {
                allowed: settings.allowed_addresses.clone(),
                token_digest: settings
                    .token
                    .as_ref()
                    .map(|token| Sha256::digest(token.expose_secret().as_bytes()).into()),
            }),
            requests,
            latency,
            process,
            enabled: settings.enabled,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts and times every request the router answers (a no-op when monitoring is off).
    pub fn record_requests(&self, router: axum::Router) -> axum::Router {
        if !self.enabled {
            return router;
        }
        let monitoring = self.clone();
        router.layer(axum::middleware::from_fn(move |request, next| {
            let monitoring = monitoring.clone();
            async move { monitoring.record(request, next).await }
        }))
    }

    async fn record(&self, request: Request, next: Next) -> Response {
        let started = Instant::now();
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("(unmatched)", MatchedPath::as_str)
            .to_owned();
        let method = request.method().as_str().to_owned();
        let response = next.run(request).await;
        let status = status_class(response.status());
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        response
    }

    /// Whether the client may read the figures.
    pub fn admits(&self, client: Option<IpAddr>, headers: &HeaderMap) -> bool {
        let allowed_address =
            client.is_some_and(|ip| self.access.allowed.iter().any(|net| net.contains(&ip)));
        allowed_address || self.presents_token(headers)
    }

    fn presents_token(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.access.token_digest else {
            return false;
        };
        // Digests are compared, so the time taken says nothing about the token's characters.
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|token| Sha256::digest(token.trim().as_bytes()).as_slice() == expected)
    }

    /// The answer to a client [`Monitoring::admits`] refused.
    pub fn refusal() -> Response {
        let reason = "metrics are served to the addresses in monitoring.allowed_addresses, \
                      or with the bearer token monitoring.token";
        (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({ "reason": reason })),
        )
            .into_response()
    }

    /// Every figure, in Prometheus's text format.
    pub fn render(&self) -> Response {
        self.process.refresh();
        let mut text = String::new();
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
        }
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response()
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn monitoring(token: Option<&str>) -> Monitoring {
        let settings = MonitoringSettings {
            token: token.map(SecretString::from),
            ..MonitoringSettings::default()
        };
        Monitoring::new(&settings, |_| {})
    }

    #[test]
    fn this_machine_or_the_token_may_scrape_and_nobody_else() {
        let with_token = monitoring(Some("s3cret-token"));
        let none = HeaderMap::new();
        let stranger = Some("203.0.113.9".parse().unwrap());
        assert!(with_token.admits(Some("127.0.0.1".parse().unwrap()), &none));
        assert!(with_token.admits(Some("::1".parse().unwrap()), &none));
        assert!(!with_token.admits(stranger, &none));
        assert!(!with_token.admits(None, &none));
        let bearer = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert!(with_token.admits(stranger, &bearer("Bearer s3cret-token")));
        assert!(!with_token.admits(stranger, &bearer("Bearer s3cret-tokeN")));
        assert!(!with_token.admits(stranger, &bearer("s3cret-token")));
        // Without a token configured, no header opens it.
        assert!(!monitoring(None).admits(stranger, &bearer("Bearer ")));
    }

    #[tokio::test]
    async fn requests_are_counted_by_matched_route_and_timed() {
        let monitoring = monitoring(None);
        let router = axum::Router::new()
            .route("/items/{id}", get(|| async { "item" }))
            .fallback(|| async { StatusCode::NOT_FOUND });
        let router = monitoring.record_requests(router);
        for uri in ["/items/1", "/items/2", "/nowhere?token=abc"] {
            let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
            router.clone().oneshot(request).await.unwrap();
        }
        let response = monitoring.render();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains(
                r#"http_requests_total{route="/items/{id}",method="GET",status="2xx"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_requests_total{route="(unmatched)",method="GET",status="4xx"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"http_request_duration_seconds_count{route="/items/{id}"} 2"#),
            "{text}"
        );
        assert!(!text.contains("token=abc"), "{text}");
    }

    #[test]
    fn a_stored_moment_is_unix_seconds_and_none_is_zero() {
        assert_eq!(
            unix_seconds(Some("2026-12-04T12:00:00.500Z")),
            1_796_385_600.5
        );
        assert_eq!(unix_seconds(None), 0.0);
        assert_eq!(unix_seconds(Some("yesterday")), 0.0);
    }

    #[test]
    fn the_process_line_is_read_past_a_command_name_with_spaces() {
        let line = "4242 (service ping) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 9 0 \
                    123456 987654321 5120 18446744073709551615";
        let stat = ProcStat::parse(line).unwrap();
        assert_eq!((stat.utime, stat.stime), (250, 75));
        assert_eq!(stat.start_ticks, 123456);
        assert_eq!(stat.rss_pages, 5120);
    }

    #[test]
    fn unique_and_proportional_memory_come_from_the_rollup() {
        let rollup = "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0 [rollup]\n\
                      Rss:               20480 kB\nPss:               12288 kB\n\
                      Pss_Anon:           8192 kB\nShared_Clean:       8192 kB\n\
                      Private_Clean:      1024 kB\nPrivate_Dirty:      8192 kB\n";
        assert_eq!(
            MemoryRollup::parse(rollup),
            MemoryRollup {
                unique_bytes: 9216 * 1024,
                proportional_bytes: 12288 * 1024
            }
        );
    }

    #[tokio::test]
    async fn monitoring_off_counts_nothing() {
        let settings = MonitoringSettings {
            enabled: false,
            ..MonitoringSettings::default()
        };
        let monitoring = Monitoring::new(&settings, |_| {});
        let router =
            monitoring.record_requests(axum::Router::new().route("/", get(|| async { "" })));
        let request = Request::builder().uri("/").body(Body::empty()).unwrap();
        router.oneshot(request).await.unwrap();
        let body = axum::body::to_bytes(monitoring.render().into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("http_requests_total{"));
    }
}
