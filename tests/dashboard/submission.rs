//! Sending payloads: the weekly job on a fixed clock against a fake collector (every failure mode
//! retried at 8, 16 and 24 hours with nothing lost), against the real collector (exact bytes,
//! no duplicate after a resend or a killed send), and silence when Service Ping is off.

use std::time::Duration;

use crate::support::{CLI, Instance};
use chrono::{DateTime, Utc};
use serde_json::json;
use service_ping::config::{Lock, Locks};
use service_ping::db::{Db, execute, on_pool};
use service_ping::service_ping::schedule::{
    self, RunOutcome, ScheduleDeps, WeeklySlot, load_state, run_once,
};
use service_ping::service_ping::submit::{CollectorClient, Stage, SubmitError};
use service_ping::service_ping::{Trigger, TriggerKind, db as raw_usage_data, submit_now};
use service_ping_protocol::hash::sha256_hex;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn slot_of(instance: &Instance) -> WeeklySlot {
    WeeklySlot::for_instance(&instance.identity.uuid.to_string())
}

/// A minute after the instance's first weekly slot following 2026-11-25, with the job's state
/// initialised the week before (as a running instance would have it).
async fn first_slot(instance: &Instance, db: &Db, client: &CollectorClient) -> DateTime<Utc> {
    let start: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().unwrap();
    let outcome = run_once(job(instance, db, client, "first"), start)
        .await
        .unwrap();
    assert!(matches!(outcome, RunOutcome::NotDue { .. }), "{outcome:?}");
    slot_of(instance).next_after(start) + chrono::Duration::minutes(1)
}

/// A real collector, a fresh instance sending to it, and a minute after the instance's first
/// weekly slot.
async fn at_first_slot(
    db: &Db,
) -> (
    crate::collector_support::TestCollector,
    Instance,
    CollectorClient,
    DateTime<Utc>,
) {
    let collector = crate::support::spawn_collector(|_| {}).await;
    let instance = Instance::new(db).await;
    let client = client_for(&collector.url("/"), 5);
    let t0 = first_slot(&instance, db, &client).await;
    (collector, instance, client, t0)
}

fn job<'a>(
    instance: &'a Instance,
    db: &'a Db,
    client: &'a CollectorClient,
    owner: &'a str,
) -> ScheduleDeps<'a> {
    ScheduleDeps {
        generation: instance.deps(db),
        client,
        owner,
        wait_before_sending: Duration::ZERO,
    }
}

fn client_for(url: &str, timeout_seconds: u32) -> CollectorClient {
    CollectorClient::new(
        Some(url.parse().unwrap()),
        Duration::from_secs(u64::from(timeout_seconds)),
    )
    .unwrap()
}

fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

async fn attempts(db: &Db) -> Vec<(i64, String)> {
    on_pool!(&db, |p| sqlx::query_as(
        "SELECT raw_usage_data_id, status FROM service_ping_submissions ORDER BY id"
    )
    .fetch_all(p)
    .await)
    .unwrap()
}

/// Runs the weekly job through one slot whose every send fails, checking the retries at 8, 16
/// and 24 hours and that the same stored payload is tried each time.
async fn every_attempt_fails(db: &Db, collector_url: &str, timeout_seconds: u32) {
    let instance = Instance::new(db).await;
    let client = client_for(collector_url, timeout_seconds);
    let t0 = first_slot(&instance, db, &client).await;
    let mut now = t0;
    for (attempt, wait) in [8, 16, 24].into_iter().enumerate() {
        let outcome = run_once(job(&instance, db, &client, "a"), now)
            .await
            .unwrap();
        let RunOutcome::Failed { retry_at, .. } = outcome else {
            panic!("attempt {attempt}: {outcome:?}");
        };
        assert_eq!(retry_at, Some(now + hours(wait)));
        // Nothing happens before the retry is due.
        let early = run_once(
            job(&instance, db, &client, "a"),
            now + hours(wait) - chrono::Duration::minutes(1),
        )
        .await
        .unwrap();
        assert!(matches!(early, RunOutcome::NotDue { .. }), "{early:?}");
        now += hours(wait);
    }
    let last = run_once(job(&instance, db, &client, "a"), now)
        .await
        .unwrap();
    assert!(
        matches!(last, RunOutcome::Failed { retry_at: None, .. }),
        "{last:?}"
    );
    let tries = attempts(db).await;
    assert_eq!(tries.len(), 4, "the first send and three retries");
    assert!(
        tries
            .iter()
            .all(|(id, status)| *id == tries[0].0 && status == "failed")
    );
    assert_eq!(load_state(db).await.unwrap().status, "gave_up");
    // Nothing lost: the payload is still stored, unsent, and can be sent by hand.
    let stored = raw_usage_data::find(db, tries[0].0).await.unwrap().unwrap();
    assert!(stored.sent_at.is_none());
}

