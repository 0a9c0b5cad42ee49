//! `GET /admin/user_permissions.csv`.

use crate::db::on_pool;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::access_level_name;
use crate::auth::session::require_admin_in;
use crate::error::AppError;
use crate::licensing::{Feature, entitlement};
use crate::state::AppState;

#[derive(sqlx::FromRow)]
struct Row {
    username: String,
    name: String,
    email: String,
    state: String,
    source_type: String,
    path: String,
    access_level: i64,
    last_activity_on: Option<String>,
}

const HEADER: &str = "Username,Name,Email,State,Type,Path,Access level,Last activity\n";

pub async fn download(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, AppError> {
    require_admin_in(&session, &state).await?;
    entitlement::require(state.licensing(), Feature::UserPermissionsExport).await?;
    let rows: Vec<Row> = on_pool!(&state.db, |p| {
        sqlx::query_as(
        "SELECT u.username, u.name, u.email, u.state, \
                CASE m.source_type WHEN 'Namespace' THEN 'Group' ELSE 'Project' END AS source_type, \
                CASE m.source_type WHEN 'Namespace' THEN n.path ELSE pn.path || '/' || p.name END AS path, \
                m.access_level, u.last_activity_on \
         FROM members m JOIN users u ON u.id = m.user_id \
         LEFT JOIN namespaces n ON m.source_type = 'Namespace' AND n.id = m.source_id \
         LEFT JOIN projects p ON m.source_type = 'Project' AND p.id = m.source_id \
         LEFT JOIN namespaces pn ON pn.id = p.namespace_id \
         ORDER BY u.username, source_type, path",
    ).fetch_all(p).await
    })?;
    let mut csv = String::with_capacity(HEADER.len() + rows.len() * 96);
    csv.push_str(HEADER);
    for row in &rows {
        let fields = [
            row.username.as_str(),
            &row.name,
            &row.email,
            &row.state,
            &row.source_type,
            &row.path,
            access_level_name(row.access_level),
            row.last_activity_on.as_deref().unwrap_or(""),
        ];
        let line: Vec<String> = fields.iter().map(|field| escape(field)).collect();
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    tracing::info!(rows = rows.len(), "users and permissions report downloaded");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"user_permissions.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// RFC 4180 quoting; a leading `=`, `+`, `-`, `@`, tab or carriage return (OWASP's list of what
/// spreadsheets read as the start of a formula) is prefixed with `'` so a spreadsheet does not
/// run a name as a formula.
fn escape(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_string()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("O'Brien, Pat"), "\"O'Brien, Pat\"");
        assert_eq!(escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(escape("\t=SUM(A1)"), "'\t=SUM(A1)");
        assert_eq!(escape("\r=SUM(A1)"), "\"'\r=SUM(A1)\"");
    }
}
