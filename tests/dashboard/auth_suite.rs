//! Every server function and every plain route, called without a session, as a regular account,
//! with a session that has ended, and from another site: each must refuse (401, 403 or a
//! redirect to sign in), and the counts are printed. A server function added without a guard,
//! or without a line in [`CALLS`], fails this suite.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::support::TestApp;

/// Who may call a server function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Signing in and out.
    Anyone,
    /// Any signed-in account (its own password, the banners).
    Account,
    Admin,
}

/// A form's fields.
type Form = &'static [(&'static str, &'static str)];

/// Each server function with arguments that would pass its checks, so that a refusal can only
/// come from the guard.
const CALLS: &[(&str, Audience, Form)] = &[
    (
        "sign_in",
        Audience::Anyone,
        &[("login", "x"), ("password", "y")],
    ),
    ("sign_out", Audience::Anyone, &[]),
    ("banners", Audience::Account, &[]),
    ("password_policy_in_force", Audience::Account, &[]),
    (
        "change_password",
        Audience::Account,
        &[("current", "x"), ("new", "y")],
    ),
    ("access_tokens", Audience::Admin, &[]),
    ("admin_account", Audience::Admin, &[]),
    ("announcements", Audience::Admin, &[]),
    (
        "create_access_token",
        Audience::Admin,
        &[
            ("name", "n"),
            ("scopes[0]", "read_user"),
            ("expires_in_days", "7"),
        ],
    ),
    (
        "create_announcement",
        Audience::Admin,
        &[("message", "m"), ("theme", "info"), ("days", "1")],
    ),
    ("delete_announcement", Audience::Admin, &[("id", "1")]),
    ("devops_adoption", Audience::Admin, &[]),
    ("devops_report", Audience::Admin, &[]),
    ("dismiss_service_ping_notice", Audience::Admin, &[]),
    (
        "email_all_users",
        Audience::Admin,
        &[("subject", "s"), ("body", "b")],
    ),
    ("generate_preview", Audience::Admin, &[]),
    ("generation_status", Audience::Admin, &[]),
    ("geo_sites", Audience::Admin, &[]),
    ("instance_overview", Audience::Admin, &[]),
    ("license_overview", Audience::Admin, &[]),
    ("maintenance_mode", Audience::Admin, &[]),
    ("metric_dictionary", Audience::Admin, &[]),
    (
        "outbox",
        Audience::Admin,
        &[("email_id", "1"), ("limit", "10")],
    ),
    ("paid_feature_access", Audience::Admin, &[]),
    ("password_rules", Audience::Admin, &[]),
    ("payload_detail", Audience::Admin, &[("id", "1")]),
    (
        "payload_diff",
        Audience::Admin,
        &[("from", "1"), ("to", "2")],
    ),
    ("payload_history", Audience::Admin, &[]),
    ("remove_license", Audience::Admin, &[]),
    ("revoke_access_token", Audience::Admin, &[("id", "1")]),
    ("send_now", Audience::Admin, &[]),
    ("service_ping_notice", Audience::Admin, &[]),
    ("test_collector_connection", Audience::Admin, &[]),
    (
        "update_maintenance_mode",
        Audience::Admin,
        &[("enabled", "true"), ("message", "m")],
    ),
    (
        "update_password_rules",
        Audience::Admin,
        &[
            ("policy[minimum_length]", "12"),
            ("policy[require_lowercase]", "false"),
            ("policy[require_uppercase]", "false"),
            ("policy[require_number]", "false"),
            ("policy[require_symbol]", "false"),
            ("policy[reject_breached]", "false"),
        ],
    ),
    (
        "update_setting",
        Audience::Admin,
        &[("setting", "ServicePing"), ("enabled", "false")],
    ),
    ("upload_license", Audience::Admin, &[("text", "x")]),
    ("usage_statistics", Audience::Admin, &[]),
    ("usage_trends", Audience::Admin, &[("months", "12")]),
    ("user_permissions_summary", Audience::Admin, &[]),
];

