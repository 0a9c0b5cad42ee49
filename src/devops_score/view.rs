//! The DevOps Score page (`/admin/dev_ops_reports`).

use leptos::prelude::*;
use leptos_meta::Title;

use service_ping_protocol::devops_score::{FEATURES, Score, format_usage, level};

use super::{Advice, DevOpsReport, ScoreReport, get_devops_report};
use crate::components::chart::{Line, LineChart, Unit};
use crate::components::time::Time;
use crate::components::{ErrorNotice, PageHeader, loaded};
use crate::settings::{Setting, update_setting};

#[component]
pub fn DevOpsScorePage() -> impl IntoView {
    let (reloads, set_reloads) = signal(0u32);
    let report = Resource::new(move || reloads.get(), |_| get_devops_report());
    let reload = Callback::new(move |()| set_reloads.update(|n| *n += 1));
    view! {
        <Title text="DevOps Score · Admin · Service Ping"/>
        <PageHeader
            title="DevOps Score"
            subtitle="How much of the platform this instance uses per active user, compared with the leading instances of the fleet."
        />
        {loaded(report, move |report| view! { <Report report on_enabled=reload/> })}
    }
}

#[component]
fn Report(report: DevOpsReport, on_enabled: Callback<()>) -> impl IntoView {
    if !report.service_ping.enabled {
        return view! { <ServicePingOff locked_reason=report.service_ping.locked_reason on_enabled/> }
            .into_any();
    }
    let DevOpsReport {
        latest,
        previous,
        history,
        advice,
        ..
    } = report;
    match latest {
        None => view! {
            <section class="card empty-state" data-testid="no-score">
                <h2>"No score yet"</h2>
                <p>"The DevOps Score comes back from the collector with each submission. None has come back yet: "
                   "it will after the next weekly send, or "
                   <a href="/admin/application_settings/metrics_and_profiling">"send the payload now"</a>"."</p>
            </section>
        }
        .into_any(),
        Some(latest) => view! {
            <Overall latest=latest.clone() previous=previous.clone()/>
            <Peers latest=latest.clone() previous/>
            <AdviceList advice/>
            <FeatureTable score=latest.score/>
            <History history/>
        }
        .into_any(),
    }
}

#[component]
fn ServicePingOff(locked_reason: Option<String>, on_enabled: Callback<()>) -> impl IntoView {
    let enable = Action::new(|_: &()| update_setting(Setting::ServicePing, true));
    Effect::new(move || {
        if let Some(Ok(_)) = enable.value().get() {
            on_enabled.run(());
        }
    });
    let locked = locked_reason.is_some();
    view! {
        <section class="card empty-state" data-testid="service-ping-off">
            <h2>"Service Ping is off"</h2>
            <p>"The DevOps Score is computed by the collector from the usage data this instance sends. Turn Service Ping on to get one."</p>
            {locked_reason.map(|reason| view! { <p class="setting-lock">"Locked by the operator: "{reason}</p> })}
            <button type="button" class="button button-primary" data-testid="turn-on-service-ping"
                disabled=move || locked || enable.pending().get()
                on:click=move |_| { enable.dispatch(()); }>
                "Turn on Service Ping"
            </button>
            {move || match enable.value().get() {
                Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
                _ => None,
            }}
        </section>
    }
}

fn overall_badge(percentage: f64) -> &'static str {
    match level(percentage) {
        "Low" => "badge badge-danger",
        "Moderate" => "badge badge-warning",
        _ => "badge badge-success",
    }
}

fn feature_badge(percentage: f64) -> &'static str {
    match level(percentage) {
        "Low" => "badge badge-muted",
        "Moderate" => "badge badge-warning",
        _ => "badge badge-success",
    }
}

#[component]
fn Overall(latest: ScoreReport, previous: Option<ScoreReport>) -> impl IntoView {
    let score = latest.score;
    let change = previous.map(|previous| {
        let points = score.overall - previous.score.overall;
        view! {
            <p class="muted" data-testid="overall-change">
                {signed(points, " points")}" since the report of "<Time at=previous.created_at/>"."
            </p>
        }
    });
    view! {
        <section class="card" aria-labelledby="overall-heading">
            <h2 id="overall-heading">"Your score"</h2>
            <p class="score-overall">
                <span data-testid="overall-score">{format!("{:.1}%", score.overall)}</span>
                " "
                <span class=overall_badge(score.overall) data-testid="overall-level">{level(score.overall)}</span>
            </p>
            <p class="muted">"Based on usage over the last 28 days. Last updated: "<Time at=latest.created_at/>"."</p>
            {change}
        </section>
    }
}

