//! The weekly submission, as GitLab schedules it: at a minute, hour and weekday derived from the
//! instance's uuid; one process at a time under a 24-hour database lease; retries 8, 16 and 24
//! hours after a failure; its state kept in the database so that a restart neither skips nor
//! repeats a week (an overdue week is sent once, on start).
//!
//! The job is [`run_once`], called every minute by [`run_forever`] with the current time. Tests
//! call it with a fixed clock.
//!
//! Decisions: a brand-new instance does not send at once; its first slot is the next weekly one
//! ("Send now" is there for the impatient). A retry resends the same stored payload, so the
//! collector (idempotent on uuid and recorded_at) keeps one ping per week however many attempts
//! reach it. A process that dies while sending leaves its lease behind; the next process takes
//! over when the lease expires (at most 24 hours later) and resends that same payload.
//!
//! Every attempt is counted before anything is generated, and any failure, the collector's or
//! our own (the database busy, a generation error), waits for the next retry: nothing loops
//! every minute. Whether Service Ping is on is checked again right before the request leaves
//! ([`send_stored`] does it), so turning it off during the wait or the generation still stops
//! the send. A payload the collector accepted is never sent again by the job, even when the
//! bookkeeping after the send failed: the job looks at the payload's own record first.

use crate::db::{Db, execute, on_pool};
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::generate::{GenerationDeps, Trigger, TriggerKind, generate_and_store};
use super::submit::{CollectorClient, SubmitError, require_enabled, send_stored};
use service_ping_protocol::time::format_timestamp;

/// Hours to wait before each retry of a failed weekly send.
pub const RETRY_AFTER_HOURS: [i64; 3] = [8, 16, 24];
/// How long a process holds the right to send.
pub const LEASE_HOURS: i64 = 24;
/// How often the job looks at the clock.
const TICK: Duration = Duration::from_secs(60);

/// The instance's weekly time, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklySlot {
    /// 0 = Sunday, as in cron.
    pub weekday: u32,
    pub hour: u32,
    pub minute: u32,
}

impl WeeklySlot {
    /// minute = sha256(uuid + "minute") mod 60, hour = sha256(uuid + "hour") mod 24,
    /// weekday = sha256(uuid) mod 7, each digest read as one big number.
    pub fn for_instance(uuid: &str) -> Self {
        Self {
            weekday: digest_mod(uuid, 7),
            hour: digest_mod(&format!("{uuid}hour"), 24),
            minute: digest_mod(&format!("{uuid}minute"), 60),
        }
    }

    /// The most recent slot at or before `now`.
    pub fn latest_at_or_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.date_naive();
        let days_back = (now.weekday().num_days_from_sunday() + 7 - self.weekday) % 7;
        let day = today - chrono::Days::new(u64::from(days_back));
        let slot = Utc.from_utc_datetime(
            &day.and_hms_opt(self.hour, self.minute, 0)
                .expect("hour < 24 and minute < 60"),
        );
        if slot <= now {
            slot
        } else {
            slot - chrono::Duration::days(7)
        }
    }

    /// The first slot after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.latest_at_or_before(now) + chrono::Duration::days(7)
    }

    /// `Tuesday 14:07 UTC`.
    pub fn describe(&self) -> String {
        const DAYS: [&str; 7] = [
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
        ];
        format!(
            "{} {:02}:{:02} UTC",
            DAYS[self.weekday as usize], self.hour, self.minute
        )
    }
}

/// sha256(text), as a big-endian number, modulo `m`.
fn digest_mod(text: &str, m: u32) -> u32 {
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .fold(0u32, |acc, byte| ((acc * 256) + u32::from(*byte)) % m)
}

/// The job's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScheduleState {
    pub handled_slot: Option<String>,
    pub status: String,
    pub raw_usage_data_id: Option<i64>,
    pub attempts: i64,
    pub next_retry_at: Option<String>,
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<String>,
}

pub async fn load_state(db: &Db) -> Result<ScheduleState, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT handled_slot, status, raw_usage_data_id, attempts, next_retry_at, last_error, \
         lease_owner, lease_expires_at FROM service_ping_schedule WHERE id = 1",
    )
    .fetch_one(p)
    .await)
}

