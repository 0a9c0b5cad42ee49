//! A secondary's status on the wire, the primary's endpoint that receives it, and what the
//! primary makes of the statuses it keeps: the Geo sites page and the payload's Geo metrics.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use service_ping_protocol::time::format_timestamp;

use super::token::{self, Refusal};
use super::wire::SiteStatus;
use super::{GeoOverview, ReportRow, SiteRow, UsageRow, db};
use crate::config::{GeoRole, GeoSettings};
use crate::db::Db;
use crate::state::AppState;

fn refuse(status: StatusCode, reason: impl std::fmt::Display) -> Response {
    (status, axum::Json(json!({ "reason": reason.to_string() }))).into_response()
}

/// `POST /api/v4/geo/status` on the primary: 200 when kept; 401 unsigned, badly signed, stale
/// or altered; 403 from a site not in `geo.sites`; 400 a body that is not a status; 409 older
/// than the status kept; 404 when this instance is not a primary. Refusals are logged (with the
/// reason, never the token) and store nothing.
pub async fn receive_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let geo = &state.settings.geo;
    let (Some(GeoRole::Primary), Some(secret)) = (geo.role, geo.secret.as_ref()) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "this instance is not a Geo primary site",
        );
    };
    let now = Utc::now();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let verified = bearer
        .ok_or(Refusal::Unsigned)
        .and_then(|token| token::verify(secret.expose_secret().as_bytes(), token, &body, now));
    let site = match verified {
        Ok(site) => site,
        Err(refusal) => {
            tracing::warn!(reason = %refusal, "Geo status refused");
            return refuse(StatusCode::UNAUTHORIZED, refusal);
        }
    };
    if !geo.sites.iter().any(|s| s.name == site) {
        tracing::warn!(%site, "Geo status refused: the site is not in geo.sites");
        return refuse(
            StatusCode::FORBIDDEN,
            format!("`{site}` is not a secondary site of this primary (geo.sites)"),
        );
    }
    let status = match parse_status(&body, &site) {
        Ok(status) => status,
        Err(reason) => {
            tracing::warn!(%site, %reason, "Geo status refused");
            return refuse(StatusCode::BAD_REQUEST, reason);
        }
    };
    match db::store_status(&state.db, &status, now).await {
        Ok(true) => (StatusCode::OK, axum::Json(json!({ "stored": true }))).into_response(),
        Ok(false) => refuse(
            StatusCode::CONFLICT,
            "a status reported at the same time or later is already kept",
        ),
        Err(error) => {
            tracing::error!(%site, %error, "storing a Geo status failed");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the status could not be stored",
            )
        }
    }
}

/// The body as a status of `site`, or why not.
fn parse_status(body: &[u8], site: &str) -> Result<SiteStatus, String> {
    let status: SiteStatus =
        serde_json::from_slice(body).map_err(|error| format!("not a Geo status: {error}"))?;
    if status.name != site {
        return Err(format!(
            "the status names `{}` but is signed for `{site}`",
            status.name
        ));
    }
    // Moments are kept in one form, so the primary compares them as text.
    let moment = |text: &str, field: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|at| format_timestamp(at.to_utc()))
            .map_err(|_| format!("{field} must be an RFC 3339 time"))
    };
    let mut status = status;
    status.reported_at = moment(&status.reported_at, "reported_at")?;
    if let Some(at) = &status.last_event_at {
        status.last_event_at = Some(moment(at, "last_event_at")?);
    }
    if let Some(usage) = status.usage.as_mut() {
        usage.collected_at = moment(&usage.collected_at, "usage.collected_at")?;
    }
    let short = |text: &str, field: &str, max: usize| {
        if text.chars().count() <= max {
            Ok(())
        } else {
            Err(format!("{field} is longer than {max} characters"))
        }
    };
    short(&status.health, "health", 1000)?;
    short(&status.version, "version", 100)?;
    Ok(status)
}