/// The plain routes behind a session or a token (GET).
const ROUTES: &[&str] = &[
    "/admin",
    "/admin/application_settings/metrics_and_profiling",
    "/admin/service_ping/payloads/1/download",
    "/admin/usage_trends/charts/0.csv?months=12",
    "/admin/user_permissions.csv",
    "/api/v4/usage_data/service_ping",
    "/api/v4/user",
];

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn call(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    headers: HeaderMap,
) -> StatusCode {
    let (_, _, form) = CALLS.iter().find(|(n, _, _)| *n == name).unwrap();
    client
        .post(app.url(&format!("/api/{name}")))
        .headers(headers)
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
}

async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> StatusCode {
    client.get(app.url(path)).send().await.unwrap().status()
}

fn refused(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::SEE_OTHER
    )
}

async fn signed_in(app: &TestApp, login: &str, password: &str) -> reqwest::Client {
    let client = client();
    let response = client
        .post(app.url("/api/sign_in"))
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "signing in as {login}");
    client
}

/// A client that keeps presenting the cookie of a session that was signed out.
async fn ended_session(app: &TestApp, root: &str) -> reqwest::Client {
    let plain = reqwest::Client::new();
    let response = plain
        .post(app.url("/api/sign_in"))
        .form(&[("login", "root"), ("password", root)])
        .send()
        .await
        .unwrap();
    let cookie = crate::support::session_cookie(&response);
    let signed_out = plain
        .post(app.url("/api/sign_out"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::OK);
    let mut headers = HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_server_function_and_route_refuses_whoever_may_not_use_it() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .collect();
    let listed: BTreeSet<String> = CALLS.iter().map(|(name, _, _)| name.to_string()).collect();
    assert_eq!(
        registered, listed,
        "every server function has a line in CALLS"
    );

    let app = crate::support::spawn_app().await;
    let root = app.root_password();
    let password = "a regular person's passphrase";
    service_ping::auth::sign_in::create_account(
        &app.db().await,
        service_ping::auth::sign_in::AccountRequest {
            username: "regular".into(),
            email: "regular@example.com".into(),
            name: None,
            password: password.to_string().into(),
            is_admin: false,
        },
        &service_ping::password_rules::PasswordPolicy::basic(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let regular = signed_in(&app, "regular", password).await;
    let ended = ended_session(&app, &root).await;
    let admin = signed_in(&app, "root", &root).await;
    let mut cross_site = HeaderMap::new();
    cross_site.insert("sec-fetch-site", "cross-site".parse().unwrap());

    let (mut checked, mut failures) = (0, Vec::new());
    let mut expect = |case: &str, name: &str, status: StatusCode, ok: bool| {
        checked += 1;
        if !ok {
            failures.push(format!("{case} {name}: {status}"));
        }
    };
    for (name, audience, _) in CALLS {
        if *audience == Audience::Anyone {
            continue;
        }
        let status = call(&app, &client(), name, HeaderMap::new()).await;
        expect(
            "without a session",
            name,
            status,
            status == StatusCode::UNAUTHORIZED,
        );
        let status = call(&app, &ended, name, HeaderMap::new()).await;
        expect(
            "with an ended session",
            name,
            status,
            status == StatusCode::UNAUTHORIZED,
        );
        let status = call(&app, &regular, name, HeaderMap::new()).await;
        let ok = match audience {
            Audience::Admin => status == StatusCode::FORBIDDEN,
            _ => !refused(status),
        };
        expect("as a regular account", name, status, ok);
        let status = call(&app, &admin, name, cross_site.clone()).await;
        expect(
            "cross-site as the administrator",
            name,
            status,
            status == StatusCode::FORBIDDEN,
        );
    }
    for path in ROUTES {
        for (case, client) in [
            ("without a session", &client()),
            ("with an ended session", &ended),
            ("as a regular account", &regular),
        ] {
            let status = get(&app, client, path).await;
            let ok = if path.starts_with("/api/v4/") {
                status == StatusCode::UNAUTHORIZED
            } else if case == "as a regular account" {
                status == StatusCode::FORBIDDEN
                    || (*path == "/admin" || path.starts_with("/admin/application"))
                        && status == StatusCode::OK
            } else {
                status == StatusCode::SEE_OTHER || status == StatusCode::UNAUTHORIZED
            };
            expect(case, path, status, ok);
        }
    }
    println!(
        "auth suite: {checked} refusals checked over {} server functions and {} routes; {} wrong",
        CALLS.len(),
        ROUTES.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    app.stop().await.unwrap();
}
