//! The fleet as cohorts see it: each instance's active users, edition and DevOps Score inputs,
//! now (from `instances`) or as it stood at a past date (from `usage_data`), and the cohorts'
//! medians week by week (`cohort_history`).

use chrono::{DateTime, NaiveDate, Utc};
use service_ping_database::{Db, on_pool};
use service_ping_protocol::cohort::{GroupSummary, Member, SIZES};
use service_ping_protocol::devops_score::Values;
use service_ping_protocol::time::format_timestamp;

use super::{FEATURE_COLUMNS, values_of};

/// The `cohort` of the fleet as a whole in `cohort_history`.
const FLEET: &str = "all";

/// A row of `active_users, edition, <features>` as a cohort member; an instance whose active
/// users were never recorded has none, so it is in no size band.
fn member_of<R: sqlx::Row>(row: &R) -> Result<Member, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    f64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let users: Option<i64> = row.try_get(0)?;
    Ok(Member {
        active_users: users.unwrap_or(0) as f64,
        edition: row.try_get(1)?,
        usage: values_of(row, 2)?,
    })
}

/// What puts each instance last heard from since `since` in a cohort, from its latest ping.
pub async fn fleet_members(db: &Db, since: DateTime<Utc>) -> Result<Vec<Member>, sqlx::Error> {
    let sql = format!(
        "SELECT active_users, edition, {FEATURE_COLUMNS} FROM instances WHERE last_received_at >= $1"
    );
    on_pool!(db, |pool| {
        let rows = sqlx::query(&sql)
            .bind(format_timestamp(since))
            .fetch_all(pool)
            .await?;
        rows.iter().map(member_of).collect()
    })
}

/// The fleet as it stood at `until`: the latest ping of each instance received in
/// `[since, until)`. Reads every ping of that span, so it serves backfills, not requests.
pub async fn fleet_members_between(
    db: &Db,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Member>, sqlx::Error> {
    let sql = format!(
        "SELECT active_users, edition, {FEATURE_COLUMNS} FROM ( \
           SELECT active_users, edition, {FEATURE_COLUMNS}, \
                  row_number() OVER (PARTITION BY uuid ORDER BY received_at DESC, id DESC) AS newest \
           FROM usage_data WHERE received_at >= $1 AND received_at < $2) AS pings \
         WHERE newest = 1"
    );
    on_pool!(db, |pool| {
        let rows = sqlx::query(&sql)
            .bind(format_timestamp(since))
            .bind(format_timestamp(until))
            .fetch_all(pool)
            .await?;
        rows.iter().map(member_of).collect()
    })
}

/// One reportable group in one ISO week.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortWeek {
    /// The week's Monday.
    pub week: NaiveDate,
    pub group: GroupSummary,
}

/// Replaces the rows of `week` with `groups` (the reportable groups as of `computed_at`).
pub async fn record_cohort_week(
    db: &Db,
    week: NaiveDate,
    groups: &[GroupSummary],
    computed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let week = week.to_string();
    let computed_at = format_timestamp(computed_at);
    on_pool!(db, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM cohort_history WHERE week = $1")
            .bind(&week)
            .execute(&mut *tx)
            .await?;
        for group in groups {
            let cohort = group.size.map_or(FLEET, |size| SIZES[size].key);
            let medians = serde_json::to_string(&group.medians.to_vec())
                .expect("a list of numbers serializes");
            sqlx::query(
                "INSERT INTO cohort_history \
                 (week, cohort, edition, instances, overall_median, medians, computed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&week)
            .bind(cohort)
            .bind(group.edition.as_deref().unwrap_or(""))
            .bind(group.instances as i64)
            .bind(group.overall_median)
            .bind(&medians)
            .bind(&computed_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    })
}

/// The recorded weeks from `since` on, oldest first, each week's groups in the order of
/// [`service_ping_protocol::cohort::Cohorts::summaries`].
pub async fn cohort_history(db: &Db, since: NaiveDate) -> Result<Vec<CohortWeek>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64, f64, String)> = on_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT week, cohort, edition, instances, overall_median, medians \
             FROM cohort_history WHERE week >= $1 ORDER BY week",
        )
        .bind(since.to_string())
        .fetch_all(pool)
        .await
    })?;
    let mut weeks: Vec<CohortWeek> = rows
        .into_iter()
        .filter_map(
            |(week, cohort, edition, instances, overall_median, medians)| {
                // A row this version cannot read (a band renamed since) is left out, not an error.
                let size = match cohort.as_str() {
                    FLEET => None,
                    key => Some(SIZES.iter().position(|s| s.key == key)?),
                };
                let medians: Vec<f64> = serde_json::from_str(&medians).ok()?;
                let medians: Values = medians.try_into().ok()?;
                Some(CohortWeek {
                    week: week.parse().ok()?,
                    group: GroupSummary {
                        size,
                        edition: (!edition.is_empty()).then_some(edition),
                        instances: instances as usize,
                        overall_median,
                        medians,
                    },
                })
            },
        )
        .collect();
    weeks.sort_by(|a, b| {
        (a.week, GroupSummary::order(&a.group)).cmp(&(b.week, GroupSummary::order(&b.group)))
    });
    Ok(weeks)
}