async fn save_state(db: &Db, state: &ScheduleState, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    execute!(db, sqlx::query(
        "UPDATE service_ping_schedule SET handled_slot = $1, status = $2, raw_usage_data_id = $3, \
         attempts = $4, next_retry_at = $5, last_error = $6, updated_at = $7 WHERE id = 1",
    )
    .bind(&state.handled_slot)
    .bind(&state.status)
    .bind(state.raw_usage_data_id)
    .bind(state.attempts)
    .bind(&state.next_retry_at)
    .bind(&state.last_error)
    .bind(format_timestamp(now)))
    .map(|_| ())
}

/// Takes the lease for `owner` unless another process holds an unexpired one.
async fn acquire_lease(db: &Db, owner: &str, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let taken =
        execute!(db, sqlx::query(
        "UPDATE service_ping_schedule SET lease_owner = $1, lease_expires_at = $2 WHERE id = 1 \
         AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at <= $3)",
    )
    .bind(owner)
    .bind(format_timestamp(now + chrono::Duration::hours(LEASE_HOURS)))
    .bind(format_timestamp(now)))?;
    Ok(taken == 1)
}

async fn release_lease(db: &Db, owner: &str) -> Result<(), sqlx::Error> {
    execute!(
        db,
        sqlx::query(
            "UPDATE service_ping_schedule SET lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = 1 AND lease_owner = $1",
        )
        .bind(owner)
    )
    .map(|_| ())
}

