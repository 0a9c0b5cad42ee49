//! Time frames: the window of rows a metric counts.
//!
//! As GitLab does, database windows stop two days before `recorded_at`, so they only count rows
//! that have settled: `7d` is from 9 days to 2 days before, `28d` from 30 days to 2 days before,
//! both ends included.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::platform::TIMESTAMP_FORMAT;

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

/// An inclusive range of timestamps, formatted as the platform stores them.
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
        let end = recorded_at - Duration::days(2);
        let start = recorded_at - Duration::days(days_back);
        Some(Window {
            start: start.format(TIMESTAMP_FORMAT).to_string(),
            end: end.format(TIMESTAMP_FORMAT).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows_end_two_days_before_recording() {
        let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 30, 0).unwrap();
        assert_eq!(
            TimeFrame::Week.window(recorded_at),
            Some(Window {
                start: "2026-11-16 12:30:00".into(),
                end: "2026-11-23 12:30:00".into()
            })
        );
        assert_eq!(
            TimeFrame::FourWeeks.window(recorded_at),
            Some(Window {
                start: "2026-10-26 12:30:00".into(),
                end: "2026-11-23 12:30:00".into()
            })
        );
        assert_eq!(TimeFrame::All.window(recorded_at), None);
    }
}
