//! The dashboard's side of submission over a real socket: settings with locks and an audit log,
//! Send now against a real collector, the history and its diff, the one-time notice, and the
//! token-authenticated payload API.

use reqwest::StatusCode;
use serde_json::Value;
use service_ping::config::Lock;
use service_ping::db::on_pool;
use service_ping_protocol::hash::sha256_hex;

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

/// Starts "Send now" and waits for it to end; returns the final status.
async fn send_now_and_wait(app: &crate::support::TestApp) -> Value {
    let started = app.call("send_now", &[]).await;
    assert_eq!(started.status(), StatusCode::OK);
    for _ in 0..600 {
        let status = json(app.call("generation_status", &[]).await).await;
        if status["running"] == false {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("Send now did not finish in 30 s");
}

#[tokio::test]
async fn settings_change_with_an_audit_entry_and_locked_ones_refuse() {
    let app = crate::support::spawn_app_with(|_, locks| {
        locks.include_optional_data = Some(Lock {
            value: true,
            reason: "set in the configuration file /etc/service-ping.toml".into(),
        });
    })
    .await;
    app.sign_in_as_root().await;
    let off = app
        .call(
            "update_setting",
            &[("setting", "ServicePing"), ("enabled", "false")],
        )
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let statistics = json(app.call("usage_statistics", &[]).await).await;
    assert_eq!(statistics["service_ping"]["enabled"], false);
    assert_eq!(statistics["schedule"]["next_run"], Value::Null);
    assert_eq!(statistics["audit"][0]["actor"], "root");
    assert_eq!(statistics["audit"][0]["target"], "Enable Service Ping");
    assert_eq!(
        (
            &statistics["audit"][0]["old_value"],
            &statistics["audit"][0]["new_value"]
        ),
        (&Value::from("on"), &Value::from("off"))
    );
    assert_eq!(
        statistics["include_optional_data"]["locked_reason"],
        "set in the configuration file /etc/service-ping.toml"
    );

    let refused = app.call("send_now", &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(
        json(refused)
            .await
            .to_string()
            .contains("Service Ping is off")
    );

    let locked = app
        .call(
            "update_setting",
            &[("setting", "IncludeOptionalData"), ("enabled", "false")],
        )
        .await;
    assert_eq!(locked.status(), StatusCode::FORBIDDEN);
    assert!(
        json(locked)
            .await
            .to_string()
            .contains("/etc/service-ping.toml")
    );
    let bad = app
        .call(
            "update_setting",
            &[("setting", "Telemetry"), ("enabled", "false")],
        )
        .await;
    assert!(bad.status().is_client_error());
    let statistics = json(app.call("usage_statistics", &[]).await).await;
    assert_eq!(
        statistics["audit"].as_array().unwrap().len(),
        1,
        "refusals change nothing"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn send_now_delivers_the_stored_bytes_and_history_shows_it_sent() {
    let collector = crate::support::spawn_collector(|_| {}).await;
    let app = crate::support::spawn_app_signed_in_sending_to(&collector).await;
    let status = send_now_and_wait(&app).await;
    assert_eq!(status["error"], Value::Null, "{status}");
    let payload_id = status["payload_id"].as_i64().unwrap();

    let history = json(app.call("payload_history", &[]).await).await;
    let row = &history[0];
    assert_eq!(row["id"], payload_id);
    assert_eq!(row["trigger"], "manual");
    assert_eq!(row["triggered_by"], "root");
    assert_eq!(row["submission_status"], "sent");
    assert!(row["sent_at"].is_string());
    let received = service_ping_collector::db::recent_pings(&collector.db, 1)
        .await
        .unwrap();
    assert_eq!(received[0].sha256, row["sha256"].as_str().unwrap());
    assert_eq!(Some(received[0].id), row["usage_data_id"].as_i64());

    // A second send, then the diff between the two.
    let second = send_now_and_wait(&app).await["payload_id"]
        .as_i64()
        .unwrap();
    let diff = json(
        app.call(
            "payload_diff",
            &[
                ("from", &payload_id.to_string()),
                ("to", &second.to_string()),
            ],
        )
        .await,
    )
    .await;
    let changed: Vec<&str> = diff["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert!(changed.contains(&"recorded_at"), "{changed:?}");
    assert!(diff["unchanged"].as_u64().unwrap() > 100);
    let detail = json(
        app.call("payload_detail", &[("id", &second.to_string())])
            .await,
    )
    .await;
    // The collector confirmed the bytes it stored: the payload's own hash.
    let sha256 = detail["preview"]["summary"]["sha256"].as_str().unwrap();
    assert_eq!(
        detail["submissions"][0]["status"],
        format!("sent · collector confirmed {sha256}")
    );
    assert_eq!(detail["submissions"][0]["http_status"], 201);
    assert_eq!(collector.ping_count().await, 2);

    // Each send brought a DevOps Score back; the page shows the newest and the history.
    let report = json(app.call("devops_report", &[]).await).await;
    let score = &report["latest"]["score"];
    assert_eq!(score["percentage"].as_array().unwrap().len(), 10);
    assert!(score["overall"].as_f64().unwrap() >= 0.0);
    assert_eq!(report["history"].as_array().unwrap().len(), 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_first_administrator_sees_the_notice_until_dismissing_it() {
    let app = crate::support::spawn_app().await;
    app.sign_in_as_root().await;
    assert_eq!(json(app.call("service_ping_notice", &[]).await).await, true);
    assert_eq!(
        app.call("dismiss_service_ping_notice", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        json(app.call("service_ping_notice", &[]).await).await,
        false
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_payload_api_wants_a_token_with_its_scope() {
    let app = crate::support::spawn_app().await;
    app.sign_in_as_root().await;
    let api = |token: Option<&str>| {
        let mut request = reqwest::Client::new().get(app.url("/api/v4/usage_data/service_ping"));
        if let Some(token) = token {
            request = request.header("PRIVATE-TOKEN", token);
        }
        request.send()
    };
    let create = async |name: &str, scope: &str| {
        app.call(
            "create_access_token",
            &[
                ("name", name),
                ("scopes[0]", scope),
                ("expires_in_days", "30"),
            ],
        )
        .await
    };
    let reader = json(create("reader", "read_service_ping").await).await;
    let secret = reader["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("spat-"));
    let profile = json(create("profile", "read_user").await).await;
    let profile_secret = profile["secret"].as_str().unwrap().to_string();

    assert_eq!(api(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        api(Some("spat-wrong")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api(Some(&profile_secret)).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api(Some(&secret)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    app.call("generate_preview", &[]).await;
    let mut body = Vec::new();
    for _ in 0..600 {
        let response = api(Some(&secret)).await.unwrap();
        if response.status() == StatusCode::OK {
            body = response.bytes().await.unwrap().to_vec();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let latest = json(app.call("usage_statistics", &[]).await).await;
    assert_eq!(
        sha256_hex(&body),
        latest["preview"]["summary"]["sha256"].as_str().unwrap()
    );
    let user = reqwest::Client::new()
        .get(app.url("/api/v4/user"))
        .bearer_auth(&profile_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(json(user).await["username"], "root");

    // Only the digest is stored, and a revoked token no longer opens anything.
    let stored: Vec<String> = on_pool!(&app.db().await, |p| sqlx::query_scalar(
        "SELECT token_digest FROM personal_access_tokens"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert!(stored.iter().all(|d| d.len() == 64 && !d.contains(&secret)));
    let id = reader["token"]["id"].as_i64().unwrap().to_string();
    assert_eq!(
        app.call("revoke_access_token", &[("id", &id)])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        api(Some(&secret)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let tokens = json(app.call("access_tokens", &[]).await).await;
    assert!(tokens.to_string().contains("revoked_at"));
    assert!(
        !tokens.to_string().contains(&secret),
        "the list never shows a secret"
    );

    let refused = app.call("create_access_token", &[("name", "x")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_new_server_functions_are_for_administrators_only() {
    let app = crate::support::spawn_app().await;
    let calls: [(&str, &[(&str, &str)]); 10] = [
        (
            "update_setting",
            &[("setting", "ServicePing"), ("enabled", "false")],
        ),
        ("send_now", &[]),
        ("payload_history", &[]),
        ("payload_detail", &[("id", "1")]),
        ("payload_diff", &[("from", "1"), ("to", "2")]),
        ("access_tokens", &[]),
        (
            "create_access_token",
            &[("name", "x"), ("scopes[0]", "read_user")],
        ),
        ("revoke_access_token", &[("id", "1")]),
        ("service_ping_notice", &[]),
        ("dismiss_service_ping_notice", &[]),
    ];
    for (endpoint, args) in calls {
        assert_eq!(
            app.call(endpoint, args).await.status(),
            StatusCode::UNAUTHORIZED,
            "{endpoint}"
        );
    }
    app.stop().await.unwrap();
}

/// The `value` of the sample `name` (with its labels) in Prometheus's text format.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_on_both_sides_report_a_send_and_a_refused_ping() {
    let collector = crate::support::spawn_collector(|_| {}).await;
    let app = crate::support::spawn_app_signed_in_sending_to(&collector).await;
    let scrape = |url: String| async move {
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        response.text().await.unwrap()
    };

    let before = scrape(app.url("/-/metrics")).await;
    assert_eq!(
        sample(&before, "service_ping_enabled"),
        Some(1.0),
        "{before}"
    );
    assert_eq!(
        sample(&before, "service_ping_last_success_timestamp_seconds"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &before,
            r#"service_ping_submission_attempts_total{outcome="sent"}"#
        ),
        Some(0.0)
    );

    let status = send_now_and_wait(&app).await;
    assert_eq!(status["error"], Value::Null, "{status}");
    let history = json(app.call("payload_history", &[]).await).await;
    let after = scrape(app.url("/-/metrics")).await;
    assert_eq!(
        sample(
            &after,
            r#"service_ping_submission_attempts_total{outcome="sent"}"#
        ),
        Some(1.0),
        "{after}"
    );
    let sent_at = chrono::DateTime::parse_from_rfc3339(history[0]["sent_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let last_success = sample(&after, "service_ping_last_success_timestamp_seconds").unwrap();
    assert_eq!(last_success.trunc() as i64, sent_at);
    assert_eq!(
        sample(&after, "service_ping_payload_bytes"),
        history[0]["size_bytes"].as_f64()
    );
    assert_eq!(
        sample(&after, "service_ping_payload_failed_metrics"),
        history[0]["metrics_failed"].as_f64()
    );
    assert!(
        sample(
            &after,
            r#"http_requests_total{route="/api/send_now",method="POST",status="2xx"}"#
        ) == Some(1.0),
        "{after}"
    );

    // The collector: the ping accepted, a malformed one refused, both timed.
    let refused = reqwest::Client::new()
        .post(collector.url("/usage_data"))
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let fleet = scrape(collector.url("/-/metrics")).await;
    for (name, value) in [
        (
            r#"collector_pings_total{endpoint="/usage_data",outcome="accepted"}"#,
            1.0,
        ),
        (
            r#"collector_pings_total{endpoint="/usage_data",outcome="malformed"}"#,
            1.0,
        ),
        ("collector_instances", 1.0),
        ("collector_silent_instances", 0.0),
        (
            r#"http_request_duration_seconds_count{route="/usage_data"}"#,
            2.0,
        ),
    ] {
        assert_eq!(sample(&fleet, name), Some(value), "{name} in {fleet}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_are_refused_outside_the_allowed_addresses_without_the_token() {
    let app = crate::support::spawn_app_with(|settings, _| {
        settings.monitoring.allowed_addresses = Vec::new();
        settings.monitoring.token = Some("scrape-token-for-tests".to_string().into());
    })
    .await;
    let client = reqwest::Client::new();
    let refused = client.get(app.url("/-/metrics")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("monitoring.allowed_addresses")
    );
    let wrong = client
        .get(app.url("/-/metrics"))
        .bearer_auth("another-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let admitted = client
        .get(app.url("/-/metrics"))
        .bearer_auth("scrape-token-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), StatusCode::OK);
    assert!(
        admitted
            .text()
            .await
            .unwrap()
            .contains("service_ping_enabled 1")
    );
    app.stop().await.unwrap();

    let off =
        crate::support::spawn_app_with(|settings, _| settings.monitoring.enabled = false).await;
    let missing = client.get(off.url("/-/metrics")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    off.stop().await.unwrap();
}

#[tokio::test]
async fn test_connection_asks_the_collector_sends_nothing_and_is_audit_logged() {
    let collector = crate::support::spawn_collector(|_| {}).await;
    let app = crate::support::spawn_app_signed_in_sending_to(&collector).await;
    let test = json(app.call("test_collector_connection", &[]).await).await;
    assert_eq!(test["reachable"], true, "{test}");
    let summary = test["summary"].as_str().unwrap();
    assert!(summary.starts_with("Reachable: HTTP 200 in "), "{summary}");
    assert_eq!(collector.ping_count().await, 0, "a test sends no ping");
    let statistics = json(app.call("usage_statistics", &[]).await).await;
    assert_eq!(
        statistics["audit"][0]["target"],
        "Collector connection test"
    );
    assert_eq!(statistics["audit"][0]["new_value"], summary);
    assert_eq!(statistics["schedule"]["last_success"], Value::Null);

    // Off means no request to the collector, a test included: refused, nothing recorded.
    app.call(
        "update_setting",
        &[("setting", "ServicePing"), ("enabled", "false")],
    )
    .await;
    let refused = app.call("test_collector_connection", &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("turn it on to test the connection")
    );
    let statistics = json(app.call("usage_statistics", &[]).await).await;
    assert_eq!(statistics["audit"][0]["target"], "Enable Service Ping");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn failed_sends_are_counted_as_a_streak_with_the_last_error() {
    // A port nobody listens on: every send fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = crate::support::spawn_app_with(move |settings, _| {
        settings.collector.url = Some(format!("http://{closed}/").parse().unwrap());
    })
    .await;
    app.sign_in_as_root().await;
    for _ in 0..2 {
        let status = send_now_and_wait(&app).await;
        assert!(status["error"].is_string(), "{status}");
    }
    let schedule = json(app.call("usage_statistics", &[]).await).await["schedule"].clone();
    assert_eq!(schedule["failures_since_success"], 2, "{schedule}");
    assert!(
        schedule["last_failure"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{schedule}"
    );
    assert_eq!(schedule["last_success"], Value::Null);
    let test = json(app.call("test_collector_connection", &[]).await).await;
    assert_eq!(test["reachable"], false);
    assert!(
        test["summary"]
            .as_str()
            .unwrap()
            .starts_with("Not reachable: could not connect")
    );
    let metrics = reqwest::get(app.url("/-/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sample(&metrics, "service_ping_failures_since_success"),
        Some(2.0)
    );
    assert_eq!(sample(&metrics, "service_ping_database_up"), Some(1.0));
    assert_eq!(
        sample(
            &metrics,
            r#"service_ping_submission_attempts_total{outcome="failed"}"#
        ),
        Some(2.0)
    );
    app.stop().await.unwrap();
}
