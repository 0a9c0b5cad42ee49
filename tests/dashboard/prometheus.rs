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
        let dir = tempfile::tempdir().unwrap();
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
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{jobs}"
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
    let collector_url = collector.url("/");
    let app = crate::support::spawn_app_with(move |settings, _| {
        settings.collector.url = Some(collector_url.parse().unwrap());
    })
    .await;
    app.sign_in_as_root().await;
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
