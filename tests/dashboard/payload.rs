//! Generating and storing whole payloads from the repository's metric dictionary over a seeded
//! platform: byte-exact storage, no personal data, categories and statuses honoured.

use crate::support::{CLI, Instance};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use service_ping::db::{Db, execute, on_pool};
use service_ping::service_ping::{db as raw_usage_data, generate_and_store};
use service_ping_protocol::hash::sha256_hex;

async fn seeded(db: &Db) {
    let anchor = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    service_ping::platform::seed::seed(db, 1, anchor, false)
        .await
        .unwrap();
}

fn at(path: &str, document: &Value) -> Value {
    path.split('.')
        .fold(document.clone(), |node, key| node[key].clone())
}

#[tokio::test]
async fn a_generated_payload_is_stored_once_as_its_exact_bytes() {
    let (db, _dir) = crate::support::database().await;
    seeded(&db).await;
    let instance = Instance::new(&db).await;
    let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
    let progress = std::sync::Mutex::new(Vec::new());
    let report = |done: usize, total: usize| progress.lock().unwrap().push((done, total));
    let stored = generate_and_store(instance.deps(&db), CLI, recorded_at, &report)
        .await
        .unwrap();

    let bytes = raw_usage_data::payload_bytes(&db, stored.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bytes, stored.payload.bytes);
    let row = raw_usage_data::find(&db, stored.id).await.unwrap().unwrap();
    assert_eq!(row.sha256, sha256_hex(&bytes));
    assert_eq!(row.size_bytes, bytes.len() as i64);
    assert_eq!(row.recorded_at, "2026-11-25T08:00:00.000Z");
    assert_eq!(row.trigger, "cli");
    assert_eq!(row.metrics_failed, 0);
    let results = raw_usage_data::metric_results(&db, stored.id)
        .await
        .unwrap();
    assert_eq!(results.len() as i64, row.metrics_total);

    let progress = progress.into_inner().unwrap();
    let (done, total) = *progress.last().unwrap();
    assert_eq!(done, total);
    assert_eq!(total as i64, row.metrics_total);
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));

    // recorded_at identifies a payload: a second one at the same moment is refused.
    assert!(
        generate_and_store(instance.deps(&db), CLI, recorded_at, &|_, _| {})
            .await
            .is_err()
    );
    assert_eq!(raw_usage_data::list(&db, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_payload_has_gitlabs_sections_and_windows_that_differ() {
    let (db, _dir) = crate::support::database().await;
    seeded(&db).await;
    let instance = Instance::new(&db).await;
    let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
    let stored = generate_and_store(instance.deps(&db), CLI, recorded_at, &|_, _| {})
        .await
        .unwrap();
    let document: Value = serde_json::from_slice(&stored.payload.bytes).unwrap();
    assert_eq!(at("uuid", &document), instance.identity.uuid.to_string());
    assert_eq!(at("hostname", &document), "devops.example.test");
    assert_eq!(at("edition", &document), "EE Free");
    assert_eq!(
        at("database.adapter", &document),
        crate::support::expected_adapter()
    );
    match &db {
        Db::Sqlite(_) => assert_eq!(at("database.pg_system_id", &document), Value::Null),
        Db::Postgres(pool) => {
            // All 64 bits, exactly as the server writes them, in the bytes that are sent.
            let id: String =
                sqlx::query_scalar("SELECT system_identifier::text FROM pg_control_system()")
                    .fetch_one(pool)
                    .await
                    .unwrap();
            let text = std::str::from_utf8(&stored.payload.bytes).unwrap();
            assert!(text.contains(&id), "{id} not in the bytes");
            // serde_json keeps 64-bit integers exact (a JavaScript number would not).
            assert_eq!(
                at("database.pg_system_id", &document),
                serde_json::json!(id.parse::<i64>().unwrap())
            );
            assert_eq!(at("database.flavor", &document), Value::Null);
        }
    }
    assert_eq!(at("license_md5", &document), Value::Null);
    for stage in [
        "configure",
        "create",
        "manage",
        "monitor",
        "package",
        "plan",
        "release",
        "secure",
        "verify",
    ] {
        assert!(
            document["usage_activity_by_stage"][stage].is_object(),
            "{stage}"
        );
        assert!(
            document["usage_activity_by_stage_monthly"][stage].is_object(),
            "{stage}"
        );
    }
    let weekly = at("counts_weekly.issues", &document).as_i64().unwrap();
    let monthly = at("counts_monthly.issues", &document).as_i64().unwrap();
    let all = at("counts.issues", &document).as_i64().unwrap();
    assert!(
        0 < weekly && weekly < monthly && monthly < all,
        "{weekly} {monthly} {all}"
    );
    // A removed metric is documented in the dictionary but never sent.
    assert!(
        document["counts"]
            .get("projects_imported_from_github")
            .is_none()
    );
    assert!(
        at("recording_ce_finished_at", &document).as_str().unwrap()
            >= at("recorded_at", &document).as_str().unwrap()
    );
}

#[tokio::test]
async fn no_personal_data_reaches_the_payload() {
    let (db, _dir) = crate::support::database().await;
    seeded(&db).await;
    execute!(&db, sqlx::query(
        "INSERT INTO users (id, username, name, email, state, user_type, created_at, updated_at) VALUES \
         (900001, 'zebulon.quixotic', 'Zebulon Quixotic-Marchbanks', 'zebulon@very-private.example', 'active', 'human', '2026-11-01 10:00:00', '2026-11-01 10:00:00'), \
         (900002, 'ottoline.vexley', 'Ottoline Vexley', 'ottoline.vexley@secret-home.example', 'active', 'human', '2026-11-02 10:00:00', '2026-11-02 10:00:00')",
    ))
    .unwrap();
    let instance = Instance::new(&db).await;
    let stored = generate_and_store(instance.deps(&db), CLI, Utc::now(), &|_, _| {})
        .await
        .unwrap();
    let text = String::from_utf8(stored.payload.bytes).unwrap();
    assert!(!text.contains('@'), "an email address reached the payload");
    let people: Vec<(String, String, String)> = on_pool!(&db, |p| sqlx::query_as(
        "SELECT name, username, email FROM users"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert!(people.len() > 500);
    for (name, username, email) in people {
        for personal in [&name, &username, &email] {
            assert!(
                !text.contains(personal.as_str()),
                "{personal} is in the payload"
            );
        }
    }
}

#[tokio::test]
async fn optional_metrics_stay_out_when_the_administrator_says_so() {
    let (db, _dir) = crate::support::database().await;
    seeded(&db).await;
    execute!(
        &db,
        sqlx::query("UPDATE application_settings SET include_optional_data = FALSE")
    )
    .unwrap();
    let instance = Instance::new(&db).await;
    let stored = generate_and_store(instance.deps(&db), CLI, Utc::now(), &|_, _| {})
        .await
        .unwrap();
    let document: Value = serde_json::from_slice(&stored.payload.bytes).unwrap();
    assert!(document.get("usage_activity_by_stage").is_none());
    assert!(document.get("usage_activity_by_stage_monthly").is_none());
    assert_eq!(
        at("settings.collected_data_categories", &document),
        serde_json::json!(["standard", "subscription", "operational"])
    );
    assert_eq!(at("settings.include_optional_data", &document), false);
    assert!(document["counts"]["issues"].as_i64().unwrap() > 0);
}
