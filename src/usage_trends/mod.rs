//! Usage trends (`/admin/usage_trends`): how the platform's users and activity grow, measured
//! once a day and drawn as monthly charts. Independent of Service Ping: nothing here is sent.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[cfg(feature = "ssr")]
pub mod csv;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod job;
#[cfg(feature = "ssr")]
pub mod measure;
pub mod view;

/// What is measured each day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Identifier {
    Users,
    BillableUsers,
    DailyActiveUsers,
    WeeklyActiveUsers,
    MonthlyActiveUsers,
    Groups,
    Projects,
    Issues,
    MergeRequests,
    Pipelines,
    PipelinesSucceeded,
    PipelinesFailed,
    PipelinesCanceled,
    PipelinesSkipped,
}

impl Identifier {
    pub const ALL: [Identifier; 14] = [
        Identifier::Users,
        Identifier::BillableUsers,
        Identifier::DailyActiveUsers,
        Identifier::WeeklyActiveUsers,
        Identifier::MonthlyActiveUsers,
        Identifier::Groups,
        Identifier::Projects,
        Identifier::Issues,
        Identifier::MergeRequests,
        Identifier::Pipelines,
        Identifier::PipelinesSucceeded,
        Identifier::PipelinesFailed,
        Identifier::PipelinesCanceled,
        Identifier::PipelinesSkipped,
    ];

    /// The name stored in the database and used in CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            Identifier::Users => "users",
            Identifier::BillableUsers => "billable_users",
            Identifier::DailyActiveUsers => "daily_active_users",
            Identifier::WeeklyActiveUsers => "weekly_active_users",
            Identifier::MonthlyActiveUsers => "monthly_active_users",
            Identifier::Groups => "groups",
            Identifier::Projects => "projects",
            Identifier::Issues => "issues",
            Identifier::MergeRequests => "merge_requests",
            Identifier::Pipelines => "pipelines",
            Identifier::PipelinesSucceeded => "pipelines_succeeded",
            Identifier::PipelinesFailed => "pipelines_failed",
            Identifier::PipelinesCanceled => "pipelines_canceled",
            Identifier::PipelinesSkipped => "pipelines_skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Identifier::Users => "Users",
            Identifier::BillableUsers => "Billable users",
            Identifier::DailyActiveUsers => "Daily active users",
            Identifier::WeeklyActiveUsers => "Weekly active users",
            Identifier::MonthlyActiveUsers => "Active users (28 days)",
            Identifier::Groups => "Groups",
            Identifier::Projects => "Projects",
            Identifier::Issues => "Issues",
            Identifier::MergeRequests => "Merge requests",
            Identifier::Pipelines => "Pipelines",
            Identifier::PipelinesSucceeded => "Pipelines succeeded",
            Identifier::PipelinesFailed => "Pipelines failed",
            Identifier::PipelinesCanceled => "Pipelines canceled",
            Identifier::PipelinesSkipped => "Pipelines skipped",
        }
    }

    /// The table and filter a running total counts; `None` for the active-user windows, which
    /// come from the events table.
    #[cfg(feature = "ssr")]
    pub fn source(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Identifier::Users => ("users", "TRUE"),
            Identifier::BillableUsers => ("users", "state = 'active' AND user_type = 'human'"),
            Identifier::Groups => ("namespaces", "type = 'Group'"),
            Identifier::Projects => ("projects", "TRUE"),
            Identifier::Issues => ("issues", "TRUE"),
            Identifier::MergeRequests => ("merge_requests", "TRUE"),
            Identifier::Pipelines => ("ci_pipelines", "TRUE"),
            Identifier::PipelinesSucceeded => ("ci_pipelines", "status = 'success'"),
            Identifier::PipelinesFailed => ("ci_pipelines", "status = 'failed'"),
            Identifier::PipelinesCanceled => ("ci_pipelines", "status = 'canceled'"),
            Identifier::PipelinesSkipped => ("ci_pipelines", "status = 'skipped'"),
            Identifier::DailyActiveUsers
            | Identifier::WeeklyActiveUsers
            | Identifier::MonthlyActiveUsers => return None,
        })
    }
}

/// The charts of the page, each with the identifiers it draws.
pub const CHARTS: [(&str, &[Identifier]); 4] = [
    (
        "Projects and groups",
        &[Identifier::Projects, Identifier::Groups],
    ),
    (
        "Pipelines",
        &[
            Identifier::Pipelines,
            Identifier::PipelinesSucceeded,
            Identifier::PipelinesFailed,
            Identifier::PipelinesCanceled,
            Identifier::PipelinesSkipped,
        ],
    ),
    (
        "Issues and merge requests",
        &[Identifier::Issues, Identifier::MergeRequests],
    ),
    (
        "Users and active users",
        &[
            Identifier::Users,
            Identifier::BillableUsers,
            Identifier::MonthlyActiveUsers,
            Identifier::WeeklyActiveUsers,
            Identifier::DailyActiveUsers,
        ],
    ),
];

/// Ranges the page offers, in months; the default is 12.
pub const RANGES: [u32; 4] = [3, 6, 12, 24];
pub const DEFAULT_RANGE: u32 = 12;

/// One identifier's monthly values: the last measurement of each month (`YYYY-MM`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlySeries {
    pub identifier: Identifier,
    pub points: Vec<(String, i64)>,
}

/// What the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTrends {
    /// The latest measurement of each identifier, with its day.
    pub totals: Vec<(Identifier, String, i64)>,
    /// The months of the range, oldest first (`YYYY-MM`).
    pub months: Vec<String>,
    pub series: Vec<MonthlySeries>,
}

/// The `months` calendar months ending with the month of `today`, oldest first.
pub fn month_range(today: chrono::NaiveDate, months: u32) -> Vec<String> {
    use chrono::Datelike;
    let index = today.year() * 12 + today.month0() as i32;
    (0..months as i32)
        .rev()
        .map(|back| {
            let i = index - back;
            format!("{:04}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1)
        })
        .collect()
}

#[server(endpoint = "usage_trends")]
pub async fn get_usage_trends(months: u32) -> Result<UsageTrends, ApiError> {
    use crate::error::AppError;
    crate::auth::session::require_admin().await?;
    if !RANGES.contains(&months) {
        return Err(AppError::Validation(format!("Choose a range of {RANGES:?} months.")).into());
    }
    let state = crate::state::app_state()?;
    Ok(
        db::trends(&state.db, chrono::Utc::now().date_naive(), months)
            .await
            .map_err(AppError::from)?,
    )
}

/// Each chart's CSV.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::get;
    axum::Router::new().route("/admin/usage_trends/charts/{file}", get(csv::chart_csv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_the_calendar_months_ending_this_month() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 2, 10).unwrap();
        assert_eq!(month_range(today, 3), vec!["2025-12", "2026-01", "2026-02"]);
        assert_eq!(month_range(today, 12).first().unwrap(), "2025-03");
        assert_eq!(month_range(today, 12).len(), 12);
    }
}
