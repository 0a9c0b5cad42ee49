//! The SQL pieces every strategy shares: a statement with its parameters, a metric's `WHERE`
//! conditions (its window and filters, values bound, never spliced), and reading numbers back.

use serde_json::{Value, json};
use sqlx::Row;

use super::instrumentation::{Comparison, Condition, DatabaseMetric, Literal};
use super::time_frame::Window;

/// SQL text and its parameters, in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Literal>,
}

impl Statement {
    pub(crate) fn bind_all(
        &self,
    ) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
        let mut query = sqlx::query(&self.sql);
        for bind in &self.binds {
            query = match bind {
                Literal::Int(v) => query.bind(*v),
                Literal::Real(v) => query.bind(*v),
                Literal::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }
}

/// `created_at >= ? AND created_at < ? AND state = ? ...`, appending parameters to `binds`.
pub(crate) fn conditions(
    metric: &DatabaseMetric,
    window: Option<&Window>,
    binds: &mut Vec<Literal>,
) -> String {
    let mut parts = Vec::new();
    if let Some(window) = window {
        parts.push(within(&metric.time_column));
        binds.push(Literal::Text(window.start.clone()));
        binds.push(Literal::Text(window.end.clone()));
    }
    for condition in &metric.filter {
        parts.push(condition_sql(condition, binds));
    }
    parts.join(" AND ")
}

/// The rows of `column` inside a window's days; binds the window's start and end.
pub(crate) fn within(column: &str) -> String {
    format!("{column} >= ? AND {column} < ?")
}

fn condition_sql(condition: &Condition, binds: &mut Vec<Literal>) -> String {
    let column = &condition.column;
    let operator = match condition.comparison {
        Comparison::IsNull => return format!("{column} IS NULL"),
        Comparison::IsNotNull => return format!("{column} IS NOT NULL"),
        Comparison::In | Comparison::NotIn => {
            let marks = vec!["?"; condition.values.len()].join(", ");
            binds.extend(condition.values.iter().cloned());
            let not = if condition.comparison == Comparison::NotIn {
                "NOT "
            } else {
                ""
            };
            return format!("{column} {not}IN ({marks})");
        }
        Comparison::Eq => "=",
        Comparison::Ne => "<>",
        Comparison::Gt => ">",
        Comparison::Gte => ">=",
        Comparison::Lt => "<",
        Comparison::Lte => "<=",
    };
    binds.extend(condition.values.iter().cloned());
    format!("{column} {operator} ?")
}

/// A numeric column as JSON: integers stay integers; NULL (an empty SUM) is 0.
pub(crate) fn number_at(row: &sqlx::sqlite::SqliteRow, index: usize) -> Result<Value, sqlx::Error> {
    if let Ok(value) = row.try_get::<Option<i64>, _>(index) {
        return Ok(json!(value.unwrap_or(0)));
    }
    let value: Option<f64> = row.try_get(index)?;
    Ok(json!(round(value.unwrap_or(0.0))))
}

/// Averages are reported to four decimals, enough for any dashboard and stable across runs.
pub(crate) fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}
