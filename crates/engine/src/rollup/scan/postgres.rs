//! The scan on PostgreSQL: a few pool connections each stream the rows of every other batch
//! (binary rows, decoded in place), and Rust keeps the days. Every filter's condition is
//! decided by the server, as a bit of a mask: PostgreSQL's comparisons depend on the column's
//! type and collation, which this does not model, and a mask costs the server little next to
//! grouping and the client one value per row. Grouping statements instead (`grouped`) read a table
//! once per time column and per counted column, each read sorting or hashing every row.

use std::sync::Arc;

use anyhow::Context as _;
use rusqlite::types::ValueRef;
use sqlx::postgres::{PgPool, PgRow, PgValueRef, Postgres};
use sqlx::{Column as _, Decode, Row as _, TypeInfo as _, ValueRef as _};

use super::super::{Partials, TablePlan};
use super::{Columns, Days, Pass, Scan};
use crate::instrumentation::Literal;
use crate::sql::bind_all;
use service_ping_database::Backend;

/// Every measure's partials over the rows with ids in `batches`, read on `workers` connections
/// at once.
pub(in super::super) async fn read_all(
    pool: &PgPool,
    plan: &TablePlan,
    batches: Vec<(i64, i64)>,
    workers: usize,
) -> anyhow::Result<Partials> {
    let pass = Arc::new(Pass::of(plan, &|_| None));
    let mut tasks = Vec::new();
    for mine in super::shares(&batches, workers) {
        let (pass, pool) = (Arc::clone(&pass), pool.clone());
        tasks.push(tokio::spawn(async move { read(&pass, &pool, &mine).await }));
    }
    let mut partials = Partials::default();
    for task in tasks {
        let days = task.await.context("a rollup scan task panicked")??;
        pass.add_to(&mut partials, days);
    }
    Ok(partials)
}

/// Runs the pass's statement over each batch on one connection; the days it kept.
async fn read(pass: &Pass, pool: &PgPool, batches: &[(i64, i64)]) -> anyhow::Result<Vec<Days>> {
    use futures::TryStreamExt;
    let sql = pass.statement.sql_for(Backend::Postgres);
    let mut connection = pool.acquire().await?;
    let mut scan = Scan::of(pass);
    let mut kinds: Option<Vec<Kind>> = None;
    for (first, end) in batches {
        let query = bind_all!(sqlx::query(&sql), &pass.statement.binds)
            .bind(*first)
            .bind(*end);
        let mut rows = query.fetch(&mut *connection);
        while let Some(row) = rows.try_next().await? {
            let kinds = match &kinds {
                Some(kinds) => kinds,
                None => kinds.insert(row.columns().iter().map(Kind::of).collect()),
            };
            scan.step(pass, &Decoded { row: &row, kinds })?;
        }
    }
    Ok(scan.days)
}

/// How a column's binary values read as the scan's values.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Int2,
    Int4,
    Int8,
    Bool,
    Float4,
    Float8,
    /// A whole number when its scale is 0, as `postgres_cells` reads it.
    Numeric,
    Text,
    /// A type the scan does not read: its values are an error, its NULLs are not.
    Other(String),
}

impl Kind {
    fn of(column: &sqlx::postgres::PgColumn) -> Self {
        match column.type_info().name() {
            "INT2" => Kind::Int2,
            "INT4" => Kind::Int4,
            "INT8" => Kind::Int8,
            "BOOL" => Kind::Bool,
            "FLOAT4" => Kind::Float4,
            "FLOAT8" => Kind::Float8,
            "NUMERIC" => Kind::Numeric,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Kind::Text,
            other => Kind::Other(other.to_string()),
        }
    }
}

/// A row whose values are decoded as the scan asks for them.
struct Decoded<'r> {
    row: &'r PgRow,
    kinds: &'r [Kind],
}

impl Columns for Decoded<'_> {
    fn value(&self, column: usize) -> anyhow::Result<ValueRef<'_>> {
        let raw = self.row.try_get_raw(column)?;
        if raw.is_null() {
            return Ok(ValueRef::Null);
        }
        Ok(match &self.kinds[column] {
            Kind::Int2 => ValueRef::Integer(decode::<i16>(raw)?.into()),
            Kind::Int4 => ValueRef::Integer(decode::<i32>(raw)?.into()),
            Kind::Int8 => ValueRef::Integer(decode::<i64>(raw)?),
            Kind::Bool => ValueRef::Integer(decode::<bool>(raw)?.into()),
            Kind::Float4 => ValueRef::Real(decode::<f32>(raw)?.into()),
            Kind::Float8 => ValueRef::Real(decode::<f64>(raw)?),
            Kind::Numeric => {
                use rust_decimal::prelude::ToPrimitive;
                let value = decode::<rust_decimal::Decimal>(raw)?;
                match value.to_i64() {
                    Some(whole) if value.scale() == 0 => ValueRef::Integer(whole),
                    _ => ValueRef::Real(value.to_f64().unwrap_or(f64::NAN)),
                }
            }
            Kind::Text => ValueRef::Text(raw.as_bytes().map_err(anyhow::Error::from_boxed)?),
            Kind::Other(name) => anyhow::bail!(
                "the rollup scan does not read values of type {name} (column {})",
                self.row.columns()[column].name()
            ),
        })
    }
}

fn decode<'r, T: Decode<'r, Postgres>>(raw: PgValueRef<'r>) -> anyhow::Result<T> {
    T::decode(raw).map_err(anyhow::Error::from_boxed)
}
