//! The demo DevOps platform whose usage Service Ping reports: its tables are created by the
//! migrations, filled by [`seed`], and read by the metric engine and usage trends.

pub mod seed;

/// Timestamp format of every platform table: SQLite's own `datetime()` form, in UTC.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The platform's tables, parents before children (the order seeding and resetting use).
pub const TABLES: &[&str] = &[
    "users",
    "namespaces",
    "projects",
    "members",
    "milestones",
    "labels",
    "boards",
    "issues",
    "merge_requests",
    "notes",
    "ci_pipelines",
    "ci_builds",
    "environments",
    "deployments",
    "releases",
    "snippets",
    "keys",
    "web_hooks",
    "events",
];
