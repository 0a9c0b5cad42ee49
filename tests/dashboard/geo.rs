//! Geo sites: a secondary's weekly Git traffic, read from its own (real) Prometheus, reaches the
//! primary's payload exactly; the primary refuses statuses that are unsigned, badly signed,
//! stale, altered or from a site it does not list; a silent site turns unhealthy; a secondary
//! never sends Service Ping.

use std::process::{Child, Command};
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use service_ping::config::{GeoRole, GeoSettings, GeoSite};
use service_ping::geo::status::overview;
use service_ping::geo::{GeoOverview, SiteRow, UsageRow, token};

use crate::prometheus::TestPrometheus;
use crate::support::{self, spawn_app_with};

const SECRET: &str = "a-shared-secret-of-at-least-32-characters";

/// Per minute over the backfilled week, by Gitaly method: fetches are 1 + 2 a minute (30 240 a
/// week), pushes 0.1 + 0.2 a minute (3 024 a week); `FindCommit` is neither.
const PER_MINUTE: &[(&str, f64)] = &[
    ("SSHUploadPack", 1.0),
    ("PostUploadPack", 2.0),
    ("SSHReceivePack", 0.1),
    ("PostReceivePack", 0.2),
    ("FindCommit", 5.0),
];
const WEEKLY_FETCHES: u64 = 30_240;
const WEEKLY_PUSHES: u64 = 3_024;

/// A week and five minutes of `grpc_server_handled_total`, a sample a minute up to now.
fn gitaly_week() -> String {
    let end = Utc::now().timestamp() / 60 * 60;
    let start = end - 7 * 24 * 3600 - 300;
    let mut text = String::from("# TYPE grpc_server_handled_total counter\n");
    for (method, rate) in PER_MINUTE {
        for t in (start..=end).step_by(60) {
            let value = rate * ((t - start) / 60) as f64;
            text.push_str(&format!(
                "grpc_server_handled_total{{grpc_code=\"OK\",grpc_method=\"{method}\",grpc_service=\"gitaly.SSHService\"}} {value} {t}\n"
            ));
        }
    }
    text.push_str("# EOF\n");
    text
}

