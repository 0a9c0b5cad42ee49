//! The rebuild's pass over a table, with the per-day partials computed in Rust: one statement
//! per primary-key batch selects each row's time columns and the columns its filters and
//! measures read, each once, and Rust keeps the days in a hash map. SQL alone would group by
//! day (`substr(created_at, 1, 10)` has no index, so the database sorts or hashes every row)
//! and sort each day's values again for `DISTINCT`, once per time column; this reads every row
//! once, for all the table's time columns at once.
//!
//! The pass runs on a few workers (`rebuild::batches_at_once`), each reading every other batch
//! into one state of its own, so the workers' days are added up once at the end. How rows are
//! read, and which filters Rust decides itself, is each backend's (`sqlite`, `postgres`).

use std::collections::HashMap;

use anyhow::Context as _;
use roaring::RoaringBitmap;
use rusqlite::types::ValueRef;

use super::comparison::Test;
use super::grouped::{BITS_PER_MASK, mask_expressions};
use super::{Measure, Partial, Partials, TablePlan, Total, UNDATED, not_an_id, place};
use crate::instrumentation::{Condition, DatabaseMetric};
use crate::sql::{Statement, condition_sql};

pub(super) mod postgres;
pub(super) mod sqlite;

/// A row of the pass's statement, read column by column as SQLite's values.
trait Columns {
    fn value(&self, column: usize) -> anyhow::Result<ValueRef<'_>>;
}

/// The batches each of `workers` reads: every `workers`-th, so that each reads ids all along
/// the table.
fn shares(batches: &[(i64, i64)], workers: usize) -> Vec<Vec<(i64, i64)>> {
    (0..workers)
        .map(|worker| {
            batches
                .iter()
                .copied()
                .skip(worker)
                .step_by(workers)
                .collect()
        })
        .collect()
}

/// One pass's statement, and where each measure finds its row's filter and value.
struct Pass {
    /// The table's time columns: the first columns of the statement's rows.
    time_columns: usize,
    /// Every condition of the table's filters, each once, by the column it reads: the
    /// column's place in the statement's row, and the checks of it with their indices (the
    /// outcomes' places in `Scan::passed`).
    tests: Vec<(usize, Vec<(usize, Check)>)>,
    measures: Vec<Slot>,
    /// The measures (indices into `measures`) in the order of the columns they aggregate, so
    /// that a row's value of each is read once.
    reading_order: Vec<usize>,
    statement: Statement,
}

/// Where a measure finds what it needs among a row's columns.
struct Slot {
    measure: Measure,
    time_column: usize,
    /// Its place among the measures on its time column.
    position: usize,
    /// The tests a row must pass (their outcomes' places in `Scan::passed`): the measure's
    /// filter.
    filter: Vec<usize>,
    /// The place in the row of the aggregated column.
    value: Option<usize>,
}

/// What one measure kept of one day.
enum Kept {
    Rows(i64),
    Sum(i64, Option<Total>),
    Distinct(Members),
}

/// A day's set of ids while the scan adds to it. Rows come in id order, their ids in no order:
/// inserting each into the set would shift the sorted array it holds most of the time, so ids
/// are gathered and merged in, sorted, a few thousand at a time.
#[derive(Default)]
struct Members {
    set: RoaringBitmap,
    pending: Vec<u32>,
}

/// Ids gathered before they are merged into the set.
const PENDING_IDS: usize = 4096;

impl Members {
    fn insert(&mut self, id: u32) {
        self.pending.push(id);
        if self.pending.len() == PENDING_IDS {
            self.merge();
        }
    }

    fn merge(&mut self) {
        // A new vector, not the drained one: a day left behind keeps no spare capacity.
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable();
        pending.dedup();
        self.set |= RoaringBitmap::from_sorted_iter(pending).expect("sorted and deduplicated");
    }

    fn into_set(mut self) -> RoaringBitmap {
        self.merge();
        self.set
    }
}

/// The days of one time column: each day's kept values, one per measure.
#[derive(Default)]
struct Days {
    days: Vec<(String, Vec<Kept>)>,
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    /// The current row's day; rows come in id order, mostly day after day, so it is usually
    /// the previous row's.
    current: usize,
}

