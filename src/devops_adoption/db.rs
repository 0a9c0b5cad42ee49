//! Computing and reading adoption snapshots.

use crate::db::{Db, execute_in, on_pool};
use std::collections::{BTreeMap, BTreeSet};

use super::{Adoption, GroupAdoption, finished_months};
use service_ping_protocol::devops_score::FEATURES;

/// For each feature key, the query giving the groups that used it in [$1, $2).
const USED_IN_MONTH: [(&str, &str); 10] = [
    (
        "issues",
        "SELECT DISTINCT p.namespace_id FROM issues t JOIN projects p ON p.id = t.project_id WHERE t.created_at >= $1 AND t.created_at < $2",
    ),
    (
        "notes",
        "SELECT DISTINCT p.namespace_id FROM notes t JOIN projects p ON p.id = t.project_id WHERE t.created_at >= $1 AND t.created_at < $2",
    ),
    (
        "milestones",
        "SELECT DISTINCT p.namespace_id FROM milestones t JOIN projects p ON p.id = t.project_id WHERE t.created_at >= $1 AND t.created_at < $2",
    ),
    (
        "boards",
        "SELECT DISTINCT p.namespace_id FROM boards t JOIN projects p ON p.id = t.project_id WHERE t.created_at >= $1 AND t.created_at < $2",
    ),
    (
        "merge_requests",
        "SELECT DISTINCT p.namespace_id FROM merge_requests t JOIN projects p ON p.id = t.project_id WHERE t.created_at >= $1 AND t.created_at < $2",
    ),
    (
        "ci_pipelines",
        "SELECT DISTINCT p.namespace_id FROM ci_pipelines t JOIN projects p ON p.id = t.project_id WHERE t.created_at >= $1 AND t.created_at < $2",
    ),
    (
        "environments",
        "SELECT DISTINCT p.namespace_id FROM environments t JOIN projects p ON p.id = t.project_id WHERE t.created_at >= $1 AND t.created_at < $2",
    ),
    (
        "deployments",
        "SELECT DISTINCT p.namespace_id FROM deployments t JOIN projects p ON p.id = t.project_id WHERE t.created_at >= $1 AND t.created_at < $2",
    ),
    // Monitoring has no events: a group uses it in a month when a monitored project existed by then.
    (
        "projects_prometheus_active",
        "SELECT DISTINCT namespace_id FROM projects WHERE prometheus_active AND created_at < $2 AND $1 < $2",
    ),
    (
        "service_desk_issues",
        "SELECT DISTINCT p.namespace_id FROM issues t JOIN projects p ON p.id = t.project_id WHERE t.service_desk AND t.created_at >= $1 AND t.created_at < $2",
    ),
];

/// `YYYY-MM` → its first instant and the next month's, in the platform's timestamp format.
fn bounds(month: &str) -> (String, String) {
    let (year, number): (i32, u32) = (
        month[..4].parse().unwrap_or(1970),
        month[5..].parse().unwrap_or(1),
    );
    let (next_year, next) = if number == 12 {
        (year + 1, 1)
    } else {
        (year, number + 1)
    };
    (
        format!("{month}-01 00:00:00"),
        format!("{next_year:04}-{next:02}-01 00:00:00"),
    )
}

/// Computes and stores the snapshot of `month` for every group, in one transaction.
pub async fn snapshot(db: &Db, month: &str, now: &str) -> Result<(), sqlx::Error> {
    let (start, end) = bounds(month);
    let groups: BTreeSet<i64> = on_pool!(db, |p| sqlx::query_scalar(
        "SELECT id FROM namespaces WHERE type = 'Group'"
    )
    .fetch_all(p)
    .await)?
    .into_iter()
    .collect();
    let mut used: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (key, sql) in USED_IN_MONTH {
        let ids: Vec<i64> = on_pool!(db, |p| sqlx::query_scalar(sql)
            .bind(&start)
            .bind(&end)
            .fetch_all(p)
            .await)?;
        for id in ids.into_iter().filter(|id| groups.contains(id)) {
            used.entry(id).or_default().push(key);
        }
    }
    let mut tx = db.begin_write().await?;
    execute_in!(
        tx.conn(),
        sqlx::query("DELETE FROM devops_adoption_snapshots WHERE month = $1").bind(month)
    )?;
    for (id, features) in &used {
        execute_in!(tx.conn(), sqlx::query(
            "INSERT INTO devops_adoption_snapshots (namespace_id, month, features) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(month)
        .bind(features.join(",")))?;
    }
    execute_in!(
        tx.conn(),
        sqlx::query(
            "INSERT INTO devops_adoption_months (month, computed_at) VALUES ($1, $2) \
         ON CONFLICT (month) DO UPDATE SET computed_at = excluded.computed_at",
        )
        .bind(month)
        .bind(now)
    )?;
    tx.commit().await
}

/// The adoption of the finished months before `today`'s, computing the months not yet kept.
pub async fn adoption(db: &Db, today: chrono::NaiveDate) -> Result<Adoption, sqlx::Error> {
    let months = finished_months(today);
    let kept: BTreeSet<String> = on_pool!(db, |p| sqlx::query_scalar(
        "SELECT month FROM devops_adoption_months"
    )
    .fetch_all(p)
    .await)?
    .into_iter()
    .collect();
    let now = service_ping_protocol::time::format_timestamp(chrono::Utc::now());
    for month in months.iter().filter(|m| !kept.contains(*m)) {
        snapshot(db, month, &now).await?;
    }
    let groups: Vec<(i64, String, String)> = on_pool!(db, |p| sqlx::query_as(
        "SELECT id, name, path FROM namespaces WHERE type = 'Group' ORDER BY name, id",
    )
    .fetch_all(p)
    .await)?;
    let rows: Vec<(i64, String, String)> = on_pool!(db, |p| sqlx::query_as(
        "SELECT namespace_id, month, features FROM devops_adoption_snapshots WHERE month >= $1",
    )
    .bind(&months[0])
    .fetch_all(p)
    .await)?;
    let mut by_group: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
    for (id, month, features) in rows {
        by_group.entry(id).or_default().insert(month, features);
    }
    let last = months.last().cloned().unwrap_or_default();
    let groups: Vec<GroupAdoption> = groups
        .into_iter()
        .map(|(namespace_id, name, path)| {
            let snapshots = by_group.remove(&namespace_id).unwrap_or_default();
            let used_in = |month: &str| -> Vec<String> {
                snapshots
                    .get(month)
                    .map(|f| f.split(',').map(str::to_string).collect())
                    .unwrap_or_default()
            };
            GroupAdoption {
                namespace_id,
                name,
                path,
                last_month: used_in(&last),
                over_time: months.iter().map(|m| used_in(m).len() as i64).collect(),
            }
        })
        .collect();
    let feature_totals = FEATURES
        .iter()
        .map(|feature| {
            let users = groups
                .iter()
                .filter(|g| g.last_month.iter().any(|k| k == feature.key))
                .count() as i64;
            (feature.key.to_string(), users)
        })
        .collect();
    Ok(Adoption {
        months,
        groups,
        feature_totals,
    })
}
