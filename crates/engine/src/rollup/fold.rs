//! Folding a table's change log into its rollup, in one transaction that sees the log and the
//! table at one moment (SQLite: its write transaction; PostgreSQL: `REPEATABLE READ`, the
//! rollup's row locked first).
//!
//! Row images add up: per day, `SUM(sign)` over the images a measure's filter matches is the
//! change of its count, `SUM(sign * column)` of its sum. A distinct set gains the values whose
//! images on a day add up to more than zero; a value whose images add up to less than zero may
//! have left the set (another row of the day may still hold it), so that day is *recomputed*
//! from the table's rows, as are the days of log rows a rebuild may or may not have read (see
//! `log`) and a real-valued sum's days (adding and taking away floats would drift). An update
//! that changes nothing a measure reads adds up to zero and costs nothing; closing a year-old
//! issue changes a count on its creation day by one, without reading that day's rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use roaring::RoaringBitmap;

use super::log::{log_table, written_before};
use super::{
    DayKey, Measure, Partial, Partials, TablePlan, Total, UNDATED, count_at, day_of, deserialize,
    id_list, insert_sums, members, month_of, only, recompute_statement, serialize, stored_set,
    total_at, write_partials,
};
use crate::instrumentation::Literal;
use crate::sql::{Cell, Statement};
use service_ping_database::{Backend, Conn, Db, Transaction, execute_in, on_conn, on_pool};

/// What one fold did, for the log.
#[derive(Debug, Default)]
pub(super) struct Folded {
    pub(super) images: u64,
    pub(super) recomputed: usize,
}

/// Folds the table's log into its rollup; `None` when there was nothing to fold (the usual case
/// before a payload: the server's background refresh folded it).
///
/// On SQLite the log is added up before the write lock is taken, so that the folds of other
/// tables (a payload refreshes two at once) and the platform's writers go on meanwhile; the
/// write transaction then checks that the log rows it added up are still all there (no other
/// fold took them) and the rollup's state unchanged, or the fold starts over, the third time
/// adding up inside the write transaction. On PostgreSQL everything happens in one `REPEATABLE
/// READ` transaction; one that meets a concurrent fold (a serialization failure) starts over.
pub(super) async fn fold(db: &Db, plan: &TablePlan) -> anyhow::Result<Option<Folded>> {
    if !pending(db, plan).await? {
        return Ok(None);
    }
    let mut attempt = 1;
    loop {
        let look_first = matches!(db, Db::Sqlite(_)) && attempt < 3;
        match fold_once(db, plan, look_first).await {
            Ok(Some(folded)) => return Ok(Some(folded)),
            Ok(None) => {}
            Err(error) if attempt < 3 && is_serialization_failure(&error) => {}
            Err(error) => return Err(error),
        }
        attempt += 1;
    }
}

fn is_serialization_failure(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<sqlx::Error>()
        .and_then(|e| e.as_database_error())
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40001")
}

/// Whether the log holds rows, or a rebuild left rows it may have read.
async fn pending(db: &Db, plan: &TablePlan) -> sqlx::Result<bool> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {}) OR EXISTS (SELECT 1 FROM metric_rollup_tables \
         WHERE table_name = $1 AND ambiguous IS NOT NULL)",
        log_table(&plan.table)
    );
    on_pool!(db, |pool| sqlx::query_scalar(&sql)
        .bind(&plan.table)
        .fetch_one(pool)
        .await)
}

