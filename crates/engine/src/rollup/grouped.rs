//! The rebuild's pass over a table's rows in SQL, where Rust cannot read them in primary-key
//! batches (`scan`): a SQLite database that is not a file, or a table without an integer `id`.
//! Rows are grouped by day and by *masks*, integers whose bits say which of the measures'
//! filters a row passes (each distinct filter once). The database evaluates each filter once
//! per row and keeps one count, or one distinct list, per group; Rust hands each group to the
//! measures whose bits it has. Aggregating every measure apart instead (`COUNT(*) FILTER
//! (WHERE …)` per measure, one list of values per distinct measure) made PostgreSQL's rebuild
//! most of the pass's cost, the more so the more measures a table has.

use std::collections::BTreeSet;

use roaring::RoaringBitmap;

use super::{
    Measure, Partial, Partials, TablePlan, count_at, day_of, id_list, members, place, total_at,
};
use crate::sql::{Cell, Statement};
use service_ping_database::Backend;

/// Filters per mask (bits of a 64-bit integer, the sign bit left alone).
pub(super) const BITS_PER_MASK: usize = 62;

/// Which filters of some measures a row passes, as bits of a few integers.
struct Masks {
    filters: Vec<Statement>,
    /// Per measure, in order, its filter's bit; `None` takes every row.
    bits: Vec<Option<usize>>,
}

impl Masks {
    fn of(measures: &[&Measure]) -> Self {
        let mut filters: Vec<Statement> = Vec::new();
        let bits = measures
            .iter()
            .map(|measure| Some(place(&mut filters, measure.filter_sql()?)))
            .collect();
        Masks { filters, bits }
    }

    fn len(&self) -> usize {
        self.filters.len().div_ceil(BITS_PER_MASK)
    }

    /// Each mask over one row, its filters' values bound into `statement`.
    fn of_row(&self, statement: &mut Statement) -> Vec<String> {
        mask_expressions(&self.filters)
            .into_iter()
            .map(|mask| {
                statement.binds.extend(mask.binds);
                mask.sql
            })
            .collect()
    }

    /// Whether the rows of a group with `masks` pass the filter of measure number `index`.
    fn pass(&self, index: usize, masks: &[Cell]) -> anyhow::Result<bool> {
        let Some(bit) = self.bits[index] else {
            return Ok(true);
        };
        let mask = count_at(masks, bit / BITS_PER_MASK)?;
        Ok(mask >> (bit % BITS_PER_MASK) & 1 == 1)
    }
}

/// Per `BITS_PER_MASK` filters, an expression whose bit `n` says whether a row passes the
/// chunk's filter `n` (NULL counts as false, as in `FILTER (WHERE …)`).
pub(super) fn mask_expressions(filters: &[Statement]) -> Vec<Statement> {
    filters
        .chunks(BITS_PER_MASK)
        .map(|chunk| {
            let mut mask = Statement::default();
            let terms: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(bit, filter)| {
                    mask.binds.extend(filter.binds.iter().cloned());
                    format!(
                        "(CASE WHEN {} THEN {} ELSE 0 END)",
                        filter.sql,
                        1_i64 << bit
                    )
                })
                .collect();
            mask.sql = terms.join(" | ");
            mask
        })
        .collect()
}

/// One statement of the pass and how its rows add up.
pub(super) struct Grouped<'p> {
    measures: Vec<&'p Measure>,
    masks: Masks,
    kind: Kind,
    pub(super) statement: Statement,
}

enum Kind {
    /// `day, masks…, COUNT(*)`, then `COUNT(column), SUM(column)` per summed column; per
    /// measure, the place of its summed column among those (`None`: it counts rows).
    Sums { summed: Vec<Option<usize>> },
    /// `day, masks…`, the list of the column's distinct values.
    Sets,
}

/// The statements reading every measure of `plan` over the rows in `window`: per time column,
/// one for its counts and sums and one per column its distinct measures count.
pub(super) fn statements<'p>(
    plan: &'p TablePlan,
    window: &Statement,
    backend: Backend,
) -> Vec<Grouped<'p>> {
    let mut statements = Vec::new();
    for time_column in plan.time_columns() {
        let (distinct, summed): (Vec<&Measure>, Vec<&Measure>) = plan
            .measures_on(time_column)
            .partition(|m| m.partial == Partial::Distinct);
        if !summed.is_empty() {
            statements.push(sums(plan, time_column, summed, window));
        }
        let columns: BTreeSet<&str> = distinct
            .iter()
            .filter_map(|m| m.metric.column.as_deref())
            .collect();
        for column in columns {
            let measures = distinct
                .iter()
                .copied()
                .filter(|m| m.metric.column.as_deref() == Some(column))
                .collect();
            statements.push(sets(plan, time_column, column, measures, window, backend));
        }
    }
    statements
}

