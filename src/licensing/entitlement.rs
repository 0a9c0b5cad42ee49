//! The entitlement of this instance now: the installed license verified with the vendor key,
//! the settings in force, and what they open. Read from the database on every call (once per page
//! render: `state::page_reads`), so a change takes effect on the next request.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;

use service_ping_engine::LicenseFacts;
use service_ping_protocol::license::{self, LicenseError, VerifiedLicense};

use super::model::{self, Access, Edition, EntitlementInputs, Feature, LicenseState};
use crate::config::Locks;
use crate::db::Db;
use crate::error::AppError;
use crate::state::Licensing;

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
    let choices = crate::settings::db::stored_choices(db).await?;
    let inputs = EntitlementInputs {
        license,
        service_ping_enabled: choices.service_ping(locks).enabled,
        registration_features_enabled: choices.registration_features_enabled,
    };
    Ok(Entitlement {
        installed,
        access: model::access(&inputs),
        edition: model::edition(&inputs.license),
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
pub async fn current(
    licensing: Licensing<'_>,
    now: DateTime<Utc>,
) -> Result<Entitlement, AppError> {
    Ok(evaluate(licensing.db, licensing.locks, licensing.vendor_key, now).await?)
}

/// The guard of every paid feature's server function and route: 403 with what unlocks it.
pub async fn require(licensing: Licensing<'_>, feature: Feature) -> Result<Access, AppError> {
    match current(licensing, Utc::now()).await?.access {
        Access::Locked(reason) => Err(AppError::Forbidden(format!(
            "{} is a paid feature. {reason}",
            feature.title()
        ))),
        open => Ok(open),
    }
}

/// Whether the paid features are open, for code that adapts rather than refuses (banners,
/// password rules).
pub async fn is_open(licensing: Licensing<'_>) -> Result<bool, AppError> {
    Ok(current(licensing, Utc::now()).await?.access.is_open())
}
