//! The bad-input corpus against the dashboard's server functions: signing in without a session,
//! and the administrator's writes. Each case is answered 4xx and changes nothing.

use reqwest::StatusCode;
use service_ping::db::on_pool;

use crate::support::TestApp;

/// A write, its valid form, and the form's fields.
const WRITES: &[(&str, &str)] = &[
    ("sign_in", "login=root&password=wrong+guess"),
    (
        "create_access_token",
        "expires_in_days=7&scopes[0]=read_user&name=ci",
    ),
    ("create_announcement", "message=hello&theme=info&days=1"),
    ("update_setting", "setting=ServicePing&enabled=false"),
    ("update_maintenance_mode", "enabled=true&message=back+soon"),
    ("upload_license", "text=not-a-license"),
    ("change_password", "current=wrong&new=a+long+new+passphrase"),
    ("payload_detail", "id=1"),
    ("usage_trends", "months=12"),
];

/// Bad variants of the valid form `valid`.
fn corpus(valid: &str) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let form = "application/x-www-form-urlencoded";
    let first_value = valid.split('&').next().unwrap();
    let (first_key, _) = first_value.split_once('=').unwrap();
    vec![
        ("empty", Vec::new(), form),
        (
            "truncated",
            valid[..valid.rfind('&').unwrap_or(valid.len() / 2)].into(),
            form,
        ),
        (
            "invalid UTF-8, encoded",
            valid
                .replacen(first_value, &format!("{first_key}=%FF%FE"), 1)
                .into_bytes(),
            form,
        ),
        (
            "invalid UTF-8, raw",
            [valid.as_bytes(), b"&x=\xff\xfe"].concat(),
            form,
        ),
        (
            "a field twice",
            format!("{valid}&{first_value}").into_bytes(),
            form,
        ),
        (
            "deeply nested",
            format!("{valid}&{first_key}{}=1", "[a]".repeat(1000)).into_bytes(),
            form,
        ),
        (
            "huge number",
            valid
                .replace("=1", "=99999999999999999999999")
                .replace("=7", "=1e400")
                .replace("=12", "=-1")
                .replace("=false", "=2")
                .replace("=true", "=yes")
                .into_bytes(),
            form,
        ),
        (
            "oversized",
            format!("{valid}&pad={}", "x".repeat(300 * 1024)).into_bytes(),
            form,
        ),
        ("JSON", br#"{"login": "root"}"#.to_vec(), "application/json"),
    ]
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let db = app.db().await;
    let mut counts = Vec::new();
    for table in [
        "audit_events",
        "personal_access_tokens",
        "broadcast_messages",
        "accounts",
        "raw_usage_data",
        "licenses",
    ] {
        counts.push(
            on_pool!(&db, |p| sqlx::query_scalar(&format!(
                "SELECT count(*) FROM {table}"
            ))
            .fetch_one(p)
            .await)
            .unwrap(),
        );
    }
    let settings: String = on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT service_ping_enabled || '/' || maintenance_mode || '/' || updated_at FROM application_settings",
    ).fetch_one(p).await)
    .unwrap();
    counts.push(settings.len() as i64);
    counts
}

#[tokio::test]
async fn every_bad_form_is_refused_with_4xx_and_changes_nothing() {
    let app = crate::support::spawn_app_with(|settings, _| {
        settings.sign_in.max_failures_per_account = 1000;
        settings.sign_in.max_failures_per_address = 1000;
    })
    .await;
    app.sign_in_as_root().await;
    let before = counts(&app).await;
    let (mut sent, mut wrong) = (0, Vec::new());
    for (endpoint, valid) in WRITES {
        for (case, body, content_type) in corpus(valid) {
            let status = app
                .client
                .post(app.url(&format!("/api/{endpoint}")))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
                .status();
            sent += 1;
            if !status.is_client_error() {
                wrong.push(format!("{endpoint} {case}: {status}"));
            }
        }
    }
    let after = counts(&app).await;
    println!(
        "bad-input corpus (dashboard): {sent} requests, {} answered 4xx, stored rows before {before:?} after {after:?}, peak RSS of the test process {:.1} MiB",
        sent - wrong.len(),
        crate::collector_support::peak_rss_mib()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(before, after, "nothing changed");
    // Still signed in and working: the refusals were about the bodies.
    assert_eq!(
        app.call("instance_overview", &[]).await.status(),
        StatusCode::OK
    );
    app.stop().await.unwrap();
}
