//! The instances table: one row per instance, following its newest ping, kept by the same
//! transaction that stores pings, and filled from the pings of a database written before it.

use reqwest::StatusCode;
use serde_json::json;
use service_ping_collector::db;
use service_ping_database::Db;

use crate::support::{on_both_backends, spawn_collector_on};

fn ping(uuid: &str, recorded_at: &str, hostname: &str, issues: u32) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "uuid": uuid,
        "recorded_at": recorded_at,
        "version": "0.1.0",
        "hostname": hostname,
        "active_user_count": 10,
        "counts_monthly": { "active_users": 10, "issues": issues },
    }))
    .unwrap()
}

on_both_backends! {
async fn an_instance_row_follows_its_newest_ping_and_counts_them_all(backend: Backend) {
    let collector = spawn_collector_on(backend, |_| {}).await;
    let client = reqwest::Client::new();
    for body in [
        ping("x", "2026-11-18T10:00:00.000Z", "old.example.test", 10),
        ping("y", "2026-11-20T10:00:00.000Z", "y.example.test", 30),
        ping("x", "2026-11-25T10:00:00.000Z", "new.example.test", 50),
        // A resend stores nothing and counts nothing.
        ping("x", "2026-11-25T10:00:00.000Z", "new.example.test", 50),
    ] {
        let response = client
            .post(collector.url("/usage_data"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status() == StatusCode::CREATED || response.status() == StatusCode::OK);
    }
    assert_eq!(collector.ping_count().await, 3);
    let instances = db::latest_instances(&collector.db, 10).await.unwrap();
    assert_eq!(instances.len(), 2);
    let x = instances.iter().find(|i| i.0 == "x").unwrap();
    assert_eq!(x.1.as_deref(), Some("new.example.test"), "the newest ping's hostname");
    assert_eq!(x.3[0], 5.0, "the newest ping's issues per user");
    assert_eq!(instances[0].0, "x", "the most recently heard from comes first");
    let fleet = db::fleet(&collector.db, chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(fleet.len(), 2, "one row per instance");
}
}

/// A database written before `instances` existed gets one row per instance from its pings, and
/// each ping's inputs move into its row.
#[tokio::test]
async fn upgrading_fills_the_instances_from_the_pings_already_stored() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("old.sqlite3").display()
    );
    let db = Db::connect(&url.into(), 1).await.unwrap();
    let Db::Sqlite(pool) = &db else {
        unreachable!()
    };
    let mut before = sqlx::migrate!("./migrations/sqlite");
    let first_with_instances = before
        .migrations
        .iter()
        .position(|m| m.description.contains("instances"))
        .unwrap();
    before.migrations = before.migrations[..first_with_instances].to_vec().into();
    before.run(pool).await.unwrap();
    for (id, uuid, at) in [
        (1, "a", "2026-11-01"),
        (2, "b", "2026-11-02"),
        (3, "a", "2026-11-08"),
    ] {
        sqlx::query(
            "INSERT INTO usage_data (id, uuid, recorded_at, hostname, version, payload, sha256, \
             size_bytes, source, received_at) VALUES ($1, $2, $3, $4, '1.0', x'7b7d', '', 2, 'api', $3)",
        )
        .bind(id)
        .bind(uuid)
        .bind(at)
        .bind(format!("{uuid}-{id}"))
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO usage_data_features VALUES ($1, $2, $3, $1, 0, 0, 0, 0, 0, 0, 0, 0, 0)",
        )
        .bind(id)
        .bind(uuid)
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    }
    db::migrate(&db).await.unwrap();
    let issues: Vec<f64> = sqlx::query_scalar("SELECT issues FROM usage_data ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(
        issues,
        [1.0, 2.0, 3.0],
        "each ping keeps its inputs, now in its own row"
    );
    let rows: Vec<(String, String, String, i64, i64, String, f64)> = sqlx::query_as(
        "SELECT uuid, first_received_at, last_received_at, latest_usage_data_id, pings, hostname, \
         issues FROM instances ORDER BY uuid",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (
                "a".into(),
                "2026-11-01".into(),
                "2026-11-08".into(),
                3,
                2,
                "a-3".into(),
                3.0
            ),
            (
                "b".into(),
                "2026-11-02".into(),
                "2026-11-02".into(),
                2,
                1,
                "b-2".into(),
                2.0
            ),
        ]
    );
    assert_eq!(db::counts(&db).await.unwrap().0, 3);
}

fn pending(uuid: &str, recorded_at: &str, hostname: &str, issues: u32) -> db::Pending {
    let bytes = ping(uuid, recorded_at, hostname, issues);
    let limits = service_ping_protocol::ingest::IngestLimits {
        max_body_bytes: 1 << 20,
        max_depth: 32,
    };
    let valid = service_ping_protocol::ingest::validate(&bytes, limits).unwrap();
    db::Pending::new(
        db::NewPing::new(valid, bytes.into(), db::Source::Api, chrono::Utc::now()).unwrap(),
    )
}

on_both_backends! {
async fn a_batch_decides_each_ping_as_if_it_came_alone(backend: Backend) {
    let collector = spawn_collector_on(backend, |_| {}).await;
    let first = pending("x", "2026-11-25T10:00:00.000Z", "x.example.test", 10);
    let big = pending("y", "2026-11-25T10:00:00.000Z", "y.example.test", 10);
    let quota = big.new.bytes.len() as u64 + 10;
    let batch = [
        first.clone(),
        // The same bytes again, in the same batch: a resend of the first.
        first.clone(),
        // Other bytes under the same (uuid, recorded_at): refused.
        pending("x", "2026-11-25T10:00:00.000Z", "other.example.test", 99),
        big.clone(),
        // A second ping of y would pass its weekly quota.
        pending("y", "2026-11-26T10:00:00.000Z", "y.example.test", 10),
    ];
    let mut tx = collector.db.begin_write().await.unwrap();
    let stored = db::store_pings_in_transaction(tx.conn(), &batch, quota).await.unwrap();
    tx.commit().await.unwrap();
    let db::Stored::Created(x) = stored[0] else { panic!("{stored:?}") };
    let db::Stored::Created(y) = stored[3] else { panic!("{stored:?}") };
    assert_eq!(
        stored,
        [
            db::Stored::Created(x),
            db::Stored::AlreadyReceived(x),
            db::Stored::Conflict,
            db::Stored::Created(y),
            db::Stored::OverQuota,
        ]
    );
    // A later batch sees the first one.
    let again = db::store_pings(&collector.db, &[first], quota).await.unwrap();
    assert_eq!(again, [db::Stored::AlreadyReceived(x)]);
    assert_eq!(collector.ping_count().await, 2);
}
}
