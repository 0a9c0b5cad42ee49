//! The Geo sites page as markup, every text escaped ([`crate::components::escape`]) and every
//! moment written as [`crate::components::time::Time`] writes it on the server.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::status::allowed_silence;
use super::{GeoOverview, ReportRow, SiteRow, UsageRow};
use crate::components::escape;
use crate::components::time::time_html;

pub fn page(overview: &GeoOverview, now: DateTime<Utc>) -> String {
    match overview {
        GeoOverview::Off => OFF.to_string(),
        GeoOverview::Primary { sites, .. } if sites.is_empty() => NO_SITES.to_string(),
        GeoOverview::Primary {
            sites,
            unhealthy_after_seconds,
        } => primary(sites, *unhealthy_after_seconds, now),
        GeoOverview::Secondary {
            name,
            primary_url,
            usage,
            last_report,
        } => secondary(name, primary_url, usage.as_ref(), last_report.as_ref(), now),
    }
}

const OFF: &str = r#"<section class="card" data-testid="geo-off"><h2>Geo is not configured</h2><p class="muted">This instance is neither a primary nor a secondary site. Set <code>geo.role</code>, <code>geo.secret</code> and, on a primary, <code>geo.sites</code> (on a secondary, <code>geo.name</code> and <code>geo.primary_url</code>) in the configuration file.</p></section>"#;

const NO_SITES: &str = r#"<section class="card" data-testid="geo-no-sites"><h2>No secondary sites</h2><p class="muted">This is the primary site. List secondaries under <code>[[geo.sites]]</code> in the configuration file.</p></section>"#;

fn primary(sites: &[SiteRow], unhealthy_after_seconds: u32, now: DateTime<Utc>) -> String {
    let mut html = format!(
        r#"<section class="card"><div class="card-header"><h2>Secondary sites</h2><span class="badge badge-info">This is the primary</span></div><p class="muted">A site is unhealthy when it says so, or after {} without a status.</p><div class="table-scroll"><table class="data-table" data-testid="geo-sites"><thead><tr><th>Site</th><th>Health</th><th>Last status</th><th>Last event</th><th class="numeric">Git fetches (week)</th><th class="numeric">Git pushes (week)</th><th>Usage collected</th></tr></thead><tbody>"#,
        allowed_silence(unhealthy_after_seconds)
    );
    for site in sites {
        site_row(&mut html, site, now);
    }
    html.push_str("</tbody></table></div></section>");
    html
}

fn site_row(html: &mut String, site: &SiteRow, now: DateTime<Utc>) {
    let health = match &site.unhealthy_because {
        None => r#"<span class="badge badge-success">Healthy</span>"#.to_string(),
        Some(reason) => format!(
            r#"<span class="badge badge-danger">Unhealthy</span><div class="muted small">{}</div>"#,
            escape(reason)
        ),
    };
    let version = site.version.as_deref().map_or(String::new(), |v| {
        format!(r#"<div class="muted small">Version {}</div>"#, escape(v))
    });
    let usage = site.usage.as_ref();
    let figure = |value: Option<u64>| value.map_or("—".to_string(), |v| v.to_string());
    let _ = write!(
        html,
        r#"<tr data-testid="geo-site" data-site="{name}"><td class="site-cell"><strong>{name}</strong><div><a class="small" href="{url}">{url}</a></div>{version}</td><td data-testid="geo-health">{health}</td><td>{status}</td><td>{event}</td><td class="numeric" data-testid="geo-fetches">{fetches}</td><td class="numeric" data-testid="geo-pushes">{pushes}</td><td>{collected}</td></tr>"#,
        name = escape(&site.name),
        url = escape(&site.url),
        status = moment(site.last_status_at.as_deref(), now),
        event = moment(site.last_event_at.as_deref(), now),
        fetches = figure(usage.and_then(|u| u.git_fetch_event_count_weekly)),
        pushes = figure(usage.and_then(|u| u.git_push_event_count_weekly)),
        collected = moment(usage.map(|u| u.collected_at.as_str()), now),
    );
}

fn secondary(
    name: &str,
    primary_url: &str,
    usage: Option<&UsageRow>,
    last_report: Option<&ReportRow>,
    now: DateTime<Utc>,
) -> String {
    let report = match last_report {
        None => fact("Last status", "Not sent yet"),
        Some(report) => {
            let mut facts = fact(
                "Last status sent",
                &moment(report.succeeded_at.as_deref(), now),
            );
            if let Some(error) = &report.error {
                facts.push_str(&fact(
                    "Last attempt failed",
                    &format!(
                        r#"<span data-testid="geo-report-error">{}</span> {}"#,
                        escape(error),
                        moment(Some(&report.attempted_at), now)
                    ),
                ));
            }
            facts
        }
    };
    let figure = |value: Option<u64>| value.map_or("Not read".to_string(), |v| v.to_string());
    let traffic = match usage {
        None => r#"<p class="muted">Not collected yet.</p>"#.to_string(),
        Some(usage) => format!(
            r#"<dl class="facts">{}{}{}</dl>"#,
            fact("Git fetches", &figure(usage.git_fetch_event_count_weekly)),
            fact("Git pushes", &figure(usage.git_push_event_count_weekly)),
            fact("Collected", &moment(Some(&usage.collected_at), now)),
        ),
    };
    let url = escape(primary_url);
    format!(
        r#"<div class="card-grid"><section class="card" data-testid="geo-secondary"><div class="card-header"><h2>Secondary site {name}</h2><span class="badge badge-info">Secondary</span></div><p class="muted">This site never sends Service Ping itself: its figures travel in the primary's payload.</p><dl class="facts">{primary}{report}</dl></section><section class="card"><h2>Weekly Git traffic</h2>{traffic}</section></div>"#,
        name = escape(name),
        primary = fact("Primary", &format!(r#"<a href="{url}">{url}</a>"#)),
    )
}

/// A label and its value (markup) in a `<dl class="facts">`, as [`crate::components::Fact`].
fn fact(label: &str, value: &str) -> String {
    format!(r#"<div class="fact"><dt>{label}</dt><dd>{value}</dd></div>"#)
}

fn moment(at: Option<&str>, now: DateTime<Utc>) -> String {
    at.map_or_else(
        || r#"<span class="muted">—</span>"#.to_string(),
        |at| time_html(at, now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_a_site_reports_is_escaped() {
        let site = SiteRow {
            name: "b".into(),
            url: "http://b.example/".into(),
            unhealthy_because: Some("<script>alert(1)</script>".into()),
            last_status_at: Some("2026-12-04T11:59:00.000Z".into()),
            version: Some("1\" onmouseover=\"x".into()),
            last_event_at: None,
            usage: None,
        };
        let now = "2026-12-04T12:00:00Z".parse().unwrap();
        let html = page(
            &GeoOverview::Primary {
                sites: vec![site],
                unhealthy_after_seconds: 600,
            },
            now,
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("Version 1&quot; onmouseover=&quot;x"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("after 10 minutes without"), "{html}");
        assert!(
            html.contains(r#"<time datetime="2026-12-04T11:59:00.000Z""#),
            "{html}"
        );
    }
}
