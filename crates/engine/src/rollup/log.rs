//! A rolled-up table's change log: triggers copy the image of every row a write removes (sign
//! -1: the old row of an update or delete) or adds (+1: the new row of an insert or update)
//! into `metric_rollup_log_<table>`, keeping only the columns the table's measures read. A
//! refresh folds the log into the rollup as deltas (see `fold`) and empties it.
//!
//! Each log row also says when it was written, as a *watermark* compares it: on SQLite its
//! `seq` (AUTOINCREMENT, never reused, in commit order under the single writer); on PostgreSQL
//! the writing transaction's id (`xid`), compared with a snapshot (`pg_current_snapshot()`).
//! A rebuild reads the table between two watermarks; log rows written before the first are in
//! what it read, rows written after the second are not, rows between may be either.

use std::collections::{BTreeMap, BTreeSet};

use super::{TablePlan, trigger_name};
use service_ping_database::{Backend, Conn, Db, execute_in, on_conn, on_pool};

pub(super) const TRIGGER_EVENTS: [&str; 3] = ["insert", "update", "delete"];

/// The log table of `table`.
pub(super) fn log_table(table: &str) -> String {
    format!("metric_rollup_log_{table}")
}

/// The columns a row image keeps: every column a measure reads (time column, aggregated column,
/// filter columns), in name order.
pub(super) fn logged_columns(plan: &TablePlan) -> Vec<String> {
    let mut columns = BTreeSet::new();
    for measure in plan.measures.values() {
        let metric = &measure.metric;
        columns.insert(metric.time_column.clone());
        columns.extend(metric.column.iter().cloned());
        columns.extend(metric.filter.iter().map(|c| c.column.clone()));
    }
    columns.into_iter().collect()
}

/// What the catalog holds of the rollups' logs, read in two statements for a whole refresh
/// (every table of a payload), rather than two per table: each table's rollup triggers, each
/// log's columns, and whether the earlier day-marking rollups' table is still there.
#[derive(Debug, Default)]
pub struct Installed {
    /// (table, trigger)
    triggers: BTreeSet<(String, String)>,
    /// log table → its columns, as [`columns_of`] gives them.
    logs: BTreeMap<String, Vec<String>>,
    marks: bool,
}

impl Installed {
    pub async fn read(db: &Db) -> sqlx::Result<Self> {
        let (triggers, columns) = on_pool!(db, |pool| {
            let mut connection = pool.acquire().await?;
            let mut conn = Conn::from(&mut *connection);
            let triggers = rollup_triggers(&mut conn).await?;
            let columns = every_log_column(&mut conn).await?;
            Ok::<_, sqlx::Error>((triggers, columns))
        })?;
        let triggers = triggers
            .into_iter()
            .map(|(trigger, table)| (table, trigger))
            .collect();
        let mut installed = Installed {
            triggers,
            ..Installed::default()
        };
        for (table, column) in columns {
            if table == "metric_rollup_changes" {
                installed.marks = true;
            } else if !BOOKKEEPING.contains(&column.as_str()) {
                installed.logs.entry(table).or_default().push(column);
            }
        }
        for columns in installed.logs.values_mut() {
            columns.sort_unstable();
        }
        Ok(installed)
    }

    /// [`Installed::read`], or `None` (with a warning) when the catalog cannot be read: each
    /// table's refresh then reads it again itself, and fails if it still cannot.
    pub async fn snapshot(db: &Db) -> Option<Self> {
        Self::read(db)
            .await
            .inspect_err(|error| tracing::warn!(%error, "could not read the rollups' triggers"))
            .ok()
    }

    /// Whether the table's three triggers are in place and its log has exactly the columns the
    /// plan needs, as the catalog was when this was read: otherwise writes went unlogged, or
    /// were logged without a column a measure reads.
    pub(super) fn covers(&self, plan: &TablePlan) -> bool {
        let table = plan.table.as_str();
        TRIGGER_EVENTS.iter().all(|event| {
            self.triggers
                .contains(&(table.to_string(), trigger_name(table, event)))
        }) && self.logs.get(&log_table(table)) == Some(&logged_columns(plan))
    }

