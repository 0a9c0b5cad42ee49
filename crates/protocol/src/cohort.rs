//! Organizations of a similar size: the collector groups the fleet's instances into *cohorts* by
//! active users (and, when configured, by edition), keeps each cohort's distribution of the ten
//! DevOps Score inputs over the latest ping of each instance ([`Cohorts::build`]), and answers
//! each ping with where the instance stands in its cohort ([`Cohorts::report`]): a
//! [`CohortReport`] under the reply's `cohort` key, beside GitLab's `conv_index` (which stays
//! exactly as GitLab's, so GitLab instances read the reply as before).
//!
//! **Anonymity.** A group with fewer than `min_size` instances is never kept, so nothing of it
//! can be reported; an instance whose cohort is that small is compared with the wider group
//! (its size band over every edition, then the whole fleet), and when even the fleet is that
//! small, with nothing. Every figure reported is an order statistic (a nearest-rank percentile)
//! of at least `min_size` instances, or the instance's own rank among them: never one other
//! instance's value in a way that says whose it is.
//!
//! Percentiles are nearest rank, as the leaders' 90th percentile is (PostgreSQL's
//! `percentile_disc`): the p-th percentile is the smallest value with at least p % of the group
//! at or below it. An instance's percentile is the share of the group at or below its value, so
//! an instance at the median stands at 50 % and one at the 90th percentile at 90 %.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::devops_score::{self, FEATURES, Values};

/// A size band: instances with `min..=max` active users (`max` none: no upper bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub key: &'static str,
    pub label: &'static str,
    pub min: u64,
    pub max: Option<u64>,
}

/// The size bands, smallest first.
pub const SIZES: [Size; 5] = [
    Size {
        key: "users_1_10",
        label: "1–10 active users",
        min: 1,
        max: Some(10),
    },
    Size {
        key: "users_11_100",
        label: "11–100 active users",
        min: 11,
        max: Some(100),
    },
    Size {
        key: "users_101_1000",
        label: "101–1,000 active users",
        min: 101,
        max: Some(1_000),
    },
    Size {
        key: "users_1001_10000",
        label: "1,001–10,000 active users",
        min: 1_001,
        max: Some(10_000),
    },
    Size {
        key: "users_10001_plus",
        label: "More than 10,000 active users",
        min: 10_001,
        max: None,
    },
];

/// The band of an instance with `active_users` (rounded); none without active users, whose
/// usage per user means nothing.
pub fn size_of(active_users: f64) -> Option<usize> {
    if !active_users.is_finite() || active_users < 0.5 {
        return None;
    }
    let users = active_users.round() as u64;
    SIZES
        .iter()
        .position(|size| users >= size.min && size.max.is_none_or(|max| users <= max))
}

/// What the collector knows of one instance: its latest ping's active users, edition and
/// DevOps Score inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub active_users: f64,
    pub edition: Option<String>,
    pub usage: Values,
}

/// The instance's cohort: its size band, and its edition when cohorts are by edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cohort {
    /// [`Size::key`].
    pub size: String,
    /// The band as people read it, with the edition when there is one.
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
}

/// Whom an instance is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// Its cohort.
    Cohort,
    /// Its size band over every edition (cohorts are by edition, and its own is too small).
    Size,
    /// The whole fleet (its cohort is too small, or it has no active users).
    Fleet,
}

/// The group the figures describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub kind: GroupKind,
    pub label: String,
    /// How many instances it holds (at least the minimum, or it would not be reported).
    pub instances: u64,
}

/// Where one value stands in a group, and the group's median, 75th and 90th percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// The share of the group at or below this instance's value, in percent.
    pub percentile: f64,
    pub median: f64,
    pub p75: f64,
    pub p90: f64,
}

/// One feature's standing, by its key in [`FEATURES`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStanding {
    pub key: String,
    #[serde(flatten)]
    pub standing: Standing,
}

/// The figures of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub group: Group,
    /// The overall DevOps Score against the group's overall scores.
    pub overall: Standing,
    /// Per feature, in [`FEATURES`] order: usage per active user against the group's.
    pub features: Vec<FeatureStanding>,
}

/// The reply's `cohort`: the instance's cohort and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortReport {
    /// None without active users.
    pub cohort: Option<Cohort>,
    /// Why the figures are not the cohort's (or absent), as people read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// None when no group is large enough to report.
    pub comparison: Option<Comparison>,
}