/// What the job needs.
#[derive(Clone, Copy)]
pub struct ScheduleDeps<'a> {
    pub generation: GenerationDeps<'a>,
    pub client: &'a CollectorClient,
    /// This process's name for the lease.
    pub owner: &'a str,
    /// How long to wait before generating and sending (a random part of the configured
    /// jitter, chosen by [`run_forever`]), so that a fleet does not send at once.
    pub wait_before_sending: Duration,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Service Ping is off: nothing generated, nothing sent.
    Disabled,
    /// Nothing to do until `next`.
    NotDue {
        next: DateTime<Utc>,
    },
    /// Another process holds the lease.
    LeaseHeld,
    Sent {
        payload_id: i64,
        usage_data_id: i64,
    },
    /// The send failed; it is tried again at `retry_at`, or never (`None`) after the last retry.
    Failed {
        /// The payload that failed to send; none when generating it failed.
        payload_id: Option<i64>,
        retry_at: Option<DateTime<Utc>>,
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Work {
    /// A new week's slot has passed: generate and send.
    NewWeek(DateTime<Utc>),
    /// Send again (a retry, or a send a dead process left unfinished).
    Again,
}

fn parse(at: &Option<String>) -> Option<DateTime<Utc>> {
    at.as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// When the job will next send, given its state (for the dashboard); `None` when off.
pub fn next_run(
    state: &ScheduleState,
    slot: &WeeklySlot,
    enabled: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !enabled {
        return None;
    }
    match work_for(state, slot, now) {
        Some(_) => Some(now),
        None if state.status == "retrying" => parse(&state.next_retry_at),
        None => Some(slot.next_after(now)),
    }
}

fn work_for(state: &ScheduleState, slot: &WeeklySlot, now: DateTime<Utc>) -> Option<Work> {
    let latest = slot.latest_at_or_before(now);
    let handled = parse(&state.handled_slot)?;
    if handled < latest {
        return Some(Work::NewWeek(latest));
    }
    let retry_due =
        state.status == "retrying" && parse(&state.next_retry_at).is_some_and(|t| t <= now);
    (state.status == "sending" || retry_due).then_some(Work::Again)
}

/// One look at the clock: sends this week's payload when its slot has passed, retries when a
/// retry is due, does nothing otherwise.
#[tracing::instrument(skip_all, err)]
pub async fn run_once(deps: ScheduleDeps<'_>, now: DateTime<Utc>) -> anyhow::Result<RunOutcome> {
    let db = deps.generation.db;
    let slot = WeeklySlot::for_instance(&deps.generation.identity.uuid.to_string());
    let mut state = load_state(db).await?;
    let enabled = crate::settings::db::service_ping(db, deps.generation.locks)
        .await?
        .enabled;
    if !enabled {
        skip_while_disabled(db, &mut state, &slot, now).await?;
        return Ok(RunOutcome::Disabled);
    }
    if state.handled_slot.is_none() {
        // First run ever: start counting from the slot that has just passed.
        state.handled_slot = Some(format_timestamp(slot.latest_at_or_before(now)));
        save_state(db, &state, now).await?;
    }
    let Some(work) = work_for(&state, &slot, now) else {
        let next = next_run(&state, &slot, true, now).unwrap_or_else(|| slot.next_after(now));
        return Ok(RunOutcome::NotDue { next });
    };
    if !acquire_lease(db, deps.owner, now).await? {
        return Ok(RunOutcome::LeaseHeld);
    }
    let outcome = send_for(deps, &mut state, &slot, work, now).await;
    release_lease(db, deps.owner).await?;
    outcome
}

/// With Service Ping off, a passing slot is marked skipped and a pending retry dropped, so that
/// turning it on later does not send an old week.
async fn skip_while_disabled(
    db: &Db,
    state: &mut ScheduleState,
    slot: &WeeklySlot,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let latest = format_timestamp(slot.latest_at_or_before(now));
    let pending = matches!(state.status.as_str(), "sending" | "retrying");
    if pending || state.handled_slot.as_deref() < Some(latest.as_str()) {
        state.handled_slot = Some(latest);
        state.status = "skipped".into();
        state.next_retry_at = None;
        save_state(db, state, now).await?;
    }
    Ok(())
}

async fn send_for(
    deps: ScheduleDeps<'_>,
    state: &mut ScheduleState,
    slot: &WeeklySlot,
    work: Work,
    now: DateTime<Utc>,
) -> anyhow::Result<RunOutcome> {
    let db = deps.generation.db;
    if let Work::NewWeek(slot_time) = work {
        *state = ScheduleState {
            handled_slot: Some(format_timestamp(slot_time)),
            status: "sending".into(),
            raw_usage_data_id: None,
            attempts: 0,
            next_retry_at: None,
            last_error: None,
            ..state.clone()
        };
    }
    if let Some(sent) = already_accepted(db, state.raw_usage_data_id).await? {
        return record_sent(db, state, sent, now).await;
    }
    state.attempts += 1;
    state.status = "sending".into();
    save_state(db, state, now).await?;
    tokio::time::sleep(deps.wait_before_sending).await;
    match generate_and_send(deps, state, now).await {
        Ok(sent) => record_sent(db, state, sent, now).await,
        Err(SubmitError::Disabled(_)) => {
            skip_while_disabled(db, state, slot, now).await?;
            Ok(RunOutcome::Disabled)
        }
        Err(error) => record_failure(db, state, error, now).await,
    }
}

/// The payload a dead or failing process had the collector accept, if it did.
async fn already_accepted(
    db: &Db,
    payload_id: Option<i64>,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let Some(payload_id) = payload_id else {
        return Ok(None);
    };
    Ok(super::db::find(db, payload_id)
        .await?
        .and_then(|payload| payload.usage_data_id)
        .map(|usage_data_id| (payload_id, usage_data_id)))
}

/// Generates this week's payload (once: a retry reuses it) and sends it.
async fn generate_and_send(
    deps: ScheduleDeps<'_>,
    state: &mut ScheduleState,
    now: DateTime<Utc>,
) -> Result<(i64, i64), SubmitError> {
    let trigger = Trigger {
        kind: TriggerKind::Schedule,
        account_id: None,
    };
    require_enabled(deps.generation).await?;
    let payload_id = match state.raw_usage_data_id {
        Some(id) => id,
        None => {
            let stored = generate_and_store(deps.generation, trigger, now, &|_, _| {}).await?;
            state.raw_usage_data_id = Some(stored.id);
            save_state(deps.generation.db, state, now).await?;
            stored.id
        }
    };
    let sent = send_stored(deps.generation, deps.client, payload_id, trigger).await?;
    Ok((payload_id, sent.accepted.usage_data_id))
}

async fn record_sent(
    db: &Db,
    state: &mut ScheduleState,
    (payload_id, usage_data_id): (i64, i64),
    now: DateTime<Utc>,
) -> anyhow::Result<RunOutcome> {
    state.status = "sent".into();
    state.next_retry_at = None;
    state.last_error = None;
    let state: &ScheduleState = state;
    crate::db::retrying_busy(|| save_state(db, state, now)).await?;
    Ok(RunOutcome::Sent {
        payload_id,
        usage_data_id,
    })
}

/// Waits for the next retry, or gives up on this week after the last one.
async fn record_failure(
    db: &Db,
    state: &mut ScheduleState,
    error: SubmitError,
    now: DateTime<Utc>,
) -> anyhow::Result<RunOutcome> {
    let retry_at = usize::try_from(state.attempts - 1)
        .ok()
        .and_then(|i| RETRY_AFTER_HOURS.get(i))
        .map(|hours| now + chrono::Duration::hours(*hours));
    state.status = if retry_at.is_some() {
        "retrying"
    } else {
        "gave_up"
    }
    .into();
    state.next_retry_at = retry_at.map(format_timestamp);
    let error = match &error {
        SubmitError::Internal(error) => format!("{error:#}"),
        other => other.to_string(),
    };
    state.last_error = Some(error.clone());
    let state: &ScheduleState = state;
    crate::db::retrying_busy(|| save_state(db, state, now)).await?;
    Ok(RunOutcome::Failed {
        payload_id: state.raw_usage_data_id,
        retry_at,
        error,
    })
}

/// The background job: [`run_once`] every minute until `stop`. When a run fails outside an
/// attempt (the database unreachable, say), the next look waits twice as long each time, up to
/// an hour, and is back to every minute after a run that worked.
pub async fn run_forever(state: crate::state::AppState, stop: CancellationToken) {
    let owner = state.schedule_owner.clone();
    let jitter = Duration::from_secs(u64::from(
        state.settings.service_ping.schedule_jitter_seconds,
    ));
    let mut failures = 0u32;
    loop {
        let wait_before_sending = {
            use rand::Rng;
            rand::thread_rng().gen_range(Duration::ZERO..=jitter)
        };
        let deps = ScheduleDeps {
            generation: state.generation_deps(),
            client: &state.collector,
            owner: &owner,
            wait_before_sending,
        };
        let result = run_once(deps, Utc::now()).await;
        failures = if result.is_err() {
            failures.saturating_add(1)
        } else {
            0
        };
        match result {
            Ok(RunOutcome::Sent { usage_data_id, .. }) => {
                tracing::info!(usage_data_id, "weekly Service Ping sent");
            }
            Ok(RunOutcome::Failed {
                retry_at, error, ..
            }) => {
                tracing::warn!(error, retry_at = ?retry_at, "weekly Service Ping failed");
            }
            Ok(_) => {}
            Err(error) => tracing::error!(
                error = format!("{error:#}"),
                failures,
                "weekly Service Ping job failed"
            ),
        }
        let pause = next_look_after(failures);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// The pause before the next look: a minute, doubled for each failed run in a row, at most an
/// hour.
fn next_look_after(failures_in_a_row: u32) -> Duration {
    const MAX: Duration = Duration::from_secs(3600);
    TICK.saturating_mul(2u32.saturating_pow(failures_in_a_row))
        .min(MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_slot_is_derived_from_the_uuid_digests() {
        let slot = WeeklySlot::for_instance("3c4d3e8f-0000-4000-8000-000000000001");
        assert!(slot.weekday < 7 && slot.hour < 24 && slot.minute < 60);
        // Reading the digest as one big number modulo m, checked by hand for a short input:
        // sha256("a") starts ca978112…; the whole number mod 7 must equal the fold.
        assert_eq!(digest_mod("a", 1), 0);
        assert_eq!(
            digest_mod("a", 256),
            0xbb,
            "the last byte of sha256(\"a\") is 0xbb"
        );
        assert_eq!(
            slot,
            WeeklySlot::for_instance("3c4d3e8f-0000-4000-8000-000000000001")
        );
    }

    #[test]
    fn failed_runs_back_off_from_a_minute_to_an_hour() {
        assert_eq!(next_look_after(0), TICK);
        assert_eq!(next_look_after(1), Duration::from_secs(120));
        assert_eq!(next_look_after(3), Duration::from_secs(480));
        assert_eq!(next_look_after(6), Duration::from_secs(3600));
        assert_eq!(next_look_after(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn latest_and_next_slots_bracket_now() {
        // 2026-11-25 is a Wednesday (weekday 3).
        let slot = WeeklySlot {
            weekday: 3,
            hour: 14,
            minute: 7,
        };
        assert_eq!(
            slot.latest_at_or_before(at("2026-11-25T14:07:00Z")),
            at("2026-11-25T14:07:00Z")
        );
        assert_eq!(
            slot.latest_at_or_before(at("2026-11-25T14:06:59Z")),
            at("2026-11-18T14:07:00Z")
        );
        assert_eq!(
            slot.next_after(at("2026-11-25T14:07:00Z")),
            at("2026-12-02T14:07:00Z")
        );
        let sunday = WeeklySlot {
            weekday: 0,
            hour: 0,
            minute: 0,
        };
        assert_eq!(
            sunday.latest_at_or_before(at("2026-11-25T10:00:00Z")),
            at("2026-11-22T00:00:00Z")
        );
        assert_eq!(sunday.describe(), "Sunday 00:00 UTC");
    }
}