    /// Whether [`retire_stale`] would find anything to drop besides what `tables` keep.
    pub(super) fn has_stale(&self, tables: &BTreeSet<&str>) -> bool {
        self.marks
            || self
                .triggers
                .iter()
                .any(|(table, _)| !tables.contains(table.as_str()))
    }
}

/// (table, column) of every log, and of the day-marking rollups' table.
async fn every_log_column(conn: &mut Conn<'_>) -> sqlx::Result<Vec<(String, String)>> {
    let sql = match conn {
        Conn::Sqlite(_) => {
            "SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p \
             WHERE m.type = 'table' AND (m.name GLOB 'metric_rollup_log_*' \
             OR m.name = 'metric_rollup_changes')"
        }
        Conn::Postgres(_) => {
            "SELECT c.relname::text, a.attname::text FROM pg_attribute AS a \
             JOIN pg_class AS c ON c.oid = a.attrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' \
             AND (starts_with(c.relname::text, 'metric_rollup_log_') \
             OR c.relname = 'metric_rollup_changes') AND a.attnum > 0 AND NOT a.attisdropped"
        }
    };
    on_conn!(conn.reborrow(), |c| sqlx::query_as(sql).fetch_all(c).await)
}

/// A log's own columns, besides the images' columns.
const BOOKKEEPING: [&str; 3] = ["seq", "sign", "xid"];

