//! Generating a payload: the permitted metric definitions, evaluated against the database at one
//! `recorded_at`, assembled into bytes that are stored once and never rebuilt.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;

use service_ping_engine::evaluate::{Progress, evaluate};
use service_ping_engine::instrumentation::{Instrumentation, SystemValue};
use service_ping_engine::{DataCategory, MetricOutcome, Strategy, payload, rollup};
use service_ping_protocol::time::format_timestamp;

use super::{db, facts};
pub use crate::state::generation::GenerationDeps;

/// Why a payload was generated; stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    /// The weekly job.
    Schedule,
    /// "Send now" in the dashboard.
    Manual,
    /// `service-ping payload` or `service-ping submit`.
    Cli,
    /// "Generate new preview" in the dashboard.
    Preview,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Schedule => "schedule",
            TriggerKind::Manual => "manual",
            TriggerKind::Cli => "cli",
            TriggerKind::Preview => "preview",
        }
    }
}

/// Why, and for whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// The account that asked, when a person did.
    pub account_id: Option<i64>,
}

/// A generated payload: its exact bytes and what each metric gave.
#[derive(Debug, Clone)]
pub struct GeneratedPayload {
    pub recorded_at: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub outcomes: Vec<MetricOutcome>,
    pub elapsed: Duration,
}

/// A payload that has been stored.
#[derive(Debug, Clone)]
pub struct StoredPayload {
    pub id: i64,
    pub payload: GeneratedPayload,
}

/// Builds the payload recorded at `recorded_at` from every metric the settings permit. Never
/// fails because of one metric (it gets its sentinel); fails only when the settings cannot be
/// read.
#[tracing::instrument(skip_all, err)]
pub async fn generate(
    deps: GenerationDeps<'_>,
    recorded_at: DateTime<Utc>,
    strategy: Strategy<'_>,
    progress: Progress<'_>,
) -> Result<GeneratedPayload, sqlx::Error> {
    let choices = crate::settings::db::stored_choices(deps.db).await?;
    let service_ping = choices.service_ping(deps.locks);
    let include_optional = choices.include_optional_data(deps.locks).enabled;
    let categories = DataCategory::permitted(include_optional);
    let definitions: Vec<_> = deps
        .dictionary
        .definitions
        .iter()
        .filter(|d| d.is_reported(&categories))
        .collect();
    let entitlement = crate::licensing::entitlement::evaluate(
        deps.db,
        deps.locks,
        deps.vendor_key.as_ref(),
        recorded_at,
    )
    .await?;
    let started = Instant::now();
    // Prometheus is asked only when the payload reports the topology (optional data on).
    let reports_topology = definitions
        .iter()
        .any(|d| d.instrumentation == Instrumentation::System(SystemValue::Topology));
    let topology = if reports_topology {
        super::topology::gather(deps.prometheus).await
    } else {
        serde_json::Value::Null
    };
    let geo = crate::geo::status::payload_facts(deps.db, deps.geo).await?;
    let facts = facts::gather(
        deps.identity,
        deps.instance,
        service_ping.enabled,
        &categories,
        &entitlement,
        topology,
        geo,
    );
    let mut outcomes = evaluate(
        deps.db,
        &definitions,
        &facts,
        recorded_at,
        strategy,
        progress,
    )
    .await;
    let elapsed = started.elapsed();
    let finished_at = recorded_at + chrono::Duration::from_std(elapsed).unwrap_or_default();
    for outcome in &mut outcomes {
        let is_finish_time = deps.dictionary.get(&outcome.key_path).is_some_and(|d| {
            d.instrumentation == Instrumentation::System(SystemValue::RecordingFinishedAt)
        });
        if is_finish_time {
            outcome.value = json!(format_timestamp(finished_at));
        }
    }
    let bytes = payload::to_bytes(&payload::assemble(&outcomes));
    Ok(GeneratedPayload {
        recorded_at: format_timestamp(recorded_at),
        sha256: service_ping_protocol::hash::sha256_hex(&bytes),
        bytes,
        outcomes,
        elapsed,
    })
}

/// Generates the payload recorded at `recorded_at` and stores it; the stored bytes are what
/// every later preview, download and submission uses.
pub async fn generate_and_store(
    deps: GenerationDeps<'_>,
    trigger: Trigger,
    recorded_at: DateTime<Utc>,
    progress: Progress<'_>,
) -> anyhow::Result<StoredPayload> {
    // Built from the whole dictionary, so that what the settings include this time never
    // changes what the rollups keep.
    let plan = rollup::Plan::new(&deps.dictionary.definitions);
    let generated = generate(deps, recorded_at, Strategy::Rollup(&plan), progress)
        .await
        .context("reading the Service Ping settings")?;
    let new = db::NewRawUsageData {
        recorded_at: &generated.recorded_at,
        payload: &generated.bytes,
        sha256: &generated.sha256,
        generation_ms: generated.elapsed.as_millis() as i64,
        trigger: trigger.kind.as_str(),
        triggered_by: trigger.account_id,
        outcomes: &generated.outcomes,
    };
    let id = db::insert(deps.db, &new, Utc::now())
        .await
        .with_context(|| format!("storing the payload recorded at {}", generated.recorded_at))?;
    let failed = generated
        .outcomes
        .iter()
        .filter(|o| o.error.is_some())
        .count();
    tracing::info!(
        id,
        recorded_at = %generated.recorded_at,
        sha256 = %generated.sha256,
        metrics = generated.outcomes.len(),
        failed,
        elapsed_ms = generated.elapsed.as_millis() as u64,
        trigger = trigger.kind.as_str(),
        "stored a Service Ping payload"
    );
    Ok(StoredPayload {
        id,
        payload: generated,
    })
}
