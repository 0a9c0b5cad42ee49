//! The SQL pieces every strategy shares: a statement with its parameters, a metric's `WHERE`
//! conditions (its window and filters, values bound, never spliced), reading numbers back, and
//! how many statements run at once.

use serde_json::{Value, json};
use service_ping_database::{Backend, Conn, Db, execute_in};
use sqlx::Row;

use super::instrumentation::{Comparison, Condition, DatabaseMetric, Literal};
use super::time_frame::Window;

/// SQL text and its parameters, in order. The text marks parameters with `?`; PostgreSQL gets
/// them numbered (`$1`, `$2`, …) when the statement runs, so pieces compose in any order.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Literal>,
}

/// How many statements a generation runs at once. SQLite in WAL mode serves readers in
/// parallel, one connection each; the cap leaves the pool's other connections to the dashboard.
pub(crate) fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

/// One value of a result row, whichever backend produced it. Integers stay integers: a sum of
/// an integer column is reported as a whole number on both.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// A result row as [`Cell`]s.
pub(crate) type Cells = Vec<Cell>;

macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Literal::Bool(v) => query.bind(*v),
                Literal::Int(v) => query.bind(*v),
                Literal::Real(v) => query.bind(*v),
                Literal::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }};
}
pub(crate) use bind_all;

impl Statement {
    /// The text for `backend`: `?` becomes `$n` on PostgreSQL. The engine never writes a `?`
    /// inside a literal (every value is bound), so each one is a parameter.
    pub(crate) fn sql_for(&self, backend: Backend) -> std::borrow::Cow<'_, str> {
        match backend {
            Backend::Sqlite => self.sql.as_str().into(),
            Backend::Postgres => {
                let mut numbered = String::with_capacity(self.sql.len() + 8);
                let mut n = 0;
                for c in self.sql.chars() {
                    if c == '?' {
                        n += 1;
                        numbered.push_str(&format!("${n}"));
                    } else {
                        numbered.push(c);
                    }
                }
                numbered.into()
            }
        }
    }

    pub(crate) async fn fetch_all(&self, db: &Db) -> sqlx::Result<Vec<Cells>> {
        let sql = self.sql_for(db.backend());
        match db {
            Db::Sqlite(pool) => bind_all!(sqlx::query(&sql), &self.binds)
                .fetch_all(pool)
                .await?
                .iter()
                .map(sqlite_cells)
                .collect(),
            Db::Postgres(pool) => bind_all!(sqlx::query(&sql), &self.binds)
                .fetch_all(pool)
                .await?
                .iter()
                .map(postgres_cells)
                .collect(),
        }
    }

    pub(crate) async fn fetch_one(&self, db: &Db) -> sqlx::Result<Cells> {
        let sql = self.sql_for(db.backend());
        match db {
            Db::Sqlite(pool) => sqlite_cells(
                &bind_all!(sqlx::query(&sql), &self.binds)
                    .fetch_one(pool)
                    .await?,
            ),
            Db::Postgres(pool) => postgres_cells(
                &bind_all!(sqlx::query(&sql), &self.binds)
                    .fetch_one(pool)
                    .await?,
            ),
        }
    }

    /// Runs the statement, handing each row's first column to `each` as it streams in.
    pub(crate) async fn for_each_first(
        &self,
        db: &Db,
        mut each: impl FnMut(Cell),
    ) -> sqlx::Result<()> {
        use futures::TryStreamExt;
        let sql = self.sql_for(db.backend());
        match db {
            Db::Sqlite(pool) => {
                let mut rows = bind_all!(sqlx::query(&sql), &self.binds).fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    each(sqlite_cells(&row)?.swap_remove(0));
                }
            }
            Db::Postgres(pool) => {
                let mut rows = bind_all!(sqlx::query(&sql), &self.binds).fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    each(postgres_cells(&row)?.swap_remove(0));
                }
            }
        }
        Ok(())
    }

    /// Runs the statement on one connection (inside its transaction).
    pub(crate) async fn fetch_all_in(&self, conn: &mut Conn<'_>) -> sqlx::Result<Vec<Cells>> {
        let sql = self.sql_for(conn.backend());
        match conn {
            Conn::Sqlite(c) => bind_all!(sqlx::query(&sql), &self.binds)
                .fetch_all(&mut **c)
                .await?
                .iter()
                .map(sqlite_cells)
                .collect(),
            Conn::Postgres(c) => bind_all!(sqlx::query(&sql), &self.binds)
                .fetch_all(&mut **c)
                .await?
                .iter()
                .map(postgres_cells)
                .collect(),
        }
    }

    /// Runs the statement in a transaction (for writes).
    pub(crate) async fn execute(&self, conn: &mut Conn<'_>) -> sqlx::Result<u64> {
        let sql = self.sql_for(conn.backend());
        execute_in!(conn, bind_all!(sqlx::query(&sql), &self.binds))
    }
}

/// SQLite's values by their storage class.
fn sqlite_cells(row: &sqlx::sqlite::SqliteRow) -> sqlx::Result<Cells> {
    use sqlx::{TypeInfo, ValueRef};
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            Ok(match raw.type_info().name() {
                "INTEGER" | "BOOLEAN" => Cell::Int(row.try_get_unchecked(i)?),
                "REAL" => Cell::Real(row.try_get_unchecked(i)?),
                "BLOB" => Cell::Bytes(row.try_get_unchecked(i)?),
                _ => Cell::Text(row.try_get_unchecked(i)?),
            })
        })
        .collect()
}

/// PostgreSQL's values by their column type. `numeric` (what `SUM` and `AVG` of integers give)
/// is a whole number when its scale is 0 and a real otherwise, as SQLite's answers are.
fn postgres_cells(row: &sqlx::postgres::PgRow) -> sqlx::Result<Cells> {
    use rust_decimal::prelude::ToPrimitive;
    use sqlx::{TypeInfo, ValueRef};
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            Ok(match raw.type_info().name() {
                "INT2" => Cell::Int(row.try_get::<i16, _>(i)?.into()),
                "INT4" => Cell::Int(row.try_get::<i32, _>(i)?.into()),
                "INT8" => Cell::Int(row.try_get(i)?),
                "BOOL" => Cell::Int(row.try_get::<bool, _>(i)?.into()),
                "FLOAT4" => Cell::Real(row.try_get::<f32, _>(i)?.into()),
                "FLOAT8" => Cell::Real(row.try_get(i)?),
                "NUMERIC" => {
                    let value: rust_decimal::Decimal = row.try_get(i)?;
                    match value.to_i64() {
                        Some(whole) if value.scale() == 0 => Cell::Int(whole),
                        _ => Cell::Real(value.to_f64().unwrap_or(f64::NAN)),
                    }
                }
                "BYTEA" => Cell::Bytes(row.try_get(i)?),
                _ => Cell::Text(row.try_get(i)?),
            })
        })
        .collect()
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

pub(crate) fn condition_sql(condition: &Condition, binds: &mut Vec<Literal>) -> String {
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
pub(crate) fn number_at(row: &[Cell], index: usize) -> Result<Value, sqlx::Error> {
    match row.get(index) {
        Some(Cell::Int(value)) => Ok(json!(value)),
        Some(Cell::Real(value)) => Ok(json!(round(*value))),
        Some(Cell::Null) => Ok(json!(0)),
        other => Err(sqlx::Error::Decode(
            format!("column {index} is not a number: {other:?}").into(),
        )),
    }
}

/// Averages are reported to four decimals, enough for any dashboard and stable across runs.
pub(crate) fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}