/// The columns of `log` other than its own bookkeeping (`seq`, `sign`, `xid`), in name order;
/// none when it does not exist.
async fn columns_of(conn: &mut Conn<'_>, log: &str) -> sqlx::Result<Vec<String>> {
    let sql = match conn {
        Conn::Sqlite(_) => "SELECT name FROM pragma_table_info($1)",
        Conn::Postgres(_) => {
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let names: Vec<String> = on_conn!(conn.reborrow(), |c| sqlx::query_scalar(sql)
        .bind(log)
        .fetch_all(c)
        .await)?;
    // Sorted here: the server's collation may order names otherwise.
    let mut columns: Vec<String> = names
        .into_iter()
        .filter(|name| !BOOKKEEPING.contains(&name.as_str()))
        .collect();
    columns.sort_unstable();
    Ok(columns)
}

/// (Re)creates the table's log (kept, with its rows, when it already has the right columns, so
/// two refreshes installing at once share one log) and its triggers, and forgets the stored
/// rollup, in one transaction: what was written while they were missing left no log row.
pub(super) async fn install(db: &Db, plan: &TablePlan) -> sqlx::Result<()> {
    let table = plan.table.as_str();
    let log = log_table(table);
    let columns = logged_columns(plan);
    let mut tx = db.begin_write().await?;
    if columns_of(&mut tx.conn(), &log).await? != columns {
        execute_in!(
            tx.conn(),
            sqlx::query(&format!("DROP TABLE IF EXISTS {log}"))
        )?;
        for statement in create_log(&mut tx.conn(), table, &columns).await? {
            execute_in!(tx.conn(), sqlx::query(&statement))?;
        }
    }
    let statements = match db {
        Db::Sqlite(_) => trigger_statements(plan),
        Db::Postgres(_) => postgres_trigger_statements(plan),
    };
    for statement in statements {
        execute_in!(tx.conn(), sqlx::query(&statement))?;
    }
    execute_in!(
        tx.conn(),
        sqlx::query("DELETE FROM metric_rollup_tables WHERE table_name = $1").bind(table)
    )?;
    tx.commit().await
}

/// The statements creating the log of `table` with `columns` of the same types.
async fn create_log(
    conn: &mut Conn<'_>,
    table: &str,
    columns: &[String],
) -> sqlx::Result<Vec<String>> {
    let log = log_table(table);
    Ok(match conn {
        Conn::Sqlite(c) => {
            let declared: Vec<(String, String)> =
                sqlx::query_as("SELECT name, type FROM pragma_table_info($1)")
                    .bind(table)
                    .fetch_all(&mut **c)
                    .await?;
            let definitions: Vec<String> = columns
                .iter()
                .map(|column| {
                    let kind = declared
                        .iter()
                        .find(|(name, _)| name == column)
                        .map_or("", |(_, kind)| kind.as_str());
                    format!("{column} {kind}")
                })
                .collect();
            vec![format!(
                "CREATE TABLE {log} (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
                 sign INTEGER NOT NULL, {})",
                definitions.join(", ")
            )]
        }
        Conn::Postgres(_) => vec![
            format!(
                "CREATE TABLE {log} AS SELECT {} FROM {table} WITH NO DATA",
                columns.join(", ")
            ),
            format!(
                "ALTER TABLE {log} ADD COLUMN sign smallint NOT NULL, \
                 ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()"
            ),
        ],
    })
}

/// SQLite's row triggers: each written row adds its images to the log. Updates that assign no
/// logged column do not fire (`UPDATE OF`).
pub(super) fn trigger_statements(plan: &TablePlan) -> Vec<String> {
    let table = plan.table.as_str();
    let log = log_table(table);
    let columns = logged_columns(plan);
    let image = |sign: i8, row: &str| -> String {
        let values: Vec<String> = columns.iter().map(|c| format!("{row}.{c}")).collect();
        format!("({sign}, {})", values.join(", "))
    };
    let mut statements = Vec::new();
    for event in TRIGGER_EVENTS {
        let (when, images) = match event {
            "insert" => ("INSERT".to_string(), image(1, "NEW")),
            "delete" => ("DELETE".to_string(), image(-1, "OLD")),
            _ => (
                format!("UPDATE OF {}", columns.join(", ")),
                format!("{}, {}", image(-1, "OLD"), image(1, "NEW")),
            ),
        };
        let name = trigger_name(table, event);
        statements.push(format!("DROP TRIGGER IF EXISTS {name}"));
        statements.push(format!(
            "CREATE TRIGGER {name} AFTER {when} ON {table} BEGIN \
             INSERT INTO {log} (sign, {}) VALUES {images}; END",
            columns.join(", ")
        ));
    }
    statements
}

/// PostgreSQL's statement triggers: once per statement, the images of all the rows it wrote,
/// from its transition tables, in one insert (`bench/pg_triggers.sh` measures the cost).
pub(super) fn postgres_trigger_statements(plan: &TablePlan) -> Vec<String> {
    let table = plan.table.as_str();
    let log = log_table(table);
    let columns = logged_columns(plan).join(", ");
    let images = |sign: i8, rows: &str| format!("SELECT {sign}, {columns} FROM {rows}");
    let mut statements = Vec::new();
    for event in TRIGGER_EVENTS {
        let (selects, transition) = match event {
            "insert" => (images(1, "new_rows"), "NEW TABLE AS new_rows"),
            "delete" => (images(-1, "old_rows"), "OLD TABLE AS old_rows"),
            _ => (
                format!(
                    "{} UNION ALL {}",
                    images(-1, "old_rows"),
                    images(1, "new_rows")
                ),
                "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            ),
        };
        let name = trigger_name(table, event);
        statements.push(format!(
            "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $log$ BEGIN \
             INSERT INTO {log} (sign, {columns}) {selects}; RETURN NULL; END $log$"
        ));
        statements.push(format!("DROP TRIGGER IF EXISTS {name} ON {table}"));
        statements.push(format!(
            "CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transition} \
             FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        ));
    }
    statements
}

/// Where the log of `table` stands now: every log row written from here on compares after it.
pub(super) async fn watermark(db: &Db, table: &str) -> sqlx::Result<String> {
    match db {
        Db::Sqlite(pool) => {
            let seq: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = $1")
                    .bind(log_table(table))
                    .fetch_optional(pool)
                    .await?;
            Ok(seq.unwrap_or(0).to_string())
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT pg_current_snapshot()::text")
                .fetch_one(pool)
                .await
        }
    }
}

/// The condition on a log row "written before the watermark" bound as its one parameter.
pub(super) fn written_before(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "seq <= CAST(? AS INTEGER)",
        Backend::Postgres => "pg_visible_in_snapshot(xid, CAST(? AS pg_snapshot))",
    }
}

/// Every rollup trigger (this one's or an earlier release's) with its table.
async fn rollup_triggers(conn: &mut Conn<'_>) -> sqlx::Result<Vec<(String, String)>> {
    let sql = match conn {
        Conn::Sqlite(_) => {
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'metric_rollup_*'"
        }
        Conn::Postgres(_) => {
            "SELECT t.tgname::text, c.relname::text FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND starts_with(t.tgname::text, 'metric_rollup_')"
        }
    };
    on_conn!(conn.reborrow(), |c| sqlx::query_as(sql).fetch_all(c).await)
}

/// Drops every log table and trigger of the rollups (see [`super::forget`]).
pub(super) async fn drop_all(conn: &mut Conn<'_>) -> sqlx::Result<()> {
    let triggers = rollup_triggers(conn).await?;
    for (trigger, table) in triggers {
        let drop = match conn {
            Conn::Sqlite(_) => format!("DROP TRIGGER {trigger}"),
            Conn::Postgres(_) => format!("DROP TRIGGER {trigger} ON {table}"),
        };
        execute_in!(conn.reborrow(), sqlx::query(&drop))?;
    }
    let sql = match conn {
        Conn::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'metric_rollup_log_*'"
        }
        Conn::Postgres(_) => {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
             AND starts_with(tablename::text, 'metric_rollup_log_')"
        }
    };
    let logs: Vec<String> = on_conn!(conn.reborrow(), |c| sqlx::query_scalar(sql)
        .fetch_all(c)
        .await)?;
    for log in logs {
        execute_in!(conn.reborrow(), sqlx::query(&format!("DROP TABLE {log}")))?;
    }
    Ok(())
}

/// Drops the triggers, trigger functions and logs of tables no longer in the plan (`tables`),
/// which would otherwise log every write forever; then, once no trigger of the earlier
/// day-marking rollups is left, their table of marks.
pub(super) async fn retire_stale(db: &Db, tables: &BTreeSet<&str>) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    let triggers = rollup_triggers(&mut tx.conn()).await?;
    for (trigger, table) in triggers {
        if tables.contains(table.as_str()) {
            continue;
        }
        let drops = match db {
            Db::Sqlite(_) => vec![format!("DROP TRIGGER {trigger}")],
            Db::Postgres(_) => vec![
                format!("DROP TRIGGER {trigger} ON {table}"),
                format!("DROP FUNCTION IF EXISTS {trigger}()"),
            ],
        };
        for drop in drops
            .into_iter()
            .chain([format!("DROP TABLE IF EXISTS {}", log_table(&table))])
        {
            execute_in!(tx.conn(), sqlx::query(&drop))?;
        }
    }
    let marking = match db {
        Db::Sqlite(_) => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%metric_rollup_changes%'"
        }
        Db::Postgres(_) => {
            "SELECT COUNT(*) FROM pg_proc WHERE prosrc LIKE '%metric_rollup_changes%'"
        }
    };
    let left: i64 = on_conn!(tx.conn(), |c| sqlx::query_scalar(marking)
        .fetch_one(c)
        .await)?;
    if left == 0 {
        execute_in!(
            tx.conn(),
            sqlx::query("DROP TABLE IF EXISTS metric_rollup_changes")
        )?;
    }
    tx.commit().await
}
