//! Instrumentation classes: how a metric's value is computed, in GitLab's CamelCase names with
//! their parameters in `options`.
//!
//! Database classes are generic and data-driven: a table, an optional column, a structured
//! filter and a time column. Identifiers are checked twice: by shape here (so no SQL can be
//! smuggled in through YAML) and against the live schema when the engine starts. `SqlMetric`
//! runs one of a fixed, reviewed set of queries; system classes read facts about the instance.

use serde_json::{Map, Value};

use super::time_frame::TimeFrame;
use super::value_type::ValueType;

/// A problem with a definition's class or options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub field: String,
    pub message: String,
}

fn option_error(field: impl Into<String>, message: impl Into<String>) -> OptionError {
    OptionError {
        field: field.into(),
        message: message.into(),
    }
}

/// An aggregate over one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Count,
    DistinctCount,
    Sum,
    Average,
    /// HyperLogLog estimate of a distinct count (512 buckets), GitLab's `estimate_batch_distinct_count`.
    EstimateDistinct,
}

/// A literal in a filter, always bound as a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A boolean column's value: bound as a boolean on PostgreSQL, as 1 or 0 on SQLite.
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

/// One condition of a filter: `column <comparison> values`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: String,
    pub comparison: Comparison,
    pub values: Vec<Literal>,
}

/// A database metric: `operation` over `table` (optionally one `column`), rows matching
/// `filter`, windowed on `time_column`.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseMetric {
    pub operation: Operation,
    pub table: String,
    pub column: Option<String>,
    pub filter: Vec<Condition>,
    pub time_column: String,
}

impl DatabaseMetric {
    /// Every column this metric reads, with the option that names it, for checking against
    /// the schema.
    pub fn columns(&self) -> Vec<(String, &str)> {
        let mut columns = Vec::new();
        if let Some(column) = &self.column {
            columns.push(("options.column".to_string(), column.as_str()));
        }
        for condition in &self.filter {
            columns.push((
                format!("options.filter.{}", condition.column),
                condition.column.as_str(),
            ));
        }
        columns.push(("options.time_column".to_string(), self.time_column.as_str()));
        columns
    }
}

/// Facts about the instance rather than its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemValue {
    RecordedAt,
    RecordingFinishedAt,
    Uuid,
    Hostname,
    Version,
    InstallationType,
    Edition,
    DatabaseAdapter,
    DatabaseVersion,
    DatabaseFlavor,
    PgSystemId,
    OperatingSystem,
    CollectedDataCategories,
    ServicePingEnabled,
    IncludeOptionalData,
    /// The installation's topology, read from Prometheus (an object; see the instance's
    /// `service_ping::topology`).
    Topology,
    /// Whether this instance is a Geo site (GitLab's `geo_enabled`).
    GeoEnabled,
    /// One object per Geo secondary site, with the weekly Git traffic it last reported (an
    /// array; see the instance's `geo`).
    GeoNodeUsage,
    /// A field of the installed license; every one is `null` without a license.
    License(LicenseField),
    /// A retired metric whose key is kept: GitLab's `-1000`.
    Deprecated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseField {
    Md5,
    Sha256,
    Id,
    Plan,
    UserCount,
    StartsAt,
    ExpiresAt,
    Trial,
    LicenseeName,
    LicenseeEmail,
    LicenseeCompany,
}

/// A reviewed query, chosen by name in `options.query`. `$1`/`$2` are the window's start and
/// end; for `all` they span every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedQuery {
    pub name: &'static str,
    /// The table it reads, for the schema check and the benchmark's lower bound.
    pub table: &'static str,
    pub sql: &'static str,
}

/// The queries `SqlMetric` may run. Adding one is a code review, not a YAML change.
pub const NAMED_QUERIES: &[NamedQuery] = &[
    NamedQuery {
        name: "users_active_in_window",
        table: "users",
        sql: "SELECT COUNT(*) FROM users WHERE state = 'active' AND user_type = 'human' \
              AND last_activity_on >= $1 AND last_activity_on < $2",
    },
    NamedQuery {
        name: "projects_with_pipelines",
        table: "ci_pipelines",
        sql: "SELECT COUNT(DISTINCT project_id) FROM ci_pipelines WHERE created_at >= $1 AND created_at < $2",
    },
    NamedQuery {
        name: "projects_with_deployments",
        table: "deployments",
        sql: "SELECT COUNT(DISTINCT project_id) FROM deployments WHERE created_at >= $1 AND created_at < $2",
    },
    NamedQuery {
        name: "groups_with_projects",
        table: "projects",
        sql: "SELECT COUNT(DISTINCT namespace_id) FROM projects WHERE created_at >= $1 AND created_at < $2",
    },
    NamedQuery {
        name: "issues_closed_in_window",
        table: "issues",
        sql: "SELECT COUNT(*) FROM issues WHERE closed_at >= $1 AND closed_at < $2",
    },
    NamedQuery {
        name: "merge_requests_merged_in_window",
        table: "merge_requests",
        sql: "SELECT COUNT(*) FROM merge_requests WHERE merged_at >= $1 AND merged_at < $2",
    },
];

