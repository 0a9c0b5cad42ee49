//! DevOps Adoption per group (a paid feature): which of the ten DevOps Score features each group
//! used in each finished month (something of that kind was created in one of the group's
//! projects that month; for Prometheus monitoring, a monitored project existed), the last full
//! month in detail and the last twelve over time.
//!
//! Finished months do not change, so each is computed once (one grouped query per feature) and
//! kept in `devops_adoption_snapshots`, as GitLab keeps its adoption snapshots.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[cfg(feature = "ssr")]
pub mod db;
pub mod view;

/// Months shown over time, ending with the last full month.
pub const MONTHS: u32 = 12;

/// One group's adoption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAdoption {
    pub namespace_id: i64,
    pub name: String,
    pub path: String,
    /// Feature keys used in the last full month, in `FEATURES` order.
    pub last_month: Vec<String>,
    /// How many features the group used in each month of `months`.
    pub over_time: Vec<i64>,
}

/// The DevOps Adoption page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adoption {
    /// `YYYY-MM`, oldest first; the last is the last full month.
    pub months: Vec<String>,
    pub groups: Vec<GroupAdoption>,
    /// For each feature key, how many groups used it in the last full month.
    pub feature_totals: Vec<(String, i64)>,
}

#[server(endpoint = "devops_adoption")]
pub async fn get_devops_adoption() -> Result<Adoption, ApiError> {
    use crate::licensing::{Feature, entitlement};
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::DevopsAdoption).await?;
    Ok(db::adoption(&state.db, chrono::Utc::now().date_naive())
        .await
        .map_err(crate::error::AppError::from)?)
}

/// The `MONTHS` finished months before `today`'s month, oldest first.
pub fn finished_months(today: chrono::NaiveDate) -> Vec<String> {
    let mut months = crate::usage_trends::month_range(today, MONTHS + 1);
    months.pop();
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_months_end_with_the_last_full_one() {
        let months = finished_months("2026-11-25".parse().unwrap());
        assert_eq!(months.len(), 12);
        assert_eq!(months.first().unwrap(), "2025-11");
        assert_eq!(months.last().unwrap(), "2026-10");
    }
}
