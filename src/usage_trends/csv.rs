//! `GET /admin/usage_trends/charts/{index}.csv?months=N`: a chart's monthly values as CSV, the
//! same numbers the chart and its table view show.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::view::chart_lines;
use super::{CHARTS, RANGES};
use crate::auth::session::require_admin_in;
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, serde::Deserialize)]
pub struct Range {
    months: u32,
}

pub async fn chart_csv(
    State(state): State<AppState>,
    session: Session,
    Path(file): Path<String>,
    Query(range): Query<Range>,
) -> Result<Response, AppError> {
    require_admin_in(&session, &state).await?;
    let index: usize = file
        .strip_suffix(".csv")
        .and_then(|i| i.parse().ok())
        .filter(|i| *i < CHARTS.len())
        .ok_or_else(|| AppError::NotFound(format!("There is no chart {file}.")))?;
    if !RANGES.contains(&range.months) {
        return Err(AppError::Validation(format!(
            "Choose a range of {RANGES:?} months."
        )));
    }
    let trends =
        super::db::trends(&state.db, chrono::Utc::now().date_naive(), range.months).await?;
    let (title, identifiers) = CHARTS[index];
    let lines = chart_lines(&trends, identifiers);
    let mut csv = String::from("month");
    for identifier in identifiers {
        csv.push(',');
        csv.push_str(identifier.as_str());
    }
    csv.push('\n');
    for (i, month) in trends.months.iter().enumerate() {
        csv.push_str(month);
        for line in &lines {
            csv.push(',');
            if let Some(value) = line.values[i] {
                csv.push_str(&value.to_string());
            }
        }
        csv.push('\n');
    }
    let name = title.to_lowercase().replace(' ', "_");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"usage_trends_{name}_{}m.csv\"",
                    range.months
                ),
            ),
        ],
        csv,
    )
        .into_response())
}
