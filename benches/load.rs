//! Load over loopback against the real binary: 200 concurrent senders for 60 s at the collector
//! role, and 50 concurrent sign-in attempts against one account at the dashboard role. Prints
//! errors, pings lost (accepted but not stored), guesses admitted, and each server's peak RSS.
//! The assertions that these stay within bounds live in the tests; this prints the figures.
//!
//! `bench/load.sh [SECONDS] [SENDERS]` (defaults 60 and 200). The collector's per-address limits
//! are raised for the run: every sender comes from 127.0.0.1.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A server process of the binary, stopped (by its own pid) when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(
        args: &[&str],
        data_dir: &std::path::Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_service-ping"));
        command
            .args(args)
            .env("SERVICE_PING__DATA_DIR", data_dir)
            .env("SERVICE_PING__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().context("starting the binary")?;
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    async fn wait_until_healthy(&self) -> anyhow::Result<()> {
        for _ in 0..300 {
            if let Ok(response) = reqwest::get(format!("{}/-/health", self.url)).await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("{} did not become healthy", self.url)
    }

    /// VmHWM of the process, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ping(uuid: &str, n: u64) -> Vec<u8> {
    let recorded_at = chrono::DateTime::from_timestamp(1_764_000_000 + n as i64, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ");
    serde_json::to_vec(&serde_json::json!({
        "uuid": uuid, "recorded_at": recorded_at.to_string(), "version": "0.1.0",
        "hostname": "load.example.test", "edition": "EE Free", "active_user_count": 40,
        "counts_monthly": {"active_users": 40, "issues": 120, "ci_pipelines": 900},
        "counts": {"projects": 30, "projects_prometheus_active": 3},
    }))
    .expect("a ping serializes")
}

async fn collector_load(seconds: u64, senders: usize) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = Server::start(
        &["collector", "serve"],
        data.path(),
        &[
            (
                "SERVICE_PING__COLLECTOR__RATE_LIMIT_PER_ADDRESS_PER_HOUR",
                "100000000",
            ),
            (
                "SERVICE_PING__COLLECTOR__MAX_BYTES_PER_ADDRESS_PER_HOUR",
                "1000000000000",
            ),
            ("SERVICE_PING__COLLECTOR__RATE_LIMIT_PER_HOUR", "100000000"),
        ],
    )?;
    server.wait_until_healthy().await?;
    let (accepted, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(senders)
        .build()?;
    let mut tasks = tokio::task::JoinSet::new();
    for sender in 0..senders {
        let (client, url) = (client.clone(), format!("{}/usage_data", server.url));
        let (accepted, errors) = (accepted.clone(), errors.clone());
        tasks.spawn(async move {
            let uuid = format!("load-{sender}");
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(ping(&uuid, n))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == reqwest::StatusCode::CREATED => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    tasks.join_all().await;
    let db = format!(
        "sqlite://{}",
        data.path().join("collector.sqlite3").display()
    );
    let pool = sqlx::SqlitePool::connect(&db).await?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM usage_data")
        .fetch_one(&pool)
        .await?;
    let accepted = accepted.load(Ordering::Relaxed);
    println!(
        "collector: {senders} senders for {seconds} s: {accepted} pings accepted ({:.0}/s), {} errors, {} lost (accepted but not stored), peak RSS {:.1} MiB",
        accepted as f64 / seconds as f64,
        errors.load(Ordering::Relaxed),
        accepted as i64 - stored,
        server.peak_rss_mib()
    );
    Ok(())
}

async fn sign_in_load(attempts: usize) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = Server::start(&["serve"], data.path(), &[])?;
    server.wait_until_healthy().await?;
    let limit = service_ping::config::Settings::default()
        .sign_in
        .max_failures_per_account;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..attempts {
        let url = format!("{}/api/sign_in", server.url);
        tasks.spawn(async move {
            reqwest::Client::new()
                .post(url)
                .form(&[("login", "root"), ("password", "a wrong guess")])
                .send()
                .await
                .map(|r| r.status())
        });
    }
    let statuses = tasks.join_all().await;
    let count = |wanted: u16| {
        statuses
            .iter()
            .filter(|s| s.as_ref().is_ok_and(|s| s.as_u16() == wanted))
            .count()
    };
    println!(
        "sign-in: {attempts} parallel wrong passwords for root: {} guesses checked (limit {limit}), {} throttled, {} other answers, peak RSS {:.1} MiB",
        count(422),
        count(429),
        attempts - count(422) - count(429),
        server.peak_rss_mib()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` adds `--bench` to the arguments of a harness-less benchmark.
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let seconds = numbers.first().copied().unwrap_or(60);
    let senders = numbers.get(1).copied().unwrap_or(200) as usize;
    collector_load(seconds, senders).await?;
    sign_in_load(50).await?;
    Ok(())
}
