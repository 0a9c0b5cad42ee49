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
/// Both are found by seeks on the primary key, one per identifier and month (the overview and
/// the usage trends page read them on every visit): grouping a year of daily rows by month cost
/// most of those pages' server time.
pub async fn trends(db: &Db, today: NaiveDate, months: u32) -> Result<UsageTrends, sqlx::Error> {
    let months_list = month_range(today, months);
    // Each month ends where the next begins: the same range, a month on.
    let month_after = today
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(NaiveDate::MAX);
    let rows = last_of_each_month(db, &months_list, &month_range(month_after, months)).await?;
    let totals_rows = latest_of_each(db).await?;
    let mut totals: Vec<(Identifier, String, i64)> = totals_rows
        .into_iter()
        .filter_map(|(id, day, count)| Some((Identifier::parse(&id)?, day, count)))
        .collect();
    totals.sort_by_key(|(id, _, _)| Identifier::ALL.iter().position(|i| i == id));
    let series = Identifier::ALL
        .iter()
        .map(|identifier| MonthlySeries {
            identifier: *identifier,
            points: rows
                .iter()
                .filter(|(id, _, _)| id == identifier.as_str())
                .filter_map(|(_, month, count)| Some((month.clone(), (*count)?)))
                .collect(),
        })
        .collect();
    Ok(UsageTrends {
        totals,
        months: months_list,
        series,
    })
}

/// For each identifier and month of `months` (`YYYY-MM`, oldest first), the month's last
/// measurement, or NULL for a month without one; in month order. `following` holds the month
/// after each of `months`.
async fn last_of_each_month(
    db: &Db,
    months: &[String],
    following: &[String],
) -> Result<Vec<(String, String, Option<i64>)>, sqlx::Error> {
    let bounds: Vec<[String; 3]> = months
        .iter()
        .zip(following)
        .map(|(month, next)| [month.clone(), format!("{month}-01"), format!("{next}-01")])
        .collect();
    let sql = format!(
        "WITH months(month, first_day, next_first_day) AS (VALUES {}), \
              identifiers(identifier) AS (VALUES {}) \
         SELECT i.identifier, mo.month, \
                (SELECT m.count FROM usage_trend_measurements AS m \
                  WHERE m.identifier = i.identifier \
                    AND m.recorded_on >= mo.first_day AND m.recorded_on < mo.next_first_day \
                  ORDER BY m.recorded_on DESC LIMIT 1) \
         FROM identifiers AS i CROSS JOIN months AS mo ORDER BY mo.month",
        placeholders(bounds.len(), 3, 1),
        placeholders(Identifier::ALL.len(), 1, 1 + bounds.len() * 3),
    );
    on_pool!(db, |p| {
        let mut query = sqlx::query_as(&sql);
        for value in bounds.iter().flatten() {
            query = query.bind(value);
        }
        for identifier in Identifier::ALL {
            query = query.bind(identifier.as_str());
        }
        query.fetch_all(p).await
    })
}

/// Each identifier's latest measurement: (identifier, day, count).
async fn latest_of_each(db: &Db) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let sql = format!(
        "WITH identifiers(identifier) AS (VALUES {}) \
         SELECT i.identifier, l.recorded_on, l.count FROM identifiers AS i \
         JOIN usage_trend_measurements AS l ON l.identifier = i.identifier \
          AND l.recorded_on = (SELECT max(m.recorded_on) FROM usage_trend_measurements AS m \
                               WHERE m.identifier = i.identifier)",
        placeholders(Identifier::ALL.len(), 1, 1),
    );
    on_pool!(db, |p| {
        let mut query = sqlx::query_as(&sql);
        for identifier in Identifier::ALL {
            query = query.bind(identifier.as_str());
        }
        query.fetch_all(p).await
    })
}