#[tokio::test]
async fn a_collector_answering_5xx_is_retried_at_8_16_and_24_hours() {
    let (db, _dir) = crate::support::database().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/usage_data"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"reason": "maintenance"})))
        .mount(&server)
        .await;
    every_attempt_fails(&db, &server.uri(), 5).await;
    let errors = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/usage_ping_errors")
        .count();
    assert_eq!(errors, 4, "each failure is reported to /usage_ping_errors");
}

#[tokio::test]
async fn a_collector_that_times_out_is_retried() {
    let (db, _dir) = crate::support::database().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    every_attempt_fails(&db, &server.uri(), 1).await;
}

#[tokio::test]
async fn a_refused_connection_is_retried() {
    let (db, _dir) = crate::support::database().await;
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    every_attempt_fails(&db, &format!("http://127.0.0.1:{port}"), 5).await;
}

#[tokio::test]
async fn a_malformed_reply_is_a_failed_send() {
    let (db, _dir) = crate::support::database().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/usage_data"))
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>ok</html>"))
        .mount(&server)
        .await;
    every_attempt_fails(&db, &server.uri(), 5).await;
}

#[tokio::test]
async fn a_reply_without_a_positive_usage_data_id_is_a_failed_send() {
    let (db, _dir) = crate::support::database().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/usage_data"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"conv_index": {"usage_data_id": 0}})),
        )
        .mount(&server)
        .await;
    every_attempt_fails(&db, &server.uri(), 5).await;
}

#[tokio::test]
async fn a_redirect_is_a_failed_send_and_the_payload_goes_nowhere_else() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"conv_index": {"usage_data_id": 7}})),
        )
        .mount(&elsewhere)
        .await;
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/usage_data"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("{}/usage_data", elsewhere.uri()).as_str(),
        ))
        .mount(&collector)
        .await;
    let client = client_for(&collector.uri(), 5);
    let error = client
        .send_usage_data(b"{\"uuid\": \"u\"}".to_vec())
        .await
        .unwrap_err();
    assert_eq!(error.http_status(), Some(307), "{error}");
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the payload was re-posted to the redirect's target"
    );
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_is_a_failed_send() {
    let collector = MockServer::start().await;
    let padded = json!({"conv_index": {"usage_data_id": 7}, "padding": "x".repeat(1 << 20)});
    Mock::given(method("POST"))
        .and(path("/usage_data"))
        .respond_with(ResponseTemplate::new(201).set_body_json(padded))
        .mount(&collector)
        .await;
    let client = client_for(&collector.uri(), 5);
    let error = client.send_usage_data(b"{}".to_vec()).await.unwrap_err();
    assert!(error.to_string().contains("larger than"), "{error}");
}

/// Makes `server` accept pings with `reply`, and the metadata and error documents with 201.
async fn accept_pings_answering(server: &MockServer, reply: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/usage_data"))
        .respond_with(ResponseTemplate::new(201).set_body_json(reply))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(server)
        .await;
}