/// Counts and sums per day and masks: one hash aggregate with one count, and one count and
/// sum per summed column.
fn sums<'p>(
    plan: &TablePlan,
    time_column: &str,
    measures: Vec<&'p Measure>,
    window: &Statement,
) -> Grouped<'p> {
    let masks = Masks::of(&measures);
    let mut statement = Statement::default();
    let mut select = vec![day_of(time_column)];
    select.extend(masks.of_row(&mut statement));
    let grouping = grouping(select.len());
    select.push("COUNT(*)".into());
    let mut columns: Vec<&str> = Vec::new();
    let summed = measures
        .iter()
        .map(
            |measure| match (measure.partial, measure.metric.column.as_deref()) {
                (Partial::Sum, Some(column)) => Some(place(&mut columns, column)),
                _ => None,
            },
        )
        .collect();
    for column in &columns {
        select.push(format!("COUNT({column}), SUM({column})"));
    }
    statement.sql = format!(
        "SELECT {} FROM {} WHERE {} GROUP BY {grouping}",
        select.join(", "),
        plan.table,
        window.sql,
    );
    Grouped::new(measures, masks, Kind::Sums { summed }, statement, window)
}

/// The distinct values of `column` per day and masks: first each (day, masks, value) once (a
/// hash aggregate, where `DISTINCT` inside an aggregate would sort), then one list per day and
/// masks. A value whose rows have different masks is in several lists; the measures' sets
/// are their unions.
fn sets<'p>(
    plan: &TablePlan,
    time_column: &str,
    column: &str,
    measures: Vec<&'p Measure>,
    window: &Statement,
    backend: Backend,
) -> Grouped<'p> {
    let masks = Masks::of(&measures);
    let mut statement = Statement::default();
    let mut select = vec![format!("coalesce({}, '') AS day", day_of(time_column))];
    let mut outer = vec!["day".to_string()];
    for (index, mask) in masks.of_row(&mut statement).into_iter().enumerate() {
        select.push(format!("{mask} AS m{index}"));
        outer.push(format!("m{index}"));
    }
    let inner_grouping = grouping(select.len() + 1);
    select.push(format!("{column} AS v"));
    let outer_grouping = grouping(outer.len());
    statement.sql = format!(
        "SELECT {}, {} FROM (SELECT {} FROM {} WHERE {column} IS NOT NULL AND {} \
         GROUP BY {inner_grouping}) AS members GROUP BY {outer_grouping}",
        outer.join(", "),
        id_list("v", backend, ""),
        select.join(", "),
        plan.table,
        window.sql,
    );
    Grouped::new(measures, masks, Kind::Sets, statement, window)
}

/// `GROUP BY 1, 2, …, n`.
fn grouping(n: usize) -> String {
    (1..=n)
        .map(|at| at.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'p> Grouped<'p> {
    /// The statement `sql` ends with the window's condition: its parameters come last.
    fn new(
        measures: Vec<&'p Measure>,
        masks: Masks,
        kind: Kind,
        mut statement: Statement,
        window: &Statement,
    ) -> Self {
        statement.binds.extend(window.binds.iter().cloned());
        Grouped {
            measures,
            masks,
            kind,
            statement,
        }
    }

    /// Adds one group's row to the measures it belongs to.
    pub(super) fn add(&self, row: &[Cell], partials: &mut Partials) -> anyhow::Result<()> {
        let day = match row.first() {
            Some(Cell::Text(day)) => day.as_str(),
            _ => super::UNDATED,
        };
        let masks = &row[1..=self.masks.len()];
        let aggregates = &row[1 + self.masks.len()..];
        match &self.kind {
            Kind::Sums { summed } => {
                let rows = count_at(aggregates, 0)?;
                for (index, (measure, summed)) in self.measures.iter().zip(summed).enumerate() {
                    if !self.masks.pass(index, masks)? {
                        continue;
                    }
                    let (n, total) = match summed {
                        Some(column) => {
                            let at = 1 + 2 * column;
                            (count_at(aggregates, at)?, total_at(aggregates, at + 1)?)
                        }
                        None => (rows, None),
                    };
                    if n > 0 {
                        partials.add_sum(&measure.key, day, n, total);
                    }
                }
            }
            Kind::Sets => {
                let Some(metric) = self.measures.first().map(|m| &m.metric) else {
                    return Ok(());
                };
                let values = match aggregates.first() {
                    Some(Cell::Text(values)) => values.as_str(),
                    _ => "",
                };
                let mut set: Option<RoaringBitmap> = None;
                for (index, measure) in self.measures.iter().enumerate() {
                    if !self.masks.pass(index, masks)? {
                        continue;
                    }
                    if set.is_none() {
                        set = Some(members(values, metric)?);
                    }
                    let set = set.as_ref().expect("parsed just above");
                    *partials
                        .sets
                        .entry(measure.key.clone())
                        .or_default()
                        .entry(day.to_string())
                        .or_default() |= set;
                }
            }
        }
        Ok(())
    }
}