/// What the Geo sites page shows, at `now`.
pub async fn overview(
    db: &Db,
    geo: &GeoSettings,
    now: DateTime<Utc>,
) -> Result<GeoOverview, sqlx::Error> {
    Ok(match geo.role {
        None => GeoOverview::Off,
        Some(GeoRole::Primary) => GeoOverview::Primary {
            sites: site_rows(db, geo, now).await?,
            unhealthy_after_seconds: geo.unhealthy_after_seconds,
        },
        Some(GeoRole::Secondary) => GeoOverview::Secondary {
            name: geo.name.clone().unwrap_or_default(),
            primary_url: geo
                .primary_url
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            usage: db::latest_usage(db).await?.map(|record| {
                let figures = record.figures();
                UsageRow {
                    git_fetch_event_count_weekly: figures.git_fetch_event_count_weekly,
                    git_push_event_count_weekly: figures.git_push_event_count_weekly,
                    collected_at: record.collected_at,
                }
            }),
            last_report: db::last_report(db).await?.map(|r| ReportRow {
                attempted_at: r.attempted_at,
                succeeded_at: r.succeeded_at,
                error: r.error,
            }),
        },
    })
}

/// Each listed secondary with its latest status, in the order `geo.sites` lists them.
async fn site_rows(
    db: &Db,
    geo: &GeoSettings,
    now: DateTime<Utc>,
) -> Result<Vec<SiteRow>, sqlx::Error> {
    let statuses = db::statuses(db).await?;
    Ok(geo
        .sites
        .iter()
        .map(|site| {
            let status = statuses.iter().find(|s| s.site_name == site.name);
            SiteRow {
                name: site.name.clone(),
                url: site.url.to_string(),
                unhealthy_because: unhealthy_because(status, geo.unhealthy_after_seconds, now),
                last_status_at: status.map(|s| s.received_at.clone()),
                version: status.map(|s| s.version.clone()),
                last_event_at: status.and_then(|s| s.last_event_at.clone()),
                usage: status.and_then(|s| {
                    Some(UsageRow {
                        git_fetch_event_count_weekly: count(s.git_fetch_event_count_weekly),
                        git_push_event_count_weekly: count(s.git_push_event_count_weekly),
                        collected_at: s.usage_collected_at.clone()?,
                    })
                }),
            }
        })
        .collect())
}

fn count(stored: Option<i64>) -> Option<u64> {
    stored.and_then(|v| u64::try_from(v).ok())
}

/// Why a site is unhealthy at `now`: no status yet, none for longer than allowed, or its own
/// report; `None` when healthy.
fn unhealthy_because(
    status: Option<&db::StatusRecord>,
    unhealthy_after_seconds: u32,
    now: DateTime<Utc>,
) -> Option<String> {
    let Some(status) = status else {
        return Some("No status received yet".into());
    };
    let received = DateTime::parse_from_rfc3339(&status.received_at).ok()?;
    let silent = now.signed_duration_since(received);
    if silent.num_seconds() > i64::from(unhealthy_after_seconds) {
        return Some(format!(
            "No status for {} (allowed: {})",
            minutes(silent.num_seconds()),
            allowed_silence(unhealthy_after_seconds)
        ));
    }
    (!status.healthy).then(|| status.health.clone())
}

/// The configured `unhealthy_after_seconds` as the page and the reasons word it, exactly:
/// `10 minutes`, `90 seconds`.
pub fn allowed_silence(seconds: u32) -> String {
    if seconds.is_multiple_of(60) {
        crate::components::plural((seconds / 60) as usize, "minute", "minutes")
    } else {
        format!("{seconds} seconds")
    }
}

/// A measured silence, in whole minutes past the first: `12 minutes`, `1 minute`, `40 seconds`.
fn minutes(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} seconds"),
        s if s < 120 => "1 minute".into(),
        s => format!("{} minutes", s / 60),
    }
}

