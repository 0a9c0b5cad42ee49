//! Time frames: the window of rows a metric counts.
//!
//! As GitLab does, database windows stop two days before `recorded_at`, so they only count rows
//! that have settled: `7d` is the seven days from 9 days to 2 days before, `28d` the 28 days from
//! 30 days to 2 days before. We count whole UTC days (GitLab counts from the exact time of day):
//! a payload recorded at any time on 25 November has its 7-day window from 16 November 00:00 up
//! to, not including, 23 November 00:00. Whole days make a window's value the same all day long
//! and let the engine answer it from per-day rollups (see `rollup`).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// How a window's days are written, the first ten characters of a platform timestamp.
pub const DATE_FORMAT: &str = "%Y-%m-%d";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub enum TimeFrame {
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "28d")]
    FourWeeks,
    #[serde(rename = "all")]
    All,
    #[serde(rename = "none")]
    None,
}

/// A range of whole days, `start` included and `end` not, as `YYYY-MM-DD`. The platform stores
/// timestamps as text starting with the date, so `column >= start AND column < end` selects
/// exactly the rows whose date is in the window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    pub start: String,
    pub end: String,
}

impl TimeFrame {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeFrame::Week => "7d",
            TimeFrame::FourWeeks => "28d",
            TimeFrame::All => "all",
            TimeFrame::None => "none",
        }
    }

    /// The window for a payload recorded at `recorded_at`; `None` means no time restriction.
    pub fn window(self, recorded_at: DateTime<Utc>) -> Option<Window> {
        let days_back = match self {
            TimeFrame::Week => 9,
            TimeFrame::FourWeeks => 30,
            TimeFrame::All | TimeFrame::None => return None,
        };
        let day = recorded_at.date_naive();
        let date = |days| (day - Duration::days(days)).format(DATE_FORMAT).to_string();
        Some(Window {
            start: date(days_back),
            end: date(2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows_are_whole_days_ending_two_days_before_recording() {
        for (hour, minute) in [(0, 0), (12, 30), (23, 59)] {
            let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, hour, minute, 0).unwrap();
            assert_eq!(
                TimeFrame::Week.window(recorded_at),
                Some(Window {
                    start: "2026-11-16".into(),
                    end: "2026-11-23".into()
                })
            );
            assert_eq!(
                TimeFrame::FourWeeks.window(recorded_at),
                Some(Window {
                    start: "2026-10-26".into(),
                    end: "2026-11-23".into()
                })
            );
            assert_eq!(TimeFrame::All.window(recorded_at), None);
        }
    }
}
