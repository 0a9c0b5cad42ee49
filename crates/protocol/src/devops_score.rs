//! DevOps Score (formerly ConvDev Index): how much of the platform an instance uses, per active
//! user, compared with the fleet's leaders. The collector computes it ([`compute`]) and answers
//! GitLab's 30 numbers in `conv_index` ([`conv_index`]); the instance reads them back
//! ([`from_conv_index`]) and shows them.

use serde::{Deserialize, Serialize};

/// One of the ten features, in GitLab's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// The key in `conv_index` (`instance_<key>`, `leader_<key>`, `percentage_<key>`).
    pub key: &'static str,
    pub title: &'static str,
    pub description: &'static str,
}

pub const FEATURES: [Feature; 10] = [
    Feature {
        key: "issues",
        title: "Issues",
        description: "Issues created per active user",
    },
    Feature {
        key: "notes",
        title: "Comments",
        description: "Comments created per active user",
    },
    Feature {
        key: "milestones",
        title: "Milestones",
        description: "Milestones created per active user",
    },
    Feature {
        key: "boards",
        title: "Boards",
        description: "Boards created per active user",
    },
    Feature {
        key: "merge_requests",
        title: "Merge requests",
        description: "Merge requests created per active user",
    },
    Feature {
        key: "ci_pipelines",
        title: "Pipelines",
        description: "CI/CD pipelines run per active user",
    },
    Feature {
        key: "environments",
        title: "Environments",
        description: "Environments created per active user",
    },
    Feature {
        key: "deployments",
        title: "Deployments",
        description: "Deployments per active user",
    },
    Feature {
        key: "projects_prometheus_active",
        title: "Monitoring",
        description: "Fraction of projects with Prometheus monitoring",
    },
    Feature {
        key: "service_desk_issues",
        title: "Service Desk",
        description: "Service Desk issues created per active user",
    },
];

/// A score's level, with GitLab's thresholds.
pub fn level(percentage: f64) -> &'static str {
    if percentage < 33.33 {
        "Low"
    } else if percentage < 66.66 {
        "Moderate"
    } else {
        "High"
    }
}

/// The ten values of one instance (or the ten leaders), in [`FEATURES`] order.
pub type Values = [f64; 10];

/// One instance's score against the leaders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub instance: Values,
    pub leader: Values,
    pub percentage: Values,
    /// The mean of the ten percentages.
    pub overall: f64,
}

/// percentage = min(instance / leader, 1) × 100, rounded to two decimals; a leader of 0 (no one
/// uses the feature) gives 0. The overall score is the mean.
pub fn compute(instance: &Values, leader: &Values) -> Score {
    let mut percentage = [0.0; 10];
    for (i, slot) in percentage.iter_mut().enumerate() {
        *slot = if leader[i] > 0.0 {
            round2((instance[i] / leader[i]).min(1.0) * 100.0)
        } else {
            0.0
        };
    }
    let overall = round2(percentage.iter().sum::<f64>() / percentage.len() as f64);
    Score {
        instance: *instance,
        leader: *leader,
        percentage,
        overall,
    }
}

/// The largest usage per active user a ping can bring into the fleet (a month's issues, notes,
/// pipelines... per user; real instances are below 100). A ping claiming more counts as this
/// much, so no counter, however large, can lift a leader past it.
pub const MAX_USAGE_PER_USER: f64 = 10_000.0;

/// The position of monitoring in [`FEATURES`]: a fraction of projects, so at most 1.
const MONITORING: usize = 8;

/// The largest value feature `i` counts: [`MAX_USAGE_PER_USER`], or 1 for monitoring (a
/// fraction of projects).
pub fn bound(i: usize) -> f64 {
    if i == MONITORING {
        1.0
    } else {
        MAX_USAGE_PER_USER
    }
}

/// Feature `i`'s `value` within its bound: `0..=bound(i)` (not a number counts as 0).
fn within_bound(i: usize, value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, bound(i))
    }
}

pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The leading value of each feature over the fleet: the 90th percentile (nearest rank) of the
/// latest values of each instance, which a single outlier cannot set; and however many outliers
/// there are, no leader exceeds [`MAX_USAGE_PER_USER`] (monitoring, a fraction, 1). While the
/// fleet has fewer than `min_fleet` instances, or where the percentile is 0, the configured
/// baseline is used.
pub fn leaders(fleet: &[Values], baseline: &Values, min_fleet: usize) -> Values {
    if fleet.len() < min_fleet.max(1) {
        return *baseline;
    }
    let mut p90 = [0.0; 10];
    let mut column = Vec::with_capacity(fleet.len());
    for (i, percentile) in p90.iter_mut().enumerate() {
        column.clear();
        column.extend(fleet.iter().map(|values| within_bound(i, values[i])));
        column.sort_by(f64::total_cmp);
        // Nearest rank: the smallest value with at least 90 % of the fleet at or below it (what
        // PostgreSQL's `percentile_disc(0.9)` answers).
        let rank = (0.9 * column.len() as f64).ceil() as usize;
        *percentile = column[rank.clamp(1, column.len()) - 1];
    }
    leaders_from_p90(fleet.len(), &p90, baseline, min_fleet)
}

