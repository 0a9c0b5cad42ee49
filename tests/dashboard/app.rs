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