impl CohortReport {
    /// The standing of feature `key`, when there is a comparison.
    pub fn feature(&self, key: &str) -> Option<&Standing> {
        let comparison = self.comparison.as_ref()?;
        Some(&comparison.features.iter().find(|f| f.key == key)?.standing)
    }
}

/// The p-th percentile (0 < p ≤ 100) of `sorted`, nearest rank; 0 when empty.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The share of `sorted` at or below `value`, in percent, to one decimal.
pub fn percentile_of(sorted: &[f64], value: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at_or_below = sorted.partition_point(|v| *v <= value);
    (at_or_below as f64 * 1000.0 / sorted.len() as f64).round() / 10.0
}

/// One group's values, each column sorted.
#[derive(Debug, Clone, Default)]
struct Distribution {
    features: [Vec<f64>; 10],
    overall: Vec<f64>,
}

impl Distribution {
    fn push(&mut self, usage: &Values, overall: f64) {
        for (column, value) in self.features.iter_mut().zip(usage) {
            column.push(*value);
        }
        self.overall.push(overall);
    }

    fn sort(&mut self) {
        for column in self.features.iter_mut().chain([&mut self.overall]) {
            column.sort_by(f64::total_cmp);
        }
    }

    fn len(&self) -> usize {
        self.overall.len()
    }

    fn standing(sorted: &[f64], value: f64) -> Standing {
        Standing {
            percentile: percentile_of(sorted, value),
            median: devops_score::round2(nearest_rank(sorted, 50.0)),
            p75: devops_score::round2(nearest_rank(sorted, 75.0)),
            p90: devops_score::round2(nearest_rank(sorted, 90.0)),
        }
    }
}

/// A group's key: the fleet (no size), a size band, or a band and an edition.
type GroupKey = (Option<usize>, Option<String>);

/// The fleet's distributions by cohort, as of one refresh; only groups of at least the minimum
/// size are kept.
#[derive(Debug, Clone, Default)]
pub struct Cohorts {
    by_edition: bool,
    groups: HashMap<GroupKey, Distribution>,
}

/// One reportable group, for the vendor's pages.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSummary {
    /// None for the fleet.
    pub size: Option<usize>,
    pub edition: Option<String>,
    pub instances: usize,
    /// Median overall DevOps Score.
    pub overall_median: f64,
    /// Median usage per feature.
    pub medians: Values,
}

impl GroupSummary {
    /// How groups are listed: the fleet first, then the size bands smallest first, each
    /// followed by its editions by name.
    pub fn order(&self) -> (usize, Option<&str>) {
        (self.size.map_or(0, |s| s + 1), self.edition.as_deref())
    }

    /// The group as people read it.
    pub fn label(&self) -> String {
        group_label(self.size, self.edition.as_deref())
    }
}

impl Cohorts {
    /// The distributions of `members` (values kept within their bounds, overall scores against
    /// `leaders`), by size band, by band and edition when `by_edition`, and over the fleet;
    /// groups of fewer than `min_size` (at least 1) instances are dropped.
    pub fn build(members: &[Member], leaders: &Values, min_size: usize, by_edition: bool) -> Self {
        let mut groups: HashMap<GroupKey, Distribution> = HashMap::new();
        for member in members {
            let usage: Values =
                std::array::from_fn(|i| member.usage[i].clamp(0.0, devops_score::bound(i)));
            let overall = devops_score::compute(&usage, leaders).overall;
            let mut keys = vec![(None, None)];
            if let Some(size) = size_of(member.active_users) {
                keys.push((Some(size), None));
                if by_edition {
                    keys.push((Some(size), Some(edition_of(member))));
                }
            }
            for key in keys {
                groups.entry(key).or_default().push(&usage, overall);
            }
        }
        groups.retain(|_, group| group.len() >= min_size.max(1));
        for group in groups.values_mut() {
            group.sort();
        }
        Self { by_edition, groups }
    }

