//! The one timestamp format both roles write: RFC 3339 in UTC with milliseconds
//! (`2026-11-25T12:00:00.000Z`), as GitLab's payload writes `recorded_at`. Text in this format
//! sorts as time does, so the databases store and compare it as text.

use chrono::{DateTime, Utc};

pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert_eq!(format_timestamp(at), "2026-11-25T12:00:00.000Z");
    }
}