/// How a metric is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Instrumentation {
    Database(DatabaseMetric),
    Sql(NamedQuery),
    System(SystemValue),
}

const DATABASE_CLASSES: &[(&str, Operation)] = &[
    ("CountMetric", Operation::Count),
    ("DistinctCountMetric", Operation::DistinctCount),
    ("SumMetric", Operation::Sum),
    ("AverageMetric", Operation::Average),
    ("EstimateDistinctMetric", Operation::EstimateDistinct),
];

const SYSTEM_CLASSES: &[(&str, SystemValue)] = &[
    ("RecordedAtMetric", SystemValue::RecordedAt),
    (
        "RecordingFinishedAtMetric",
        SystemValue::RecordingFinishedAt,
    ),
    ("UuidMetric", SystemValue::Uuid),
    ("HostnameMetric", SystemValue::Hostname),
    ("VersionMetric", SystemValue::Version),
    ("InstallationTypeMetric", SystemValue::InstallationType),
    ("EditionMetric", SystemValue::Edition),
    ("DatabaseAdapterMetric", SystemValue::DatabaseAdapter),
    ("DatabaseVersionMetric", SystemValue::DatabaseVersion),
    ("DatabaseFlavorMetric", SystemValue::DatabaseFlavor),
    ("PgSystemIdMetric", SystemValue::PgSystemId),
    ("OperatingSystemMetric", SystemValue::OperatingSystem),
    (
        "CollectedDataCategoriesMetric",
        SystemValue::CollectedDataCategories,
    ),
    ("ServicePingEnabledMetric", SystemValue::ServicePingEnabled),
    (
        "IncludeOptionalDataMetric",
        SystemValue::IncludeOptionalData,
    ),
    ("DeprecatedMetric", SystemValue::Deprecated),
    ("TopologyMetric", SystemValue::Topology),
    ("GeoEnabledMetric", SystemValue::GeoEnabled),
    ("GeoNodeUsageMetric", SystemValue::GeoNodeUsage),
];

const LICENSE_FIELDS: &[(&str, LicenseField)] = &[
    ("md5", LicenseField::Md5),
    ("sha256", LicenseField::Sha256),
    ("id", LicenseField::Id),
    ("plan", LicenseField::Plan),
    ("user_count", LicenseField::UserCount),
    ("starts_at", LicenseField::StartsAt),
    ("expires_at", LicenseField::ExpiresAt),
    ("trial", LicenseField::Trial),
    ("licensee_name", LicenseField::LicenseeName),
    ("licensee_email", LicenseField::LicenseeEmail),
    ("licensee_company", LicenseField::LicenseeCompany),
];

impl Instrumentation {
    /// Resolves a class name and its options; unknown classes, unknown or malformed options are
    /// errors naming the option.
    pub fn parse(
        class: &str,
        options: &Map<String, Value>,
        value_type: ValueType,
    ) -> Result<Self, OptionError> {
        if let Some((_, operation)) = DATABASE_CLASSES.iter().find(|(name, _)| *name == class) {
            expect_value_type(value_type, ValueType::Number)?;
            return parse_database(*operation, options).map(Instrumentation::Database);
        }
        if class == "SqlMetric" {
            expect_value_type(value_type, ValueType::Number)?;
            only_options(options, &["query"])?;
            let name = string_option(options, "query")?
                .ok_or_else(|| option_error("options.query", "is required"))?;
            let query = NAMED_QUERIES
                .iter()
                .find(|q| q.name == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = NAMED_QUERIES.iter().map(|q| q.name).collect();
                    option_error(
                        "options.query",
                        format!("unknown query `{name}`; known: {}", known.join(", ")),
                    )
                })?;
            return Ok(Instrumentation::Sql(*query));
        }
        if class == "LicenseMetric" {
            only_options(options, &["field"])?;
            let name = string_option(options, "field")?
                .ok_or_else(|| option_error("options.field", "is required"))?;
            let field = LICENSE_FIELDS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| *f)
                .ok_or_else(|| {
                    option_error("options.field", format!("unknown license field `{name}`"))
                })?;
            return Ok(Instrumentation::System(SystemValue::License(field)));
        }
        if let Some((_, value)) = SYSTEM_CLASSES.iter().find(|(name, _)| *name == class) {
            only_options(options, &[])?;
            return Ok(Instrumentation::System(*value));
        }
        Err(option_error(
            "instrumentation_class",
            format!("unknown instrumentation class `{class}`"),
        ))
    }

    /// Database metrics need a time frame that means something for rows; facts need `none`.
    pub fn time_frame_mismatch(&self, time_frame: TimeFrame) -> Option<String> {
        match (self, time_frame) {
            (Instrumentation::Database(_) | Instrumentation::Sql(_), TimeFrame::None) => {
                Some("database metrics need 7d, 28d or all".into())
            }
            (Instrumentation::System(_), tf) if tf != TimeFrame::None => {
                Some("system metrics need time_frame none".into())
            }
            _ => None,
        }
    }
}

