//! The state of the payload generation started from the dashboard, so that any page (and any
//! administrator) can follow its progress while it runs. One generation at a time.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// What a generation is doing, or how the last one ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerationState {
    pub running: bool,
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
    /// Marks a generation as started; `false` when one is already running.
    pub fn try_start(&self, now: DateTime<Utc>) -> bool {
        let mut state = self.lock();
        if state.running {
            return false;
        }
        *state = GenerationState {
            running: true,
            started_at: Some(now),
            ..GenerationState::default()
        };
        true
    }

    pub fn progress(&self, done: usize, total: usize) {
        let mut state = self.lock();
        state.done = done;
        state.total = total;
    }

    pub fn finish(&self, outcome: Result<i64, String>) {
        let mut state = self.lock();
        state.running = false;
        state.outcome = Some(outcome);
    }

    pub fn snapshot(&self) -> GenerationState {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GenerationState> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_generation_runs_at_a_time_and_its_end_is_remembered() {
        let tracker = GenerationTracker::default();
        assert!(tracker.try_start(Utc::now()));
        assert!(!tracker.try_start(Utc::now()));
        tracker.progress(3, 10);
        assert_eq!((tracker.snapshot().done, tracker.snapshot().total), (3, 10));
        tracker.finish(Ok(7));
        let state = tracker.snapshot();
        assert!(!state.running);
        assert_eq!(state.outcome, Some(Ok(7)));
        assert!(tracker.try_start(Utc::now()));
        assert_eq!(tracker.snapshot().outcome, None);
    }
}
