//! The real server over a real socket: sign-in, sessions, roles, shutdown.

use reqwest::StatusCode;
use service_ping::auth::sign_in::INVALID_CREDENTIALS;
use service_ping::db::{Db, execute, on_pool};
use service_ping::error::ApiError;

#[tokio::test]
async fn first_start_writes_a_private_root_password_that_signs_in() {
    let app = crate::support::spawn_app().await;
    let path = app.data_dir.path().join("initial_root_password");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let response = app.sign_in_as_root().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["location"], "/admin");
    let overview: serde_json::Value = app
        .call("instance_overview", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overview["edition"], "EE Free");
    assert_eq!(
        overview["database_adapter"],
        crate::support::expected_adapter()
    );
    assert_eq!(overview["service_ping"]["enabled"], true);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_saying_which_part_was_wrong() {
    let app = crate::support::spawn_app().await;
    let response = app
        .call("sign_in", &[("login", "root"), ("password", "guess")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: ApiError = response.json().await.unwrap();
    assert_eq!(error, ApiError::Validation(INVALID_CREDENTIALS.into()));
    assert_eq!(
        app.call("instance_overview", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sign_in_cycles_the_session_id() {
    let app = crate::support::spawn_app().await;
    // A first failed attempt gives the client a session; success must replace its id.
    let before = app
        .client
        .get(app.url("/users/sign_in"))
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), StatusCode::OK);
    let response = app.sign_in_as_root().await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("_service_ping_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let second = app.sign_in_as_root().await;
    let cookie_after = second.headers()["set-cookie"].to_str().unwrap().to_string();
    assert_ne!(cookie.split(';').next(), cookie_after.split(';').next());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = crate::support::spawn_app().await;
    app.sign_in_as_root().await;
    assert_eq!(
        app.call("instance_overview", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.call("sign_out", &[]).await.status(), StatusCode::OK);
    assert_eq!(
        app.call("instance_overview", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn sign_in_never_redirects_to_another_site() {
    let app = crate::support::spawn_app().await;
    let password = app.root_password();
    for target in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let response = app
            .call(
                "sign_in",
                &[
                    ("login", "root"),
                    ("password", &password),
                    ("redirect_to", target),
                ],
            )
            .await;
        assert_eq!(response.headers()["location"], "/admin", "target {target}");
    }
    let response = app
        .call(
            "sign_in",
            &[
                ("login", "root"),
                ("password", &password),
                ("redirect_to", "/admin?x=1"),
            ],
        )
        .await;
    assert_eq!(response.headers()["location"], "/admin?x=1");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_server_stops_cleanly_when_asked() {
    let app = crate::support::spawn_app().await;
    let health = app.client.get(app.url("/-/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let address = app.address;
    app.stop().await.unwrap();
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}

#[tokio::test]
async fn a_request_body_over_the_limit_is_refused_with_413_before_sign_in() {
    let app = crate::support::spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/sign_in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A small request still goes through.
    let response = app
        .call("sign_in", &[("login", "root"), ("password", "guess")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_root_password_never_goes_through_a_link_and_the_data_directory_is_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    let link = victim.clone();
    let app = crate::support::spawn_app_with(move |settings, _| {
        std::fs::set_permissions(&settings.data_dir, std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::os::unix::fs::symlink(&link, settings.data_dir.join("initial_root_password")).unwrap();
    })
    .await;
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let path = app.data_dir.path().join("initial_root_password");
    let written = std::fs::symlink_metadata(&path).unwrap();
    assert!(written.is_file(), "a regular file, not the link");
    assert_eq!(written.permissions().mode() & 0o777, 0o600);
    let dir = std::fs::metadata(app.data_dir.path()).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    assert_eq!(app.sign_in_as_root().await.status(), StatusCode::OK);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_session_cleanup_does_not_stop_the_server() {
    let data_dir = tempfile::tempdir().unwrap();
    let settings = crate::support::settings(data_dir.path());
    let app = service_ping::server::Application::build(settings, Default::default())
        .await
        .unwrap();
    let address = app.local_addr();
    // Every round of the cleanup now fails; the first one runs at once.
    execute!(
        &app.state().db,
        sqlx::query(match app.state().db {
            Db::Sqlite(_) => "DROP TABLE sessions",
            Db::Postgres(_) => "DROP TABLE tower_sessions.session",
        })
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !task.is_finished(),
        "the server stopped when a session cleanup failed"
    );
    let health = reqwest::get(format!("http://{address}/-/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let app = crate::support::spawn_app().await;
    let password = app.root_password();
    let form = [("login", "root"), ("password", password.as_str())];
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = app
            .client
            .post(app.url("/api/sign_in"))
            .header(header, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{header}: {value}"
        );
    }
    let overview = app.call("instance_overview", &[]).await;
    assert_eq!(
        overview.status(),
        StatusCode::UNAUTHORIZED,
        "no session was started"
    );
    // The dashboard's own page signs in as before.
    let response = app
        .client
        .post(app.url("/api/sign_in"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://{}", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn parallel_wrong_passwords_get_no_more_guesses_than_the_limit() {
    let app = crate::support::spawn_app().await;
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..30 {
        let client = app.client.clone();
        let url = app.url("/api/sign_in");
        // The username and the email are one account.
        let login = if i % 2 == 0 {
            "root"
        } else {
            "admin@example.com"
        };
        attempts.spawn(async move {
            client
                .post(url)
                .form(&[("login", login), ("password", "wrong-guess")])
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let statuses = attempts.join_all().await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, throttled), (5, 25), "{statuses:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_and_cycles_this_ones_id() {
    let app = crate::support::spawn_app().await;
    let root = app.root_password();
    let before = app.sign_in_as_root().await;
    let id_before = crate::support::session_cookie(&before);
    let elsewhere = app.other_browser();
    let signed_in = elsewhere
        .post(app.url("/api/sign_in"))
        .form(&[("login", "root"), ("password", root.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let overview = |client: &reqwest::Client| client.post(app.url("/api/instance_overview")).send();
    assert_eq!(overview(&elsewhere).await.unwrap().status(), StatusCode::OK);

    let new_password = "a much longer passphrase 42";
    let changed = app
        .call(
            "change_password",
            &[("current", &root), ("new", new_password)],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let id_after = crate::support::session_cookie(&changed);
    assert_ne!(id_before, id_after, "this browser's session id was cycled");
    assert_eq!(
        overview(&app.client).await.unwrap().status(),
        StatusCode::OK,
        "this browser stays signed in"
    );
    assert_eq!(
        overview(&elsewhere).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "the other browser is signed out"
    );
    let old = app
        .call("sign_in", &[("login", "root"), ("password", &root)])
        .await;
    assert_eq!(old.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new = app
        .call("sign_in", &[("login", "root"), ("password", new_password)])
        .await;
    assert_eq!(new.status(), StatusCode::OK);
    let audit: Vec<String> = on_pool!(&app.db().await, |p| sqlx::query_scalar(
        "SELECT action FROM audit_events"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert!(audit.iter().any(|a| a == "password_changed"), "{audit:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn guessing_the_current_password_on_the_change_form_is_throttled() {
    let app = crate::support::spawn_app().await;
    app.sign_in_as_root().await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let guess = app
            .call(
                "change_password",
                &[
                    ("current", "a wrong guess"),
                    ("new", "another long passphrase 1"),
                ],
            )
            .await;
        statuses.push(guess.status());
    }
    assert_eq!(
        statuses,
        [
            [StatusCode::UNPROCESSABLE_ENTITY; 5].as_slice(),
            &[StatusCode::TOO_MANY_REQUESTS; 2]
        ]
        .concat()
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn session_cookies_are_secure_when_the_public_url_is_https() {
    for (public_url, secure) in [
        (None, false),
        (Some("https://sp.example.com"), true),
        (Some("http://sp.internal"), false),
    ] {
        let app = crate::support::spawn_app_with(|settings, _| {
            settings.server.public_url = public_url.map(|url| url.parse().unwrap());
        })
        .await;
        let response = app.sign_in_as_root().await;
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            cookie.contains("; Secure"),
            secure,
            "{public_url:?}: {cookie}"
        );
        app.stop().await.unwrap();
    }
}

/// Five wrong passwords from `address` (as the proxy reports it), each for another login.
async fn failures_from(app: &crate::support::TestApp, address: &str) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for n in 0..6 {
        let response = app
            .client
            .post(app.url("/api/sign_in"))
            .header("x-forwarded-for", address)
            .form(&[
                ("login", format!("nobody-{n}")),
                ("password", "guess".into()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    statuses
}

#[tokio::test]
async fn behind_a_trusted_proxy_sign_in_failures_count_per_client_address() {
    let app = crate::support::spawn_app_with(|settings, _| {
        settings.sign_in.max_failures_per_address = 5;
        settings.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let first = failures_from(&app, "203.0.113.5").await;
    assert_eq!(first[..5], [StatusCode::UNPROCESSABLE_ENTITY; 5]);
    assert_eq!(first[5], StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not locked out by the first one.
    let second = failures_from(&app, "198.51.100.7").await;
    assert_eq!(second[0], StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await.unwrap();

    // Without trusted proxies the header is the client's own word and is ignored: every
    // request comes from 127.0.0.1.
    let app = crate::support::spawn_app_with(|settings, _| {
        settings.sign_in.max_failures_per_address = 5;
    })
    .await;
    failures_from(&app, "203.0.113.5").await;
    let spoofed = failures_from(&app, "198.51.100.7").await;
    assert_eq!(spoofed[0], StatusCode::TOO_MANY_REQUESTS);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_database_locked_longer_than_the_busy_timeout_does_not_stop_the_server() {
    use sqlx::Connection;
    let app = crate::support::spawn_app().await;
    let url = format!(
        "sqlite://{}",
        app.data_dir.path().join("service-ping.sqlite3").display()
    );
    // As a reseed does: one long write transaction, here held past the 10-second busy timeout
    // while the background jobs make their first round.
    let mut locker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(12)).await;
    let during = reqwest::get(app.url("/-/health")).await.unwrap();
    sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
    assert_eq!(
        during.status(),
        StatusCode::OK,
        "reads go on during the lock"
    );
    // After the lock: writes work again, and the server is still serving.
    assert_eq!(app.sign_in_as_root().await.status(), StatusCode::OK);
    assert_eq!(
        app.call("instance_overview", &[]).await.status(),
        StatusCode::OK
    );
    app.stop().await.unwrap();
}