/// Sends one payload to a collector that answers `reply`, and answers the attempt recorded.
async fn attempt_answered(reply: serde_json::Value) -> raw_usage_data::Submission {
    let (db, _dir) = crate::support::database().await;
    let server = MockServer::start().await;
    accept_pings_answering(&server, reply).await;
    let instance = Instance::new(&db).await;
    let client = client_for(&server.uri(), 5);
    let sent = submit_now(instance.deps(&db), &client, CLI, &|_| {})
        .await
        .unwrap();
    let mut attempts = raw_usage_data::submissions(&db, sent.payload_id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
    attempts.remove(0)
}

#[tokio::test]
async fn the_hash_the_collector_says_it_stored_is_kept_with_the_attempt_whatever_it_is() {
    let other = "ab".repeat(32);
    let attempt =
        attempt_answered(json!({"conv_index": {"usage_data_id": 5}, "sha256": other})).await;
    assert_eq!(attempt.status, "sent");
    assert_eq!(attempt.confirmed_sha256.as_deref(), Some(other.as_str()));
    // GitLab's collector says nothing; a malformed hash counts as nothing said.
    let gitlab = attempt_answered(json!({"conv_index": {"usage_data_id": 5}})).await;
    assert_eq!(gitlab.confirmed_sha256, None);
    let garbled =
        attempt_answered(json!({"conv_index": {"usage_data_id": 5}, "sha256": "xyz"})).await;
    assert_eq!(garbled.confirmed_sha256, None);
}

#[tokio::test]
async fn a_retry_that_succeeds_marks_the_payload_sent_and_reports_its_timings() {
    let (db, _dir) = crate::support::database().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/usage_data"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    accept_pings_answering(&server, json!({"conv_index": {"usage_data_id": 77}})).await;
    let instance = Instance::new(&db).await;
    let client = client_for(&server.uri(), 5);
    let t0 = first_slot(&instance, &db, &client).await;
    let first = run_once(job(&instance, &db, &client, "a"), t0)
        .await
        .unwrap();
    assert!(matches!(first, RunOutcome::Failed { .. }));
    let second = run_once(job(&instance, &db, &client, "a"), t0 + hours(8))
        .await
        .unwrap();
    let RunOutcome::Sent {
        payload_id,
        usage_data_id,
    } = second
    else {
        panic!("{second:?}")
    };
    assert_eq!(usage_data_id, 77);
    let stored = raw_usage_data::find(&db, payload_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.usage_data_id, Some(77));
    assert!(stored.sent_at.is_some());

    let requests = server.received_requests().await.unwrap();
    let sent: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/usage_data")
        .collect();
    assert_eq!(sent.len(), 2);
    let bytes = raw_usage_data::payload_bytes(&db, payload_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        sent.iter().all(|r| r.body == bytes),
        "both attempts carry the stored bytes"
    );
    assert_eq!(
        sent[0].headers.get("content-type").unwrap(),
        "application/json"
    );
    let metadata = requests
        .iter()
        .find(|r| r.url.path() == "/usage_ping_metadata")
        .expect("timings reported after the successful send");
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.body).unwrap();
    assert_eq!(
        metadata["metadata"]["uuid"],
        instance.identity.uuid.to_string()
    );
    assert_eq!(
        metadata["metadata"]["metrics"].as_array().unwrap().len() as i64,
        stored.metrics_total
    );
    // The week is done: the next run waits for next week's slot.
    let later = run_once(job(&instance, &db, &client, "a"), t0 + hours(30))
        .await
        .unwrap();
    assert_eq!(
        later,
        RunOutcome::NotDue {
            next: slot_of(&instance).next_after(t0)
        }
    );
}

#[tokio::test]
async fn the_collector_receives_exactly_the_stored_bytes_once_a_week() {
    let (db, _dir) = crate::support::database().await;
    let (collector, instance, client, t0) = at_first_slot(&db).await;
    let mut sent = Vec::new();
    // Three weeks, looking every 6 hours, with a restart (another owner) each week.
    for step in 0..(3 * 28) {
        let owner = format!("process-{}", step / 28);
        if let RunOutcome::Sent { payload_id, .. } =
            run_once(job(&instance, &db, &client, &owner), t0 + hours(6 * step))
                .await
                .unwrap()
        {
            sent.push(payload_id);
        }
    }
    assert_eq!(sent.len(), 3, "one send a week");
    assert_eq!(collector.ping_count().await, 3);
    let received = service_ping_collector::db::recent_pings(&collector.db, 10)
        .await
        .unwrap();
    for payload_id in sent {
        let stored = raw_usage_data::find(&db, payload_id)
            .await
            .unwrap()
            .unwrap();
        assert!(received.iter().any(|r| r.sha256 == stored.sha256));
        assert_eq!(
            stored.sha256,
            sha256_hex(
                &raw_usage_data::payload_bytes(&db, payload_id)
                    .await
                    .unwrap()
                    .unwrap()
            )
        );
    }
}

