//! The usage trends page: the latest totals, then monthly line charts over a chosen range.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{CHARTS, DEFAULT_RANGE, Identifier, RANGES, UsageTrends, get_usage_trends};
use crate::components::chart::{Line, LineChart, format_count};
use crate::components::{PageHeader, loaded};

/// Where chart `index`'s monthly values download as CSV for a range of `months`.
pub fn csv_path(index: usize, months: u32) -> String {
    format!("/admin/usage_trends/charts/{index}.csv?months={months}")
}

/// The monthly values of `identifiers` aligned on the range's months.
pub fn chart_lines(trends: &UsageTrends, identifiers: &[Identifier]) -> Vec<Line> {
    identifiers
        .iter()
        .map(|identifier| {
            let points = trends
                .series
                .iter()
                .find(|s| s.identifier == *identifier)
                .map(|s| s.points.as_slice())
                .unwrap_or_default();
            Line {
                label: identifier.label().to_string(),
                values: trends
                    .months
                    .iter()
                    .map(|m| points.iter().find(|(month, _)| month == m).map(|(_, c)| *c))
                    .collect(),
            }
        })
        .collect()
}

#[component]
pub fn UsageTrendsPage() -> impl IntoView {
    let (months, set_months) = signal(DEFAULT_RANGE);
    let trends = Resource::new(move || months.get(), get_usage_trends);
    view! {
        <Title text="Usage trends · Admin · Service Ping"/>
        <PageHeader
            title="Usage trends"
            subtitle="How this platform's users and activity grow, measured every day. Nothing here is sent anywhere."
        />
        <div class="card-header">
            <label for="trend-range">"Range "
                <select id="trend-range" data-testid="trend-range"
                    on:change=move |ev| {
                        if let Ok(m) = event_target_value(&ev).parse() { set_months.set(m); }
                    }>
                    {RANGES.iter().map(|m| view! {
                        <option value=m.to_string() selected=*m == DEFAULT_RANGE>{format!("Last {m} months")}</option>
                    }).collect_view()}
                </select>
            </label>
        </div>
        {loaded(trends, move |trends| view! { <Trends trends months=months.get_untracked()/> })}
    }
}

#[component]
fn Trends(trends: UsageTrends, months: u32) -> impl IntoView {
    if trends.totals.is_empty() {
        return view! {
            <section class="card empty-state" data-testid="no-trends">
                "No measurements yet: the daily job records them in the background, a year back on its first run."
            </section>
        }
        .into_any();
    }
    let totals = trends
        .totals
        .iter()
        .map(|(identifier, day, count)| {
            view! {
                <div class="total" data-testid="trend-total">
                    <span class="total-label">{identifier.label()}</span>
                    <span class="total-value">{format_count(*count)}</span>
                    <span class="muted total-day">{format!("as of {day}")}</span>
                </div>
            }
        })
        .collect_view();
    let charts = CHARTS
        .iter()
        .enumerate()
        .map(|(index, (title, identifiers))| {
            view! {
                <section class="card">
                    <LineChart
                        title=title.to_string()
                        categories=trends.months.clone()
                        lines=chart_lines(&trends, identifiers)
                        csv_href=csv_path(index, months)
                        test_id=format!("chart-{index}")
                    />
                </section>
            }
        })
        .collect_view();
    view! {
        <section class="card totals" aria-label="Latest totals">{totals}</section>
        {charts}
    }
    .into_any()
}