/// The columns of the statement's rows after the time columns, each once, with their
/// parameters.
#[derive(Default)]
struct Selected {
    expressions: Vec<Statement>,
}

impl Selected {
    fn place(&mut self, expression: Statement) -> usize {
        place(&mut self.expressions, expression)
    }

    fn column(&mut self, column: &str) -> usize {
        self.place(Statement {
            sql: column.to_string(),
            binds: Vec::new(),
        })
    }
}

impl Pass {
    /// One statement over the table's rows: their time columns, then the columns its filters
    /// and measures read, each once. A condition `decide` gives no test of its raw column is
    /// decided in SQL, as a bit of a mask (`grouped::mask_expressions`).
    fn of(plan: &TablePlan, decide: &Decide<'_>) -> Self {
        let time_columns: Vec<&str> = plan.time_columns().into_iter().collect();
        let mut selected = Selected::default();
        let mut in_sql: Vec<Statement> = Vec::new();
        let mut tests: Vec<(Source, Check)> = Vec::new();
        let mut measures = Vec::new();
        for measure in plan.measures.values() {
            let filter = measure
                .metric
                .filter
                .iter()
                .map(|condition| {
                    let test = match decide(condition) {
                        Some(test) => (
                            Source::Column(selected.column(&condition.column)),
                            Check::Value(test),
                        ),
                        None => {
                            let mut binds = Vec::new();
                            let sql = condition_sql(condition, &mut binds);
                            let bit = place(&mut in_sql, Statement { sql, binds });
                            (
                                Source::Mask(bit / BITS_PER_MASK),
                                Check::Bit(bit % BITS_PER_MASK),
                            )
                        }
                    };
                    place(&mut tests, test)
                })
                .collect();
            let value = match (measure.partial, measure.metric.column.as_deref()) {
                (Partial::Rows, _) | (_, None) => None,
                (_, Some(column)) => Some(selected.column(column)),
            };
            let time_column = time_columns
                .iter()
                .position(|c| *c == measure.metric.time_column)
                .expect("every measure's time column is one of the table's");
            let position = measures
                .iter()
                .filter(|slot: &&Slot| slot.time_column == time_column)
                .count();
            measures.push(Slot {
                measure: measure.clone(),
                time_column,
                position,
                filter,
                value,
            });
        }
        let masks: Vec<usize> = mask_expressions(&in_sql)
            .into_iter()
            .map(|mask| selected.place(mask))
            .collect();
        let offset = time_columns.len();
        let mut by_column: Vec<(usize, Vec<(usize, Check)>)> = Vec::new();
        for (index, (source, check)) in tests.into_iter().enumerate() {
            let column = offset
                + match source {
                    Source::Column(column) => column,
                    Source::Mask(mask) => masks[mask],
                };
            match by_column.iter_mut().find(|(a, _)| *a == column) {
                Some((_, checks)) => checks.push((index, check)),
                None => by_column.push((column, vec![(index, check)])),
            }
        }
        for slot in &mut measures {
            if let Some(value) = &mut slot.value {
                *value += offset;
            }
        }
        let mut statement = Statement::default();
        let mut list: Vec<String> = time_columns.iter().map(|c| c.to_string()).collect();
        for expression in selected.expressions {
            list.push(expression.sql);
            statement.binds.extend(expression.binds);
        }
        statement.sql = format!(
            "SELECT {} FROM {} WHERE id >= ? AND id < ?",
            list.join(", "),
            plan.table
        );
        let mut reading_order: Vec<usize> = (0..measures.len()).collect();
        reading_order.sort_by_key(|at| measures[*at].value);
        Pass {
            time_columns: offset,
            tests: by_column,
            measures,
            reading_order,
            statement,
        }
    }

    /// Adds one worker's days to the partials.
    fn add_to(&self, partials: &mut Partials, kept: Vec<Days>) {
        for (time_column, days) in kept.into_iter().enumerate() {
            let slots: Vec<&Slot> = self
                .measures
                .iter()
                .filter(|slot| slot.time_column == time_column)
                .collect();
            for (day, kept) in days.days {
                for (slot, kept) in slots.iter().zip(kept) {
                    let key = &slot.measure.key;
                    match kept {
                        Kept::Rows(0) | Kept::Sum(0, _) => {}
                        Kept::Rows(n) => partials.add_sum(key, &day, n, None),
                        Kept::Sum(n, total) => partials.add_sum(key, &day, n, total),
                        Kept::Distinct(members) => {
                            *partials
                                .sets
                                .entry(key.clone())
                                .or_default()
                                .entry(day.clone())
                                .or_default() |= members.into_set();
                        }
                    }
                }
            }
        }
    }
}