fn expect_value_type(actual: ValueType, expected: ValueType) -> Result<(), OptionError> {
    if actual == expected {
        Ok(())
    } else {
        Err(option_error(
            "value_type",
            format!("this instrumentation class produces a {expected:?}, not a {actual:?}")
                .to_lowercase(),
        ))
    }
}

fn only_options(options: &Map<String, Value>, allowed: &[&str]) -> Result<(), OptionError> {
    match options.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(option_error(
            format!("options.{key}"),
            format!("unknown option; allowed: {}", display_list(allowed)),
        )),
        None => Ok(()),
    }
}

fn display_list(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn string_option<'a>(
    options: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, OptionError> {
    match options.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(option_error(format!("options.{key}"), "must be a string")),
    }
}

/// A lower-case SQL identifier: letters, digits and underscores, starting with a letter.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

fn identifier_option(
    options: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, OptionError> {
    match string_option(options, key)? {
        None => Ok(None),
        Some(name) if is_identifier(name) => Ok(Some(name.to_string())),
        Some(name) => Err(option_error(
            format!("options.{key}"),
            format!("`{name}` is not a valid table or column name"),
        )),
    }
}

fn parse_database(
    operation: Operation,
    options: &Map<String, Value>,
) -> Result<DatabaseMetric, OptionError> {
    only_options(options, &["table", "column", "filter", "time_column"])?;
    let table = identifier_option(options, "table")?
        .ok_or_else(|| option_error("options.table", "is required"))?;
    let column = identifier_option(options, "column")?;
    let needs_column = operation != Operation::Count;
    if needs_column && column.is_none() {
        return Err(option_error(
            "options.column",
            "is required for this instrumentation class",
        ));
    }
    let time_column =
        identifier_option(options, "time_column")?.unwrap_or_else(|| "created_at".into());
    let filter = match options.get("filter") {
        None => Vec::new(),
        Some(Value::Object(conditions)) => conditions
            .iter()
            .map(|(column, spec)| parse_condition(column, spec))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(option_error(
                "options.filter",
                "must be a mapping of column to condition",
            ));
        }
    };
    Ok(DatabaseMetric {
        operation,
        table,
        column,
        filter,
        time_column,
    })
}

/// `state: active`, `status: [success, failed]`, `duration: {gt: 0}`, `closed_at: {null: false}`.
fn parse_condition(column: &str, spec: &Value) -> Result<Condition, OptionError> {
    let field = format!("options.filter.{column}");
    if !is_identifier(column) {
        return Err(option_error(
            field,
            format!("`{column}` is not a valid column name"),
        ));
    }
    let condition = |comparison, values| Condition {
        column: column.to_string(),
        comparison,
        values,
    };
    match spec {
        Value::Array(items) => Ok(condition(Comparison::In, literals(&field, items)?)),
        Value::Object(operators) => {
            let [(operator, operand)] = operators.iter().collect::<Vec<_>>()[..] else {
                return Err(option_error(
                    field,
                    "give exactly one operator (eq, ne, gt, gte, lt, lte, in, not_in, null)",
                ));
            };
            let comparison = match operator.as_str() {
                "eq" => Comparison::Eq,
                "ne" => Comparison::Ne,
                "gt" => Comparison::Gt,
                "gte" => Comparison::Gte,
                "lt" => Comparison::Lt,
                "lte" => Comparison::Lte,
                "in" => Comparison::In,
                "not_in" => Comparison::NotIn,
                "null" => {
                    return match operand {
                        Value::Bool(true) => Ok(condition(Comparison::IsNull, vec![])),
                        Value::Bool(false) => Ok(condition(Comparison::IsNotNull, vec![])),
                        _ => Err(option_error(
                            format!("{field}.null"),
                            "must be true or false",
                        )),
                    };
                }
                other => return Err(option_error(format!("{field}.{other}"), "unknown operator")),
            };
            let values = match (comparison, operand) {
                (Comparison::In | Comparison::NotIn, Value::Array(items)) => {
                    literals(&field, items)?
                }
                (Comparison::In | Comparison::NotIn, _) => {
                    return Err(option_error(
                        format!("{field}.{operator}"),
                        "must be a list",
                    ));
                }
                (_, single) => vec![literal(&field, single)?],
            };
            Ok(condition(comparison, values))
        }
        single => Ok(condition(Comparison::Eq, vec![literal(&field, single)?])),
    }
}

