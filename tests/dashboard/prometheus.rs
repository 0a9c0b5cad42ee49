//! A real Prometheus (Debian's `prometheus`, installed by `scripts/install-tools.sh --test`)
//! scraping the processes under test: proof that `/-/metrics` is what Prometheus reads, not only
//! what our own parser accepts. Started on a free loopback port with a throwaway storage
//! directory, and stopped by the pid it was started with.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A Prometheus server of its own, scraping `targets` every second.
pub struct TestPrometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl TestPrometheus {
    /// Starts Prometheus scraping `/-/metrics` of each `(job, host:port)`.
    pub async fn scraping(targets: &[(&str, std::net::SocketAddr)]) -> Self {
        Self::start(targets, None).await
    }

    /// The same, evaluating the recording rules in `rules` every second.
    pub async fn start(
        targets: &[(&str, std::net::SocketAddr)],
        rules: Option<&std::path::Path>,
    ) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), targets, rules).await
    }

    /// A Prometheus scraping nothing whose storage holds `history` (OpenMetrics text, with
    /// timestamps in seconds), backfilled with `promtool` before it starts.
    pub async fn with_history(history: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.om");
        std::fs::write(&file, history).unwrap();
        let status = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&file)
            .arg(dir.path().join("data"))
            .stdout(Stdio::null())
            .status()
            .expect("Debian's prometheus (with promtool) is installed");
        assert!(status.success(), "promtool could not backfill the history");
        Self::start_in(dir, &[], None).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        targets: &[(&str, std::net::SocketAddr)],
        rules: Option<&std::path::Path>,
    ) -> Self {
        let jobs: String = targets
            .iter()
            .map(|(job, address)| {
                format!(
                    "  - job_name: {job}\n    metrics_path: /-/metrics\n    static_configs:\n      - targets: ['{address}']\n"
                )
            })
            .collect();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{}{}",
                rules.map_or(String::new(), |r| format!(
                    "rule_files: ['{}']\n",
                    r.display()
                )),
                if jobs.is_empty() {
                    String::new()
                } else {
                    format!("scrape_configs:\n{jobs}")
                }
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            // Backfilled history is up to a week old; the default (15 days) keeps it, said
            // here so that a changed default cannot drop it.
            .arg("--storage.tsdb.retention.time=30d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's prometheus is installed (scripts/install-tools.sh --test)");
        let prometheus = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        prometheus.wait_until_ready().await;
        prometheus
    }

    async fn wait_until_ready(&self) {
        for _ in 0..200 {
            if let Ok(response) = reqwest::get(format!("{}/-/ready", self.url)).await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("Prometheus did not become ready in 20 s");
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The value of the instant query `promql` once it has one (scrapes take a second or two).
    pub async fn value_of(&self, promql: &str) -> f64 {
        for _ in 0..150 {
            let answer: Value = reqwest::Client::new()
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", promql)])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(value) = answer["data"]["result"][0]["value"][1].as_str() {
                return value.parse().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("Prometheus has no value for {promql} after 30 s");
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn prometheus_scrapes_the_dashboard_and_the_collector() {
    let collector = crate::support::spawn_collector(|_| {}).await;
    let app = crate::support::spawn_app_signed_in_sending_to(&collector).await;
    let sent = app.call("send_now", &[]).await;
    assert!(sent.status().is_success());
    let collector_address = collector
        .url("")
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let prometheus =
        TestPrometheus::scraping(&[("dashboard", app.address), ("collector", collector_address)])
            .await;

    assert_eq!(prometheus.value_of(r#"up{job="dashboard"}"#).await, 1.0);
    assert_eq!(prometheus.value_of(r#"up{job="collector"}"#).await, 1.0);
    assert_eq!(prometheus.value_of("service_ping_enabled").await, 1.0);
    assert_eq!(
        prometheus
            .value_of(r#"service_ping_submission_attempts_total{outcome="sent"} > 0"#)
            .await,
        1.0
    );
    assert_eq!(
        prometheus
            .value_of(r#"collector_pings_total{endpoint="/usage_data",outcome="accepted"}"#)
            .await,
        1.0
    );
    // The histogram reads as one: a quantile over the requests it has seen.
    let p99 = prometheus
        .value_of(
            r#"histogram_quantile(0.99, sum by (le) (http_request_duration_seconds_bucket{job="dashboard"}))"#,
        )
        .await;
    assert!(p99 > 0.0 && p99 <= 30.0, "{p99}");
    app.stop().await.unwrap();
}

/// A node_exporter stand-in: the node's memory, two CPUs and its `uname`, as node_exporter names
/// them (served at `/-/metrics`, where the test's Prometheus looks).
async fn fake_node_exporter() -> std::net::SocketAddr {
    const NODE: &str = "node_memory_MemTotal_bytes 8363515904\n\
        node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1000\n\
        node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 50\n\
        node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 1000\n\
        node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 50\n\
        node_uname_info{machine=\"x86_64\",nodename=\"git-1\",release=\"6.1.0-27-amd64\",sysname=\"Linux\",version=\"#1 SMP\"} 1\n";
    let router = axum::Router::new().route("/-/metrics", axum::routing::get(|| async { NODE }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// Generates a preview and answers the payload it stored.
async fn latest_payload(app: &crate::support::TestApp) -> Value {
    let status = crate::support::generate_preview_and_wait(app).await;
    assert_eq!(status["error"], Value::Null, "{status}");
    let statistics: Value = app
        .call("usage_statistics", &[])
        .await
        .json()
        .await
        .unwrap();
    serde_json::from_str(statistics["preview"]["text"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn the_topology_is_read_from_prometheus_over_the_documented_recording_rules() {
    let node = fake_node_exporter().await;
    // Prometheus starts first (its address goes in the instance's settings); it scrapes the
    // dashboard once the dashboard listens on the port reserved for it.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dashboard = reserved.local_addr().unwrap();
    drop(reserved);
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/prometheus/service-ping-rules.yml");
    let prometheus =
        TestPrometheus::start(&[("service-ping", dashboard), ("node", node)], Some(&rules)).await;
    let url = prometheus.url().to_string();
    let app = crate::support::spawn_app_with(move |settings, _| {
        settings.server.listen = dashboard;
        settings.prometheus.url = Some(url.parse().unwrap());
    })
    .await;
    app.sign_in_as_root().await;
    for rule in [
        "gitlab_usage_ping:ops:rate5m",
        "gitlab_usage_ping:node_memory_total_bytes:avg",
        "gitlab_usage_ping:node_cpus:count",
        "gitlab_usage_ping:node_service_process_proportional_memory_bytes:avg",
        "gitlab_usage_ping:node_service_app_server_workers:sum",
    ] {
        prometheus.value_of(rule).await;
    }

    let topology = latest_payload(&app).await["topology"].clone();
    assert_eq!(topology["failures"], serde_json::json!([]), "{topology}");
    assert!(topology["duration_s"].as_f64().unwrap() > 0.0);
    assert!(
        topology["application_requests_per_hour"].is_i64(),
        "{topology}"
    );
    let nodes = topology["nodes"].as_array().unwrap();
    assert_eq!(
        nodes.len(),
        1,
        "both targets are on this machine: {topology}"
    );
    let node = &nodes[0];
    assert_eq!(node["node_memory_total_bytes"], 8363515904_i64);
    assert_eq!(node["node_cpus"], 2);
    assert_eq!(
        node["node_uname_info"],
        serde_json::json!({"machine": "x86_64", "sysname": "Linux", "release": "6.1.0-27-amd64"})
    );
    let services = node["node_services"].as_array().unwrap();
    assert_eq!(
        services.len(),
        1,
        "the node exporter stand-in reports no process: {topology}"
    );
    let web = &services[0];
    assert_eq!(web["name"], "web");
    assert_eq!(web["process_count"], 1);
    assert_eq!(web["server"], "axum");
    for memory in [
        "process_memory_rss",
        "process_memory_uss",
        "process_memory_pss",
    ] {
        assert!(
            web[memory].as_i64().unwrap() > 1_000_000,
            "{memory}: {topology}"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn prometheus_down_fails_the_topology_not_the_payload() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = crate::support::spawn_app_with(move |settings, _| {
        settings.prometheus.url = Some(format!("http://{closed}/").parse().unwrap());
    })
    .await;
    app.sign_in_as_root().await;
    let payload = latest_payload(&app).await;
    assert_eq!(
        payload["topology"]["failures"],
        serde_json::json!([{"other": "unreachable"}])
    );
    assert!(payload["topology"].get("nodes").is_none());
    assert!(
        payload["counts"]["issues"].as_i64().unwrap() >= 0,
        "the rest is still reported"
    );
    app.stop().await.unwrap();
}
