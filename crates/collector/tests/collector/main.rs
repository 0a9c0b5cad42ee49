//! The collector role over HTTP: what it accepts, what it refuses (and that a refusal stores
//! nothing), idempotent resends, rate limiting, the upload page and the OpenAPI document.

mod backup;
mod bad_input;
mod cohorts;
mod instances;
mod postgres;
mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use service_ping_protocol::hash::sha256_hex;
use support::{TestCollector, on_both_backends, spawn_collector, spawn_collector_on};

fn payload(uuid: &str, recorded_at: &str) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({
        "uuid": uuid,
        "recorded_at": recorded_at,
        "version": "0.1.0",
        "hostname": "devops.example.test",
        "edition": "EE Free",
        "active_user_count": 12,
        "counts": { "issues": 40, "notes": -1 },
    }))
    .unwrap()
}

async fn post(collector: &TestCollector, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(collector.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

on_both_backends! {
async fn a_ping_is_stored_as_its_exact_bytes_and_a_resend_stores_nothing(backend: Backend) {
    let collector = spawn_collector_on(backend, |_| {}).await;
    let body = payload("instance-1", "2026-11-25T10:00:00.000Z");
    let (status, reply) = post(&collector, "/usage_data", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = reply["conv_index"]["usage_data_id"].as_i64().unwrap();
    assert!(id > 0);
    let stored = service_ping_collector::db::ping_bytes(&collector.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, body);
    assert_eq!(reply["sha256"], sha256_hex(&body), "the reply names the stored bytes");

    let (status, reply) = post(&collector, "/usage_data", body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["conv_index"]["usage_data_id"].as_i64(), Some(id));
    assert_eq!(reply["sha256"], sha256_hex(&body));
    assert_eq!(collector.ping_count().await, 1);
    let pings = service_ping_collector::db::recent_pings(&collector.db, 10)
        .await
        .unwrap();
    assert_eq!(pings[0].sha256, sha256_hex(&body));
    assert_eq!(pings[0].hostname.as_deref(), Some("devops.example.test"));
    assert_eq!(pings[0].edition.as_deref(), Some("EE Free"));
}
}

on_both_backends! {
async fn every_bad_input_is_a_4xx_with_a_reason_and_stores_nothing(backend: Backend) {
    let collector = spawn_collector_on(backend, |settings| {
        settings.max_body_bytes = 4096;
        settings.max_depth = 8;
    })
    .await;
    let original = payload("instance-2", "2026-11-25T10:00:00.000Z");
    let (status, _) = post(&collector, "/usage_data", original).await;
    assert_eq!(status, StatusCode::CREATED);

    let nested = format!(
        r#"{{"uuid":"a","recorded_at":"2026-11-25T10:00:00Z","version":"1","x":{}1{}}}"#,
        "[".repeat(20),
        "]".repeat(20)
    );
    let oversized = format!(
        r#"{{"uuid":"a","recorded_at":"2026-11-25T10:00:00Z","version":"1","pad":"{}"}}"#,
        "x".repeat(5000)
    );
    let corpus: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        ("malformed JSON", b"{\"uuid\": \"a\",".to_vec(), StatusCode::BAD_REQUEST),
        ("empty body", Vec::new(), StatusCode::BAD_REQUEST),
        ("not an object", b"[1, 2, 3]".to_vec(), StatusCode::BAD_REQUEST),
        ("deeply nested", nested.into_bytes(), StatusCode::BAD_REQUEST),
        ("oversized", oversized.into_bytes(), StatusCode::PAYLOAD_TOO_LARGE),
        (
            "missing uuid",
            br#"{"recorded_at":"2026-11-25T10:00:00Z","version":"1"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "missing recorded_at",
            br#"{"uuid":"a","version":"1"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "uuid of the wrong type",
            br#"{"uuid":42,"recorded_at":"2026-11-25T10:00:00Z","version":"1"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "counter of the wrong type",
            br#"{"uuid":"a","recorded_at":"2026-11-25T10:00:00Z","version":"1","counts":{"issues":"7"}}"#
                .to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "replay: other bytes under a uuid and recorded_at already received",
            payload("instance-2", "2026-11-25T10:00:00.000Z")
                .into_iter()
                .chain(b" ".iter().copied())
                .collect(),
            StatusCode::CONFLICT,
        ),
    ];
    for (name, body, expected) in corpus {
        let (status, reply) = post(&collector, "/usage_data", body).await;
        assert_eq!(status, expected, "{name}");
        assert!(
            reply["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{name}: {reply}"
        );
    }
    let response = reqwest::Client::new()
        .post(collector.url("/usage_data"))
        .header("content-type", "text/plain")
        .body(payload("instance-3", "2026-11-25T10:00:00.000Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        collector.ping_count().await,
        1,
        "only the first ping is stored"
    );
}
}

#[tokio::test]
async fn an_instance_over_its_rate_is_told_to_wait() {
    let collector = spawn_collector(|settings| settings.rate_limit_per_hour = 2).await;
    for minute in 0..2 {
        let body = payload("busy", &format!("2026-11-25T10:0{minute}:00.000Z"));
        assert_eq!(
            post(&collector, "/usage_data", body).await.0,
            StatusCode::CREATED
        );
    }
    let response = reqwest::Client::new()
        .post(collector.url("/usage_data"))
        .header("content-type", "application/json")
        .body(payload("busy", "2026-11-25T10:05:00.000Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    // Another instance is not held back by this one.
    let other = payload("quiet", "2026-11-25T10:05:00.000Z");
    assert_eq!(
        post(&collector, "/usage_data", other).await.0,
        StatusCode::CREATED
    );
    assert_eq!(collector.ping_count().await, 3);
}

async fn post_from(
    collector: &TestCollector,
    forwarded_for: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(collector.url("/usage_data"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded_for)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn rotating_uuids_does_not_get_around_the_limit_per_address() {
    let collector = spawn_collector(|settings| settings.rate_limit_per_address_per_hour = 3).await;
    for n in 0..3 {
        let body = payload(&format!("rotated-{n}"), "2026-11-25T10:00:00.000Z");
        assert_eq!(
            post(&collector, "/usage_data", body).await.0,
            StatusCode::CREATED
        );
    }
    let (status, reply) = post(
        &collector,
        "/usage_data",
        payload("rotated-4", "2026-11-25T10:00:00.000Z"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{reply}");
    // The metadata and error endpoints count against the same address.
    let (status, _) = post(&collector, "/usage_ping_errors", b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(collector.ping_count().await, 3);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_quota_and_a_strangers_use_of_a_uuid_spends_none_of_the_instances()
 {
    let collector = spawn_collector(|settings| {
        settings.rate_limit_per_hour = 1;
        settings.rate_limit_per_address_per_hour = 2;
        settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    // A stranger sends pings under the victim's uuid from its own address...
    let forged = payload("victim", "2026-11-25T09:00:00.000Z");
    assert_eq!(
        post_from(&collector, "203.0.113.5", forged).await.status(),
        StatusCode::CREATED
    );
    let again = payload("victim", "2026-11-25T09:30:00.000Z");
    assert_eq!(
        post_from(&collector, "203.0.113.5", again).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...and the instance itself, from its address, still gets through.
    let real = payload("victim", "2026-11-25T10:00:00.000Z");
    assert_eq!(
        post_from(&collector, "198.51.100.7", real).await.status(),
        StatusCode::CREATED
    );
    // A client cannot pick a fresh address by writing its own header: the proxy's hop is the
    // one believed (the right-most untrusted entry).
    for n in 0..2 {
        let body = payload(&format!("spoof-{n}"), "2026-11-25T10:00:00.000Z");
        let spoofed = format!("10.{n}.0.1, 203.0.113.5");
        assert_eq!(
            post_from(&collector, &spoofed, body).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "203.0.113.5 has used its two requests"
        );
    }
    assert_eq!(collector.ping_count().await, 2);
}

on_both_backends! {
async fn an_instance_cannot_store_more_than_its_weekly_quota_but_a_resend_is_still_recognised(backend: Backend) {
    let collector = spawn_collector_on(backend, |settings| {
        settings.rate_limit_per_hour = 1000;
        settings.max_body_bytes = 4096;
        settings.max_stored_bytes_per_instance_per_week = 4096;
    })
    .await;
    let size = payload("filler", "2026-11-25T10:00:00.000Z").len();
    let fits = 4096 / size;
    let mut first = None;
    for minute in 0..fits {
        let body = payload("filler", &format!("2026-11-25T10:{minute:02}:00.000Z"));
        first.get_or_insert(body.clone());
        assert_eq!(
            post(&collector, "/usage_data", body).await.0,
            StatusCode::CREATED
        );
    }
    let (status, reply) = post(
        &collector,
        "/usage_data",
        payload("filler", "2026-11-25T11:00:00.000Z"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{reply}");
    assert!(reply["reason"].as_str().unwrap().contains("seven days"));
    let (status, _) = post(&collector, "/usage_data", first.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an exact resend is answered as before"
    );
    assert_eq!(collector.ping_count().await, fits as i64);
    // Another instance has its own quota.
    let other = payload("neighbour", "2026-11-25T11:00:00.000Z");
    assert_eq!(
        post(&collector, "/usage_data", other).await.0,
        StatusCode::CREATED
    );
}
}

on_both_backends! {
async fn a_ping_with_absurd_counters_cannot_lift_the_leaders_past_the_cap(backend: Backend) {
    let collector = spawn_collector_on(backend, |settings| settings.min_fleet_for_leaders = 1).await;
    let body = serde_json::to_vec(&json!({
        "uuid": "outlier", "recorded_at": "2026-11-25T10:00:00.000Z", "version": "0.1.0",
        "counts_monthly": {"active_users": 1, "issues": 1e300, "notes": 1e300},
        "counts": {"projects": 1, "projects_prometheus_active": 1e300},
    }))
    .unwrap();
    let (status, reply) = post(&collector, "/usage_data", body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let leader_issues = reply["conv_index"]["leader_issues"].as_f64().unwrap();
    let leader_monitoring = reply["conv_index"]["leader_projects_prometheus_active"]
        .as_f64()
        .unwrap();
    assert_eq!(
        leader_issues,
        service_ping_protocol::devops_score::MAX_USAGE_PER_USER
    );
    assert_eq!(leader_monitoring, 1.0);
}
}

on_both_backends! {
async fn metadata_and_error_reports_are_checked_and_stored(backend: Backend) {
    let collector = spawn_collector_on(backend, |_| {}).await;
    let metadata = json!({"metadata": {"uuid": "i", "metrics": [
        {"name": "counts.issues", "time_elapsed": 0.41},
        {"name": "counts.notes", "time_elapsed": 0.02, "error": "no such table"}
    ]}});
    let (status, _) = post(
        &collector,
        "/usage_ping_metadata",
        metadata.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let report = json!({"error": {"uuid": "i", "hostname": "h", "version": "1", "message": "timeout", "elapsed": 30.0, "time": "2026-11-25T10:00:00Z"}});
    let (status, _) = post(
        &collector,
        "/usage_ping_errors",
        report.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let wrong = json!({"metadata": {"uuid": "i", "metrics": [{"name": 3}]}});
    let (status, reply) = post(
        &collector,
        "/usage_ping_metadata",
        wrong.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply["reason"].is_string());
    let unknown = json!({"error": {"uuid": "i", "message": "x", "password": "hunter2"}});
    let (status, _) = post(
        &collector,
        "/usage_ping_errors",
        unknown.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        service_ping_collector::db::counts(&collector.db)
            .await
            .unwrap(),
        (0, 1, 1)
    );
}
}

on_both_backends! {
async fn an_offline_payload_uploaded_on_the_page_is_stored_like_a_sent_one(backend: Backend) {
    let collector = spawn_collector_on(backend, |_| {}).await;
    let client = reqwest::Client::new();
    let page = client
        .get(collector.url("/usage_data/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("type=\"file\""));

    let body = payload("offline", "2026-11-25T10:00:00.000Z");
    let upload = |bytes: Vec<u8>| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("ping.json");
        client
            .post(collector.url("/usage_data/new"))
            .multipart(reqwest::multipart::Form::new().part("payload", part))
            .send()
    };
    let response = upload(body.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.text().await.unwrap().contains("stored as ping #1"));
    let pings = service_ping_collector::db::recent_pings(&collector.db, 1)
        .await
        .unwrap();
    assert_eq!(
        (pings[0].source.as_str(), pings[0].sha256.as_str()),
        ("upload", sha256_hex(&body).as_str())
    );

    let response = upload(b"not json".to_vec()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("Refused"));
    assert_eq!(collector.ping_count().await, 1);
}
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let collector = spawn_collector(|_| {}).await;
    let document: Value = reqwest::get(collector.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/usage_data",
        "/usage_ping_metadata",
        "/usage_ping_errors",
        "/usage_data/new",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    let index = reqwest::get(collector.url("/")).await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("No ping has been received yet.")
    );
}

fn ping_with_usage(uuid: &str, active_users: u32, issues: u32, notes: u32) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "uuid": uuid,
        "recorded_at": "2026-11-25T10:00:00.000Z",
        "version": "0.1.0",
        "active_user_count": active_users,
        "counts": { "projects": 10, "projects_prometheus_active": 5 },
        "counts_monthly": { "active_users": active_users, "issues": issues, "notes": notes },
    }))
    .unwrap()
}

on_both_backends! {
async fn the_reply_carries_the_30_devops_score_numbers_against_the_baseline_for_a_small_fleet(backend: Backend) {
    let collector = spawn_collector_on(backend, |settings| {
        settings.baseline_leaders = [3.0, 15.0, 0.3, 0.2, 4.0, 25.0, 0.5, 6.0, 0.3, 0.5];
        settings.leaders_refresh_seconds = 0;
    })
    .await;
    // A first-ever ping: 10 users, 15 issues (1.5 per user), 300 notes (30 per user, above
    // the leader), half the projects monitored.
    let (status, reply) = post(
        &collector,
        "/usage_data",
        ping_with_usage("first", 10, 15, 300),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let index = &reply["conv_index"];
    assert_eq!(index.as_object().unwrap().len(), 31, "{index}");
    assert_eq!(index["instance_issues"], 1.5);
    assert_eq!(index["leader_issues"], 3.0);
    assert_eq!(index["percentage_issues"], 50.0);
    assert_eq!(index["instance_notes"], 30.0);
    assert_eq!(
        index["percentage_notes"], 100.0,
        "above the leader is capped"
    );
    assert_eq!(index["instance_projects_prometheus_active"], 0.5);
    assert_eq!(index["percentage_projects_prometheus_active"], 100.0);
    assert_eq!(index["percentage_boards"], 0.0);
}
}

on_both_backends! {
async fn the_reply_compares_with_a_cohort_only_when_it_is_large_enough_and_stays_gitlab_valid(backend: Backend) {
    let collector = spawn_collector_on(backend, |settings| {
        settings.leaders_refresh_seconds = 0;
        settings.min_cohort_size = 10;
    })
    .await;
    // Ten instances of 10 users with 1..=10 issues per user, and nine of 5 000 users.
    for i in 1..=10u32 {
        post(&collector, "/usage_data", ping_with_usage(&format!("small-{i}"), 10, i * 10, 0)).await;
    }
    for i in 1..=9u32 {
        post(&collector, "/usage_data", ping_with_usage(&format!("large-{i}"), 5000, i * 5000, 0)).await;
    }
    let (status, reply) = post(&collector, "/usage_data", ping_with_usage("small-5", 10, 50, 0)).await;
    assert_eq!(status, StatusCode::OK, "a resend");
    assert_eq!(reply["conv_index"].as_object().unwrap().len(), 31, "GitLab's 30 numbers and the id, unchanged");
    assert!(service_ping_protocol::devops_score::from_conv_index(&reply["conv_index"]).is_some());
    let cohort = &reply["cohort"];
    assert_eq!(cohort["cohort"]["size"], "users_1_10");
    assert_eq!(cohort["comparison"]["group"]["kind"], "cohort");
    assert_eq!(cohort["comparison"]["group"]["instances"], 10);
    let issues = &cohort["comparison"]["features"][0];
    assert_eq!((issues["key"].as_str(), issues["median"].as_f64(), issues["p90"].as_f64(), issues["percentile"].as_f64()),
        (Some("issues"), Some(5.0), Some(9.0), Some(50.0)));

    let (_, reply) = post(&collector, "/usage_data", ping_with_usage("large-9", 5000, 9 * 5000, 0)).await;
    let cohort = &reply["cohort"];
    assert_eq!(cohort["cohort"]["size"], "users_1001_10000");
    assert_eq!(cohort["comparison"]["group"]["kind"], "fleet", "a cohort of 9 is never reported");
    assert_eq!(cohort["comparison"]["group"]["instances"], 19);
    assert!(cohort["fallback"].as_str().unwrap().contains("whole fleet"));
}
}

on_both_backends! {
async fn leaders_are_the_fleets_90th_percentile_once_the_fleet_is_big_enough(backend: Backend) {
    let collector = spawn_collector_on(backend, |settings| {
        settings.min_fleet_for_leaders = 10;
        settings.leaders_refresh_seconds = 0;
    })
    .await;
    // Ten instances with 1..=10 issues per user, and one with no active users at all.
    for i in 1..=10u32 {
        post(
            &collector,
            "/usage_data",
            ping_with_usage(&format!("i{i}"), 10, 10 * i, 0),
        )
        .await;
    }
    let (_, reply) = post(
        &collector,
        "/usage_data",
        ping_with_usage("idle", 0, 50, 50),
    )
    .await;
    let index = &reply["conv_index"];
    // 11 instances: values 0, 1..=10 issues per user; nearest rank ceil(0.9 × 11) = 10 → 9.
    assert_eq!(index["leader_issues"], 9.0);
    assert_eq!(index["instance_issues"], 0.0, "no active users: no usage");
    assert_eq!(index["percentage_issues"], 0.0);
    // Nobody writes notes: the baseline stays the leader.
    assert_eq!(index["leader_notes"], 15.0);
    // A resend of an instance's ping answers its score again, from what was stored.
    let (status, again) = post(
        &collector,
        "/usage_data",
        ping_with_usage("i10", 10, 100, 0),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["conv_index"]["percentage_issues"], 100.0);
    assert_eq!(again["conv_index"]["instance_issues"], 10.0);
}
}

on_both_backends! {
async fn a_seeded_fleet_is_deterministic_sets_the_leaders_and_shows_on_the_collector_page(backend: Backend) {
    let now: chrono::DateTime<chrono::Utc> = "2026-11-25T12:00:00Z".parse().unwrap();
    let first = spawn_collector_on(backend, |settings| settings.leaders_refresh_seconds = 0).await;
    let second = spawn_collector_on(backend, |_| {}).await;
    for collector in [&first, &second] {
        let report = service_ping_collector::fleet::seed_fleet(&collector.db, 30, 4, now)
            .await
            .unwrap();
        assert_eq!((report.instances, report.pings), (30, 120));
    }
    let fleet = |db| async move {
        let mut fleet = service_ping_collector::db::fleet(db, now - chrono::Duration::weeks(12))
            .await
            .unwrap();
        fleet.sort_by(|a, b| a.0.cmp(&b.0));
        fleet
    };
    let (a, b) = (fleet(&first.db).await, fleet(&second.db).await);
    assert_eq!(a.len(), 30, "one latest ping per instance");
    assert_eq!(a, b, "the same fleet every time");

    let page = reqwest::get(first.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("DevOps Score leaders"));
    assert!(page.matches("<tr><td><code>").count() >= 30);
    let baseline = service_ping_collector::CollectorSettings::default().baseline_leaders;
    let leaders = service_ping_protocol::devops_score::leaders(
        &a.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        &baseline,
        10,
    );
    assert_ne!(
        leaders, baseline,
        "thirty instances are a fleet: leaders come from it"
    );
    // PostgreSQL computes them with percentile_disc, SQLite's rows go through the Rust function:
    // the same leaders either way.
    let settings = service_ping_collector::CollectorSettings {
        min_fleet_for_leaders: 10,
        ..Default::default()
    };
    let state = service_ping_collector::CollectorState::new(first.db.clone(), first.db.clone(), &settings);
    assert_eq!(state.compute_leaders(now).await.unwrap(), leaders);
}
}

on_both_backends! {
async fn a_key_given_twice_is_refused_and_nothing_is_stored(backend: Backend) {
    let collector = spawn_collector_on(backend, |_| {}).await;
    let ping = br#"{"uuid": "victim", "uuid": "attacker", "recorded_at": "2026-11-25T10:00:00.000Z", "version": "1"}"#;
    let (status, reply) = post(&collector, "/usage_data", ping.to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reply["reason"].as_str().unwrap().contains("more than once"),
        "{reply}"
    );
    let metadata = br#"{"metadata": {"uuid": "a", "uuid": "b", "metrics": []}}"#;
    let (status, _) = post(&collector, "/usage_ping_metadata", metadata.to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        service_ping_collector::db::counts(&collector.db)
            .await
            .unwrap(),
        (0, 0, 0)
    );
}
}

#[tokio::test]
async fn metadata_and_error_reports_over_a_mebibyte_are_refused_before_parsing() {
    let collector = spawn_collector(|_| {}).await;
    let zeros = vec!["0"; 600_000].join(",");
    let body = format!(r#"{{"metadata": {{"uuid": "a", "metrics": [{zeros}]}}}}"#);
    assert!(body.len() > 1024 * 1024);
    for path in ["/usage_ping_metadata", "/usage_ping_errors"] {
        let (status, reply) = post(&collector, path, body.clone().into_bytes()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {reply}");
    }
    assert_eq!(
        service_ping_collector::db::counts(&collector.db)
            .await
            .unwrap(),
        (0, 0, 0)
    );
}
