//! The fleet page's cohorts: how many instances each reportable group holds and its medians now,
//! and its median DevOps Score week by week (`cohort_history`).

use std::collections::BTreeMap;

use leptos::prelude::*;
use service_ping_protocol::cohort::GroupSummary;
use service_ping_protocol::devops_score::{FEATURES, format_usage};

use crate::db::CohortWeek;

/// How many weeks of history the page shows.
pub const HISTORY_WEEKS: i64 = 12;

/// What the page knows of the cohorts; `min_size` is None when cohorts are off.
pub struct CohortsView {
    pub min_size: Option<usize>,
    pub now: Vec<GroupSummary>,
    pub history: Vec<CohortWeek>,
}

#[component]
pub fn Cohorts(cohorts: CohortsView) -> impl IntoView {
    let Some(min_size) = cohorts.min_size else {
        return view! {
            <section>
                <h2>"Cohorts"</h2>
                <p class="muted">"Cohorts are off (collector.cohorts = false): replies carry GitLab's figures only."</p>
            </section>
        }
        .into_any();
    };
    view! {
        <section>
            <h2>"Cohorts"</h2>
            <p class="muted">{format!(
                "Instances grouped by the active users of their latest ping. A group of fewer than \
                 {min_size} instances is neither shown here nor reported to any instance."
            )}</p>
            <CurrentCohorts groups=cohorts.now/>
        </section>
        <section>
            <h2>"Median DevOps Score by cohort, week by week"</h2>
            <CohortHistory weeks=cohorts.history/>
        </section>
    }
    .into_any()
}

#[component]
fn CurrentCohorts(groups: Vec<GroupSummary>) -> impl IntoView {
    if groups.is_empty() {
        return view! { <p class="muted" data-testid="no-cohorts">"No group is large enough to report yet."</p> }
            .into_any();
    }
    view! {
        <div class="scroll">
            <table data-testid="cohorts">
                <thead><tr>
                    <th class="group">"Group"</th><th class="num">"Instances"</th><th class="num">"Median score"</th>
                    {FEATURES.iter().map(|f| view! { <th class="num">{f.title}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {groups.into_iter().map(|group| view! {
                        <tr data-testid="cohort-row">
                            <td class="group">{group.label()}</td>
                            <td class="num">{group.instances}</td>
                            <td class="num">{format!("{:.1}%", group.overall_median)}</td>
                            {group.medians.iter().map(|v| view! { <td class="num">{format_usage(*v)}</td> }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <p class="muted">"Feature columns are each group's median usage per active user."</p>
    }
    .into_any()
}

/// One row per recorded week, one column per group that was reportable in any of them.
#[component]
fn CohortHistory(weeks: Vec<CohortWeek>) -> impl IntoView {
    if weeks.is_empty() {
        return view! { <p class="muted">"No week has been recorded yet."</p> }.into_any();
    }
    let mut columns: Vec<GroupSummary> = Vec::new();
    for week in &weeks {
        if !columns.iter().any(|c| c.order() == week.group.order()) {
            columns.push(week.group.clone());
        }
    }
    columns.sort_by(|a, b| a.order().cmp(&b.order()));
    let mut rows: BTreeMap<_, Vec<Option<GroupSummary>>> = BTreeMap::new();
    for week in weeks {
        let cells = rows
            .entry(week.week)
            .or_insert_with(|| vec![None; columns.len()]);
        if let Some(i) = columns.iter().position(|c| c.order() == week.group.order()) {
            cells[i] = Some(week.group);
        }
    }
    view! {
        <div class="scroll">
            <table data-testid="cohort-history">
                <thead><tr>
                    <th>"Week of"</th>
                    {columns.iter().map(|c| view! { <th class="num">{c.label()}</th> }).collect_view()}
                </tr></thead>
                <tbody>
                    {rows.into_iter().rev().map(|(week, cells)| view! {
                        <tr>
                            <td><code>{week.to_string()}</code></td>
                            {cells.into_iter().map(|cell| view! {
                                <td class="num">{cell.map_or_else(
                                    || "—".to_string(),
                                    |g| format!("{:.1}% ({} instances)", g.overall_median, g.instances),
                                )}</td>
                            }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <p class="muted">"Each week as of the collector's last refresh in it; a dash where the group was too small to report."</p>
    }
    .into_any()
}
