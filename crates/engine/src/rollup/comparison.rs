//! A filter's condition decided in Rust exactly as SQLite decides it in SQL, for the rebuild's
//! scan (`scan`): evaluating a dozen conditions per row as SQL expressions cost the scan six
//! times a plain read of the table, comparing the raw values here costs almost nothing.
//!
//! SQLite compares a column with a bound literal after applying the column's *affinity* to the
//! literal (a literal has none of its own): a numeric column turns a text literal that reads
//! as a number into that number, a text column turns a number into its text. The values are
//! then ordered by storage class (numbers, then text, then blobs), numbers by value, text and
//! blobs byte by byte (the `BINARY` collation). A comparison with NULL is NULL, which a filter
//! counts as false. A condition whose outcome this cannot promise to be SQLite's (a column
//! with a collation of its own, a real literal written out as text) is left to SQL.
//! <https://www.sqlite.org/datatype3.html#comparisons>

use std::cmp::Ordering;

use rusqlite::types::ValueRef;

use crate::instrumentation::{Comparison, Condition, Literal};

/// A column's type affinity, from its declared type by SQLite's rules (section 3.1 of the
/// page above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Affinity {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

impl Affinity {
    pub(super) fn of_declared(declared: &str) -> Self {
        let declared = declared.to_ascii_uppercase();
        let has = |part: &str| declared.contains(part);
        if has("INT") {
            Affinity::Integer
        } else if has("CHAR") || has("CLOB") || has("TEXT") {
            Affinity::Text
        } else if has("BLOB") || declared.is_empty() {
            Affinity::Blob
        } else if has("REAL") || has("FLOA") || has("DOUB") {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, Affinity::Integer | Affinity::Real | Affinity::Numeric)
    }
}

/// A literal as SQLite holds it once the column's affinity is applied.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Int(i64),
    Real(f64),
    Text(String),
}

/// A condition ready to be decided on a row's raw value of its column.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Test {
    comparison: Comparison,
    operands: Vec<Operand>,
}

impl Test {
    /// The condition as SQLite would decide it on a column of `affinity`; `None` when only SQL
    /// can promise that (see the module's doc).
    pub(super) fn of(condition: &Condition, affinity: Affinity, collated: bool) -> Option<Self> {
        let operands = condition
            .values
            .iter()
            .map(|literal| operand(literal, affinity))
            .collect::<Option<Vec<_>>>()?;
        let compares_text =
            affinity == Affinity::Text || operands.iter().any(|o| matches!(o, Operand::Text(_)));
        if collated && compares_text {
            return None;
        }
        Some(Test {
            comparison: condition.comparison,
            operands,
        })
    }

    /// Whether a row whose column holds `value` passes the condition.
    pub(super) fn passes(&self, value: ValueRef<'_>) -> bool {
        let is_null = matches!(value, ValueRef::Null);
        match self.comparison {
            Comparison::IsNull => is_null,
            Comparison::IsNotNull => !is_null,
            _ if is_null => false,
            Comparison::In => self.operands.iter().any(|o| equals(value, o)),
            Comparison::NotIn => !self.operands.iter().any(|o| equals(value, o)),
            Comparison::Eq => self.operands.first().is_some_and(|o| equals(value, o)),
            Comparison::Ne => self.operands.first().is_some_and(|o| !equals(value, o)),
            comparison => {
                let Some(operand) = self.operands.first() else {
                    return false;
                };
                let ordering = order(value, operand);
                match comparison {
                    Comparison::Gt => ordering.is_gt(),
                    Comparison::Gte => ordering.is_ge(),
                    Comparison::Lt => ordering.is_lt(),
                    _ => ordering.is_le(),
                }
            }
        }
    }
}

/// `literal` with `affinity` applied, as SQLite does before comparing; `None` for a real
/// turned into text (SQLite's `%!.15g` spelling is not Rust's).
fn operand(literal: &Literal, affinity: Affinity) -> Option<Operand> {
    let number = match literal {
        // Bound as 1 or 0 on SQLite.
        Literal::Bool(v) => Operand::Int(i64::from(*v)),
        Literal::Int(v) => Operand::Int(*v),
        Literal::Real(v) => Operand::Real(*v),
        Literal::Text(text) if affinity.is_numeric() => {
            return Some(numeric(text).unwrap_or_else(|| Operand::Text(text.clone())));
        }
        Literal::Text(text) => return Some(Operand::Text(text.clone())),
    };
    match (affinity, number) {
        (Affinity::Text, Operand::Int(v)) => Some(Operand::Text(v.to_string())),
        (Affinity::Text, Operand::Real(_)) => None,
        (_, number) => Some(number),
    }
}

/// A text that reads as a number in full (surrounding spaces allowed, as SQLite allows them),
/// as SQLite's numeric affinity converts it: an integer if it is one and fits, else a real.
fn numeric(text: &str) -> Option<Operand> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if let Ok(v) = trimmed.parse::<i64>() {
        return Some(Operand::Int(v));
    }
    let looks_decimal = !trimmed.is_empty()
        && trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    let real = trimmed.parse::<f64>().ok().filter(|v| v.is_finite())?;
    // A real that is a whole number within range is stored as an integer (`REAL` columns
    // keep it real, but compare it equal either way).
    looks_decimal.then(|| match real.fract() == 0.0 && real.abs() < 9.2e18 {
        true => Operand::Int(real as i64),
        false => Operand::Real(real),
    })
}

