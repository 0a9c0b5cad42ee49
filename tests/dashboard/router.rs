//! Router tests: requests through the real routes and layers, without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn send(router: axum::Router, request: Request<Body>) -> axum::response::Response {
    router.oneshot(request).await.unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_reports_the_database_as_up() {
    let (app, _dir) = crate::support::build_app().await;
    let response = send(app.router(), get("/-/health")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"status": "ok", "database": "ok"})
    );
}

#[tokio::test]
async fn a_signed_out_admin_page_visit_redirects_to_sign_in_and_back() {
    let (app, _dir) = crate::support::build_app().await;
    let response = send(app.router(), get("/admin?x=1")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/users/sign_in?redirect_to=/admin%3Fx%3D1"
    );
}

#[tokio::test]
async fn a_server_function_without_a_session_answers_401() {
    let (app, _dir) = crate::support::build_app().await;
    let request = Request::post("/api/instance_overview")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::empty())
        .unwrap();
    let response = send(app.router(), request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_sign_in_page_renders_with_security_headers() {
    let (app, _dir) = crate::support::build_app().await;
    let response = send(app.router(), get("/users/sign_in")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("'nonce-"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        headers[header::REFERRER_POLICY],
        "strict-origin-when-cross-origin"
    );
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(body.contains("Username or email"));
}

#[tokio::test]
async fn json_routes_get_a_policy_that_forbids_everything() {
    let (app, _dir) = crate::support::build_app().await;
    let response = send(app.router(), get("/-/health")).await;
    assert_eq!(
        response.headers()[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test]
async fn an_unknown_page_is_404() {
    let (app, _dir) = crate::support::build_app().await;
    let response = send(app.router(), get("/no/such/page")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