#[tokio::test]
async fn an_overdue_week_is_sent_once_on_start() {
    let (db, _dir) = crate::support::database().await;
    let (collector, instance, client, t0) = at_first_slot(&db).await;
    // The process was down for three weeks: on start, one send, not three.
    let restart = t0 + chrono::Duration::days(20);
    let first = run_once(job(&instance, &db, &client, "new"), restart)
        .await
        .unwrap();
    assert!(matches!(first, RunOutcome::Sent { .. }), "{first:?}");
    let again = run_once(job(&instance, &db, &client, "new"), restart + hours(1))
        .await
        .unwrap();
    assert!(matches!(again, RunOutcome::NotDue { .. }), "{again:?}");
    assert_eq!(collector.ping_count().await, 1);
}

#[tokio::test]
async fn a_resend_of_the_same_payload_stores_nothing_twice() {
    let (db, _dir) = crate::support::database().await;
    let collector = crate::support::spawn_collector(|_| {}).await;
    let instance = Instance::new(&db).await;
    let client = client_for(&collector.url("/"), 5);
    let sent = submit_now(instance.deps(&db), &client, CLI, &|_| {})
        .await
        .unwrap();
    let again = service_ping::service_ping::submit::send_stored(
        instance.deps(&db),
        &client,
        sent.payload_id,
        CLI,
    )
    .await
    .unwrap();
    assert_eq!(again.accepted.usage_data_id, sent.accepted.usage_data_id);
    assert_eq!(again.accepted.http_status, 200);
    assert_eq!(collector.ping_count().await, 1);
}

/// A collector in front of the real one that passes the ping on and then hangs, like a process
/// killed after its request left but before it heard the answer.
async fn hanging_proxy(target: String) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/usage_data",
        post(move |body: axum::body::Bytes| {
            let target = target.clone();
            async move {
                reqwest::Client::new()
                    .post(format!("{target}usage_data"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_secs(60)).await;
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/")
}

#[tokio::test]
async fn a_process_killed_while_sending_leaves_exactly_one_ping_after_restart() {
    let (db, _dir) = crate::support::database().await;
    let collector = crate::support::spawn_collector(|_| {}).await;
    let instance = Instance::new(&db).await;
    let direct = client_for(&collector.url("/"), 5);
    let t0 = first_slot(&instance, &db, &direct).await;

    let through_proxy = client_for(&hanging_proxy(collector.url("/")).await, 30);
    let killed = tokio::time::timeout(
        Duration::from_secs(2),
        run_once(job(&instance, &db, &through_proxy, "killed"), t0),
    )
    .await;
    assert!(killed.is_err(), "the first process died mid-send");
    assert_eq!(collector.ping_count().await, 1, "its ping had arrived");
    assert_eq!(load_state(&db).await.unwrap().status, "sending");

    // The restarted process must not send while the dead one's lease lasts…
    let soon = run_once(job(&instance, &db, &direct, "restarted"), t0 + hours(1))
        .await
        .unwrap();
    assert_eq!(soon, RunOutcome::LeaseHeld);
    // …and afterwards resends that same payload, which the collector recognises.
    let later = run_once(
        job(&instance, &db, &direct, "restarted"),
        t0 + hours(schedule::LEASE_HOURS + 1),
    )
    .await
    .unwrap();
    assert!(matches!(later, RunOutcome::Sent { .. }), "{later:?}");
    assert_eq!(
        collector.ping_count().await,
        1,
        "exactly one ping at the collector"
    );
    assert_eq!(
        on_pool!(&db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM raw_usage_data"
        )
        .fetch_one(p)
        .await)
        .unwrap(),
        1
    );
}

/// Several simulated weeks, looking every 6 hours, with Service Ping off: no request at all.
async fn silent_for_weeks(db: &Db, locks: Locks, stored_choice: bool) {
    execute!(
        &db,
        sqlx::query("UPDATE application_settings SET service_ping_enabled = $1")
            .bind(stored_choice)
    )
    .unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"conv_index": {"usage_data_id": 1}})),
        )
        .mount(&server)
        .await;
    let instance = Instance::with_locks(db, locks).await;
    let client = client_for(&server.uri(), 5);
    let start: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().unwrap();
    for step in 0..(4 * 28) {
        let outcome = run_once(job(&instance, db, &client, "a"), start + hours(6 * step))
            .await
            .unwrap();
        assert_eq!(outcome, RunOutcome::Disabled);
    }
    let trigger = Trigger {
        kind: TriggerKind::Manual,
        account_id: None,
    };
    let refused = submit_now(instance.deps(db), &client, trigger, &|_: Stage| {}).await;
    assert!(
        matches!(refused, Err(SubmitError::Disabled(_))),
        "{refused:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(
        on_pool!(&db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM raw_usage_data"
        )
        .fetch_one(p)
        .await)
        .unwrap(),
        0,
        "nothing generated either"
    );
}