/// One attempt; `None` when the log changed under a look taken before the write lock.
async fn fold_once(db: &Db, plan: &TablePlan, look_first: bool) -> anyhow::Result<Option<Folded>> {
    let early = match db {
        Db::Sqlite(pool) if look_first => {
            let mut read = pool.begin().await?;
            let seen = look(&mut Conn::Sqlite(&mut read), plan, "").await?;
            read.rollback().await?;
            Some(seen)
        }
        _ => None,
    };
    let mut tx = db.begin_write().await?;
    let lock = match tx {
        Transaction::Sqlite(_) => "",
        Transaction::Postgres(_) => {
            execute_in!(
                tx.conn(),
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            )?;
            // A fold that committed since this transaction's snapshot updated the row: locking
            // it then fails as a serialization failure, and the fold starts over.
            " FOR UPDATE"
        }
    };
    let seen = match early {
        Some(seen) => {
            let now = state(&mut tx.conn(), plan, lock).await?;
            if now.as_ref() != seen.as_ref().map(|seen| &seen.state) {
                return Ok(None);
            }
            seen
        }
        None => look(&mut tx.conn(), plan, lock).await?,
    };
    // No row: a rebuild is under way, and its own fold follows.
    let Some(seen) = seen else {
        return Ok(Some(Folded::default()));
    };
    write(tx, plan, seen).await.map(Some)
}

/// The rollup's state as a fold sees it.
#[derive(Debug, PartialEq)]
struct State {
    /// The watermarks a rebuild left (see `log`).
    reflected: Option<String>,
    ambiguous: Option<String>,
    /// SQLite: how many log rows there are and the highest `seq`; the fold takes exactly those.
    extent: (i64, i64),
}

/// The rollup's state and what its log adds up to, as one transaction saw them.
struct Seen {
    state: State,
    recompute: Recompute,
    deltas: Deltas,
}

async fn state(conn: &mut Conn<'_>, plan: &TablePlan, lock: &str) -> sqlx::Result<Option<State>> {
    let sql = format!(
        "SELECT reflected, ambiguous FROM metric_rollup_tables WHERE table_name = $1{lock}"
    );
    let row: Option<(Option<String>, Option<String>)> =
        on_conn!(conn.reborrow(), |c| sqlx::query_as(&sql)
            .bind(&plan.table)
            .fetch_optional(c)
            .await)?;
    let Some((reflected, ambiguous)) = row else {
        return Ok(None);
    };
    let extent = match conn {
        Conn::Sqlite(c) => {
            sqlx::query_as(&format!(
                "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM {}",
                log_table(&plan.table)
            ))
            .fetch_one(&mut **c)
            .await?
        }
        Conn::Postgres(_) => (0, 0),
    };
    Ok(Some(State {
        reflected,
        ambiguous,
        extent,
    }))
}

/// Reads the state and adds the log up: the deltas, and the days to recompute.
async fn look(conn: &mut Conn<'_>, plan: &TablePlan, lock: &str) -> anyhow::Result<Option<Seen>> {
    let Some(state) = state(conn, plan, lock).await? else {
        return Ok(None);
    };
    let log = log_table(&plan.table);
    let window = state.window(conn.backend());
    let mut recompute = Recompute::default();
    if let Some(watermark) = &state.ambiguous {
        for time_column in plan.time_columns() {
            let mut statement = Statement {
                sql: format!(
                    "SELECT DISTINCT coalesce({}, '') FROM {log} WHERE {} AND {}",
                    day_of(time_column),
                    window.sql,
                    written_before(conn.backend())
                ),
                binds: window.binds.clone(),
            };
            statement.binds.push(Literal::Text(watermark.clone()));
            for row in statement.fetch_all_in(conn).await? {
                if let Some(Cell::Text(day)) = row.first() {
                    recompute.insert(time_column, day.clone());
                }
            }
        }
    }
    let deltas = Deltas::read(conn, plan, &window, &mut recompute).await?;
    Ok(Some(Seen {
        state,
        recompute,
        deltas,
    }))
}

impl State {
    /// The log rows a fold adds up: written after the rebuild's first watermark (those before
    /// are in what it read) and, on SQLite, those it counted.
    fn window(&self, backend: Backend) -> Statement {
        let mut window = match backend {
            Backend::Sqlite => Statement {
                sql: "seq <= ?".into(),
                binds: vec![Literal::Int(self.extent.1)],
            },
            Backend::Postgres => Statement {
                sql: "TRUE".into(),
                binds: Vec::new(),
            },
        };
        if let Some(watermark) = &self.reflected {
            window.sql = format!("{} AND NOT {}", window.sql, written_before(backend));
            window.binds.push(Literal::Text(watermark.clone()));
        }
        window
    }
}

