//! Editions, licenses, and the Registration Features Program.
//!
//! An instance without a license in force is `EE Free`; a verified Premium or Ultimate license
//! in force makes it `EEP` or `EEU`. The paid features in [`Feature`] are open to an instance
//! with a license in force, and to an `EE Free` instance whose administrator turned on
//! Registration Features, which needs Service Ping on. [`access`] is that rule, in one place;
//! every feature's server functions and routes ask it on every request (through
//! `entitlement::require`), so turning the program off closes the features on the next request.
//!
//! Decisions where GitLab's description is silent (also in the README):
//! * An expired or not-yet-started license counts as no license: the instance is `EE Free` and
//!   may use Registration Features. Its fields still go in the payload, since they describe what
//!   is installed.
//! * When a feature's access ends, its effect ends with it (the banner disappears, maintenance
//!   mode stops refusing writes, password rules fall back to the basic rule); what the
//!   administrator configured is kept for when access returns.

use leptos::prelude::*;

use crate::error::ApiError;

#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod entitlement;
pub mod model;
pub mod view;

pub use model::*;

/// Whether the paid features are open to this instance now, for their pages.
#[server(endpoint = "paid_feature_access")]
pub async fn get_paid_feature_access() -> Result<Access, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    Ok(entitlement::current(state.licensing(), chrono::Utc::now())
        .await?
        .access)
}
