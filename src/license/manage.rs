//! Installing and removing the license, and the License page's data.

use chrono::{DateTime, Utc};
use service_ping_protocol::license::{self, LicenseError};

use super::{LicenseDetails, LicenseOverview};
use crate::auth::db::AccountRecord;
use crate::db::{Db, on_pool};
use crate::error::AppError;
use crate::licensing::entitlement::{Installed, current};
use crate::licensing::model::LicenseState;
use crate::state::Licensing;

/// Verifies and installs a license file; a tampered, foreign, expired or not-yet-started license
/// is refused with the reason and changes nothing.
pub async fn install(
    licensing: Licensing<'_>,
    account: &AccountRecord,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let vendor = licensing
        .vendor_key
        .ok_or_else(|| AppError::Validation(LicenseError::NoPublicKey.to_string()))?;
    let license = license::verify(text, vendor)
        .and_then(|license| license.validity(now.date_naive()).map(|()| license))
        .map_err(|e| AppError::Validation(e.to_string()))?;
    let claims = &license.claims;
    let at = service_ping_protocol::time::format_timestamp(now);
    crate::licensing::db::install(
        licensing.db,
        &license.text,
        &claims.id.to_string(),
        &format!("license {} ({})", claims.id, claims.plan.title()),
        crate::settings::db::Actor::new(account, &at),
    )
    .await?;
    tracing::info!(license = %claims.id, plan = claims.plan.as_str(), account = account.id, "license installed");
    Ok(())
}

pub async fn uninstall(
    db: &Db,
    account: &AccountRecord,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let at = service_ping_protocol::time::format_timestamp(now);
    let removed =
        crate::licensing::db::remove(db, crate::settings::db::Actor::new(account, &at)).await?;
    if !removed {
        return Err(AppError::NotFound("No license is installed.".into()));
    }
    tracing::info!(account = account.id, "license removed");
    Ok(())
}

/// The License page's data.
pub async fn overview(
    licensing: Licensing<'_>,
    now: DateTime<Utc>,
) -> Result<LicenseOverview, AppError> {
    let entitlement = current(licensing, now).await?;
    let active_users: i64 = on_pool!(licensing.db, |p| sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE state = 'active' AND user_type = 'human'",
    )
    .fetch_one(p)
    .await)?;
    let license = entitlement.installed.as_ref().map(|installed| {
        let (status, in_force) = match &entitlement.inputs.license {
            LicenseState::InForce(_) => ("In force".to_string(), true),
            LicenseState::Expired(on) => (format!("Expired on {on}"), false),
            LicenseState::NotStarted(on) => (format!("Starts on {on}"), false),
            LicenseState::Invalid(reason) => (format!("Not valid: {reason}"), false),
            LicenseState::None => ("None".to_string(), false),
        };
        details(installed, status, in_force)
    });
    Ok(LicenseOverview {
        edition: entitlement.edition.as_str().into(),
        license,
        access: entitlement.access,
        active_users,
        upload_unavailable: licensing
            .vendor_key
            .is_none()
            .then(|| LicenseError::NoPublicKey.to_string()),
    })
}

fn details(installed: &Installed, status: String, in_force: bool) -> LicenseDetails {
    let blank = || "—".to_string();
    let claims = installed.verified.as_ref().map(|l| &l.claims);
    LicenseDetails {
        id: claims.map_or_else(blank, |c| c.id.to_string()),
        plan: claims.map_or_else(blank, |c| c.plan.title().into()),
        seats: claims.map_or(0, |c| c.seats),
        licensee_name: claims.map_or_else(blank, |c| c.licensee.name.clone()),
        licensee_email: claims.map_or_else(blank, |c| c.licensee.email.clone()),
        licensee_company: claims.map_or_else(blank, |c| c.licensee.company.clone()),
        starts_at: claims.map_or_else(blank, |c| c.starts_at.to_string()),
        expires_at: claims.map_or_else(blank, |c| c.expires_at.to_string()),
        trial: claims.is_some_and(|c| c.trial),
        uploaded_at: installed.uploaded_at.clone(),
        sha256: installed
            .verified
            .as_ref()
            .map_or_else(blank, |l| l.sha256()),
        status,
        in_force,
    }
}