/// Recomputes the days that need it, adds the deltas, and empties the log of what was seen.
async fn write(mut tx: Transaction, plan: &TablePlan, seen: Seen) -> anyhow::Result<Folded> {
    let table = plan.table.as_str();
    let Seen {
        recompute, deltas, ..
    } = seen;
    let mut partials = Partials::default();
    for (time_column, days) in &recompute.days {
        let days = plan.days_on(time_column, days);
        let statement = recompute_statement(plan, time_column, &days, tx.conn().backend());
        let measures: Vec<&Measure> = plan.measures_on(time_column).collect();
        for row in statement.fetch_all_in(&mut tx.conn()).await? {
            partials.add_row(&row, &measures)?;
        }
        clear_days(&mut tx.conn(), table, time_column, &days).await?;
    }
    write_partials(&mut tx.conn(), &partials).await?;
    deltas.apply(&mut tx.conn(), plan, &recompute).await?;
    // A month holding a recomputed day is the union of its days again; one that only gained
    // values gains them.
    let mut recomputed: BTreeSet<(String, String)> = BTreeSet::new();
    for (time_column, days) in &recompute.days {
        for measure in plan.measures_on(time_column) {
            if measure.partial == Partial::Distinct {
                recomputed.extend(
                    days.iter()
                        .map(|day| (measure.key.clone(), month_of(day).to_string())),
                );
            }
        }
    }
    for (measure, month) in &recomputed {
        rewrite_month(&mut tx.conn(), measure, month).await?;
    }
    for ((measure, month), values) in deltas.added_by_month(plan, &recompute) {
        if !recomputed.contains(&(measure.clone(), month.clone())) {
            add_to_month(&mut tx.conn(), &measure, &month, &values).await?;
        }
    }
    // Every row it saw: SQLite's write lock, and the extent checked under it, leave no other;
    // PostgreSQL's snapshot sees no later one (those wait for the next fold).
    let log = log_table(table);
    let images = execute_in!(tx.conn(), sqlx::query(&format!("DELETE FROM {log}")))?;
    execute_in!(
        tx.conn(),
        sqlx::query(
            "UPDATE metric_rollup_tables SET reflected = NULL, ambiguous = NULL WHERE table_name = $1"
        )
        .bind(table)
    )?;
    tx.commit().await?;
    Ok(Folded {
        images,
        recomputed: recompute.days.values().map(BTreeSet::len).sum(),
    })
}

/// The days of each time column a fold recomputes from the table's rows instead of adding up.
#[derive(Default)]
struct Recompute {
    days: BTreeMap<String, BTreeSet<String>>,
}

impl Recompute {
    fn insert(&mut self, time_column: &str, day: String) {
        self.days
            .entry(time_column.to_string())
            .or_default()
            .insert(day);
    }

    fn contains(&self, time_column: &str, day: &str) -> bool {
        self.days
            .get(time_column)
            .is_some_and(|days| days.contains(day))
    }
}

/// Deletes the stored partials of the measures on `time_column` for `days`.
async fn clear_days(
    conn: &mut Conn<'_>,
    table: &str,
    time_column: &str,
    days: &[String],
) -> sqlx::Result<()> {
    // Every measure on the column is keyed `table.time_column Partial(…)`: the range
    // [`table.time_column `, `table.time_column!`).
    let (from, to) = (
        format!("{table}.{time_column} "),
        format!("{table}.{time_column}!"),
    );
    for day in days {
        execute_in!(
            conn.reborrow(),
            sqlx::query(
                "DELETE FROM metric_rollup_days WHERE measure >= $1 AND measure < $2 AND day = $3"
            )
            .bind(&from)
            .bind(&to)
            .bind(day)
        )?;
    }
    Ok(())
}

/// Adds `values` to the month's union of a distinct measure's day sets.
async fn add_to_month(
    conn: &mut Conn<'_>,
    measure: &str,
    month: &str,
    values: &RoaringBitmap,
) -> anyhow::Result<()> {
    let mut union = stored_set(conn, "metric_rollup_months", "month", measure, month).await?;
    union |= values;
    execute_in!(
        conn.reborrow(),
        sqlx::query(
            "INSERT INTO metric_rollup_months (measure, month, members) VALUES ($1, $2, $3) \
             ON CONFLICT (measure, month) DO UPDATE SET members = excluded.members"
        )
        .bind(measure)
        .bind(month)
        .bind(serialize(&union))
    )?;
    Ok(())
}

