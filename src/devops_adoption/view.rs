//! The DevOps Adoption page: groups × features for the last full month, and adoption over time.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{Adoption, get_devops_adoption};
use crate::components::chart::{Line, LineChart, Sparkline};
use crate::components::{PageHeader, SearchBox, loaded};
use crate::licensing::Feature;
use crate::licensing::view::PaidFeature;
use service_ping_protocol::devops_score::FEATURES;

#[component]
pub fn DevopsAdoptionPage() -> impl IntoView {
    let adoption = Resource::new(|| (), |_| get_devops_adoption());
    view! {
        <Title text="DevOps Adoption · Admin · Service Ping"/>
        <PageHeader title="DevOps Adoption" subtitle=Feature::DevopsAdoption.summary()/>
        <PaidFeature feature=Feature::DevopsAdoption>
            {loaded(adoption, |adoption| view! { <AdoptionCards adoption/> })}
        </PaidFeature>
    }
}

/// Groups using at least 1, at least 5, and all 10 features, month by month.
fn adoption_lines(adoption: &Adoption) -> Vec<Line> {
    [
        (1, "Groups using 1+ features"),
        (5, "Groups using 5+ features"),
        (10, "Groups using all 10"),
    ]
    .into_iter()
    .map(|(at_least, label)| Line {
        label: label.to_string(),
        values: (0..adoption.months.len())
            .map(|i| {
                Some(
                    adoption
                        .groups
                        .iter()
                        .filter(|g| g.over_time[i] >= at_least)
                        .count() as i64,
                )
            })
            .collect(),
    })
    .collect()
}

#[component]
fn AdoptionCards(adoption: Adoption) -> impl IntoView {
    let last_month = adoption.months.last().cloned().unwrap_or_default();
    let lines = adoption_lines(&adoption);
    let (query, set_query) = signal(String::new());
    let groups = StoredValue::new(adoption.groups.clone());
    let totals = adoption.feature_totals.clone();
    let group_count = adoption.groups.len();
    view! {
        <section class="card" aria-labelledby="adoption-month-heading">
            <div class="card-header">
                <h2 id="adoption-month-heading">"Last full month: "<span data-testid="adoption-month">{last_month}</span></h2>
                <SearchBox label="Filter groups" placeholder="Filter groups" test_id="adoption-search" query set_query/>
            </div>
            <div class="table-scroll">
                <table class="data-table adoption-table" data-testid="adoption-table">
                    <thead>
                        <tr>
                            <th>"Group"</th>
                            <th>"Adopted"</th>
                            {FEATURES.iter().map(|f| view! { <th title=f.description>{f.title}</th> }).collect_view()}
                            <th>"12 months"</th>
                        </tr>
                        <tr class="muted">
                            <td>{format!("{group_count} groups")}</td>
                            <td></td>
                            {totals.into_iter().map(|(_, n)| view! { <td data-testid="adoption-feature-total">{n}</td> }).collect_view()}
                            <td></td>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let query = query.get().to_lowercase();
                            groups.with_value(|groups| groups.iter()
                                .filter(|g| query.is_empty() || g.name.to_lowercase().contains(&query) || g.path.contains(&query))
                                .map(|g| {
                                    let adopted = g.last_month.len();
                                    view! {
                                        <tr data-testid="adoption-row">
                                            <td>{g.name.clone()}" "<span class="muted">{g.path.clone()}</span></td>
                                            <td data-testid="adoption-count">{format!("{adopted}/10")}</td>
                                            {FEATURES.iter().map(|f| {
                                                let used = g.last_month.iter().any(|k| k == f.key);
                                                view! {
                                                    <td class=if used { "adopted" } else { "not-adopted" }
                                                        aria-label=if used { "used" } else { "not used" }>
                                                        {if used { "✓" } else { "–" }}
                                                    </td>
                                                }
                                            }).collect_view()}
                                            <td><Sparkline values=g.over_time.clone() label=format!("{}: features used per month", g.name)/></td>
                                        </tr>
                                    }
                                }).collect_view())
                        }}
                    </tbody>
                </table>
            </div>
        </section>
        <section class="card" aria-labelledby="adoption-time-heading">
            <h2 id="adoption-time-heading">"Adoption over time"</h2>
            <LineChart title="Groups by features used".to_string() categories=adoption.months lines test_id="adoption-chart".to_string()/>
        </section>
    }
}
