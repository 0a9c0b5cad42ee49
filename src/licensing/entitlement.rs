//! The entitlement of this instance now: the installed license verified with the vendor key,
//! the settings in force, and what they open. Read from the database on every call, so a change
//! takes effect on the next request.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;

use super::license::{self, LicenseError, VerifiedLicense};
use super::{
    Access, Edition, EntitlementInputs, Feature, LicenseDetails, LicenseOverview, LicenseState,
};
use crate::auth::db::AccountRecord;
use crate::engine::LicenseFacts;
use crate::error::AppError;
use crate::server::AppState;
use crate::server::config::Locks;
use crate::server::db::Db;

/// The installed license, verified or not, with what entitlement concluded.
#[derive(Debug, Clone)]
pub struct Entitlement {
    pub installed: Option<Installed>,
    /// What the rule was applied to.
    pub inputs: EntitlementInputs,
    pub access: Access,
    pub edition: Edition,
}

#[derive(Debug, Clone)]
pub struct Installed {
    pub uploaded_at: String,
    /// `None` when the stored text no longer verifies.
    pub verified: Option<VerifiedLicense>,
}

impl Entitlement {
    /// The license fields of the payload: of the installed license, in force or not.
    pub fn license_facts(&self) -> Option<LicenseFacts> {
        let license = self.installed.as_ref()?.verified.as_ref()?;
        let claims = &license.claims;
        Some(LicenseFacts {
            md5: license.md5(),
            sha256: license.sha256(),
            id: claims.id,
            plan: claims.plan.as_str().into(),
            user_count: claims.seats,
            starts_at: claims.starts_at.to_string(),
            expires_at: claims.expires_at.to_string(),
            trial: claims.trial,
            licensee_name: claims.licensee.name.clone(),
            licensee_email: claims.licensee.email.clone(),
            licensee_company: claims.licensee.company.clone(),
        })
    }
}

/// Works out the entitlement from the database, the locks and the vendor key.
pub async fn evaluate(
    db: &Db,
    locks: &Locks,
    vendor: Option<&VerifyingKey>,
    now: DateTime<Utc>,
) -> Result<Entitlement, sqlx::Error> {
    let installed = super::db::installed(db).await?.map(|stored| {
        let verified = vendor.and_then(|key| license::verify(&stored.data, key).ok());
        Installed {
            uploaded_at: stored.uploaded_at,
            verified,
        }
    });
    let license = license_state(installed.as_ref(), vendor, now);
    let inputs = EntitlementInputs {
        license,
        service_ping_enabled: crate::settings::db::service_ping(db, locks).await?.enabled,
        registration_features_enabled: super::db::registration_features_enabled(db).await?,
    };
    Ok(Entitlement {
        installed,
        access: super::access(&inputs),
        edition: super::edition(&inputs.license),
        inputs,
    })
}

fn license_state(
    installed: Option<&Installed>,
    vendor: Option<&VerifyingKey>,
    now: DateTime<Utc>,
) -> LicenseState {
    let Some(installed) = installed else {
        return LicenseState::None;
    };
    let Some(verified) = &installed.verified else {
        let reason = match vendor {
            None => LicenseError::NoPublicKey,
            Some(_) => LicenseError::BadSignature,
        };
        return LicenseState::Invalid(reason.to_string());
    };
    match verified.validity(now.date_naive()) {
        Ok(()) => LicenseState::InForce(verified.claims.plan),
        Err(LicenseError::Expired(on)) => LicenseState::Expired(on),
        Err(LicenseError::NotStarted(on)) => LicenseState::NotStarted(on),
        Err(other) => LicenseState::Invalid(other.to_string()),
    }
}

/// The entitlement in a request.
pub async fn current(state: &AppState, now: DateTime<Utc>) -> Result<Entitlement, AppError> {
    let vendor = state.settings.licensing.vendor_key();
    Ok(evaluate(&state.db, &state.locks, vendor.as_ref(), now).await?)
}

/// The guard of every paid feature's server function and route: 403 with what unlocks it.
pub async fn require(state: &AppState, feature: Feature) -> Result<Access, AppError> {
    match current(state, Utc::now()).await?.access {
        Access::Locked(reason) => Err(AppError::Forbidden(format!(
            "{} is a paid feature. {reason}",
            feature.title()
        ))),
        open => Ok(open),
    }
}

/// Whether the paid features are open, for code that adapts rather than refuses (banners,
/// password rules).
pub async fn is_open(state: &AppState) -> Result<bool, AppError> {
    Ok(current(state, Utc::now()).await?.access.is_open())
}

/// Verifies and installs a license file; a tampered, foreign, expired or not-yet-started license
/// is refused with the reason and changes nothing.
pub async fn install(
    state: &AppState,
    account: &AccountRecord,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let vendor = state
        .settings
        .licensing
        .vendor_key()
        .ok_or_else(|| AppError::Validation(LicenseError::NoPublicKey.to_string()))?;
    let license = license::verify(text, &vendor)
        .and_then(|license| license.validity(now.date_naive()).map(|()| license))
        .map_err(|e| AppError::Validation(e.to_string()))?;
    let claims = &license.claims;
    let at = crate::engine::evaluate::format_timestamp(now);
    super::db::install(
        &state.db,
        &license.text,
        &claims.id.to_string(),
        &format!("license {} ({})", claims.id, claims.plan.title()),
        crate::settings::db::Actor {
            account_id: account.id,
            name: &account.username,
            at: &at,
        },
    )
    .await?;
    tracing::info!(license = %claims.id, plan = claims.plan.as_str(), account = account.id, "license installed");
    Ok(())
}

pub async fn uninstall(
    state: &AppState,
    account: &AccountRecord,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let at = crate::engine::evaluate::format_timestamp(now);
    let removed = super::db::remove(
        &state.db,
        crate::settings::db::Actor {
            account_id: account.id,
            name: &account.username,
            at: &at,
        },
    )
    .await?;
    if !removed {
        return Err(AppError::NotFound("No license is installed.".into()));
    }
    tracing::info!(account = account.id, "license removed");
    Ok(())
}

/// The License page's data.
pub async fn overview(state: &AppState, now: DateTime<Utc>) -> Result<LicenseOverview, AppError> {
    let entitlement = current(state, now).await?;
    let active_users: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE state = 'active' AND user_type = 'human'",
    )
    .fetch_one(&state.db)
    .await?;
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
        upload_unavailable: state
            .settings
            .licensing
            .vendor_key()
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
