//! Rebuilding a table's rollup from all its rows: the first refresh, and any after the
//! dictionary changed what the table's measures are or its triggers went missing.
//!
//! The table is read between two watermarks of its change log (see `log`), which the stored
//! rollup keeps: the fold that follows drops the log rows written before the first (the pass
//! read them), adds up those written after the second, and recomputes the days of those in
//! between (the pass may or may not have read them). So the pass holds no lock and no
//! snapshot longer than one batch, and no write is lost or counted twice.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use super::grouped::{self, Grouped};
use super::{Partials, SetRollup, TablePlan, insert_sets, month_of, write_partials};
use super::{log, scan};
use crate::instrumentation::Literal;
use crate::sql::{Cell, Statement, parallelism};
use service_ping_database::{Db, execute_in};

/// Rows per batch of a pass over a whole table, by primary key, as GitLab's batch counter reads
/// big tables: no statement reads more than this many ids, so none holds a snapshot for long or
/// meets a `statement_timeout`.
const BATCH_IDS: i64 = 100_000;

pub(super) async fn rebuild(db: &Db, plan: &TablePlan) -> anyhow::Result<()> {
    let table = plan.table.as_str();
    log::install(db, plan).await?;
    let reflected = log::watermark(db, table).await?;
    let partials = read_all(db, plan).await?;
    let ambiguous = log::watermark(db, table).await?;
    store(db, plan, &partials, &reflected, &ambiguous).await
}

/// Every measure's partials over all the table's rows: read row by row in Rust (see `scan`),
/// or by grouping statements (`grouped`) on a SQLite database that is not a file or a table
/// without an integer `id`.
async fn read_all(db: &Db, plan: &TablePlan) -> anyhow::Result<Partials> {
    let ids = id_bounds(db, &plan.table).await;
    if let Some((first, last)) = ids {
        let batches = (first..=last)
            .step_by(BATCH_IDS as usize)
            .map(|start| (start, start + BATCH_IDS))
            .collect();
        let workers = batches_at_once(db);
        match (db, scan::sqlite::file_of(db)) {
            (Db::Postgres(pool), _) => {
                return scan::postgres::read_all(pool, plan, batches, workers).await;
            }
            (Db::Sqlite(_), Some(file)) => {
                return scan::sqlite::read_all(file, plan, batches, workers).await;
            }
            (Db::Sqlite(_), None) => {}
        }
    }
    let windows = match ids {
        None => vec![Statement {
            sql: "TRUE".into(),
            binds: Vec::new(),
        }],
        Some((first, last)) => (first..=last)
            .step_by(BATCH_IDS as usize)
            .map(|start| Statement {
                sql: "id >= ? AND id < ?".into(),
                binds: vec![Literal::Int(start), Literal::Int(start + BATCH_IDS)],
            })
            .collect(),
    };
    let reads: Vec<Grouped> = windows
        .iter()
        .flat_map(|window| grouped::statements(plan, window, db.backend()))
        .collect();
    let mut partials = Partials::default();
    read_batches(db, &reads, &mut partials).await?;
    Ok(partials)
}

/// Runs a pass's statements a few at once, each on its own connection, adding their rows up.
async fn read_batches(
    db: &Db,
    reads: &[Grouped<'_>],
    partials: &mut Partials,
) -> anyhow::Result<()> {
    use futures::{StreamExt, TryStreamExt};
    // The futures are made before they go into the stream (see `evaluate`): a closure inside
    // it would make the stream's type too general to prove it `Send`.
    let pending: Vec<_> = reads
        .iter()
        .map(|read| async move { read.statement.fetch_all(db).await.map(|rows| (read, rows)) })
        .collect();
    let mut batches = futures::stream::iter(pending).buffer_unordered(batches_at_once(db));
    while let Some((read, rows)) = batches.try_next().await? {
        for row in rows {
            read.add(&row, partials)?;
        }
    }
    Ok(())
}

/// Batches of one pass read at once, each on its own connection: two, unless that would take
/// more than half the pool with the generation's other jobs running beside it
/// ([`parallelism`]), so the dashboard always has connections left.
fn batches_at_once(db: &Db) -> usize {
    let pool = service_ping_database::on_pool!(db, |pool| pool.options().get_max_connections());
    (pool as usize / (2 * parallelism())).clamp(1, 2)
}

/// The smallest and largest `id` of `table`, read through its primary key; `None` when it has
/// no rows or no integer `id` (it is then read in one pass).
async fn id_bounds(db: &Db, table: &str) -> Option<(i64, i64)> {
    let statement = Statement {
        sql: format!("SELECT MIN(id), MAX(id) FROM {table}"),
        binds: Vec::new(),
    };
    match statement.fetch_one(db).await.ok()?.as_slice() {
        [Cell::Int(first), Cell::Int(last)] => Some((*first, *last)),
        _ => None,
    }
}

/// Writes the rebuilt rollup and the watermarks it was read between, unless another rebuild
/// stored first (both read the same log; either result is right).
async fn store(
    db: &Db,
    plan: &TablePlan,
    partials: &Partials,
    reflected: &str,
    ambiguous: &str,
) -> anyhow::Result<()> {
    let table = plan.table.as_str();
    let mut tx = db.begin_write().await?;
    let claimed = execute_in!(
        tx.conn(),
        sqlx::query(
            "INSERT INTO metric_rollup_tables (table_name, time_columns, measures, reflected, ambiguous)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (table_name) DO NOTHING",
        )
        .bind(table)
        .bind(plan.watched_columns())
        .bind(plan.fingerprint())
        .bind(reflected)
        .bind(ambiguous)
    )?;
    if claimed == 0 {
        return Ok(());
    }
    // Every measure of the table is keyed `table.…`: the range [`table.`, `table/`). Everything
    // goes, including measures the dictionary dropped.
    let (prefix, after) = (format!("{table}."), format!("{table}/"));
    for rollup in ["metric_rollup_days", "metric_rollup_months"] {
        let sql = format!("DELETE FROM {rollup} WHERE measure >= $1 AND measure < $2");
        execute_in!(tx.conn(), sqlx::query(&sql).bind(&prefix).bind(&after))?;
    }
    write_partials(&mut tx.conn(), partials).await?;
    let mut months: Vec<(&str, &str, RoaringBitmap)> = Vec::new();
    for (measure, days) in &partials.sets {
        let mut unions: BTreeMap<&str, RoaringBitmap> = BTreeMap::new();
        for (day, set) in days {
            *unions.entry(month_of(day)).or_default() |= set;
        }
        months.extend(
            unions
                .into_iter()
                .map(|(month, set)| (measure.as_str(), month, set)),
        );
    }
    let months: Vec<_> = months.iter().map(|(m, k, set)| (*m, *k, set)).collect();
    insert_sets(&mut tx.conn(), SetRollup::Months, &months).await?;
    tx.commit().await?;
    Ok(())
}
