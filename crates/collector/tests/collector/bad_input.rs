//! The bad-input corpus against every endpoint that takes a body: each case is answered 4xx
//! with a reason, nothing is stored, and the process's peak memory is printed.

use reqwest::StatusCode;

use crate::support::{TestCollector, on_both_backends, peak_rss_mib, spawn_collector_on};

const PING: &str = r#"{"uuid":"corpus","recorded_at":"2026-11-25T10:00:00.000Z","version":"1.0","counts":{"issues":4}}"#;
const METADATA: &str =
    r#"{"metadata":{"uuid":"corpus","metrics":[{"name":"counts.issues","time_elapsed":0.1}]}}"#;
const ERROR: &str = r#"{"error":{"uuid":"corpus","message":"timed out","elapsed":3.5}}"#;

/// One bad body: its name, bytes and content type.
struct Case {
    name: &'static str,
    body: Vec<u8>,
    content_type: &'static str,
}

fn json(name: &'static str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        body: body.into(),
        content_type: "application/json",
    }
}

/// The corpus for an endpoint whose valid document is `valid`, and whose largest body is
/// `limit` bytes.
fn corpus(valid: &str, limit: usize) -> Vec<Case> {
    let inner = &valid[1..valid.len() - 1];
    let mut cases = vec![
        json("empty", ""),
        json("malformed", "{\"uuid\": "),
        json("truncated", &valid[..valid.len() / 2]),
        json("not an object", "[0,0,0]"),
        json("a bare string", "\"corpus\""),
        json(
            "deeply nested",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        json(
            "nested in an object",
            format!(
                "{{{inner},\"x\":{}1{}}}",
                "{\"a\":".repeat(5_000),
                "}".repeat(5_000)
            ),
        ),
        json("duplicate keys", format!("{{{inner},{inner}}}")),
        json(
            "a number too large for a double",
            valid
                .replace("4}", "1e400}")
                .replace("0.1}", "1e400}")
                .replace("3.5}", "1e400}"),
        ),
        json("wrong types", valid.replace("\"corpus\"", "[\"corpus\"]")),
        json("a null uuid", valid.replace("\"corpus\"", "null")),
        json(
            "oversized",
            format!("{{{inner},\"pad\":\"{}\"}}", "x".repeat(limit + 1)),
        ),
        json(
            "an array of zeros as large as allowed",
            format!("[{}0]", "0,".repeat(limit / 2 - 2)),
        ),
    ];
    let mut invalid_utf8 = valid.as_bytes().to_vec();
    let at = valid.find("corpus").unwrap();
    invalid_utf8[at] = 0xff;
    cases.push(json("invalid UTF-8", invalid_utf8));
    cases.push(Case {
        name: "wrong content type",
        body: valid.as_bytes().to_vec(),
        content_type: "text/plain",
    });
    cases.push(Case {
        name: "form-encoded",
        body: b"uuid=corpus".to_vec(),
        content_type: "application/x-www-form-urlencoded",
    });
    cases
}

async fn send(collector: &TestCollector, path: &str, case: &Case) -> StatusCode {
    reqwest::Client::new()
        .post(collector.url(path))
        .header("content-type", case.content_type)
        .body(case.body.clone())
        .send()
        .await
        .unwrap()
        .status()
}

on_both_backends! {
async fn every_bad_body_at_every_endpoint_is_refused_with_4xx_and_stores_nothing(backend: Backend) {
    let collector = spawn_collector_on(backend, |settings| {
        settings.rate_limit_per_hour = 100_000;
        settings.rate_limit_per_address_per_hour = 100_000;
    })
    .await;
    let ping_limit = service_ping_collector::CollectorSettings::default().max_body_bytes;
    let document_limit = service_ping_collector::api::MAX_DOCUMENT_BYTES;
    let endpoints = [
        ("/usage_data", PING, ping_limit),
        ("/usage_ping_metadata", METADATA, document_limit),
        ("/usage_ping_errors", ERROR, document_limit),
    ];
    let (mut sent, mut wrong) = (0, Vec::new());
    for (path, valid, limit) in endpoints {
        for case in corpus(valid, limit) {
            let status = send(&collector, path, &case).await;
            sent += 1;
            if !status.is_client_error() {
                wrong.push(format!("{path} {}: {status}", case.name));
            }
        }
    }
    let stored = service_ping_collector::db::counts(&collector.db)
        .await
        .unwrap();
    println!(
        "bad-input corpus (collector): {sent} requests, {} answered 4xx, rows stored {stored:?}, peak RSS of the test process {:.1} MiB",
        sent - wrong.len(),
        peak_rss_mib()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(stored, (0, 0, 0), "a refused request stores nothing");
    // The valid documents are accepted, so the refusals above were about the bodies.
    for (path, valid, _) in endpoints {
        let ok = send(&collector, path, &json("valid", valid)).await;
        assert!(ok.is_success(), "{path}: {ok}");
    }
}
}
