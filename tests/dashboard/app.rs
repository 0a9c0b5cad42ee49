//! The real server over a real socket: sign-in, sessions, roles, shutdown.

use reqwest::StatusCode;
use service_ping::auth::sign_in::INVALID_CREDENTIALS;
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
    assert_eq!(overview["database_adapter"], "sqlite");
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
    sqlx::query("DROP TABLE sessions")
        .execute(&app.state().db)
        .await
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