    /// Where an instance with `active_users`, `edition`, these inputs and this overall score
    /// stands: in its cohort when that is large enough, else in the widest group that is.
    pub fn report(
        &self,
        active_users: f64,
        edition: Option<&str>,
        usage: &Values,
        overall: f64,
    ) -> CohortReport {
        let size = size_of(active_users);
        let edition = self
            .by_edition
            .then(|| edition.unwrap_or(UNKNOWN_EDITION).to_string());
        let cohort = size.map(|size| Cohort {
            size: SIZES[size].key.to_string(),
            label: match &edition {
                Some(edition) => format!("{}, {edition}", SIZES[size].label),
                None => SIZES[size].label.to_string(),
            },
            edition: edition.clone(),
        });
        let mut candidates = Vec::new();
        if let Some(size) = size {
            if let Some(edition) = &edition {
                candidates.push(((Some(size), Some(edition.clone())), GroupKind::Cohort));
                candidates.push(((Some(size), None), GroupKind::Size));
            } else {
                candidates.push(((Some(size), None), GroupKind::Cohort));
            }
        }
        candidates.push(((None, None), GroupKind::Fleet));
        let found = candidates
            .into_iter()
            .find_map(|(key, kind)| Some((self.groups.get(&key)?, key, kind)));
        let fallback = match (&cohort, found.as_ref().map(|(_, _, kind)| *kind)) {
            (_, Some(GroupKind::Cohort)) => None,
            (None, Some(_)) => Some(
                "Without active users this instance is in no size cohort: compared with the whole fleet."
                    .to_string(),
            ),
            (Some(_), Some(GroupKind::Size)) => Some(
                "Too few instances of your size and edition report yet: compared with your size over every edition."
                    .to_string(),
            ),
            (Some(_), Some(GroupKind::Fleet)) => Some(
                "Too few instances of your size report yet: compared with the whole fleet."
                    .to_string(),
            ),
            (_, None) => Some(
                "Too few instances report yet for any comparison to stay anonymous.".to_string(),
            ),
        };
        let comparison = found.map(|(group, (size, edition), kind)| Comparison {
            group: Group {
                kind,
                label: group_label(size, edition.as_deref()),
                instances: group.len() as u64,
            },
            overall: Distribution::standing(&group.overall, overall),
            features: FEATURES
                .iter()
                .enumerate()
                .map(|(i, feature)| FeatureStanding {
                    key: feature.key.to_string(),
                    standing: Distribution::standing(&group.features[i], usage[i]),
                })
                .collect(),
        });
        CohortReport {
            cohort,
            fallback,
            comparison,
        }
    }

    /// Every reportable group, in [`GroupSummary::order`].
    pub fn summaries(&self) -> Vec<GroupSummary> {
        let mut summaries: Vec<GroupSummary> = self
            .groups
            .iter()
            .map(|((size, edition), group)| GroupSummary {
                size: *size,
                edition: edition.clone(),
                instances: group.len(),
                overall_median: devops_score::round2(nearest_rank(&group.overall, 50.0)),
                medians: std::array::from_fn(|i| {
                    devops_score::round2(nearest_rank(&group.features[i], 50.0))
                }),
            })
            .collect();
        summaries.sort_by(|a, b| a.order().cmp(&b.order()));
        summaries
    }
}

/// The edition of a ping that names none.
const UNKNOWN_EDITION: &str = "unknown edition";

fn edition_of(member: &Member) -> String {
    member
        .edition
        .clone()
        .unwrap_or_else(|| UNKNOWN_EDITION.to_string())
}