#[tokio::test]
async fn with_service_ping_off_nothing_leaves_for_weeks() {
    let (db, _dir) = crate::support::database().await;
    silent_for_weeks(&db, Locks::default(), false).await;
}

#[tokio::test]
async fn do_not_track_silences_an_instance_that_chose_to_send() {
    let (db, _dir) = crate::support::database().await;
    let locks = Locks {
        service_ping_enabled: Some(Lock {
            value: false,
            reason: "DO_NOT_TRACK is set in the environment".into(),
        }),
        ..Locks::default()
    };
    silent_for_weeks(&db, locks, true).await;
}

#[tokio::test]
async fn turning_service_ping_on_later_does_not_send_the_weeks_it_was_off() {
    let (db, _dir) = crate::support::database().await;
    let collector = crate::support::spawn_collector(|_| {}).await;
    execute!(
        &db,
        sqlx::query("UPDATE application_settings SET service_ping_enabled = FALSE")
    )
    .unwrap();
    let instance = Instance::new(&db).await;
    let client = client_for(&collector.url("/"), 5);
    let start: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().unwrap();
    let slot = slot_of(&instance);
    let off_until = slot.next_after(slot.next_after(start)) + hours(1);
    for step in 0..((off_until - start).num_hours() / 6) {
        run_once(job(&instance, &db, &client, "a"), start + hours(6 * step))
            .await
            .unwrap();
    }
    // Still off half an hour after the second slot passed.
    let off = run_once(
        job(&instance, &db, &client, "a"),
        off_until - chrono::Duration::minutes(30),
    )
    .await
    .unwrap();
    assert_eq!(off, RunOutcome::Disabled);
    execute!(
        &db,
        sqlx::query("UPDATE application_settings SET service_ping_enabled = TRUE")
    )
    .unwrap();
    let outcome = run_once(job(&instance, &db, &client, "a"), off_until)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RunOutcome::NotDue {
            next: slot.next_after(off_until)
        }
    );
    assert_eq!(collector.ping_count().await, 0);
}

#[tokio::test]
async fn turning_service_ping_off_while_the_job_waits_stops_the_send() {
    let (db, _dir) = crate::support::database().await;
    let (collector, instance, client, t0) = at_first_slot(&db).await;
    let deps = ScheduleDeps {
        wait_before_sending: Duration::from_millis(800),
        ..job(&instance, &db, &client, "a")
    };
    let (outcome, ()) = tokio::join!(run_once(deps, t0), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        execute!(
            &db,
            sqlx::query("UPDATE application_settings SET service_ping_enabled = FALSE")
        )
        .unwrap();
    });
    assert_eq!(outcome.unwrap(), RunOutcome::Disabled);
    assert_eq!(collector.ping_count().await, 0, "nothing left");
    assert_eq!(
        on_pool!(&db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM raw_usage_data"
        )
        .fetch_one(p)
        .await)
        .unwrap(),
        0,
        "nothing was generated either"
    );
    let state = load_state(&db).await.unwrap();
    assert_eq!(state.status, "skipped");
}

#[tokio::test]
async fn a_payload_generated_while_on_does_not_leave_once_service_ping_is_off() {
    let (db, _dir) = crate::support::database().await;
    let collector = crate::support::spawn_collector(|_| {}).await;
    let instance = Instance::new(&db).await;
    let client = client_for(&collector.url("/"), 5);
    let trigger = Trigger {
        kind: TriggerKind::Manual,
        account_id: None,
    };
    let stored = service_ping::service_ping::generate::generate_and_store(
        instance.deps(&db),
        trigger,
        Utc::now(),
        &|_, _| {},
    )
    .await
    .unwrap();
    execute!(
        &db,
        sqlx::query("UPDATE application_settings SET service_ping_enabled = FALSE")
    )
    .unwrap();
    let refused = service_ping::service_ping::submit::send_stored(
        instance.deps(&db),
        &client,
        stored.id,
        trigger,
    )
    .await;
    assert!(
        matches!(refused, Err(SubmitError::Disabled(_))),
        "{refused:?}"
    );
    assert_eq!(collector.ping_count().await, 0);
    assert!(
        attempts(&db).await.is_empty(),
        "no attempt was even started"
    );
}