/// What the payload reports of Geo: `geo_enabled`, and one object per listed secondary with the
/// weekly Git traffic it last reported (null until it has). No name or address leaves.
pub async fn payload_facts(db: &Db, geo: &GeoSettings) -> Result<(bool, Value), sqlx::Error> {
    let enabled = geo.role.is_some();
    if geo.role != Some(GeoRole::Primary) {
        return Ok((enabled, json!([])));
    }
    let statuses = db::statuses(db).await?;
    let sites: Vec<Value> = geo
        .sites
        .iter()
        .map(|site| {
            let status = statuses.iter().find(|s| s.site_name == site.name);
            json!({
                "git_fetch_event_count_weekly": status.and_then(|s| s.git_fetch_event_count_weekly),
                "git_push_event_count_weekly": status.and_then(|s| s.git_push_event_count_weekly),
            })
        })
        .collect();
    Ok((enabled, Value::Array(sites)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(received_at: &str, healthy: bool) -> db::StatusRecord {
        db::StatusRecord {
            site_name: "b".into(),
            healthy,
            health: if healthy {
                "Healthy"
            } else {
                "Database unavailable"
            }
            .into(),
            version: "1.0.0".into(),
            last_event_at: None,
            git_fetch_event_count_weekly: None,
            git_push_event_count_weekly: None,
            usage_collected_at: None,
            received_at: received_at.into(),
        }
    }

    #[test]
    fn a_site_is_unhealthy_without_a_recent_status_or_when_it_says_so() {
        let now = "2026-12-04T12:00:00Z".parse().unwrap();
        assert_eq!(
            unhealthy_because(None, 600, now).as_deref(),
            Some("No status received yet")
        );
        let fresh = record("2026-12-04T11:59:00.000Z", true);
        assert_eq!(unhealthy_because(Some(&fresh), 600, now), None);
        let silent = record("2026-12-04T11:45:00.000Z", true);
        assert_eq!(
            unhealthy_because(Some(&silent), 600, now).as_deref(),
            Some("No status for 15 minutes (allowed: 10 minutes)")
        );
        let failing = record("2026-12-04T11:59:00.000Z", false);
        assert_eq!(
            unhealthy_because(Some(&failing), 600, now).as_deref(),
            Some("Database unavailable")
        );
    }

    #[test]
    fn a_status_must_name_its_signer_and_hold_only_the_known_usage_keys() {
        let status = |usage: &str| {
            format!(
                r#"{{"name":"b","healthy":true,"health":"Healthy","version":"1","last_event_at":null,"reported_at":"2026-12-04T12:00:00.000Z","usage":{usage}}}"#
            )
        };
        let good = status(
            r#"{"collected_at":"2026-12-04T11:00:00.000Z","payload":{"git_fetch_event_count_weekly":3,"git_push_event_count_weekly":null}}"#,
        );
        let parsed = parse_status(good.as_bytes(), "b").unwrap();
        assert_eq!(
            parsed.usage.unwrap().payload.git_fetch_event_count_weekly,
            Some(3)
        );
        assert!(
            parse_status(good.as_bytes(), "c")
                .unwrap_err()
                .contains("signed for `c`")
        );
        let extra = status(
            r#"{"collected_at":"2026-12-04T11:00:00.000Z","payload":{"git_fetch_event_count_weekly":3,"git_push_event_count_weekly":1,"repositories_count":9}}"#,
        );
        assert!(
            parse_status(extra.as_bytes(), "b")
                .unwrap_err()
                .contains("repositories_count")
        );
        let text = status(
            r#"{"collected_at":"2026-12-04T11:00:00.000Z","payload":{"git_fetch_event_count_weekly":"3","git_push_event_count_weekly":1}}"#,
        );
        assert!(parse_status(text.as_bytes(), "b").is_err());
        let when = status(
            r#"{"collected_at":"yesterday","payload":{"git_fetch_event_count_weekly":3,"git_push_event_count_weekly":1}}"#,
        );
        assert!(
            parse_status(when.as_bytes(), "b")
                .unwrap_err()
                .contains("collected_at")
        );
    }
}
