//! Moments as people read them: "3 minutes ago", "in 2 days", or a date, with the exact UTC time
//! on hover and in `<time datetime>`.
//!
//! The server renders the text against its clock (pages read well without JavaScript); once
//! hydrated, the browser rewrites it against its own clock and writes dates in its locale, so a
//! page left open does not say "just now" an hour later.

use chrono::{DateTime, Datelike, Timelike, Utc};
use leptos::prelude::*;

/// Within this, a moment reads relative to now; beyond it, as a date.
const RELATIVE_DAYS: i64 = 26;

/// `at` (RFC 3339, as every timestamp here is stored) as a `<time>`; text that is not a
/// timestamp is shown as it is.
#[component]
pub fn Time(
    #[prop(into)] at: String,
    #[prop(optional, into)] test_id: Option<String>,
) -> impl IntoView {
    let Ok(moment) = DateTime::parse_from_rfc3339(&at).map(|m| m.with_timezone(&Utc)) else {
        return view! { <span data-testid=test_id>{at}</span> }.into_any();
    };
    let text = RwSignal::new(describe(moment, now(), iso_date));
    // Effects run in the browser only, after hydration.
    Effect::new(move |_| text.set(describe(moment, now(), locale_date)));
    view! {
        <time datetime=at title=exact_utc(moment) data-testid=test_id>{move || text.get()}</time>
    }
    .into_any()
}

/// "2026-12-04 02:15:56 UTC". Written field by field rather than with a `strftime` pattern,
/// which would bring chrono's pattern formatter into the bundle for two fixed layouts.
pub fn exact_utc(moment: DateTime<Utc>) -> String {
    let (h, m, s) = (moment.hour(), moment.minute(), moment.second());
    format!("{} {h:02}:{m:02}:{s:02} UTC", iso_date(moment))
}

/// The markup [`Time`] renders on the server, for pages the server writes whole (`at` is
/// RFC 3339; text that is not a timestamp is written as it is, escaped).
#[cfg(feature = "ssr")]
pub fn time_html(at: &str, now: DateTime<Utc>) -> String {
    let escaped = super::escape(at);
    match DateTime::parse_from_rfc3339(at) {
        Ok(moment) => {
            let moment = moment.with_timezone(&Utc);
            format!(
                r#"<time datetime="{escaped}" title="{}">{}</time>"#,
                exact_utc(moment),
                describe(moment, now, iso_date)
            )
        }
        Err(_) => escaped,
    }
}

/// The moment relative to `now` when it is near, else as `date` writes it.
pub fn describe(
    moment: DateTime<Utc>,
    now: DateTime<Utc>,
    date: fn(DateTime<Utc>) -> String,
) -> String {
    let delta = moment - now;
    let seconds = delta.num_seconds();
    if seconds.abs() < 45 {
        return "just now".to_string();
    }
    let (amount, unit) = match seconds.abs() {
        s if s < 45 * 60 => ((s + 30) / 60, "minute"),
        s if s < 22 * 3600 => ((s + 1800) / 3600, "hour"),
        s if s < RELATIVE_DAYS * 86_400 => ((s + 43_200) / 86_400, "day"),
        _ => return date(moment),
    };
    let amount = amount.max(1);
    let plural = if amount == 1 { "" } else { "s" };
    if seconds < 0 {
        format!("{amount} {unit}{plural} ago")
    } else {
        format!("in {amount} {unit}{plural}")
    }
}

fn iso_date(moment: DateTime<Utc>) -> String {
    let (y, m, d) = (moment.year(), moment.month(), moment.day());
    format!("{y:04}-{m:02}-{d:02}")
}

/// The date in the browser's locale ("4 Dec 2026", "12/4/2026"); the ISO date elsewhere.
fn locale_date(moment: DateTime<Utc>) -> String {
    #[cfg(feature = "hydrate")]
    {
        use web_sys::js_sys;
        let date = js_sys::Date::new(&(moment.timestamp_millis() as f64).into());
        let options = js_sys::Object::new();
        for (key, value) in [("year", "numeric"), ("month", "short"), ("day", "numeric")] {
            let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
        }
        String::from(date.to_locale_date_string("default", &options))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        iso_date(moment)
    }
}

/// Now, by the server's clock or the browser's (chrono cannot read the clock in wasm32).
fn now() -> DateTime<Utc> {
    #[cfg(feature = "hydrate")]
    {
        DateTime::from_timestamp_millis(web_sys::js_sys::Date::now() as i64).unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_moments_read_relative_and_far_ones_as_dates() {
        let now: DateTime<Utc> = "2026-12-04T12:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let read = |s: &str| describe(at(s), now, iso_date);
        assert_eq!(read("2026-12-04T11:59:30Z"), "just now");
        assert_eq!(read("2026-12-04T11:57:00Z"), "3 minutes ago");
        assert_eq!(read("2026-12-04T11:59:00Z"), "1 minute ago");
        assert_eq!(read("2026-12-04T09:00:00Z"), "3 hours ago");
        assert_eq!(read("2026-12-06T12:00:00Z"), "in 2 days");
        assert_eq!(read("2026-12-03T12:00:00Z"), "1 day ago");
        assert_eq!(read("2026-10-01T08:00:00Z"), "2026-10-01");
        assert_eq!(
            exact_utc(at("2026-12-04T02:15:56.388Z")),
            "2026-12-04 02:15:56 UTC"
        );
    }
}