/// A group as people read it.
pub fn group_label(size: Option<usize>, edition: Option<&str>) -> String {
    match (size, edition) {
        (None, _) => "All instances".to_string(),
        (Some(size), None) => SIZES[size].label.to_string(),
        (Some(size), Some(edition)) => format!("{}, {edition}", SIZES[size].label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(users: f64, edition: &str, value: f64) -> Member {
        Member {
            active_users: users,
            edition: Some(edition.to_string()),
            usage: [value; 10],
        }
    }

    #[test]
    fn sizes_cover_every_positive_count_once() {
        assert_eq!(size_of(0.0), None);
        assert_eq!(size_of(f64::NAN), None);
        let bands: Vec<Option<usize>> = [
            1.0, 10.0, 11.0, 100.0, 101.0, 1000.0, 1001.0, 10_000.0, 10_001.0, 1e9,
        ]
        .into_iter()
        .map(size_of)
        .collect();
        assert_eq!(bands, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4].map(Some).to_vec());
    }

    #[test]
    fn nearest_rank_percentiles_and_ranks() {
        let sorted: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&sorted, 50.0), 5.0);
        assert_eq!(nearest_rank(&sorted, 75.0), 8.0);
        assert_eq!(nearest_rank(&sorted, 90.0), 9.0);
        assert_eq!(percentile_of(&sorted, 5.0), 50.0, "at the median: 50 %");
        assert_eq!(percentile_of(&sorted, 9.0), 90.0);
        assert_eq!(percentile_of(&sorted, 0.5), 0.0);
        assert_eq!(percentile_of(&sorted, 99.0), 100.0);
        assert_eq!(percentile_of(&[1.0, 2.0, 3.0], 1.0), 33.3);
    }

    #[test]
    fn a_cohort_below_the_minimum_is_never_reported_and_falls_back_to_the_fleet() {
        // Ten small instances (values 1..=10) and nine large ones.
        let mut fleet: Vec<Member> = (1..=10)
            .map(|v| member(5.0, "EE Free", f64::from(v)))
            .collect();
        fleet.extend((1..=9).map(|v| member(5000.0, "EE Free", f64::from(v) * 10.0)));
        let cohorts = Cohorts::build(&fleet, &[100.0; 10], 10, false);
        let small = cohorts.report(5.0, Some("EE Free"), &[5.0; 10], 5.0);
        let comparison = small.comparison.as_ref().unwrap();
        assert_eq!(comparison.group.kind, GroupKind::Cohort);
        assert_eq!(comparison.group.instances, 10);
        assert_eq!(small.fallback, None);
        let issues = small.feature("issues").unwrap();
        assert_eq!(
            (issues.percentile, issues.median, issues.p75, issues.p90),
            (50.0, 5.0, 8.0, 9.0)
        );

        let large = cohorts.report(5000.0, Some("EE Free"), &[90.0; 10], 90.0);
        let comparison = large.comparison.as_ref().unwrap();
        assert_eq!(
            comparison.group.kind,
            GroupKind::Fleet,
            "9 instances: never reported"
        );
        assert_eq!(comparison.group.instances, 19);
        assert_eq!(large.cohort.as_ref().unwrap().size, "users_1001_10000");
        assert!(large.fallback.as_deref().unwrap().contains("whole fleet"));
        assert!(
            cohorts.summaries().iter().all(|s| s.size != Some(3)),
            "nor listed for the vendor"
        );

        let tiny = Cohorts::build(&fleet[..9], &[100.0; 10], 10, false);
        let alone = tiny.report(5.0, None, &[1.0; 10], 1.0);
        assert_eq!(alone.comparison, None);
        assert!(tiny.summaries().is_empty());
    }

    #[test]
    fn by_edition_falls_back_to_the_size_band() {
        let mut fleet: Vec<Member> = (1..=10)
            .map(|v| member(50.0, "EE Free", f64::from(v)))
            .collect();
        fleet.extend((1..=3).map(|v| member(50.0, "EEU", f64::from(v))));
        let cohorts = Cohorts::build(&fleet, &[100.0; 10], 10, true);
        let free = cohorts.report(50.0, Some("EE Free"), &[3.0; 10], 3.0);
        assert_eq!(
            free.comparison.as_ref().unwrap().group.kind,
            GroupKind::Cohort
        );
        assert_eq!(
            free.cohort.as_ref().unwrap().label,
            "11–100 active users, EE Free"
        );
        let ultimate = cohorts.report(50.0, Some("EEU"), &[3.0; 10], 3.0);
        let comparison = ultimate.comparison.unwrap();
        assert_eq!(comparison.group.kind, GroupKind::Size);
        assert_eq!(comparison.group.instances, 13);
    }

    #[test]
    fn the_report_round_trips_as_json() {
        let fleet: Vec<Member> = (1..=12)
            .map(|v| member(500.0, "EE Free", f64::from(v)))
            .collect();
        let report =
            Cohorts::build(&fleet, &[10.0; 10], 10, false).report(500.0, None, &[4.0; 10], 40.0);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["comparison"]["features"][0]["key"], "issues");
        assert_eq!(json["comparison"]["features"][0]["percentile"], 33.3);
        assert_eq!(
            serde_json::from_value::<CohortReport>(json).unwrap(),
            report
        );
    }
}
