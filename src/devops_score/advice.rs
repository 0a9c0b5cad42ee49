//! Advice for the weakest features: the vendor's recommendations (`advice/devops_score.yml`,
//! embedded at build time), chosen by where this instance stands among organizations of its
//! size, and completed with what that group's leaders reach.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use service_ping_protocol::cohort::{CohortReport, Group, GroupKind};
use service_ping_protocol::devops_score::{FEATURES, Score, format_usage, level};

use super::Advice;

/// How many features get advice.
pub const WEAKEST: usize = 3;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdviceFile {
    features: BTreeMap<String, FeatureAdvice>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureAdvice {
    purpose: String,
    unit: String,
    start: String,
    leaders: String,
    levels: Levels,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Levels {
    low: String,
    moderate: String,
    high: String,
}

const SOURCE: &str = include_str!("../../advice/devops_score.yml");

/// The recommendations, checked by `every_feature_has_advice_at_every_level` below: a release
/// whose file lacks one does not pass its tests.
static ADVICE: LazyLock<AdviceFile> = LazyLock::new(|| {
    serde_yaml_ng::from_str(SOURCE).expect("advice/devops_score.yml is checked by the unit tests")
});

/// How much feature `i` is used against the group: its percentile in the comparison when there
/// is one, else its score percentage against the fleet's leaders.
fn standing(i: usize, score: &Score, cohort: Option<&CohortReport>) -> f64 {
    cohort
        .and_then(|c| c.feature(FEATURES[i].key))
        .map_or(score.percentage[i], |s| s.percentile)
}

/// Advice for the [`WEAKEST`] features of `score` (lowest standing first; ties in the score's
/// order of features).
pub fn for_weakest(score: &Score, cohort: Option<&CohortReport>) -> Vec<Advice> {
    let mut order: Vec<usize> = (0..FEATURES.len()).collect();
    order.sort_by(|a, b| standing(*a, score, cohort).total_cmp(&standing(*b, score, cohort)));
    order
        .into_iter()
        .take(WEAKEST)
        .map(|i| advice_for(i, score, cohort))
        .collect()
}

fn advice_for(i: usize, score: &Score, cohort: Option<&CohortReport>) -> Advice {
    let feature = &FEATURES[i];
    let text = &ADVICE.features[feature.key];
    let standing = standing(i, score, cohort);
    let level = level(standing);
    let first_step = match level {
        "Low" => &text.levels.low,
        "Moderate" => &text.levels.moderate,
        _ => &text.levels.high,
    };
    let comparison = cohort.and_then(|c| c.comparison.as_ref());
    let reached = match (comparison, cohort.and_then(|c| c.feature(feature.key))) {
        (Some(comparison), Some(figures)) => format!(
            "In {} the 90th percentile reaches {} {}, the median {}; this instance: {}.",
            group_phrase(&comparison.group),
            format_usage(figures.p90),
            text.unit,
            format_usage(figures.median),
            format_usage(score.instance[i]),
        ),
        _ => format!(
            "Across the fleet the leaders reach {} {}; this instance: {}.",
            format_usage(score.leader[i]),
            text.unit,
            format_usage(score.instance[i]),
        ),
    };
    Advice {
        key: feature.key.to_string(),
        title: feature.title.to_string(),
        level: level.to_string(),
        standing,
        purpose: text.purpose.clone(),
        first_step: first_step.clone(),
        start: text.start.clone(),
        leaders: format!("{} {reached}", text.leaders),
    }
}

/// "organizations with 101–1,000 active users", or "the whole fleet".
fn group_phrase(group: &Group) -> String {
    if group.kind == GroupKind::Fleet {
        return "the whole fleet".to_string();
    }
    let mut label = group.label.chars();
    let first = label.next().map(|c| c.to_lowercase().to_string());
    format!(
        "organizations with {}{}",
        first.unwrap_or_default(),
        label.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_ping_protocol::cohort::{Cohorts, Member};
    use service_ping_protocol::devops_score::compute;

    #[test]
    fn every_feature_has_advice_at_every_level() {
        let file: AdviceFile = serde_yaml_ng::from_str(SOURCE).unwrap();
        let keys: Vec<&str> = file.features.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = FEATURES.iter().map(|f| f.key).collect();
        expected.sort_unstable();
        assert_eq!(
            keys, expected,
            "one entry per feature of the score, no other"
        );
        for (key, advice) in &file.features {
            for (field, text) in [
                ("purpose", &advice.purpose),
                ("unit", &advice.unit),
                ("start", &advice.start),
                ("leaders", &advice.leaders),
                ("levels.low", &advice.levels.low),
                ("levels.moderate", &advice.levels.moderate),
                ("levels.high", &advice.levels.high),
            ] {
                assert!(
                    text.trim().len() >= 10,
                    "{key}.{field} is too short to help"
                );
            }
        }
    }

    fn cohort_report(usage: &[f64; 10]) -> (Score, CohortReport) {
        let fleet: Vec<Member> = (1..=20)
            .map(|v| Member {
                active_users: 50.0,
                edition: None,
                usage: [f64::from(v) / 20.0; 10],
            })
            .collect();
        let leaders = [1.0; 10];
        let score = compute(usage, &leaders);
        let report =
            Cohorts::build(&fleet, &leaders, 10, false).report(50.0, None, usage, score.overall);
        (score, report)
    }

    #[test]
    fn advice_is_for_the_three_weakest_features_and_follows_usage() {
        let mut usage = [0.9; 10];
        usage[3] = 0.1; // boards
        usage[6] = 0.2; // environments
        usage[9] = 0.05; // service desk
        let (score, report) = cohort_report(&usage);
        let advice = for_weakest(&score, Some(&report));
        let keys: Vec<&str> = advice.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["service_desk_issues", "boards", "environments"]);
        assert_eq!(advice[0].level, "Low");
        assert_eq!(
            advice[0].standing, 5.0,
            "one of the 20 at or below 0.05: this instance's own value"
        );
        assert!(advice[0].first_step.contains("Service Desk"));
        assert!(
            advice[0]
                .leaders
                .contains("organizations with 11–100 active users"),
            "{}",
            advice[0].leaders
        );

        // Boards taken up, merge requests dropped: the advice follows.
        usage[3] = 0.9;
        usage[4] = 0.0;
        let (score, report) = cohort_report(&usage);
        let keys: Vec<String> = for_weakest(&score, Some(&report))
            .into_iter()
            .map(|a| a.key)
            .collect();
        assert_eq!(
            keys,
            ["merge_requests", "service_desk_issues", "environments"]
        );
    }

    #[test]
    fn without_a_comparison_the_advice_reads_the_score_against_the_fleet() {
        let mut usage = [1.0; 10];
        usage[0] = 0.0;
        let score = compute(&usage, &[2.0; 10]);
        let advice = for_weakest(&score, None);
        assert_eq!(advice[0].key, "issues");
        assert!(
            advice[0]
                .leaders
                .contains("Across the fleet the leaders reach 2.0")
        );
    }
}
