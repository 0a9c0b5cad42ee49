//! The Registration Features Program over a real socket: licenses (verified, refused when
//! tampered, foreign or expired, named in the payload), the toggle and its dependence on Service
//! Ping, and each paid feature end to end.

use ed25519_dalek::SigningKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use service_ping::db::{execute, on_pool};
use service_ping::licensing::Plan;
use service_ping_protocol::license::{self, Claims, Licensee};
use sha2::{Digest, Sha256};

const VENDOR_SEED: [u8; 32] = [42; 32];

fn vendor() -> SigningKey {
    SigningKey::from_bytes(&VENDOR_SEED)
}

fn vendor_public_key() -> String {
    license::encode_key(&vendor().verifying_key().to_bytes())
}

fn claims(plan: Plan, starts: &str, expires: &str) -> Claims {
    Claims {
        id: 4711,
        plan,
        seats: 100,
        licensee: Licensee {
            name: "Grace Licenseholder".into(),
            email: "grace@customer.example".into(),
            company: "Customer Ltd".into(),
        },
        starts_at: starts.parse().unwrap(),
        expires_at: expires.parse().unwrap(),
        trial: false,
        issued_at: "2026-01-01T00:00:00Z".parse().unwrap(),
    }
}

fn current_license(plan: Plan) -> String {
    let today = chrono::Utc::now().date_naive();
    let claims = claims(
        plan,
        &(today - chrono::Duration::days(30)).to_string(),
        &(today + chrono::Duration::days(335)).to_string(),
    );
    license::issue(&claims, &vendor())
}

/// A Premium license from `starts` to `expires`, signed by `vendor`.
pub(crate) fn license_from(vendor: &SigningKey, starts: &str, expires: &str) -> String {
    license::issue(&claims(Plan::Premium, starts, expires), vendor)
}

async fn json(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
}

async fn licensed_app() -> crate::support::TestApp {
    let app = crate::support::spawn_app_with(|settings, _| {
        settings.licensing.public_key = Some(vendor_public_key());
    })
    .await;
    app.sign_in_as_root().await;
    app
}

async fn set(app: &crate::support::TestApp, setting: &str, enabled: bool) -> reqwest::Response {
    app.call(
        "update_setting",
        &[("setting", setting), ("enabled", &enabled.to_string())],
    )
    .await
}

async fn access(app: &crate::support::TestApp) -> Value {
    json(app.call("paid_feature_access", &[]).await).await
}