/// How a backend's scan decides a condition: the test Rust makes of its column's raw value,
/// or `None` where SQL decides it.
type Decide<'a> = dyn Fn(&Condition) -> Option<Test> + 'a;

/// Where a test finds its value in a row: a selected column, or a mask by its number.
#[derive(PartialEq)]
enum Source {
    Column(usize),
    Mask(usize),
}

/// A test of one value of a row: a condition Rust decides on the raw value, or one bit of a
/// mask SQL computed.
#[derive(PartialEq)]
enum Check {
    Value(Test),
    Bit(usize),
}

impl Check {
    fn passes(&self, value: ValueRef<'_>) -> bool {
        match (self, value) {
            (Check::Value(test), value) => test.passes(value),
            (Check::Bit(bit), ValueRef::Integer(mask)) => mask >> bit & 1 == 1,
            (Check::Bit(_), _) => false,
        }
    }
}

/// What a worker keeps while it reads: the days of each time column, and which tests the
/// current row passed.
struct Scan {
    days: Vec<Days>,
    passed: Vec<bool>,
}

impl Scan {
    fn of(pass: &Pass) -> Self {
        let tests = pass.tests.iter().map(|(_, tests)| tests.len()).sum();
        Scan {
            days: (0..pass.time_columns).map(|_| Days::default()).collect(),
            passed: vec![false; tests],
        }
    }