/// Replaces the month's union of a distinct measure's day sets with what its days hold now.
async fn rewrite_month(conn: &mut Conn<'_>, measure: &str, month: &str) -> anyhow::Result<()> {
    let sets: Vec<Vec<u8>> = on_conn!(conn.reborrow(), |c| sqlx::query_scalar(
        "SELECT members FROM metric_rollup_days WHERE measure = $1 AND day >= $2 AND day < $3 \
         AND members IS NOT NULL",
    )
    .bind(measure)
    .bind(month)
    .bind(format!("{month}~"))
    .fetch_all(c)
    .await)?;
    let mut union = RoaringBitmap::new();
    for bytes in sets {
        union |= deserialize(&bytes)?;
    }
    execute_in!(
        conn.reborrow(),
        sqlx::query("DELETE FROM metric_rollup_months WHERE measure = $1 AND month = $2")
            .bind(measure)
            .bind(month)
    )?;
    if !union.is_empty() {
        execute_in!(
            conn.reborrow(),
            sqlx::query(
                "INSERT INTO metric_rollup_months (measure, month, members) VALUES ($1, $2, $3)"
            )
            .bind(measure)
            .bind(month)
            .bind(serialize(&union))
        )?;
    }
    Ok(())
}

/// For each column the distinct measures on `time_column` count, its measures and the statement
/// reading their sets from the change log `source`'s images in `window`: first the images'
/// `sign` per day, value and measure, added up (a hash aggregate, where a `DISTINCT` aggregate
/// would sort); then per day, for each measure, the list of values weighing more than zero and
/// the lowest weight.
fn distinct_statements<'a>(
    plan: &'a TablePlan,
    time_column: &'a str,
    source: &str,
    window: &Statement,
    backend: Backend,
) -> Vec<(Vec<&'a Measure>, Statement)> {
    let distinct: Vec<&Measure> = plan
        .measures_on(time_column)
        .filter(|m| m.partial == Partial::Distinct)
        .collect();
    let columns: BTreeSet<&str> = distinct
        .iter()
        .filter_map(|m| m.metric.column.as_deref())
        .collect();
    let day = format!("coalesce({}, '')", day_of(time_column));
    columns
        .into_iter()
        .map(|column| {
            let measures: Vec<&Measure> = distinct
                .iter()
                .copied()
                .filter(|m| m.metric.column.as_deref() == Some(column))
                .collect();
            let mut statement = Statement::default();
            let mut weights = Vec::new();
            let mut per_day = Vec::new();
            for (index, measure) in measures.iter().enumerate() {
                weights.push(match measure.filter_sql() {
                    Some(filter) => {
                        statement.binds.extend(filter.binds);
                        format!(
                            "COALESCE(SUM(sign) FILTER (WHERE {}), 0) AS n{index}",
                            filter.sql
                        )
                    }
                    None => format!("SUM(sign) AS n{index}"),
                });
                let added = id_list("v", backend, "");
                per_day.push(format!(
                    "{added} FILTER (WHERE n{index} > 0), MIN(n{index})"
                ));
            }
            statement.sql = format!(
                "SELECT day, {} FROM (SELECT {day} AS day, {column} AS v, {} FROM {source} \
                 WHERE {column} IS NOT NULL AND {} GROUP BY 1, 2) AS weights GROUP BY day",
                per_day.join(", "),
                weights.join(", "),
                window.sql
            );
            statement.binds.extend(window.binds.iter().cloned());
            (measures, statement)
        })
        .collect()
}

/// A measure, its values weighing more than zero, and the lowest weight.
type Weighed<'r, 'm> = (&'m Measure, Option<&'r str>, i64);