/// The leaders of a fleet of `instances` whose 90th percentiles (nearest rank, values within
/// their bounds) are `p90`, computed elsewhere (in SQL): the rules of [`leaders`].
pub fn leaders_from_p90(
    instances: usize,
    p90: &Values,
    baseline: &Values,
    min_fleet: usize,
) -> Values {
    if instances < min_fleet.max(1) {
        return *baseline;
    }
    let mut leaders = *baseline;
    for (i, leader) in leaders.iter_mut().enumerate() {
        let p90 = within_bound(i, p90[i]);
        if p90 > 0.0 {
            *leader = round2(p90);
        }
    }
    leaders
}

/// The features' usage in one ping: `counts_monthly.<feature>` per active user
/// (`counts_monthly.active_users`, else `active_user_count`), and for monitoring the fraction of
/// projects (`counts.projects_prometheus_active / counts.projects`). A missing or negative
/// (failed) value counts as 0; so does everything when there are no active users. Each value is
/// kept within its bound ([`MAX_USAGE_PER_USER`], 1 for monitoring).
pub fn usage_from_ping(ping: &PingUsage) -> Values {
    let users = active_users(ping);
    let per_user = |v: Option<f64>| {
        if users > 0.0 {
            round2(positive(v) / users)
        } else {
            0.0
        }
    };
    let m = &ping.counts_monthly;
    let projects = positive(ping.counts.projects);
    let monitored = if projects > 0.0 {
        round2(positive(ping.counts.projects_prometheus_active) / projects)
    } else {
        0.0
    };
    let usage = [
        per_user(m.issues),
        per_user(m.notes),
        per_user(m.milestones),
        per_user(m.boards),
        per_user(m.merge_requests),
        per_user(m.ci_pipelines),
        per_user(m.environments),
        per_user(m.deployments),
        monitored,
        per_user(m.service_desk_issues),
    ];
    std::array::from_fn(|i| within_bound(i, usage[i]))
}

/// A missing or negative (failed) value counts as 0.
fn positive(value: Option<f64>) -> f64 {
    value.filter(|v| *v > 0.0).unwrap_or(0.0)
}

/// The active users a ping's usage is divided by: `counts_monthly.active_users`, else
/// `active_user_count`; 0 when missing or failed.
pub fn active_users(ping: &PingUsage) -> f64 {
    positive(ping.counts_monthly.active_users.or(ping.active_user_count))
}