    /// Adds one row to the days of each of its time columns, for each measure whose filter it
    /// passes.
    fn step(&mut self, pass: &Pass, row: &impl Columns) -> anyhow::Result<()> {
        for (index, days) in self.days.iter_mut().enumerate() {
            days.enter(&day_of(row.value(index)?)?, index, &pass.measures);
        }
        for (column, tests) in &pass.tests {
            let value = row.value(*column)?;
            for (index, test) in tests {
                self.passed[*index] = test.passes(value);
            }
        }
        let mut read: Option<(usize, ValueRef<'_>)> = None;
        for slot in pass.reading_order.iter().map(|at| &pass.measures[*at]) {
            if !slot.filter.iter().all(|test| self.passed[*test]) {
                continue;
            }
            let value = match (slot.value, read) {
                (None, _) => ValueRef::Integer(1),
                (Some(column), Some((of, value))) if of == column => value,
                (Some(column), _) => {
                    let value = row.value(column)?;
                    read = Some((column, value));
                    value
                }
            };
            let days = &mut self.days[slot.time_column];
            let kept = &mut days.days[days.current].1[slot.position];
            keep(kept, &slot.measure.metric, value)?;
        }
        Ok(())
    }
}

/// `substr(value, 1, 10)` of a time column, as the rollup's SQL takes the day; `UNDATED` for
/// NULL.
fn day_of(value: ValueRef<'_>) -> anyhow::Result<std::borrow::Cow<'_, str>> {
    Ok(match value {
        ValueRef::Null => UNDATED.into(),
        // A platform timestamp: its first ten bytes are ASCII, so ten characters.
        ValueRef::Text(text) if text.get(..10).is_some_and(|day| day.is_ascii()) => {
            std::str::from_utf8(&text[..10])?.into()
        }
        ValueRef::Text(text) => {
            let text = std::str::from_utf8(text)?;
            let end = text.char_indices().nth(10).map_or(text.len(), |(at, _)| at);
            text[..end].into()
        }
        ValueRef::Integer(v) => v.to_string().chars().take(10).collect::<String>().into(),
        _ => {
            anyhow::bail!("a time column holds neither text nor an integer");
        }
    })
}

impl Days {
    /// Makes `day` the current row's day of time column `index`, started empty on its first
    /// row.
    fn enter(&mut self, day: &str, index: usize, slots: &[Slot]) {
        if self
            .days
            .get(self.current)
            .is_some_and(|(current, _)| same_day(current, day))
        {
            return;
        }
        self.current = match self.index.get(day) {
            Some(at) => *at,
            None => {
                let empty = slots
                    .iter()
                    .filter(|slot| slot.time_column == index)
                    .map(|slot| match slot.measure.partial {
                        Partial::Rows => Kept::Rows(0),
                        Partial::Sum => Kept::Sum(0, None),
                        Partial::Distinct => Kept::Distinct(Members::default()),
                    })
                    .collect();
                self.days.push((day.to_string(), empty));
                self.index.insert(day.to_string(), self.days.len() - 1);
                self.days.len() - 1
            }
        };
    }
}

/// `a == b`, the usual ten bytes of a day compared as one fixed-size value, not by `memcmp`:
/// the scan asks this of every row.
fn same_day(a: &str, b: &str) -> bool {
    match (
        <&[u8; 10]>::try_from(a.as_bytes()),
        <&[u8; 10]>::try_from(b.as_bytes()),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Adds one row's value to what a measure kept of its day, as `COUNT(*)`, `COUNT(column)`
/// with `SUM(column)`, or the set of ids would.
fn keep(kept: &mut Kept, metric: &DatabaseMetric, value: ValueRef<'_>) -> anyhow::Result<()> {
    match (kept, value) {
        (_, ValueRef::Null) => {}
        (Kept::Rows(n), _) => *n += 1,
        (Kept::Sum(n, total), ValueRef::Integer(v)) => {
            *n += 1;
            *total = Some(match *total {
                None => Total::Int(v),
                Some(Total::Int(sum)) => {
                    Total::Int(sum.checked_add(v).context("integer overflow")?)
                }
                Some(sum) => sum.plus(Total::Int(v)),
            });
        }
        (Kept::Sum(n, total), ValueRef::Real(v)) => {
            *n += 1;
            *total = Some(total.map_or(Total::Real(v), |sum| sum.plus(Total::Real(v))));
        }
        (Kept::Distinct(members), ValueRef::Integer(v)) if u32::try_from(v).is_ok() => {
            members.insert(v as u32);
        }
        (Kept::Distinct(_), _) => anyhow::bail!(not_an_id(metric)),
        (Kept::Sum(..), _) => {
            anyhow::bail!(
                "{}.{} holds a value that is not a number",
                metric.table,
                metric.column.as_deref().unwrap_or_default()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_gathered_out_of_order_make_the_same_set_as_inserting_each() {
        let ids: Vec<u32> = (0..3 * PENDING_IDS as u32 + 17)
            .map(|i| i.wrapping_mul(2_654_435_761) % 70_000)
            .collect();
        let mut members = Members::default();
        ids.iter().for_each(|id| members.insert(*id));
        assert_eq!(
            members.into_set(),
            ids.into_iter().collect::<RoaringBitmap>()
        );
        assert_eq!(Members::default().into_set(), RoaringBitmap::new());
    }

    #[test]
    fn a_bit_check_reads_its_bit_of_the_mask() {
        let mask = ValueRef::Integer(0b1010 | 1 << 61);
        let passes = |bit| Check::Bit(bit).passes(mask);
        assert_eq!(
            [0, 1, 2, 3, 61].map(passes),
            [false, true, false, true, true]
        );
        assert!(!Check::Bit(1).passes(ValueRef::Null));
    }

    #[test]
    fn days_compare_whole_whatever_their_length() {
        assert!(same_day("2026-11-03", "2026-11-03"));
        assert!(!same_day("2026-11-03", "2026-11-04"));
        assert!(!same_day("2026-11-0", "2026-11-03"));
        assert!(same_day("", ""));
        assert!(same_day("20261103", "20261103"));
    }

    #[test]
    fn a_day_is_the_first_ten_characters_of_a_time_column() {
        let day = |value| day_of(value).unwrap().into_owned();
        assert_eq!(day(ValueRef::Text(b"2026-11-03T10:00:00Z")), "2026-11-03");
        assert_eq!(
            day(ValueRef::Text("é026-11-03T10".as_bytes())),
            "é026-11-03"
        );
        assert_eq!(day(ValueRef::Text(b"2026")), "2026");
        assert_eq!(day(ValueRef::Integer(1_764_000_000_123)), "1764000000");
        assert_eq!(day(ValueRef::Null), UNDATED);
    }
}