fn literals(field: &str, items: &[Value]) -> Result<Vec<Literal>, OptionError> {
    if items.is_empty() {
        return Err(option_error(field, "the list is empty"));
    }
    items.iter().map(|item| literal(field, item)).collect()
}

fn literal(field: &str, value: &Value) -> Result<Literal, OptionError> {
    match value {
        Value::String(s) => Ok(Literal::Text(s.clone())),
        Value::Bool(b) => Ok(Literal::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(Literal::Int)
            .or_else(|| n.as_f64().map(Literal::Real))
            .ok_or_else(|| option_error(field, "number out of range")),
        _ => Err(option_error(field, "must be a string, number or boolean")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn filters_parse_into_conditions() {
        let parsed = Instrumentation::parse(
            "CountMetric",
            &options(json!({"table": "ci_pipelines", "filter": {"status": ["success", "failed"], "duration": {"gt": 60}, "user_id": {"null": false}, "archived": false}})),
            ValueType::Number,
        )
        .unwrap();
        let Instrumentation::Database(metric) = parsed else {
            panic!()
        };
        assert_eq!(metric.table, "ci_pipelines");
        assert_eq!(metric.time_column, "created_at");
        assert_eq!(metric.filter.len(), 4);
        assert!(metric.filter.contains(&Condition {
            column: "archived".into(),
            comparison: Comparison::Eq,
            values: vec![Literal::Bool(false)]
        }));
        assert!(metric.filter.contains(&Condition {
            column: "duration".into(),
            comparison: Comparison::Gt,
            values: vec![Literal::Int(60)]
        }));
        assert!(metric.filter.contains(&Condition {
            column: "user_id".into(),
            comparison: Comparison::IsNotNull,
            values: vec![]
        }));
    }

    #[test]
    fn sql_cannot_be_smuggled_in_through_names() {
        let error = Instrumentation::parse(
            "CountMetric",
            &options(json!({"table": "users; DROP TABLE users"})),
            ValueType::Number,
        )
        .unwrap_err();
        assert_eq!(error.field, "options.table");
        let error = Instrumentation::parse(
            "CountMetric",
            &options(json!({"table": "users", "filter": {"1=1 OR state": "x"}})),
            ValueType::Number,
        )
        .unwrap_err();
        assert!(error.field.starts_with("options.filter"));
    }

    #[test]
    fn distinct_counts_need_a_column_and_unknown_classes_are_refused() {
        let error = Instrumentation::parse(
            "DistinctCountMetric",
            &options(json!({"table": "issues"})),
            ValueType::Number,
        )
        .unwrap_err();
        assert_eq!(error.field, "options.column");
        let error =
            Instrumentation::parse("MagicMetric", &Map::new(), ValueType::Number).unwrap_err();
        assert_eq!(error.field, "instrumentation_class");
    }

    #[test]
    fn sql_metrics_only_run_reviewed_queries() {
        let ok = Instrumentation::parse(
            "SqlMetric",
            &options(json!({"query": "projects_with_pipelines"})),
            ValueType::Number,
        )
        .unwrap();
        assert!(matches!(ok, Instrumentation::Sql(q) if q.name == "projects_with_pipelines"));
        let error = Instrumentation::parse(
            "SqlMetric",
            &options(json!({"query": "SELECT 1"})),
            ValueType::Number,
        )
        .unwrap_err();
        assert_eq!(error.field, "options.query");
    }
}