/// One day's row of a [`distinct_statements`] statement: the day, and for each measure the
/// list of its values weighing more than zero (none when no value does) and the lowest weight.
fn distinct_day<'r, 'm>(
    row: &'r [Cell],
    measures: &[&'m Measure],
) -> anyhow::Result<(&'r str, Vec<Weighed<'r, 'm>>)> {
    let [Cell::Text(day), pairs @ ..] = row else {
        anyhow::bail!("a distinct row of an unexpected shape: {row:?}");
    };
    let mut weighed = Vec::with_capacity(measures.len());
    for (measure, pair) in measures.iter().zip(pairs.chunks(2)) {
        let values = match &pair[0] {
            Cell::Text(values) => Some(values.as_str()),
            _ => None,
        };
        weighed.push((*measure, values, count_at(pair, 1)?));
    }
    Ok((day, weighed))
}

/// The log added up per measure and day.
#[derive(Default)]
struct Deltas {
    /// (measure, day) → change of (n, total), for counts, sums and averages.
    sums: BTreeMap<DayKey, (i64, Option<Total>)>,
    /// measure → day → values that joined the day's set.
    added: HashMap<String, BTreeMap<String, RoaringBitmap>>,
}

impl Deltas {
    /// Reads the log's sums per time column and day, and each distinct measure's values whose
    /// images do not cancel out; days that cannot be added up go to `recompute`.
    async fn read(
        conn: &mut Conn<'_>,
        plan: &TablePlan,
        window: &Statement,
        recompute: &mut Recompute,
    ) -> anyhow::Result<Self> {
        let log = log_table(&plan.table);
        let mut deltas = Deltas::default();
        for time_column in plan.time_columns() {
            let day = format!("coalesce({}, '')", day_of(time_column));
            let summed: Vec<&Measure> = plan
                .measures_on(time_column)
                .filter(|m| m.partial != Partial::Distinct)
                .collect();
            if !summed.is_empty() {
                let mut statement = Statement::default();
                let columns: Vec<String> = summed
                    .iter()
                    .flat_map(|m| signed_aggregates(m, &mut statement))
                    .collect();
                statement.sql = format!(
                    "SELECT {day}, {} FROM {log} WHERE {} GROUP BY 1",
                    columns.join(", "),
                    window.sql
                );
                statement.binds.extend(window.binds.iter().cloned());
                for row in statement.fetch_all_in(conn).await? {
                    deltas.add_sums(&row, &summed, time_column, recompute)?;
                }
            }
            // Per distinct column: each measure's net images per day and value, then per day
            // the values with more images added than removed, and the lowest net.
            for (measures, statement) in
                distinct_statements(plan, time_column, &log, window, conn.backend())
            {
                for row in statement.fetch_all_in(conn).await? {
                    deltas.add_members(&row, &measures, time_column, recompute)?;
                }
            }
        }
        Ok(deltas)
    }

    /// One day of a distinct column's statement: the day, then for each measure the values it
    /// gained and the lowest net of its values (below zero, one may have left the set).
    fn add_members(
        &mut self,
        row: &[Cell],
        measures: &[&Measure],
        time_column: &str,
        recompute: &mut Recompute,
    ) -> anyhow::Result<()> {
        let (day, weighed) = distinct_day(row, measures)?;
        for (measure, values, lowest) in weighed {
            if lowest < 0 {
                recompute.insert(time_column, day.to_string());
            } else if let Some(values) = values {
                *self
                    .added
                    .entry(measure.key.clone())
                    .or_default()
                    .entry(day.to_string())
                    .or_default() |= members(values, &measure.metric)?;
            }
        }
        Ok(())
    }

    fn add_sums(
        &mut self,
        row: &[Cell],
        measures: &[&Measure],
        time_column: &str,
        recompute: &mut Recompute,
    ) -> anyhow::Result<()> {
        let day = match row.first() {
            Some(Cell::Text(day)) => day.clone(),
            _ => UNDATED.to_string(),
        };
        let mut index = 1;
        for measure in measures {
            let n = count_or_zero(row, index)?;
            let total = match measure.partial {
                Partial::Sum => {
                    index += 1;
                    total_at(row, index)?
                }
                _ => None,
            };
            index += 1;
            if matches!(total, Some(Total::Real(_))) {
                recompute.insert(time_column, day.clone());
            } else if n != 0 || matches!(total, Some(Total::Int(v)) if v != 0) {
                self.sums
                    .insert((measure.key.clone(), day.clone()), (n, total));
            }
        }
        Ok(())
    }

    /// Adds the changes to the stored partials, except on days being recomputed.
    async fn apply(
        &self,
        conn: &mut Conn<'_>,
        plan: &TablePlan,
        recompute: &Recompute,
    ) -> anyhow::Result<()> {
        let time_column = |measure: &str| {
            plan.measures
                .get(measure)
                .map_or("", |m| m.metric.time_column.as_str())
        };
        let sums: Vec<_> = self
            .sums
            .iter()
            .filter(|((measure, day), _)| !recompute.contains(time_column(measure), day))
            .collect();
        insert_sums(
            conn,
            &sums,
            " ON CONFLICT (measure, day) DO UPDATE SET n = metric_rollup_days.n + excluded.n, \
             total = CASE WHEN excluded.total IS NULL THEN metric_rollup_days.total \
             WHEN metric_rollup_days.total IS NULL THEN excluded.total \
             ELSE metric_rollup_days.total + excluded.total END",
        )
        .await?;
        if !sums.is_empty() {
            // A day whose last row left keeps nothing (a sum of nothing is NULL, not 0).
            let table = &plan.table;
            execute_in!(
                conn.reborrow(),
                sqlx::query(
                    "DELETE FROM metric_rollup_days WHERE measure >= $1 AND measure < $2 AND n = 0"
                )
                .bind(format!("{table}."))
                .bind(format!("{table}/"))
            )?;
        }
        for (measure, days) in &self.added {
            for (day, values) in days {
                if recompute.contains(time_column(measure), day) {
                    continue;
                }
                let mut set = stored_set(conn, "metric_rollup_days", "day", measure, day).await?;
                set |= values;
                execute_in!(
                    conn.reborrow(),
                    sqlx::query(
                        "INSERT INTO metric_rollup_days (measure, day, n, members) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (measure, day) DO UPDATE SET n = excluded.n, members = excluded.members"
                    )
                    .bind(measure)
                    .bind(day)
                    .bind(set.len() as i64)
                    .bind(serialize(&set))
                )?;
            }
        }
        Ok(())
    }

    /// The values added on days not recomputed, per distinct measure and month.
    fn added_by_month(
        &self,
        plan: &TablePlan,
        recompute: &Recompute,
    ) -> BTreeMap<(String, String), RoaringBitmap> {
        let mut months: BTreeMap<(String, String), RoaringBitmap> = BTreeMap::new();
        for (measure, days) in &self.added {
            let time_column = plan
                .measures
                .get(measure)
                .map_or("", |m| m.metric.time_column.as_str());
            for (day, values) in days {
                if !recompute.contains(time_column, day) {
                    *months
                        .entry((measure.clone(), month_of(day).to_string()))
                        .or_default() |= values;
                }
            }
        }
        months
    }
}

/// A signed count of a log's images, 0 when none matched.
fn count_or_zero(row: &[Cell], index: usize) -> anyhow::Result<i64> {
    match row.get(index) {
        Some(Cell::Null) => Ok(0),
        _ => count_at(row, index),
    }
}

/// The aggregates adding up one measure's images: the change of its count, and of its sum.
fn signed_aggregates(measure: &Measure, statement: &mut Statement) -> Vec<String> {
    let filter = measure.filter_sql();
    let column = measure.metric.column.as_deref().unwrap_or("NULL");
    let only = |aggregate: String, statement: &mut Statement| only(aggregate, &filter, statement);
    match measure.partial {
        Partial::Rows => vec![only("SUM(sign)".into(), statement)],
        _ => vec![
            only(
                format!("SUM(CASE WHEN {column} IS NULL THEN 0 ELSE sign END)"),
                statement,
            ),
            only(format!("SUM(sign * {column})"), statement),
        ],
    }
}
