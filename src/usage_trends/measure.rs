//! Computing measurements for a run of days from the platform's own creation dates: one
//! aggregate query per table for the whole run, then running totals and sliding windows in Rust.

use crate::db::{Db, on_pool};
use std::collections::HashMap;

use chrono::NaiveDate;

use super::Identifier;

/// Counts of one identifier for consecutive days.
pub type Series = Vec<(NaiveDate, i64)>;

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Totals as of the end of each day from `first` to `last`: rows of `table` matching `filter`
/// created up to that day.
async fn running_total(
    db: &Db,
    table: &str,
    filter: &str,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Series, sqlx::Error> {
    let before: i64 = on_pool!(db, |p| sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table} WHERE created_at < $1 AND ({filter})"
    ))
    .bind(day_text(first))
    .fetch_one(p)
    .await)?;
    let daily: HashMap<String, i64> = on_pool!(db, |p| sqlx::query_as(&format!(
        "SELECT substr(created_at, 1, 10) AS day, count(*) FROM {table} \
         WHERE created_at >= $1 AND created_at < $2 AND ({filter}) GROUP BY day"
    ))
    .bind(day_text(first))
    .bind(day_text(last + chrono::Days::new(1)))
    .fetch_all(p)
    .await)?
    .into_iter()
    .collect();
    Ok(first
        .iter_days()
        .take_while(|d| *d <= last)
        .scan(before, |total, day| {
            *total += daily.get(&day_text(day)).copied().unwrap_or(0);
            Some((day, *total))
        })
        .collect())
}

/// Distinct event authors over the `window` days ending on each day from `first` to `last`
/// (1 = daily, 7 = weekly, 28 = monthly active users).
pub fn sliding_distinct(
    authors_by_day: &HashMap<NaiveDate, Vec<i64>>,
    window: u64,
    first: NaiveDate,
    last: NaiveDate,
) -> Series {
    let mut in_window: HashMap<i64, u32> = HashMap::new();
    let start = first - chrono::Days::new(window - 1);
    let mut series = Vec::new();
    for day in start.iter_days().take_while(|d| *d <= last) {
        for author in authors_by_day.get(&day).into_iter().flatten() {
            *in_window.entry(*author).or_default() += 1;
        }
        if let Some(leaving) = day.checked_sub_days(chrono::Days::new(window)) {
            for author in authors_by_day.get(&leaving).into_iter().flatten() {
                if let Some(n) = in_window.get_mut(author) {
                    *n -= 1;
                    if *n == 0 {
                        in_window.remove(author);
                    }
                }
            }
        }
        if day >= first {
            series.push((day, in_window.len() as i64));
        }
    }
    series
}

/// Who did something on each day from 27 days before `first` to `last`.
async fn authors_by_day(
    db: &Db,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<HashMap<NaiveDate, Vec<i64>>, sqlx::Error> {
    let rows: Vec<(String, i64)> = on_pool!(db, |p| sqlx::query_as(
        "SELECT DISTINCT substr(created_at, 1, 10), author_id FROM events \
         WHERE created_at >= $1 AND created_at < $2",
    )
    .bind(day_text(first - chrono::Days::new(27)))
    .bind(day_text(last + chrono::Days::new(1)))
    .fetch_all(p)
    .await)?;
    let mut by_day: HashMap<NaiveDate, Vec<i64>> = HashMap::new();
    for (day, author) in rows {
        if let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
            by_day.entry(day).or_default().push(author);
        }
    }
    Ok(by_day)
}

/// Every identifier's count for each day from `first` to `last`.
pub async fn measure(
    db: &Db,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<(Identifier, Series)>, sqlx::Error> {
    let mut all = Vec::with_capacity(Identifier::ALL.len());
    for identifier in Identifier::ALL {
        if let Some((table, filter)) = identifier.source() {
            all.push((
                identifier,
                running_total(db, table, filter, first, last).await?,
            ));
        }
    }
    let authors = authors_by_day(db, first, last).await?;
    for (identifier, window) in [
        (Identifier::DailyActiveUsers, 1),
        (Identifier::WeeklyActiveUsers, 7),
        (Identifier::MonthlyActiveUsers, 28),
    ] {
        all.push((identifier, sliding_distinct(&authors, window, first, last)));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn sliding_windows_count_each_author_once_and_forget_them_when_they_leave() {
        let authors = HashMap::from([
            (day(1), vec![1, 2]),
            (day(2), vec![2]),
            (day(4), vec![3]),
            (day(9), vec![1]),
        ]);
        assert_eq!(
            sliding_distinct(&authors, 1, day(1), day(4)),
            vec![(day(1), 2), (day(2), 1), (day(3), 0), (day(4), 1)]
        );
        // A 7-day window on the 7th holds days 1..=7 (authors 1, 2, 3); on the 8th, 2..=8.
        let weekly = sliding_distinct(&authors, 7, day(7), day(9));
        assert_eq!(weekly, vec![(day(7), 3), (day(8), 2), (day(9), 2)]);
    }
}
