//! Generating a payload, as the running instance holds it: what a generation needs
//! ([`GenerationDeps`], borrowed from the state) and the progress of the one started from the
//! dashboard ([`GenerationTracker`]), so that any page (and any administrator) can follow it while
//! it runs. One generation at a time.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use service_ping_engine::Dictionary;

use crate::config::{InstanceSettings, Locks};
use crate::db::Db;
use crate::instance::InstanceIdentity;

/// What a generation needs from the running instance.
#[derive(Clone, Copy)]
pub struct GenerationDeps<'a> {
    pub db: &'a Db,
    pub dictionary: &'a Dictionary,
    pub identity: &'a InstanceIdentity,
    pub instance: &'a InstanceSettings,
    pub locks: &'a Locks,
    /// Verifies the installed license, whose fields go in the payload.
    pub vendor_key: Option<ed25519_dalek::VerifyingKey>,
    /// Where the topology section is read from.
    pub prometheus: &'a crate::config::PrometheusSettings,
    /// This instance's Geo role and secondaries, reported in the payload.
    pub geo: &'a crate::config::GeoSettings,
}

/// What a generation is doing, or how the last one ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerationState {
    pub running: bool,
    /// The payload is generated and now on its way to the collector ("Send now").
    pub sending: bool,
    /// Whether this run sends the payload (else it is a preview).
    pub sends: bool,
    /// Metrics evaluated so far.
    pub done: usize,
    /// Metrics the payload will hold.
    pub total: usize,
    pub started_at: Option<DateTime<Utc>>,
    /// The stored payload's id, or why generation failed; `None` while running or before the
    /// first generation.
    pub outcome: Option<Result<i64, String>>,
}

#[derive(Debug, Default)]
pub struct GenerationTracker {
    state: Mutex<GenerationState>,
}

impl GenerationTracker {
    /// Marks a generation as started and hands back its handle; `None` when one is already
    /// running.
    pub fn try_start(
        self: &Arc<Self>,
        now: DateTime<Utc>,
        sends: bool,
    ) -> Option<RunningGeneration> {
        let mut state = self.lock();
        if state.running {
            return None;
        }
        *state = GenerationState {
            running: true,
            sends,
            started_at: Some(now),
            ..GenerationState::default()
        };
        Some(RunningGeneration {
            tracker: Arc::clone(self),
            finished: false,
        })
    }

    pub fn snapshot(&self) -> GenerationState {
        self.lock().clone()
    }

    fn finish(&self, outcome: Result<i64, String>) {
        let mut state = self.lock();
        state.running = false;
        state.sending = false;
        state.outcome = Some(outcome);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GenerationState> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The generation in progress. If it is dropped without [`RunningGeneration::finish`] (its
/// task panicked or was cancelled), the generation is recorded as failed, so the dashboard can
/// start another instead of showing "Generating…" forever.
#[derive(Debug)]
pub struct RunningGeneration {
    tracker: Arc<GenerationTracker>,
    finished: bool,
}

impl RunningGeneration {
    pub fn progress(&self, done: usize, total: usize) {
        let mut state = self.tracker.lock();
        state.done = done;
        state.total = total;
    }

    /// Generation is done; the payload is being sent.
    pub fn sending(&self) {
        self.tracker.lock().sending = true;
    }

    pub fn finish(mut self, outcome: Result<i64, String>) {
        self.finished = true;
        self.tracker.finish(outcome);
    }
}

impl Drop for RunningGeneration {
    fn drop(&mut self) {
        if !self.finished {
            self.tracker
                .finish(Err("the generation stopped before it finished".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_generation_runs_at_a_time_and_its_end_is_remembered() {
        let tracker = Arc::new(GenerationTracker::default());
        let running = tracker.try_start(Utc::now(), false).unwrap();
        assert!(tracker.try_start(Utc::now(), false).is_none());
        running.progress(3, 10);
        assert_eq!((tracker.snapshot().done, tracker.snapshot().total), (3, 10));
        running.finish(Ok(7));
        let state = tracker.snapshot();
        assert!(!state.running);
        assert_eq!(state.outcome, Some(Ok(7)));
        let _again = tracker.try_start(Utc::now(), false).unwrap();
        assert_eq!(tracker.snapshot().outcome, None);
    }

    #[test]
    fn a_generation_that_stops_without_finishing_is_recorded_as_failed() {
        let tracker = Arc::new(GenerationTracker::default());
        let running = tracker.try_start(Utc::now(), false).unwrap();
        let task = std::thread::spawn(move || {
            let _running = running;
            panic!("the task died");
        });
        assert!(task.join().is_err());
        let state = tracker.snapshot();
        assert!(!state.running);
        assert_eq!(
            state.outcome,
            Some(Err("the generation stopped before it finished".into()))
        );
        assert!(tracker.try_start(Utc::now(), false).is_some());
    }
}