/// `+3.2 points`, `−1.0 points`, `no change`.
fn signed(value: f64, unit: &str) -> String {
    if value.abs() < 0.05 {
        "No change".to_string()
    } else if value > 0.0 {
        format!("▲ +{value:.1}{unit}")
    } else {
        format!("▼ −{:.1}{unit}", value.abs())
    }
}

/// "63rd percentile".
fn ordinal_percentile(percentile: f64) -> String {
    let n = percentile.round() as i64;
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix} percentile")
}

/// "Organizations of your size": where this instance stands in its cohort, per feature and
/// overall, against the cohort's median and 90th percentile.
#[component]
fn Peers(latest: ScoreReport, previous: Option<ScoreReport>) -> impl IntoView {
    let heading = view! { <h2 id="peers-heading">"Organizations of your size"</h2> };
    let Some(report) = latest.cohort else {
        return view! {
            <section class="card" aria-labelledby="peers-heading" data-testid="peers">
                {heading}
                <p class="muted" data-testid="peers-missing">
                    "The collector sent no comparison with similar organizations with this score (GitLab's collector does not)."
                </p>
            </section>
        }
        .into_any();
    };
    let cohort_line = report.cohort.as_ref().map(|cohort| {
        view! {
            <p>"Your cohort: "<strong data-testid="cohort-label">{cohort.label.clone()}</strong></p>
        }
    });
    let fallback = report.fallback.clone().map(
        |text| view! { <p class="banner banner-info" data-testid="cohort-fallback">{text}</p> },
    );
    let Some(comparison) = report.comparison else {
        return view! {
            <section class="card" aria-labelledby="peers-heading" data-testid="peers">
                {heading}{cohort_line}{fallback}
            </section>
        }
        .into_any();
    };
    // The previous figures count as "before" only when they describe the same group.
    let before = previous
        .and_then(|p| p.cohort)
        .and_then(|c| c.comparison)
        .filter(|c| c.group.label == comparison.group.label);
    let overall_change = before.as_ref().map(|b| {
        signed(
            comparison.overall.percentile - b.overall.percentile,
            " percentile points",
        )
    });
    let group = comparison.group.clone();
    view! {
        <section class="card" aria-labelledby="peers-heading" data-testid="peers">
            {heading}
            {cohort_line}
            {fallback}
            <p>
                "Compared with "<strong data-testid="peer-group">{group.label}</strong>" ("
                <span data-testid="peer-count">{group.instances}</span>" instances, anonymized). "
                "Your overall score stands at the "
                <strong data-testid="overall-percentile">{ordinal_percentile(comparison.overall.percentile)}</strong>
                " (their median: "{format!("{:.1}%", comparison.overall.median)}", 90th percentile: "
                {format!("{:.1}%", comparison.overall.p90)}")."
                {overall_change.map(|change| view! { " "<span class="muted">{change}</span> })}
            </p>
            <div class="table-scroll">
                <table class="data-table" data-testid="peer-table">
                    <thead><tr>
                        <th>"Feature"</th><th class="numeric">"You"</th><th class="numeric">"Median"</th>
                        <th class="numeric">"90th percentile"</th><th>"Where you stand"</th><th>"Change"</th>
                    </tr></thead>
                    <tbody>
                        {FEATURES.iter().enumerate().filter_map(|(i, feature)| {
                            let figures = comparison.features.iter().find(|f| f.key == feature.key)?.standing;
                            let change = before
                                .as_ref()
                                .and_then(|b| b.features.iter().find(|f| f.key == feature.key))
                                .map_or_else(|| "—".to_string(), |b| signed(figures.percentile - b.standing.percentile, " pts"));
                            Some(view! {
                                <tr data-testid="peer-row">
                                    <td><strong>{feature.title}</strong></td>
                                    <td class="numeric">{format_usage(latest.score.instance[i])}</td>
                                    <td class="numeric">{format_usage(figures.median)}</td>
                                    <td class="numeric">{format_usage(figures.p90)}</td>
                                    <td class="score-cell"><PercentileBar percentile=figures.percentile/></td>
                                    <td class="muted">{change}</td>
                                </tr>
                            })
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            <p class="muted">"The bar is your percentile: the share of these organizations using the feature as much as you or less. "
               "The marks are their median (50th) and 90th percentile. Figures come only from groups of enough instances that none can be singled out."</p>
        </section>
    }
    .into_any()
}

/// A percentile as a bar from 0 to 100 with marks at the median and the 90th percentile, drawn
/// as SVG attributes (the page policy allows no inline style).
#[component]
fn PercentileBar(percentile: f64) -> impl IntoView {
    let label = ordinal_percentile(percentile);
    let fill = format!("{:.1}", percentile.clamp(0.0, 100.0));
    let data_percentile = fill.clone();
    let class = match level(percentile) {
        "Low" => "percentile-fill level-low",
        "Moderate" => "percentile-fill level-moderate",
        _ => "percentile-fill level-high",
    };
    view! {
        <svg class="percentile-bar" viewBox="0 0 100 12" preserveAspectRatio="none" role="img"
             aria-label=label.clone() data-testid="percentile-bar" data-percentile=data_percentile>
            <rect class="percentile-track" x="0" y="2" width="100" height="8" rx="2"></rect>
            <rect class=class x="0" y="2" width=fill height="8" rx="2"></rect>
            <line class="percentile-mark" x1="50" x2="50" y1="0" y2="12"></line>
            <line class="percentile-mark" x1="90" x2="90" y1="0" y2="12"></line>
        </svg>
        " "<span>{label}</span>
    }
}

/// Recommendations for the weakest features.
#[component]
fn AdviceList(advice: Vec<Advice>) -> impl IntoView {
    if advice.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="card" aria-labelledby="advice-heading" data-testid="advice">
            <h2 id="advice-heading">"Where to improve"</h2>
            <p class="muted">"The features this instance uses least compared with organizations of its size, with a first step for each."</p>
            <div class="advice-list">
                {advice.into_iter().map(|advice| view! {
                    <article class="advice" data-testid="advice-item" data-feature=advice.key.clone()>
                        <h3>{advice.title.clone()}" "
                            <span class=feature_badge(advice.standing)>{advice.level.clone()}</span>
                        </h3>
                        <p>{advice.purpose}</p>
                        <p><strong>"First step: "</strong>{advice.first_step}</p>
                        <p><strong>"Where it starts: "</strong>{advice.start}</p>
                        <p><strong>"What leaders do: "</strong>{advice.leaders}</p>
                    </article>
                }).collect_view()}
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn FeatureTable(score: Score) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="features-heading">
            <h2 id="features-heading">"Features"</h2>
            <div class="table-scroll">
                <table class="data-table" data-testid="feature-table">
                    <thead><tr>
                        <th>"Feature"</th><th class="numeric">"Your usage"</th><th class="numeric">"Leader usage"</th><th>"Score"</th>
                    </tr></thead>
                    <tbody>
                        {FEATURES.iter().enumerate().map(|(i, feature)| {
                            let percentage = score.percentage[i];
                            view! {
                                <tr data-testid="feature-row">
                                    <td><strong>{feature.title}</strong><br/><span class="muted">{feature.description}</span></td>
                                    <td class="numeric">{format_usage(score.instance[i])}</td>
                                    <td class="numeric">{format_usage(score.leader[i])}</td>
                                    <td class="score-cell">
                                        <ScoreBar percentage/>" "
                                        <span class=feature_badge(percentage)>{level(percentage)}</span>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// A percentage as a bar coloured by its level, and as a number.
#[component]
fn ScoreBar(percentage: f64) -> impl IntoView {
    view! {
        <meter min="0" max="100" low="33.33" high="66.66" optimum="100" value=percentage></meter>
        " "<span>{format!("{percentage:.1}%")}</span>
    }
}

/// The overall score of every report, as a line over the reports' dates.
#[component]
fn History(history: Vec<(String, f64)>) -> impl IntoView {
    // "2026-12-04 01:23": a report a minute, at most, and the minute tells same-day ones apart.
    let categories = history
        .iter()
        .map(|(at, _)| at.get(..16).unwrap_or(at).replace('T', " "))
        .collect();
    let line = Line {
        label: "Overall score".to_string(),
        values: history
            .iter()
            .map(|(_, overall)| Some((overall * 10.0).round() as i64))
            .collect(),
    };
    view! {
        <section class="card" data-testid="score-history">
            <LineChart
                title="Score over time".to_string()
                categories
                lines=vec![line]
                unit=Unit::TenthsOfPercent
                category_label="Date"
                test_id="score-chart".to_string()
            />
        </section>
    }
}