/// Generates a preview and returns the stored payload as JSON.
async fn generate_payload(app: &crate::support::TestApp) -> Value {
    assert_eq!(
        app.call("generate_preview", &[]).await.status(),
        StatusCode::OK
    );
    for _ in 0..600 {
        let status = json(app.call("generation_status", &[]).await).await;
        if status["running"] == false {
            let statistics = json(app.call("usage_statistics", &[]).await).await;
            let text = statistics["preview"]["text"].as_str().unwrap();
            return serde_json::from_str(text).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("generation did not finish");
}

#[tokio::test]
async fn a_verified_license_makes_a_paid_edition_and_is_named_in_the_payload() {
    let app = licensed_app().await;
    let before = json(app.call("license_overview", &[]).await).await;
    assert_eq!(before["edition"], "EE Free");
    assert_eq!(before["license"], Value::Null);

    let text = current_license(Plan::Ultimate);
    let uploaded = app.call("upload_license", &[("text", &text)]).await;
    assert_eq!(uploaded.status(), StatusCode::OK);
    let overview = json(uploaded).await;
    assert_eq!(overview["edition"], "EEU");
    assert_eq!(overview["license"]["status"], "In force");
    assert_eq!(overview["license"]["plan"], "Ultimate");
    assert_eq!(overview["access"], json!({"Licensed": "ultimate"}));
    // A paid license opens the features with Service Ping off.
    assert_eq!(
        set(&app, "ServicePing", false).await.status(),
        StatusCode::OK
    );
    assert_eq!(access(&app).await, json!({"Licensed": "ultimate"}));

    let payload = generate_payload(&app).await;
    assert_eq!(payload["edition"], "EEU");
    assert_eq!(payload["license_plan"], "ultimate");
    assert_eq!(payload["license_id"], 4711);
    assert_eq!(payload["license_user_count"], 100);
    assert_eq!(payload["license_trial"], false);
    assert_eq!(
        payload["license_sha256"],
        hex::encode(Sha256::digest(text.as_bytes()))
    );
    // The licensee is personal data: a declared metric of the optional category only.
    assert_eq!(payload["licensee"]["email"], "grace@customer.example");
    assert_eq!(
        set(&app, "IncludeOptionalData", false).await.status(),
        StatusCode::OK
    );
    let payload = generate_payload(&app).await;
    assert_eq!(payload.get("licensee"), None);
    assert_eq!(payload["license_id"], 4711);
    assert!(!String::from_utf8_lossy(&serde_json::to_vec(&payload).unwrap()).contains("grace@"));

    let removed = json(app.call("remove_license", &[]).await).await;
    assert_eq!(removed["edition"], "EE Free");
    let statistics = json(app.call("usage_statistics", &[]).await).await;
    let targets: Vec<&str> = statistics["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets.iter().filter(|t| **t == "License").count(), 2);
}

#[tokio::test]
async fn tampered_foreign_and_expired_licenses_are_refused_and_change_nothing() {
    let app = licensed_app().await;
    let good = current_license(Plan::Premium);
    let mut tampered_bytes = good.clone().into_bytes();
    let middle = tampered_bytes.len() / 2;
    tampered_bytes[middle] = if tampered_bytes[middle] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(tampered_bytes).unwrap();
    let foreign = license::issue(
        &claims(Plan::Premium, "2026-01-01", "2099-01-01"),
        &SigningKey::from_bytes(&[7; 32]),
    );
    let expired = license::issue(
        &claims(Plan::Premium, "2024-01-01", "2025-01-01"),
        &vendor(),
    );
    let future = license::issue(
        &claims(Plan::Premium, "2098-01-01", "2099-01-01"),
        &vendor(),
    );
    for (text, expected) in [
        (tampered.as_str(), "not"),
        (foreign.as_str(), "signature is not valid"),
        (expired.as_str(), "The license expired on 2025-01-01"),
        (future.as_str(), "The license starts on 2098-01-01"),
        ("hello", "This is not a license file"),
    ] {
        let refused = app.call("upload_license", &[("text", text)]).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{expected}"
        );
        let error = json(refused).await;
        let message = error["Validation"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    let overview = json(app.call("license_overview", &[]).await).await;
    assert_eq!(overview["edition"], "EE Free");
    assert_eq!(overview["license"], Value::Null);
}

#[tokio::test]
async fn without_a_vendor_key_no_license_can_be_installed() {
    let app = crate::support::spawn_app().await;
    app.sign_in_as_root().await;
    let refused = app
        .call(
            "upload_license",
            &[("text", &current_license(Plan::Premium))],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        json(refused).await["Validation"]
            .as_str()
            .unwrap()
            .contains("No vendor public key")
    );
}

#[tokio::test]
async fn registration_features_need_service_ping_and_end_with_it() {
    let app = licensed_app().await;
    let locked = access(&app).await;
    assert!(
        locked["Locked"]
            .as_str()
            .unwrap()
            .contains("Enable Registration Features")
    );
    assert_eq!(
        app.call("announcements", &[]).await.status(),
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        set(&app, "ServicePing", false).await.status(),
        StatusCode::OK
    );
    let refused = set(&app, "RegistrationFeatures", true).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        json(refused).await["Forbidden"]
            .as_str()
            .unwrap()
            .contains("turn on Service Ping first")
    );
    let statistics = json(app.call("usage_statistics", &[]).await).await;
    assert_eq!(
        statistics["registration_features"]["toggle"]["enabled"],
        false
    );
    assert!(statistics["registration_features"]["disabled_reason"].is_string());

    assert_eq!(
        set(&app, "ServicePing", true).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        set(&app, "RegistrationFeatures", true).await.status(),
        StatusCode::OK
    );
    assert_eq!(access(&app).await, json!("RegistrationFeatures"));
    assert_eq!(
        app.call("announcements", &[]).await.status(),
        StatusCode::OK
    );

    // Service Ping off: the program ends in the same change, and the next request is refused.
    assert_eq!(
        set(&app, "ServicePing", false).await.status(),
        StatusCode::OK
    );
    let refused = app.call("announcements", &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let reason = json(refused).await["Forbidden"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.starts_with("Announcements and email to users is a paid feature."),
        "{reason}"
    );
    assert!(reason.contains("Service Ping, which is off"), "{reason}");
    let statistics = json(app.call("usage_statistics", &[]).await).await;
    assert_eq!(
        statistics["registration_features"]["toggle"]["enabled"],
        false
    );
    let newest = &statistics["audit"][0];
    assert_eq!(newest["target"], "Enable Registration Features");
    assert_eq!(
        (&newest["old_value"], &newest["new_value"]),
        (&json!("on"), &json!("off"))
    );
    let stored: bool = on_pool!(&app.db().await, |p| sqlx::query_scalar(
        "SELECT registration_features_enabled FROM application_settings"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(!stored);
    // Turning Service Ping back on does not bring the program back by itself.
    assert_eq!(
        set(&app, "ServicePing", true).await.status(),
        StatusCode::OK
    );
    assert!(access(&app).await["Locked"].is_string());
}

async fn enable_program(app: &crate::support::TestApp) {
    assert_eq!(
        set(app, "RegistrationFeatures", true).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_paid_feature_refuses_without_entitlement_with_the_reason() {
    let app = licensed_app().await;
    let calls: [(&str, &[(&str, &str)]); 8] = [
        ("announcements", &[]),
        (
            "create_announcement",
            &[("message", "hi"), ("theme", "info"), ("days", "1")],
        ),
        ("email_all_users", &[("subject", "s"), ("body", "b")]),
        ("maintenance_mode", &[]),
        (
            "update_maintenance_mode",
            &[("enabled", "true"), ("message", "")],
        ),
        ("password_rules", &[]),
        ("user_permissions_summary", &[]),
        ("devops_adoption", &[]),
    ];
    for (endpoint, form) in calls {
        let refused = app.call(endpoint, form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{endpoint}");
        let reason = json(refused).await["Forbidden"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(reason.contains("is a paid feature"), "{endpoint}: {reason}");
    }
    let csv = app
        .client
        .get(app.url("/admin/user_permissions.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::FORBIDDEN);
    enable_program(&app).await;
    for (endpoint, form) in calls
        .iter()
        .filter(|(e, _)| !e.contains("create") && !e.contains("update") && !e.contains("email"))
    {
        assert_eq!(
            app.call(endpoint, form).await.status(),
            StatusCode::OK,
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn maintenance_mode_makes_the_instance_read_only_until_turned_off() {
    let app = licensed_app().await;
    enable_program(&app).await;
    let on = app
        .call(
            "update_maintenance_mode",
            &[("enabled", "true"), ("message", "Back at 18:00 UTC.")],
        )
        .await;
    assert_eq!(on.status(), StatusCode::OK);
    assert_eq!(json(on).await["in_force"], true);
    let banners = json(app.call("banners", &[]).await).await;
    let banner = banners["maintenance"].as_str().unwrap();
    assert!(
        banner.contains("read-only") && banner.ends_with("Back at 18:00 UTC."),
        "{banner}"
    );

    let writes: [(&str, &[(&str, &str)]); 6] = [
        (
            "create_access_token",
            &[
                ("name", "ci"),
                ("scopes[]", "read_service_ping"),
                ("expires_in_days", "7"),
            ],
        ),
        ("generate_preview", &[]),
        ("send_now", &[]),
        (
            "create_announcement",
            &[("message", "hi"), ("theme", "info"), ("days", "1")],
        ),
        ("upload_license", &[("text", "x")]),
        ("change_password", &[("current", "x"), ("new", "y")]),
    ];
    for (endpoint, form) in writes {
        let refused = app.call(endpoint, form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{endpoint}");
        let message = json(refused).await["Forbidden"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.contains("maintenance mode"),
            "{endpoint}: {message}"
        );
    }
    let db = app.db().await;
    let payloads: i64 = on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT count(*) FROM raw_usage_data"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(payloads, 0);
    // Service Ping settings stay changeable; turning maintenance mode off ends it.
    assert_eq!(
        set(&app, "IncludeOptionalData", true).await.status(),
        StatusCode::OK
    );
    let off = app
        .call(
            "update_maintenance_mode",
            &[("enabled", "false"), ("message", "")],
        )
        .await;
    assert_eq!(json(off).await["in_force"], false);
    assert_eq!(
        json(app.call("banners", &[]).await).await["maintenance"],
        Value::Null
    );
    let created = app
        .call(
            "create_announcement",
            &[("message", "hi"), ("theme", "info"), ("days", "1")],
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);

    // Maintenance mode on, then the program off: the mode is no longer in force.
    app.call(
        "update_maintenance_mode",
        &[("enabled", "true"), ("message", "")],
    )
    .await;
    set(&app, "RegistrationFeatures", false).await;
    assert_eq!(
        app.call(
            "create_access_token",
            &[
                ("name", "ci"),
                ("scopes[]", "read_service_ping"),
                ("expires_in_days", "7")
            ]
        )
        .await
        .status(),
        StatusCode::OK
    );
}

/// Adds platform users (two active humans, one blocked, one bot) for the email and report tests.
async fn seed_people(db: &service_ping::db::Db) {
    let at = "2026-01-10 10:00:00";
    for (id, username, state, kind) in [
        (1, "ada", "active", "human"),
        (2, "brian", "active", "human"),
        (3, "carol", "blocked", "human"),
        (4, "deploy-bot", "active", "bot"),
    ] {
        execute!(&db, sqlx::query(
            "INSERT INTO users (id, username, name, email, state, user_type, created_at, updated_at, last_activity_on) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, '2026-11-01')",
        )
        .bind(id)
        .bind(username)
        .bind(format!("{username} Example"))
        .bind(format!("{username}@people.example"))
        .bind(state)
        .bind(kind)
        .bind(at))
        .unwrap();
    }
    execute!(&db, sqlx::query("INSERT INTO namespaces (id, name, path, type, visibility, created_at, updated_at) VALUES (10, 'Platform', 'platform', 'Group', 'private', $1, $1), (11, 'Quiet', 'quiet', 'Group', 'private', $1, $1)")
        .bind(at)).unwrap();
    execute!(&db, sqlx::query("INSERT INTO projects (id, namespace_id, creator_id, name, visibility, created_at, updated_at) VALUES (20, 10, 1, 'api', 'private', $1, $1)")
        .bind(at)).unwrap();
    execute!(&db, sqlx::query("INSERT INTO members (id, user_id, source_type, source_id, access_level, created_at, updated_at) VALUES \
                 (1, 1, 'Namespace', 10, 50, $1, $1), (2, 2, 'Project', 20, 30, $1, $1), (3, 2, 'Namespace', 11, 10, $1, $1)")
        .bind(at)).unwrap();
}

#[tokio::test]
async fn banners_show_to_everyone_and_email_goes_to_every_active_user_through_the_outbox() {
    let app = licensed_app().await;
    seed_people(&app.db().await).await;
    enable_program(&app).await;
    let created = app
        .call(
            "create_announcement",
            &[
                ("message", "Upgrade on Friday"),
                ("theme", "warning"),
                ("days", "3"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let banners = json(app.call("banners", &[]).await).await;
    assert_eq!(banners["announcements"][0]["message"], "Upgrade on Friday");
    for (form, expected) in [
        (
            vec![("message", ""), ("theme", "info"), ("days", "1")],
            "must not be empty",
        ),
        (
            vec![("message", "x"), ("theme", "neon"), ("days", "1")],
            "Unknown theme",
        ),
        (
            vec![("message", "x"), ("theme", "info"), ("days", "0")],
            "1 to 365 days",
        ),
    ] {
        let refused = app.call("create_announcement", &form).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            json(refused).await["Validation"]
                .as_str()
                .unwrap()
                .contains(expected)
        );
    }

    let sent = app
        .call(
            "email_all_users",
            &[
                ("subject", "Maintenance window"),
                ("body", "We upgrade on Friday."),
            ],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::OK);
    let email_id = json(sent).await.as_i64().unwrap();
    let page = json(app.call("announcements", &[]).await).await;
    assert_eq!(page["transport"], "the outbox");
    assert_eq!(page["active_users"], 2);
    assert_eq!(page["emails"][0]["recipients"], 2);
    assert_eq!(page["emails"][0]["delivered"], 2);
    let outbox = json(
        app.call(
            "outbox",
            &[("email_id", &email_id.to_string()), ("limit", "50")],
        )
        .await,
    )
    .await;
    let recipients: Vec<&str> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["recipient"].as_str().unwrap())
        .collect();
    assert_eq!(recipients, ["ada@people.example", "brian@people.example"]);
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "kept" && m["subject"] == "Maintenance window")
    );

    // The program off: the banner is gone on the next request.
    set(&app, "RegistrationFeatures", false).await;
    assert_eq!(
        json(app.call("banners", &[]).await).await["announcements"],
        json!([])
    );
}

/// A minimal SMTP server that accepts every message and reports each one's recipient and data.
async fn fake_smtp() -> (u16, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
                let (mut recipient, mut data, mut in_data) = (String::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            tx.send((recipient.clone(), std::mem::take(&mut data)))
                                .unwrap();
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-fake\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        recipient = line[8..].trim().trim_matches(['<', '>']).to_string();
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go on\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn with_smtp_configured_each_user_gets_the_email_through_smtp() {
    let (port, mut received) = fake_smtp().await;
    let app = crate::support::spawn_app_with(|settings, _| {
        settings.email.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    })
    .await;
    app.sign_in_as_root().await;
    seed_people(&app.db().await).await;
    enable_program(&app).await;
    let sent = app
        .call(
            "email_all_users",
            &[("subject", "Hello"), ("body", "Body text here.")],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::OK);
    let mut got = Vec::new();
    for _ in 0..2 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), received.recv())
            .await
            .expect("an SMTP message within 10 s")
            .unwrap();
        assert!(message.1.contains("Subject: Hello"), "{}", message.1);
        assert!(message.1.contains("Body text here."));
        got.push(message.0);
    }
    got.sort();
    assert_eq!(got, ["ada@people.example", "brian@people.example"]);
    for _ in 0..100 {
        let page = json(app.call("announcements", &[]).await).await;
        if page["emails"][0]["delivered"] == 2 {
            assert_eq!(page["transport"], "SMTP");
            assert_eq!(page["emails"][0]["failed"], 0);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox never recorded both deliveries");
}

#[tokio::test]
async fn emails_left_queued_by_a_stopped_server_are_delivered_after_a_restart() {
    let app = crate::support::spawn_app().await;
    seed_people(&app.db().await).await;
    let db = app.db().await;
    // What a server stopped mid-delivery leaves behind: an SMTP email with queued messages.
    execute!(
        &db,
        sqlx::query(
            "INSERT INTO admin_emails (id, subject, body, transport, recipients, created_at) \
         VALUES (7, 'Left behind', 'Still coming.', 'smtp', 2, '2026-12-01T10:00:00.000Z')",
        )
    )
    .unwrap();
    execute!(
        &db,
        sqlx::query(
            "INSERT INTO email_outbox (admin_email_id, recipient, status, updated_at) VALUES \
         (7, 'ada@people.example', 'queued', '2026-12-01T10:00:00.000Z'), \
         (7, 'brian@people.example', 'queued', '2026-12-01T10:00:00.000Z')",
        )
    )
    .unwrap();
    db.close().await;
    let data_dir = app.stop_keeping_data().await;

    let (port, mut received) = fake_smtp().await;
    let app = crate::support::spawn_app_in(data_dir, |settings, _| {
        settings.email.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    })
    .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), received.recv())
            .await
            .expect("the queued messages are sent after the restart")
            .unwrap();
        assert!(message.1.contains("Subject: Left behind"), "{}", message.1);
        got.push(message.0);
    }
    got.sort();
    assert_eq!(got, ["ada@people.example", "brian@people.example"]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn announcements_emails_and_tokens_are_in_the_audit_log() {
    let app = licensed_app().await;
    enable_program(&app).await;
    let form = [
        ("message", "Upgrade on Friday"),
        ("theme", "info"),
        ("days", "2"),
    ];
    assert_eq!(
        app.call("create_announcement", &form).await.status(),
        StatusCode::OK
    );
    let id: i64 = on_pool!(&app.db().await, |p| sqlx::query_scalar(
        "SELECT max(id) FROM broadcast_messages"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    let deleted = app
        .call("delete_announcement", &[("id", &id.to_string())])
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let emailed = app
        .call(
            "email_all_users",
            &[("subject", "Hello"), ("body", "Body.")],
        )
        .await;
    assert_eq!(emailed.status(), StatusCode::OK);
    let created = json(
        app.call(
            "create_access_token",
            &[
                ("name", "ci"),
                ("scopes[0]", "read_service_ping"),
                ("expires_in_days", "7"),
            ],
        )
        .await,
    )
    .await;
    let token_id = created["token"]["id"].as_i64().unwrap().to_string();
    assert_eq!(
        app.call("revoke_access_token", &[("id", &token_id)])
            .await
            .status(),
        StatusCode::OK
    );
    let entries: Vec<(String, String, String)> = on_pool!(&app.db().await, |p| sqlx::query_as(
        "SELECT actor, action, target FROM audit_events \
         WHERE action NOT IN ('setting_changed') ORDER BY id",
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|(_, action, _)| action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "announcement_created",
            "announcement_deleted",
            "email_sent_to_all_users",
            "access_token_created",
            "access_token_revoked"
        ],
        "{entries:?}"
    );
    assert!(entries.iter().all(|(actor, _, _)| actor == "root"));
    assert_eq!(entries[0].2, format!("Announcement #{id}"));
    assert!(entries[3].2.contains("(ci)"), "{:?}", entries[3]);
}

#[tokio::test]
async fn password_rules_apply_to_every_password_change() {
    let app = licensed_app().await;
    let root = app.root_password();
    // Without the feature: the basic length rule only.
    let plain = "aaaaaaaaaaaaaa";
    let changed = app
        .call("change_password", &[("current", &root), ("new", plain)])
        .await;
    assert_eq!(changed.status(), StatusCode::OK);

    enable_program(&app).await;
    let rules = json(app.call("password_rules", &[]).await).await;
    assert_eq!(rules["in_force"]["minimum_length"], 12);
    let admin = &app;
    let strict_rules = move |minimum_length: &'static str| async move {
        admin
            .call(
                "update_password_rules",
                &[
                    ("policy[minimum_length]", minimum_length),
                    ("policy[require_lowercase]", "true"),
                    ("policy[require_uppercase]", "true"),
                    ("policy[require_number]", "true"),
                    ("policy[require_symbol]", "true"),
                    ("policy[reject_breached]", "true"),
                ],
            )
            .await
    };
    assert_eq!(strict_rules("16").await.status(), StatusCode::OK);
    // The page's plain form (no JavaScript): each box posts a hidden false, then its true when
    // checked; the last value counts, so the cleared symbol box turns that rule off.
    let boxes = [
        ("require_lowercase", true),
        ("require_uppercase", true),
        ("require_number", true),
        ("require_symbol", false),
        ("reject_breached", true),
    ];
    let names: Vec<String> = boxes
        .iter()
        .map(|(field, _)| format!("policy[{field}][]"))
        .collect();
    let mut plain_form = vec![("policy[minimum_length]", "16")];
    for ((_, checked), name) in boxes.iter().zip(&names) {
        plain_form.push((name, "false"));
        if *checked {
            plain_form.push((name, "true"));
        }
    }
    let saved = admin.call("update_password_rules", &plain_form).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let configured = &json(saved).await["configured"];
    assert_eq!(configured["require_symbol"], false);
    assert_eq!(configured["require_lowercase"], true);
    assert_eq!(configured["reject_breached"], true);
    assert_eq!(strict_rules("16").await.status(), StatusCode::OK);
    let too_short = strict_rules("6").await;
    assert_eq!(too_short.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let refused = app
        .call(
            "change_password",
            &[("current", plain), ("new", "bbbbbbbbbbbbbbbb")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        json(refused).await["Validation"],
        "The password must have an uppercase letter, a number, a symbol."
    );
    let wrong_current = app
        .call(
            "change_password",
            &[("current", "nope"), ("new", "Str0ng&Long-Passphrase")],
        )
        .await;
    assert_eq!(
        json(wrong_current).await["Validation"],
        "The current password is not correct."
    );
    let strong = "Str0ng&Long-Passphrase";
    assert_eq!(
        app.call("change_password", &[("current", plain), ("new", strong)])
            .await
            .status(),
        StatusCode::OK
    );
    // The new password signs in.
    app.call("sign_out", &[]).await;
    assert_eq!(
        app.call("admin_account", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.call("sign_in", &[("login", "root"), ("password", strong)])
        .await;
    assert_eq!(
        app.call("admin_account", &[]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_permissions_report_lists_every_membership_with_its_role() {
    let app = licensed_app().await;
    seed_people(&app.db().await).await;
    enable_program(&app).await;
    let summary = json(app.call("user_permissions_summary", &[]).await).await;
    assert_eq!(summary, json!({"users": 4, "memberships": 3}));
    let response = app
        .client
        .get(app.url("/admin/user_permissions.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.text().await.unwrap(),
        "Username,Name,Email,State,Type,Path,Access level,Last activity\n\
         ada,ada Example,ada@people.example,active,Group,platform,Owner,2026-11-01\n\
         brian,brian Example,brian@people.example,active,Group,quiet,Guest,2026-11-01\n\
         brian,brian Example,brian@people.example,active,Project,platform/api,Developer,2026-11-01\n"
    );
    // Signed out: sent to sign in before anything else.
    app.call("sign_out", &[]).await;
    let anonymous = app
        .client
        .get(app.url("/admin/user_permissions.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert!(
        anonymous.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/users/sign_in")
    );
}

#[tokio::test]
async fn devops_adoption_shows_what_each_group_used_per_finished_month() {
    let app = licensed_app().await;
    let db = app.db().await;
    seed_people(&db).await;
    let months = service_ping::devops_adoption::finished_months(chrono::Utc::now().date_naive());
    let last = months.last().unwrap().clone();
    let earlier = months[months.len() - 3].clone();
    for (id, month) in [(1, &last), (2, &earlier)] {
        execute!(&db, sqlx::query("INSERT INTO issues (id, project_id, author_id, title, state, service_desk, created_at, updated_at) VALUES ($1, 20, 1, 't', 'opened', $2, $3, $3)")
            .bind(id).bind(id == 1).bind(format!("{month}-01 00:00:00"))).unwrap();
    }
    execute!(&db, sqlx::query("INSERT INTO merge_requests (id, project_id, author_id, title, state, created_at, updated_at) VALUES (1, 20, 2, 'm', 'opened', $1, $1)")
        .bind(format!("{earlier}-28 23:59:59"))).unwrap();
    enable_program(&app).await;
    let adoption = json(app.call("devops_adoption", &[]).await).await;
    assert_eq!(adoption["months"].as_array().unwrap().len(), 12);
    assert_eq!(adoption["months"][11], json!(last));
    let groups = adoption["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let platform = &groups[0];
    assert_eq!(platform["name"], "Platform");
    assert_eq!(
        platform["last_month"],
        json!(["issues", "service_desk_issues"])
    );
    let mut expected = vec![0; 12];
    expected[11] = 2;
    expected[9] = 2;
    assert_eq!(platform["over_time"], json!(expected));
    assert_eq!(groups[1]["over_time"], json!(vec![0; 12]));
    let totals: Vec<i64> = adoption["feature_totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[1].as_i64().unwrap())
        .collect();
    assert_eq!(totals, [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    // Finished months are kept: a second look computes nothing new and answers the same.
    let kept: i64 = on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT count(*) FROM devops_adoption_months"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(kept, 12);
    assert_eq!(json(app.call("devops_adoption", &[]).await).await, adoption);
}

#[tokio::test]
async fn the_collector_notes_the_last_ping_of_each_license_it_issued() {
    use service_ping_collector::cli::IssueArgs;
    let collector = crate::support::spawn_collector(|_| {}).await;
    let args = IssueArgs {
        key: "unused".into(),
        plan: Plan::Premium,
        seats: 50,
        licensee_name: "Grace".into(),
        licensee_email: "grace@customer.example".into(),
        licensee_company: "Customer Ltd".into(),
        starts: None,
        expires: "2099-01-01".parse().unwrap(),
        trial: true,
        out: None,
    };
    let (id, text) = service_ping_collector::licenses::issue(
        &collector.db,
        &vendor(),
        &args,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let verified = license::verify(&text, &vendor().verifying_key()).unwrap();
    assert_eq!(verified.claims.id, id);
    assert!(verified.claims.trial);
    let ping = json!({
        "uuid": "6f0c2b9e-license-test", "recorded_at": "2026-11-20T10:00:00.000Z", "version": "1.0.0",
        "license_sha256": verified.sha256(), "license_id": id
    });
    let client = reqwest::Client::new();
    let answer = client
        .post(collector.url("/usage_data"))
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let issued = service_ping_collector::licenses::list(&collector.db)
        .await
        .unwrap();
    assert_eq!(issued.len(), 1);
    assert!(issued[0].last_ping_received_at.is_some());
    assert!(issued[0].last_ping_usage_data_id.is_some());
}
