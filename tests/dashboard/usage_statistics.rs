//! The Usage statistics page's server side over a real socket: generating a preview in the
//! background, following its progress, and downloading exactly the stored bytes.

use reqwest::StatusCode;
use serde_json::Value;
use service_ping::config::Locks;
use service_ping::server::Application;
use service_ping_protocol::hash::sha256_hex;

async fn generate_and_wait(app: &crate::support::TestApp) -> i64 {
    let status = crate::support::generate_preview_and_wait(app).await;
    assert_eq!(status["error"], Value::Null, "{status}");
    assert_eq!(status["done"], status["total"]);
    assert!(status["total"].is_number(), "{status}");
    status["payload_id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_generated_preview_downloads_byte_for_byte_with_the_shown_hash() {
    let app = crate::support::spawn_app().await;
    app.sign_in_as_root().await;
    let before: Value = app
        .call("usage_statistics", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["preview"], Value::Null);

    let id = generate_and_wait(&app).await;
    let statistics: Value = app
        .call("usage_statistics", &[])
        .await
        .json()
        .await
        .unwrap();
    let preview = &statistics["preview"];
    assert_eq!(preview["summary"]["id"], id);
    assert_eq!(preview["summary"]["trigger"], "preview");
    assert_eq!(preview["summary"]["triggered_by"], "root");
    let shown_hash = preview["summary"]["sha256"].as_str().unwrap();
    assert_eq!(
        sha256_hex(preview["text"].as_str().unwrap().as_bytes()),
        shown_hash
    );

    let response = app
        .client
        .get(app.url(&format!("/admin/service_ping/payloads/{id}/download")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    let recorded_at = preview["summary"]["recorded_at"]
        .as_str()
        .unwrap()
        .replace(':', "-");
    let uuid = preview_uuid(&preview["text"]);
    assert_eq!(
        disposition,
        format!("attachment; filename=\"service_ping_{uuid}_{recorded_at}.json\"")
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(sha256_hex(&bytes), shown_hash);
    assert_eq!(&bytes[..], preview["text"].as_str().unwrap().as_bytes());
    app.stop().await.unwrap();
}

fn preview_uuid(text: &Value) -> String {
    let document: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
    document["uuid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn payloads_are_for_administrators_only() {
    let app = crate::support::spawn_app().await;
    // Signed out: server functions answer 401 and the download sends to sign-in.
    for endpoint in [
        "usage_statistics",
        "generate_preview",
        "generation_status",
        "metric_dictionary",
    ] {
        assert_eq!(
            app.call(endpoint, &[]).await.status(),
            StatusCode::UNAUTHORIZED,
            "{endpoint}"
        );
    }
    let download = app
        .client
        .get(app.url("/admin/service_ping/payloads/1/download"))
        .send()
        .await
        .unwrap();
    assert!(download.status().is_redirection());
    assert!(
        download.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/users/sign_in")
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_payload_is_not_found() {
    let app = crate::support::spawn_app().await;
    app.sign_in_as_root().await;
    let response = app
        .client
        .get(app.url("/admin/service_ping/payloads/424242/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "There is no stored payload 424242.");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_metric_dictionary_lists_every_definition_with_its_last_value() {
    let app = crate::support::spawn_app().await;
    app.sign_in_as_root().await;
    let id = generate_and_wait(&app).await;
    let dictionary: Value = app
        .call("metric_dictionary", &[])
        .await
        .json()
        .await
        .unwrap();
    let metrics = dictionary["metrics"].as_array().unwrap();
    assert!(metrics.len() >= 150);
    let uuid = metrics.iter().find(|m| m["key_path"] == "uuid").unwrap();
    assert_eq!(uuid["data_category"], "standard");
    assert!(uuid["last_value"].as_str().unwrap().starts_with('"'));
    let removed = metrics
        .iter()
        .find(|m| m["key_path"] == "counts.projects_imported_from_github")
        .unwrap();
    assert_eq!(removed["status"], "removed");
    assert_eq!(removed["last_value"], Value::Null);
    let stored: Value = app
        .call("usage_statistics", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["preview"]["summary"]["id"], id);
    assert_eq!(
        dictionary["latest_recorded_at"],
        stored["preview"]["summary"]["recorded_at"]
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_invalid_metric_definition_stops_start_up_naming_the_file_and_the_field() {
    let data_dir = tempfile::tempdir().unwrap();
    let metrics = tempfile::tempdir().unwrap();
    std::fs::create_dir(metrics.path().join("counts_all")).unwrap();
    std::fs::write(
        metrics.path().join("counts_all/issues.yml"),
        "key_path: counts.issues\ndescription: Issues\nproduct_group: plan\nvalue_type: number\n\
         status: active\ntime_frame: 8d\ndata_source: database\ndata_category: operational\n\
         instrumentation_class: CountMetric\noptions:\n  table: issues\ntier: [free]\nmilestone: \"1.0\"\n",
    )
    .unwrap();
    let mut settings = crate::support::settings(data_dir.path());
    settings.service_ping.metrics_dir = metrics.path().to_owned();
    let error = match Application::build(settings, Locks::default()).await {
        Ok(_) => panic!("started with an invalid metric definition"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        error.contains("counts_all/issues.yml: field `time_frame`"),
        "{error}"
    );
}