/// SQLite's order of a non-NULL value and an operand: numbers before text before blobs.
/// Whether `value` equals `operand`: `order` is equal, told without ordering text byte by byte
/// (texts of different lengths differ at once).
fn equals(value: ValueRef<'_>, operand: &Operand) -> bool {
    match (value, operand) {
        (ValueRef::Text(a), Operand::Text(b)) => a == b.as_bytes(),
        _ => order(value, operand).is_eq(),
    }
}

/// Two numbers as SQLite orders them: `-0.0` equals `0.0` (`total_cmp` would not). SQLite
/// stores no NaN (it becomes NULL), so every pair has an order.
fn numbers(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

fn order(value: ValueRef<'_>, operand: &Operand) -> Ordering {
    match (value, operand) {
        (ValueRef::Integer(a), Operand::Int(b)) => a.cmp(b),
        (ValueRef::Integer(a), Operand::Real(b)) => numbers(a as f64, *b),
        (ValueRef::Real(a), Operand::Int(b)) => numbers(a, *b as f64),
        (ValueRef::Real(a), Operand::Real(b)) => numbers(a, *b),
        (ValueRef::Integer(_) | ValueRef::Real(_), Operand::Text(_)) => Ordering::Less,
        (ValueRef::Text(a), Operand::Text(b)) => a.cmp(b.as_bytes()),
        (ValueRef::Text(_), _) => Ordering::Greater,
        (ValueRef::Blob(_), _) => Ordering::Greater,
        (ValueRef::Null, _) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrumentation::Comparison::*;

    fn test(comparison: Comparison, values: Vec<Literal>, affinity: Affinity) -> Test {
        let condition = Condition {
            column: "c".into(),
            comparison,
            values,
        };
        Test::of(&condition, affinity, false).expect("decidable in Rust")
    }

    #[test]
    fn declared_types_give_sqlites_affinities() {
        for (declared, affinity) in [
            ("INTEGER", Affinity::Integer),
            ("bigint", Affinity::Integer),
            ("VARCHAR(255)", Affinity::Text),
            ("TEXT", Affinity::Text),
            ("", Affinity::Blob),
            ("DOUBLE PRECISION", Affinity::Real),
            ("BOOLEAN", Affinity::Numeric),
            ("DATETIME", Affinity::Numeric),
        ] {
            assert_eq!(Affinity::of_declared(declared), affinity, "{declared}");
        }
    }

    #[test]
    fn literals_take_the_columns_affinity() {
        let over_forty = test(Gt, vec![Literal::Text("40".into())], Affinity::Integer);
        assert!(over_forty.passes(ValueRef::Integer(41)));
        assert!(!over_forty.passes(ValueRef::Integer(40)));
        // Text in a numeric column sorts after every number.
        assert!(over_forty.passes(ValueRef::Text(b"slow")));
        let five = test(Eq, vec![Literal::Int(5)], Affinity::Text);
        assert!(five.passes(ValueRef::Text(b"5")));
        assert!(!five.passes(ValueRef::Integer(5)));
        let untyped = test(Eq, vec![Literal::Int(5)], Affinity::Blob);
        assert!(!untyped.passes(ValueRef::Text(b"5")));
        assert!(untyped.passes(ValueRef::Real(5.0)));
    }

    #[test]
    fn negative_zero_is_zero_as_sqlite_holds() {
        // `SELECT -0.0 = 0.0, -0.0 = 0, -0.0 < 0.0` gives 1, 1, 0 in SQLite.
        let zero = test(Eq, vec![Literal::Real(0.0)], Affinity::Real);
        assert!(zero.passes(ValueRef::Real(-0.0)));
        assert!(test(Eq, vec![Literal::Int(0)], Affinity::Real).passes(ValueRef::Real(-0.0)));
        assert!(!test(Lt, vec![Literal::Real(0.0)], Affinity::Real).passes(ValueRef::Real(-0.0)));
        assert!(test(Gt, vec![Literal::Real(-0.5)], Affinity::Real).passes(ValueRef::Integer(0)));
    }

    #[test]
    fn null_passes_only_is_null() {
        for comparison in [Eq, Ne, Gt, Lt, In, NotIn] {
            let t = test(comparison, vec![Literal::Int(1)], Affinity::Integer);
            assert!(!t.passes(ValueRef::Null), "{comparison:?}");
        }
        assert!(test(IsNull, vec![], Affinity::Integer).passes(ValueRef::Null));
        assert!(!test(IsNotNull, vec![], Affinity::Integer).passes(ValueRef::Null));
    }

    #[test]
    fn lists_and_text_compare_byte_by_byte() {
        let statuses = vec![
            Literal::Text("failed".into()),
            Literal::Text("success".into()),
        ];
        let finished = test(In, statuses.clone(), Affinity::Text);
        assert!(finished.passes(ValueRef::Text(b"success")));
        assert!(!finished.passes(ValueRef::Text(b"Success")));
        assert!(test(NotIn, statuses, Affinity::Text).passes(ValueRef::Text(b"running")));
        assert!(
            test(Lt, vec![Literal::Text("b".into())], Affinity::Text).passes(ValueRef::Text(b"B"))
        );
    }

    #[test]
    fn what_only_sql_can_promise_is_left_to_it() {
        let condition = |values| Condition {
            column: "c".into(),
            comparison: Eq,
            values,
        };
        let text = condition(vec![Literal::Text("a".into())]);
        assert!(Test::of(&text, Affinity::Text, true).is_none());
        assert!(Test::of(&condition(vec![Literal::Int(1)]), Affinity::Integer, true).is_some());
        assert!(Test::of(&condition(vec![Literal::Real(0.5)]), Affinity::Text, false).is_none());
    }
}
