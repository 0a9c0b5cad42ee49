//! The DevOps Score page (`/admin/dev_ops_reports`).

use leptos::prelude::*;
use leptos_meta::Title;

use service_ping_protocol::devops_score::{FEATURES, Score, format_usage, level};

use super::{DevOpsReport, get_devops_report};
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
    match report.latest {
        None => view! {
            <section class="card empty-state" data-testid="no-score">
                <h2>"No score yet"</h2>
                <p>"The DevOps Score comes back from the collector with each submission. None has come back yet: "
                   "it will after the next weekly send, or "
                   <a href="/admin/application_settings/metrics_and_profiling">"send the payload now"</a>"."</p>
            </section>
        }
        .into_any(),
        Some((created_at, score)) => view! {
            <Overall score=score.clone() created_at/>
            <FeatureTable score/>
            <History history=report.history/>
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
fn Overall(score: Score, created_at: String) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="overall-heading">
            <h2 id="overall-heading">"Your score"</h2>
            <p class="score-overall">
                <span data-testid="overall-score">{format!("{:.1}%", score.overall)}</span>
                " "
                <span class=overall_badge(score.overall) data-testid="overall-level">{level(score.overall)}</span>
            </p>
            <p class="muted">"Based on usage over the last 28 days. Last updated: " {created_at}"."</p>
        </section>
    }
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

#[component]
fn History(history: Vec<(String, f64)>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="history-heading">
            <h2 id="history-heading">"Score over time"</h2>
            <div class="table-scroll">
                <table class="data-table" data-testid="score-history">
                    <thead><tr><th>"Date"</th><th>"Score"</th></tr></thead>
                    <tbody>
                        {history.into_iter().rev().map(|(at, overall)| view! {
                            <tr>
                                <td><code>{at}</code></td>
                                <td class="score-cell"><ScoreBar percentage=overall/></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}