/// `service-ping serve` as its own process, on a free port, with `config` (TOML) and its own
/// data directory and database; stopped by the pid it was started with.
struct SiteProcess {
    child: Child,
    address: std::net::SocketAddr,
    config: std::path::PathBuf,
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

fn free_address() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl SiteProcess {
    async fn start(address: std::net::SocketAddr, config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let metrics = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("metrics");
        let path = dir.path().join("site.toml");
        std::fs::write(
            &path,
            format!(
                "[service_ping]\nmetrics_dir = '{}'\n\n{config}",
                metrics.display()
            ),
        )
        .unwrap();
        let database_url = support::settings(dir.path())
            .database
            .url
            .map(|url| url.expose_secret().to_string());
        let mut site = Self {
            child: Command::new("true").spawn().unwrap(),
            address,
            config: path,
            dir,
            database_url,
        };
        let log = std::fs::File::create(site.dir.path().join("site.log")).unwrap();
        site.child = site
            .command()
            .arg("--listen")
            .arg(address.to_string())
            .arg("serve")
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        site.wait_until_healthy().await;
        site
    }

    /// The binary with this site's configuration, data directory and database.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_service-ping"));
        command
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.dir.path())
            .env_remove("SERVICE_PING__DATABASE__URL");
        if let Some(url) = &self.database_url {
            command.env("SERVICE_PING__DATABASE__URL", url);
        }
        command
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn wait_until_healthy(&self) {
        for _ in 0..300 {
            if let Ok(response) = reqwest::get(self.url("/-/health")).await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{} did not start: {}", self.address, self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("site.log")).unwrap_or_default()
    }

    /// A client signed in as the site's generated `root`.
    async fn signed_in(&self) -> reqwest::Client {
        let text = std::fs::read_to_string(self.dir.path().join("initial_root_password")).unwrap();
        let password = service_ping::auth::sign_in::parse_initial_password(&text).unwrap();
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let response = client
            .post(self.url("/api/sign_in"))
            .form(&[("login", "root"), ("password", password)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        client
    }
}

impl Drop for SiteProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Geo sites page's content (markup) as the server fn answers it.
async fn geo_sites_page(client: &reqwest::Client, site: &SiteProcess) -> String {
    let response = client
        .post(site.url("/api/geo_sites"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// The secondaries as the primary sees them now.
async fn sites_seen(db: &service_ping::db::Db, geo: &GeoSettings) -> Vec<SiteRow> {
    match overview(db, geo, Utc::now()).await.unwrap() {
        GeoOverview::Primary { sites, .. } => sites,
        other => panic!("not a primary: {other:?}"),
    }
}

/// Waits until the primary holds `site`'s usage, and answers the sites then.
async fn sites_once_reported(db: &service_ping::db::Db, geo: &GeoSettings) -> Vec<SiteRow> {
    for _ in 0..150 {
        let sites = sites_seen(db, geo).await;
        if sites[0].usage.is_some() {
            return sites;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no usage reached the primary in 30 s")
}

#[tokio::test]
async fn a_secondarys_weekly_git_traffic_reaches_the_primarys_payload_exactly() {
    let prometheus = TestPrometheus::with_history(&gitaly_week()).await;
    let (primary_address, secondary_address) = (free_address(), free_address());
    let primary = SiteProcess::start(
        primary_address,
        &format!(
            "[geo]\nrole = 'primary'\nsecret = '{SECRET}'\n\
             sites = [{{ name = 'site-b', url = 'http://{secondary_address}' }}, {{ name = 'site-c', url = 'http://site-c.invalid' }}]\n"
        ),
    )
    .await;
    let secondary = SiteProcess::start(
        secondary_address,
        &format!(
            "[geo]\nrole = 'secondary'\nname = 'site-b'\nprimary_url = 'http://{primary_address}'\n\
             secret = '{SECRET}'\nstatus_interval_seconds = 1\n\n[prometheus]\nurl = '{}'\n",
            prometheus.url()
        ),
    )
    .await;

    let mut geo = primary_with(&["site-b", "site-c"], 600);
    geo.sites[0].url = format!("http://{secondary_address}").parse().unwrap();
    let db = service_ping::db::connect(&support::settings(primary.dir.path()))
        .await
        .unwrap();
    let sites = sites_once_reported(&db, &geo).await;
    let site_b = &sites[0];
    assert_eq!(site_b.unhealthy_because, None, "{site_b:?}");
    let usage = site_b.usage.as_ref().unwrap();
    assert_eq!(
        (
            usage.git_fetch_event_count_weekly,
            usage.git_push_event_count_weekly
        ),
        (Some(WEEKLY_FETCHES), Some(WEEKLY_PUSHES)),
        "{}",
        secondary.log()
    );
    let page = geo_sites_page(&primary.signed_in().await, &primary).await;
    assert!(page.contains(r#"data-site="site-b""#), "{page}");
    assert!(
        page.contains(&format!(r#"data-testid="geo-fetches">{WEEKLY_FETCHES}<"#)),
        "{page}"
    );

    let payload_file = primary.dir.path().join("payload.json");
    let output = primary
        .command()
        .args(["payload", "--out"])
        .arg(&payload_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let payload: Value = serde_json::from_slice(&std::fs::read(&payload_file).unwrap()).unwrap();
    assert_eq!(payload["geo_enabled"], json!(true));
    assert_eq!(
        payload["usage_activity_by_stage_monthly"]["enablement"]["geo_node_usage"],
        json!([
            { "git_fetch_event_count_weekly": WEEKLY_FETCHES, "git_push_event_count_weekly": WEEKLY_PUSHES },
            { "git_fetch_event_count_weekly": null, "git_push_event_count_weekly": null },
        ]),
        "site-b reported; site-c never did"
    );
    let text = String::from_utf8(std::fs::read(&payload_file).unwrap()).unwrap();
    assert!(
        !text.contains("site-b") && !text.contains(&secondary_address.to_string()),
        "no site name or address leaves"
    );

    // The secondary never sends Service Ping, from the command line either.
    let refused = secondary.command().arg("submit").output().unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("Geo secondary"), "{said}");
}

fn primary_with(sites: &[&str], unhealthy_after_seconds: u32) -> GeoSettings {
    GeoSettings {
        role: Some(GeoRole::Primary),
        secret: Some(SECRET.into()),
        sites: sites
            .iter()
            .map(|name| GeoSite {
                name: name.to_string(),
                url: format!("http://{name}.example").parse().unwrap(),
            })
            .collect(),
        unhealthy_after_seconds,
        ..GeoSettings::default()
    }
}

fn status_body(site: &str, reported_at: chrono::DateTime<Utc>, fetches: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "name": site,
        "healthy": true,
        "health": "Healthy",
        "version": "1.0.0",
        "last_event_at": null,
        "reported_at": reported_at.to_rfc3339(),
        "usage": {
            "collected_at": reported_at.to_rfc3339(),
            "payload": { "git_fetch_event_count_weekly": fetches, "git_push_event_count_weekly": 7 },
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn the_primary_refuses_unsigned_stale_altered_or_unknown_statuses_and_a_silent_site_turns_unhealthy()
 {
    let app = spawn_app_with(|settings, _| settings.geo = primary_with(&["site-b"], 2)).await;
    app.sign_in_as_root().await;
    let post = |body: Vec<u8>, token: Option<String>| {
        let mut request = app
            .client
            .post(app.url("/api/v4/geo/status"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let now = Utc::now();
    let body = status_body("site-b", now, 5);
    let sign = |site: &str, body: &[u8], at| Some(token::sign(SECRET.as_bytes(), site, body, at));
    let reason = |response: reqwest::Response| async move {
        let status = response.status();
        let reason: Value = response.json().await.unwrap();
        (
            status,
            reason["reason"].as_str().unwrap_or_default().to_string(),
        )
    };

    let (status, said) = reason(post(body.clone(), None).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(said.contains("not signed"), "{said}");
    let wrong = token::sign(b"another-secret-another-secret-32+", "site-b", &body, now);
    let (status, said) = reason(post(body.clone(), Some(wrong)).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(said.contains("signature"), "{said}");
    let stale = sign("site-b", &body, now - chrono::Duration::minutes(5));
    let (status, said) = reason(post(body.clone(), stale).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(said.contains("stale"), "{said}");
    let altered = status_body("site-b", now, 999_999);
    let (status, said) = reason(post(altered, sign("site-b", &body, now)).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(said.contains("another body"), "{said}");
    let stranger = status_body("site-x", now, 5);
    let (status, said) = reason(
        post(stranger.clone(), sign("site-x", &stranger, now))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(said.contains("site-x"), "{said}");
    let (status, _) = reason(
        post(b"{}".to_vec(), sign("site-b", b"{}", now))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let geo = primary_with(&["site-b"], 2);
    let db = app.db().await;
    let site = &sites_seen(&db, &geo).await[0];
    assert_eq!(
        site.unhealthy_because.as_deref(),
        Some("No status received yet"),
        "nothing was stored: {site:?}"
    );

    let accepted = post(body.clone(), sign("site-b", &body, now))
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
    let older = status_body("site-b", now - chrono::Duration::seconds(30), 1);
    let (status, _) = reason(
        post(older.clone(), sign("site-b", &older, now))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an older status does not replace a newer one"
    );
    let site = &sites_seen(&db, &geo).await[0];
    assert_eq!(site.unhealthy_because, None, "{site:?}");
    assert_eq!(
        site.usage.as_ref().unwrap().git_fetch_event_count_weekly,
        Some(5)
    );

    tokio::time::sleep(Duration::from_millis(3100)).await;
    let site = &sites_seen(&db, &geo).await[0];
    let said = site.unhealthy_because.as_deref().unwrap();
    assert!(said.starts_with("No status for 3 seconds"), "{said}");
    let page: String = app.call("geo_sites", &[]).await.json().await.unwrap();
    assert!(page.contains("No status for 3 seconds"), "{page}");
}

/// The secondary's own overview once it has recorded a status report.
async fn secondary_once_reported(db: &service_ping::db::Db, geo: &GeoSettings) -> GeoOverview {
    for _ in 0..100 {
        let own = overview(db, geo, Utc::now()).await.unwrap();
        if matches!(
            &own,
            GeoOverview::Secondary {
                last_report: Some(_),
                ..
            }
        ) {
            return own;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the secondary recorded no status report in 10 s")
}

fn secondary_geo(primary: &support::TestApp) -> GeoSettings {
    GeoSettings {
        role: Some(GeoRole::Secondary),
        name: Some("site-b".into()),
        primary_url: Some(format!("http://{}", primary.address).parse().unwrap()),
        secret: Some(SECRET.into()),
        status_interval_seconds: 1,
        ..GeoSettings::default()
    }
}

#[tokio::test]
async fn a_secondary_with_prometheus_down_reports_null_figures_and_never_sends_service_ping() {
    let primary = spawn_app_with(|settings, _| settings.geo = primary_with(&["site-b"], 600)).await;
    primary.sign_in_as_root().await;
    let closed = free_address();
    let secondary = spawn_app_with(|settings, locks| {
        settings.geo = secondary_geo(&primary);
        settings.prometheus.url = Some(format!("http://{closed}").parse().unwrap());
        settings.prometheus.timeout_seconds = 1;
        // What loading the configuration does for a secondary.
        locks.service_ping_enabled = Some(service_ping::config::Lock {
            value: false,
            reason: "this is a Geo secondary site".into(),
        });
    })
    .await;
    secondary.sign_in_as_root().await;

    let geo = primary_with(&["site-b"], 600);
    let sites = sites_once_reported(&primary.db().await, &geo).await;
    assert_eq!(sites[0].unhealthy_because, None, "{:?}", sites[0]);
    let usage = sites[0].usage.as_ref().unwrap();
    assert_eq!(
        (
            usage.git_fetch_event_count_weekly,
            usage.git_push_event_count_weekly
        ),
        (None, None),
        "Prometheus is down: both figures are null"
    );

    // The secondary records how a status went once the primary has answered it: wait for that.
    let own = secondary_once_reported(&secondary.db().await, &secondary_geo(&primary)).await;
    let GeoOverview::Secondary {
        name,
        usage:
            Some(UsageRow {
                git_fetch_event_count_weekly: None,
                ..
            }),
        last_report: Some(report),
        ..
    } = own
    else {
        panic!("the secondary holds a usage row with null figures and a report: {own:?}");
    };
    assert_eq!(name, "site-b");
    assert!(
        report.succeeded_at.is_some() && report.error.is_none(),
        "{report:?}"
    );
    let page: String = secondary.call("geo_sites", &[]).await.json().await.unwrap();
    assert!(page.contains("Secondary site site-b"), "{page}");

    let refused = secondary.call("send_now", &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
}
