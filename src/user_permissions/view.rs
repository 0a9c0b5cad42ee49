//! The Users and permissions report page.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{CSV_PATH, get_report_summary};
use crate::components::{Fact, PageHeader, loaded};
use crate::licensing::Feature;
use crate::licensing::view::PaidFeature;

#[component]
pub fn UserPermissionsPage() -> impl IntoView {
    let summary = Resource::new(|| (), |_| get_report_summary());
    view! {
        <Title text="Users and permissions · Admin · Service Ping"/>
        <PageHeader title="Users and permissions" subtitle=Feature::UserPermissionsExport.summary()/>
        <PaidFeature feature=Feature::UserPermissionsExport>
            <section class="card" aria-labelledby="report-heading">
                <div class="card-header">
                    <h2 id="report-heading">"Report"</h2>
                    <a class="button button-primary" href=CSV_PATH download rel="external" data-testid="download-permissions">
                        "Download CSV"
                    </a>
                </div>
                {loaded(summary, |summary| view! {
                    <dl class="facts">
                        <Fact label="Users"><span data-testid="report-users">{summary.users}</span></Fact>
                        <Fact label="Memberships (rows)"><span data-testid="report-rows">{summary.memberships}</span></Fact>
                    </dl>
                })}
                <p class="muted">"Columns: username, name, email, state, type (group or project), path, access level (Guest, Reporter, Developer, Maintainer, Owner), last activity. The file holds personal data: keep it safe."</p>
            </section>
        </PaidFeature>
    }
}
