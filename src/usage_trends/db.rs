//! SQL for `usage_trend_measurements`.

use crate::db::{Db, execute_in, on_pool};
use chrono::NaiveDate;
use service_ping_database::placeholders;

use super::measure::Series;
use super::{Identifier, MonthlySeries, UsageTrends, month_range};

/// Stores measurements; a day an identifier already has is left as it is. Returns how many
/// were new.
pub async fn insert(db: &Db, measured: &[(Identifier, Series)]) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let mut inserted = 0;
    for (identifier, series) in measured {
        for (day, count) in series {
            inserted += execute_in!(
                tx.conn(),
                sqlx::query(
                    "INSERT INTO usage_trend_measurements (identifier, recorded_on, count) \
                 VALUES ($1, $2, $3) ON CONFLICT (identifier, recorded_on) DO NOTHING",
                )
                .bind(identifier.as_str())
                .bind(day.format("%Y-%m-%d").to_string())
                .bind(count)
            )?;
        }
    }
    tx.commit().await?;
    Ok(inserted)
}

/// The earliest day from `first` to `last` that some identifier lacks, if any.
pub async fn first_missing_day(
    db: &Db,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Option<NaiveDate>, sqlx::Error> {
    let complete: Vec<String> = on_pool!(db, |p| {
        sqlx::query_scalar(
        "SELECT recorded_on FROM usage_trend_measurements WHERE recorded_on >= $1 AND recorded_on <= $2 \
         GROUP BY recorded_on HAVING count(*) = $3",
    )
    .bind(first.format("%Y-%m-%d").to_string())
    .bind(last.format("%Y-%m-%d").to_string())
    .bind(Identifier::ALL.len() as i64).fetch_all(p).await
    })?;
    let complete: std::collections::HashSet<String> = complete.into_iter().collect();
    Ok(first
        .iter_days()
        .take_while(|d| *d <= last)
        .find(|d| !complete.contains(&d.format("%Y-%m-%d").to_string())))
}

/// The page's data: the latest measurement of each identifier and, for the `months` months
/// ending with `today`'s, the last measurement of each month.
///
/// One row per identifier, each value found by a seek on the primary key: grouping a year of
/// daily rows by month cost most of the overview's and the usage trends page's server time, and
/// a row per identifier and month (168 for a year) cost a handoff between threads each on SQLite.
pub async fn trends(db: &Db, today: NaiveDate, months: u32) -> Result<UsageTrends, sqlx::Error> {
    let months_list = month_range(today, months);
    // Each month ends where the next begins: the same range, a month on.
    let month_after = today
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(NaiveDate::MAX);
    let rows = each_identifier(db, &months_list, &month_range(month_after, months)).await?;
    let mut totals = Vec::new();
    let mut series = Vec::new();
    for identifier in Identifier::ALL {
        let Some(row) = rows
            .iter()
            .find(|row| row.identifier == identifier.as_str())
        else {
            continue;
        };
        if let Some((day, count)) = row.latest.clone() {
            totals.push((identifier, day, count));
        }
        let points = months_list
            .iter()
            .zip(&row.month_ends)
            .filter_map(|(month, count)| Some((month.clone(), (*count)?)))
            .collect();
        series.push(MonthlySeries { identifier, points });
    }
    Ok(UsageTrends {
        totals,
        months: months_list,
        series,
    })
}

/// What [`each_identifier`] finds for one identifier.
struct IdentifierRow {
    identifier: String,
    /// The latest measurement: its day and count.
    latest: Option<(String, i64)>,
    /// The last measurement of each month, in the order of the months asked for.
    month_ends: Vec<Option<i64>>,
}

/// For each identifier: its latest measurement and, for each of `months` (`YYYY-MM`), the
/// month's last measurement (NULL for a month without one). `following` holds the month after
/// each of `months`.
async fn each_identifier(
    db: &Db,
    months: &[String],
    following: &[String],
) -> Result<Vec<IdentifierRow>, sqlx::Error> {
    let latest = |column: &str| {
        format!(
            "(SELECT l.{column} FROM usage_trend_measurements AS l WHERE l.identifier = i.identifier \
              ORDER BY l.recorded_on DESC LIMIT 1)"
        )
    };
    let month_ends = (0..months.len()).map(|month| {
        let first_day = 1 + 2 * month;
        format!(
            "(SELECT m.count FROM usage_trend_measurements AS m WHERE m.identifier = i.identifier \
              AND m.recorded_on >= ${first_day} AND m.recorded_on < ${} \
              ORDER BY m.recorded_on DESC LIMIT 1)",
            first_day + 1
        )
    });
    let columns: Vec<String> = [latest("recorded_on"), latest("count")]
        .into_iter()
        .chain(month_ends)
        .collect();
    let sql = format!(
        "WITH identifiers(identifier) AS (VALUES {}) SELECT i.identifier, {} FROM identifiers AS i",
        placeholders(Identifier::ALL.len(), 1, 1 + 2 * months.len()),
        columns.join(", "),
    );
    let bounds = months
        .iter()
        .zip(following)
        .flat_map(|(month, next)| [format!("{month}-01"), format!("{next}-01")]);
    on_pool!(db, |p| {
        use sqlx::Row;
        let mut query = sqlx::query(&sql);
        for bound in bounds {
            query = query.bind(bound);
        }
        for identifier in Identifier::ALL {
            query = query.bind(identifier.as_str());
        }
        let rows = query.fetch_all(p).await?;
        rows.iter()
            .map(|row| {
                let day: Option<String> = row.try_get(1)?;
                let count: Option<i64> = row.try_get(2)?;
                Ok(IdentifierRow {
                    identifier: row.try_get(0)?,
                    latest: day.zip(count),
                    month_ends: (0..months.len())
                        .map(|month| row.try_get(3 + month))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect()
    })
}