#[tokio::test]
async fn an_error_of_our_own_waits_for_the_next_retry_instead_of_looping_every_minute() {
    let (db, _dir) = crate::support::database().await;
    let (collector, instance, client, t0) = at_first_slot(&db).await;
    crate::support::break_writes(
        &db,
        "full_disk",
        "INSERT",
        "raw_usage_data",
        "database or disk is full",
    )
    .await;
    let outcome = run_once(job(&instance, &db, &client, "a"), t0)
        .await
        .unwrap();
    let RunOutcome::Failed {
        payload_id: None,
        retry_at,
        error,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(retry_at, Some(t0 + hours(8)));
    assert!(error.contains("disk is full"), "{error}");
    for minute in 1..=5 {
        let next = run_once(
            job(&instance, &db, &client, "a"),
            t0 + chrono::Duration::minutes(minute),
        )
        .await
        .unwrap();
        assert!(matches!(next, RunOutcome::NotDue { .. }), "{next:?}");
    }
    assert_eq!(
        load_state(&db).await.unwrap().attempts,
        1,
        "one attempt counted"
    );
    crate::support::repair(&db, "full_disk", "raw_usage_data").await;
    let retried = run_once(job(&instance, &db, &client, "a"), t0 + hours(8))
        .await
        .unwrap();
    assert!(matches!(retried, RunOutcome::Sent { .. }), "{retried:?}");
    assert_eq!(collector.ping_count().await, 1);
}

#[tokio::test]
async fn a_send_the_collector_accepted_stays_sent_when_the_bookkeeping_after_it_fails() {
    let (db, _dir) = crate::support::database().await;
    let (collector, instance, client, t0) = at_first_slot(&db).await;
    // Recording the attempt's end fails (after the payload is marked sent), as does keeping the
    // DevOps Score.
    for table in ["service_ping_submissions", "devops_scores"] {
        let event = if table == "devops_scores" {
            "INSERT"
        } else {
            "UPDATE"
        };
        let name = format!("broken_{table}");
        crate::support::break_writes(&db, &name, event, table, "disk I/O error").await;
    }
    let outcome = run_once(job(&instance, &db, &client, "a"), t0)
        .await
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Sent { .. }), "{outcome:?}");
    for minute in 1..=3 {
        let next = run_once(
            job(&instance, &db, &client, "a"),
            t0 + chrono::Duration::minutes(minute),
        )
        .await
        .unwrap();
        assert!(matches!(next, RunOutcome::NotDue { .. }), "{next:?}");
    }
    assert_eq!(collector.ping_count().await, 1);
    let payload = raw_usage_data::latest(&db).await.unwrap().unwrap();
    assert!(payload.sent_at.is_some(), "the payload is recorded as sent");
}

/// How the collector misbehaves, for the fault suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing listens.
    Down,
    /// Answers after the client has given up.
    Slow,
    ServerError,
    /// Sends the payload elsewhere with a 307.
    Redirecting,
    /// 200 with a body that is not the collector's answer.
    Garbage,
    /// Passes everything to the real collector.
    Healthy,
}

