//! The License page (`/admin/license`): the installed license and its status, uploading a
//! license file and removing it. What a license opens is the `licensing` slice's rule; this page
//! changes what is installed, which maintenance mode may refuse.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::licensing::model::Access;

#[cfg(feature = "ssr")]
pub mod manage;
pub mod view;

/// The installed license as the License page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseDetails {
    pub id: String,
    pub plan: String,
    pub seats: u32,
    pub licensee_name: String,
    pub licensee_email: String,
    pub licensee_company: String,
    pub starts_at: String,
    pub expires_at: String,
    pub trial: bool,
    pub uploaded_at: String,
    pub sha256: String,
    /// "In force", or why not.
    pub status: String,
    pub in_force: bool,
}

/// The License page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseOverview {
    pub edition: String,
    pub license: Option<LicenseDetails>,
    pub access: Access,
    pub active_users: i64,
    /// Why licenses cannot be uploaded here, when they cannot.
    pub upload_unavailable: Option<String>,
}

#[server(endpoint = "license_overview")]
pub async fn get_license_overview() -> Result<LicenseOverview, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    Ok(manage::overview(state.licensing(), chrono::Utc::now()).await?)
}

/// Installs a license file's text after checking its signature and dates.
#[server(endpoint = "upload_license")]
pub async fn upload_license(text: String) -> Result<LicenseOverview, ApiError> {
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    crate::maintenance::require_writable(state.licensing()).await?;
    let now = chrono::Utc::now();
    manage::install(state.licensing(), &account, &text, now).await?;
    Ok(manage::overview(state.licensing(), now).await?)
}

/// Removes the installed license; the instance becomes `EE Free`.
#[server(endpoint = "remove_license")]
pub async fn remove_license() -> Result<LicenseOverview, ApiError> {
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    crate::maintenance::require_writable(state.licensing()).await?;
    let now = chrono::Utc::now();
    manage::uninstall(&state.db, &account, now).await?;
    Ok(manage::overview(state.licensing(), now).await?)
}
