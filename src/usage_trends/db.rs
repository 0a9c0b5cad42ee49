//! SQL for `usage_trend_measurements`.

use crate::db::{Db, execute_in, on_pool};
use chrono::NaiveDate;

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
pub async fn trends(db: &Db, today: NaiveDate, months: u32) -> Result<UsageTrends, sqlx::Error> {
    let months_list = month_range(today, months);
    let first_day = format!("{}-01", months_list[0]);
    let rows: Vec<(String, String, i64)> = on_pool!(db, |p| {
        sqlx::query_as(
        "SELECT m.identifier, substr(m.recorded_on, 1, 7), m.count FROM usage_trend_measurements AS m \
         JOIN (SELECT identifier, max(recorded_on) AS last_day FROM usage_trend_measurements \
               WHERE recorded_on >= $1 GROUP BY identifier, substr(recorded_on, 1, 7)) AS l \
           ON l.identifier = m.identifier AND l.last_day = m.recorded_on \
         ORDER BY m.recorded_on",
    )
    .bind(&first_day).fetch_all(p).await
    })?;
    let totals_rows: Vec<(String, String, i64)> = on_pool!(db, |p| {
        sqlx::query_as(
        "SELECT m.identifier, m.recorded_on, m.count FROM usage_trend_measurements AS m \
         JOIN (SELECT identifier, max(recorded_on) AS last_day FROM usage_trend_measurements GROUP BY identifier) AS l \
           ON l.identifier = m.identifier AND l.last_day = m.recorded_on",
    ).fetch_all(p).await
    })?;
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
                .map(|(_, month, count)| (month.clone(), *count))
                .collect(),
        })
        .collect();
    Ok(UsageTrends {
        totals,
        months: months_list,
        series,
    })
}