/// A proxy in front of the real collector at `target` that misbehaves as `fault` says.
async fn faulty_proxy(target: String, fault: std::sync::Arc<std::sync::Mutex<Fault>>) -> String {
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let (target, fault) = (target.clone(), *fault.lock().unwrap());
        async move {
            match fault {
                Fault::Slow => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    (axum::http::StatusCode::CREATED, "{}").into_response()
                }
                Fault::ServerError => {
                    (axum::http::StatusCode::BAD_GATEWAY, "upstream down").into_response()
                }
                Fault::Redirecting => (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [("location", format!("{target}elsewhere"))],
                    "",
                )
                    .into_response(),
                Fault::Garbage => {
                    (axum::http::StatusCode::OK, "<html>hello</html>").into_response()
                }
                Fault::Down | Fault::Healthy => {
                    let upstream = reqwest::Client::new()
                        .post(format!("{target}{}", uri.path().trim_start_matches('/')))
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let status =
                        axum::http::StatusCode::from_u16(upstream.status().as_u16()).unwrap();
                    let bytes = upstream.bytes().await.unwrap();
                    (status, [("content-type", "application/json")], bytes).into_response()
                }
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/")
}

#[tokio::test]
async fn ten_weeks_of_a_failing_collector_leave_exactly_one_ping_per_week() {
    let (db, _dir) = crate::support::database().await;
    let collector = crate::support::spawn_collector(|_| {}).await;
    let fault = std::sync::Arc::new(std::sync::Mutex::new(Fault::Healthy));
    let through_proxy = client_for(&faulty_proxy(collector.url("/"), fault.clone()).await, 1);
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let down = client_for(&format!("http://127.0.0.1:{closed_port}/"), 1);
    let instance = Instance::new(&db).await;
    let faults = [
        Fault::Down,
        Fault::Slow,
        Fault::ServerError,
        Fault::Redirecting,
        Fault::Garbage,
    ];
    let mut slot_time = first_slot(&instance, &db, &through_proxy).await;
    let mut failed_attempts = 0;
    for week in 0..10usize {
        let this_fault = faults[week % faults.len()];
        let mut now = slot_time;
        // One to three failed attempts (the job has four), then the collector recovers.
        for _ in 0..=(week % 3) {
            *fault.lock().unwrap() = this_fault;
            let client = if this_fault == Fault::Down {
                &down
            } else {
                &through_proxy
            };
            let outcome = run_once(job(&instance, &db, client, "a"), now)
                .await
                .unwrap();
            let RunOutcome::Failed {
                retry_at: Some(retry_at),
                ..
            } = outcome
            else {
                panic!("week {week}, {this_fault:?}: {outcome:?}");
            };
            failed_attempts += 1;
            now = retry_at;
        }
        *fault.lock().unwrap() = Fault::Healthy;
        let outcome = run_once(job(&instance, &db, &through_proxy, "a"), now)
            .await
            .unwrap();
        assert!(
            matches!(outcome, RunOutcome::Sent { .. }),
            "week {week}: {outcome:?}"
        );
        slot_time += chrono::Duration::weeks(1);
    }
    let pings: Vec<String> = service_ping_collector::db::recent_pings(&collector.db, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|ping| ping.recorded_at)
        .collect();
    let distinct: std::collections::BTreeSet<_> = pings.iter().collect();
    let unsent: i64 = on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT count(*) FROM raw_usage_data WHERE sent_at IS NULL"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    println!(
        "fault suite: 10 weeks, {failed_attempts} failed attempts (down, slow, 5xx, redirecting, garbage), {} pings at the collector, {} distinct, {unsent} payloads unsent",
        pings.len(),
        distinct.len()
    );
    assert_eq!(pings.len(), 10, "one ping per week, none lost");
    assert_eq!(distinct.len(), 10, "none duplicated");
    assert_eq!(unsent, 0);
}

#[tokio::test]
async fn a_process_killed_while_generating_leaves_exactly_one_ping_after_restart() {
    let (db, _dir) = crate::support::database().await;
    let (collector, instance, client, t0) = at_first_slot(&db).await;
    // The job is dropped a moment after it starts: while it counts the attempt or generates.
    let killed = tokio::time::timeout(
        Duration::from_millis(3),
        run_once(job(&instance, &db, &client, "killed"), t0),
    )
    .await;
    assert!(killed.is_err(), "the first process died before sending");
    assert_eq!(collector.ping_count().await, 0);
    let later = run_once(
        job(&instance, &db, &client, "restarted"),
        t0 + hours(schedule::LEASE_HOURS + 1),
    )
    .await
    .unwrap();
    assert!(matches!(later, RunOutcome::Sent { .. }), "{later:?}");
    let again = run_once(
        job(&instance, &db, &client, "restarted"),
        t0 + hours(schedule::LEASE_HOURS + 2),
    )
    .await
    .unwrap();
    assert!(matches!(again, RunOutcome::NotDue { .. }), "{again:?}");
    assert_eq!(collector.ping_count().await, 1, "exactly one ping");
}