/// The parts of a ping the score reads; everything else is skipped when parsing.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct PingUsage {
    #[serde(default)]
    pub active_user_count: Option<f64>,
    #[serde(default)]
    pub counts_monthly: MonthlyCounts,
    #[serde(default)]
    pub counts: AllTimeCounts,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct MonthlyCounts {
    pub active_users: Option<f64>,
    pub issues: Option<f64>,
    pub notes: Option<f64>,
    pub milestones: Option<f64>,
    pub boards: Option<f64>,
    pub merge_requests: Option<f64>,
    pub ci_pipelines: Option<f64>,
    pub environments: Option<f64>,
    pub deployments: Option<f64>,
    pub service_desk_issues: Option<f64>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct AllTimeCounts {
    pub projects: Option<f64>,
    pub projects_prometheus_active: Option<f64>,
}

impl MonthlyCounts {
    /// The field named `key` in `counts_monthly`, if the score reads it.
    pub fn slot(&mut self, key: &str) -> Option<&mut Option<f64>> {
        Some(match key {
            "active_users" => &mut self.active_users,
            "issues" => &mut self.issues,
            "notes" => &mut self.notes,
            "milestones" => &mut self.milestones,
            "boards" => &mut self.boards,
            "merge_requests" => &mut self.merge_requests,
            "ci_pipelines" => &mut self.ci_pipelines,
            "environments" => &mut self.environments,
            "deployments" => &mut self.deployments,
            "service_desk_issues" => &mut self.service_desk_issues,
            _ => return None,
        })
    }
}

/// `conv_index` as GitLab's collector answers: the 30 numbers and `usage_data_id`.
pub fn conv_index(score: &Score, usage_data_id: i64) -> serde_json::Value {
    let mut index = serde_json::Map::new();
    for (i, feature) in FEATURES.iter().enumerate() {
        index.insert(
            format!("instance_{}", feature.key),
            score.instance[i].into(),
        );
        index.insert(format!("leader_{}", feature.key), score.leader[i].into());
        index.insert(
            format!("percentage_{}", feature.key),
            score.percentage[i].into(),
        );
    }
    index.insert("usage_data_id".into(), usage_data_id.into());
    serde_json::Value::Object(index)
}

/// Reads the 30 numbers back from a `conv_index`; `None` when any is missing (GitLab's collector
/// answers an instance's first ping with `usage_data_id` alone).
pub fn from_conv_index(index: &serde_json::Value) -> Option<Score> {
    let mut score = Score {
        instance: [0.0; 10],
        leader: [0.0; 10],
        percentage: [0.0; 10],
        overall: 0.0,
    };
    for (i, feature) in FEATURES.iter().enumerate() {
        let number = |prefix: &str| index.get(format!("{prefix}_{}", feature.key))?.as_f64();
        score.instance[i] = number("instance")?;
        score.leader[i] = number("leader")?;
        score.percentage[i] = number("percentage")?;
    }
    score.overall = round2(score.percentage.iter().sum::<f64>() / 10.0);
    Some(score)
}

/// GitLab's presentation: two decimals below 1, else one.
pub fn format_usage(value: f64) -> String {
    if value < 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_capped_at_100_and_the_overall_is_their_mean() {
        let leader = [10.2, 25.3, 16.2, 5.2, 5.2, 25.1, 3.3, 41.3, 0.31, 15.8];
        let instance = [3.2, 23.2, 5.5, 3.2, 3.2, 21.3, 2.2, 15.2, 0.30, 30.0];
        let score = compute(&instance, &leader);
        // GitLab's own fixture: 3.2 / 10.2 → 31.37.
        assert_eq!(score.percentage[0], 31.37);
        assert_eq!(score.percentage[9], 100.0, "above the leader is capped");
        assert_eq!(
            score.percentage,
            [
                31.37, 91.7, 33.95, 61.54, 61.54, 84.86, 66.67, 36.8, 96.77, 100.0
            ]
        );
        assert_eq!(score.overall, 66.52);
        assert_eq!(level(score.overall), "Moderate");
        assert_eq!(
            (level(33.32), level(33.33), level(66.66)),
            ("Low", "Moderate", "High")
        );
    }

    #[test]
    fn huge_counters_are_capped_and_cannot_lift_a_leader_past_the_bound() {
        let ping: PingUsage = serde_json::from_str(
            r#"{"counts_monthly": {"active_users": 1, "issues": 1e300},
                "counts": {"projects": 1, "projects_prometheus_active": 1e300}}"#,
        )
        .unwrap();
        let usage = usage_from_ping(&ping);
        assert_eq!(FEATURES[MONITORING].key, "projects_prometheus_active");
        assert_eq!(usage[0], MAX_USAGE_PER_USER);
        assert_eq!(usage[8], 1.0);
        // A fleet of nothing but outliers (values stored before the cap, or forged) still
        // yields leaders within the bound.
        let fleet = vec![[f64::MAX; 10]; 20];
        let leaders = leaders(&fleet, &[1.0; 10], 10);
        assert_eq!(leaders[0], MAX_USAGE_PER_USER);
        assert_eq!(leaders[8], 1.0);
    }

    #[test]
    fn no_active_users_means_zero_usage_and_a_zero_leader_scores_zero() {
        let ping: PingUsage = serde_json::from_str(
            r#"{"active_user_count": 0, "counts_monthly": {"issues": 40, "active_users": 0}, "counts": {"projects": 0}}"#,
        )
        .unwrap();
        assert_eq!(usage_from_ping(&ping), [0.0; 10]);
        let score = compute(&[1.0; 10], &[0.0; 10]);
        assert_eq!(score.overall, 0.0);
    }

    #[test]
    fn usage_is_per_active_user_and_monitoring_a_fraction_of_projects() {
        let ping: PingUsage = serde_json::from_str(
            r#"{"active_user_count": 999, "counts_monthly": {"active_users": 20, "issues": 50, "notes": -1,
                "ci_pipelines": 400, "service_desk_issues": 3}, "counts": {"projects": 40, "projects_prometheus_active": 10},
                "ignored": {"deep": [1, 2]}}"#,
        )
        .unwrap();
        let usage = usage_from_ping(&ping);
        assert_eq!(usage[0], 2.5);
        assert_eq!(usage[1], 0.0, "a failed metric (-1) counts as no usage");
        assert_eq!(usage[5], 20.0);
        assert_eq!(usage[8], 0.25);
        assert_eq!(usage[9], 0.15);
    }

    #[test]
    fn leaders_are_the_90th_percentile_or_the_baseline_for_a_small_fleet() {
        let baseline = [9.0; 10];
        let fleet: Vec<Values> = (1..=20).map(|i| [f64::from(i); 10]).collect();
        // 20 values 1..=20: nearest rank ceil(0.9 × 20) = 18 → 18; monitoring, a fraction of
        // projects, is capped at 1.
        let mut expected = [18.0; 10];
        expected[8] = 1.0;
        assert_eq!(leaders(&fleet, &baseline, 10), expected);
        assert_eq!(leaders(&fleet[..5], &baseline, 10), baseline);
        let mut idle = fleet.clone();
        for values in &mut idle {
            values[3] = 0.0;
        }
        assert_eq!(
            leaders(&idle, &baseline, 10)[3],
            9.0,
            "nobody uses it: baseline"
        );
    }

    #[test]
    fn conv_index_round_trips_the_30_numbers() {
        let score = compute(&[1.0; 10], &[2.0; 10]);
        let index = conv_index(&score, 7);
        assert_eq!(index.as_object().unwrap().len(), 31);
        assert_eq!(index["percentage_boards"], 50.0);
        assert_eq!(from_conv_index(&index).unwrap(), score);
        assert!(from_conv_index(&serde_json::json!({"usage_data_id": 7})).is_none());
    }
}
