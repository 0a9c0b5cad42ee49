//! The gate every paid feature's page is wrapped in.

use leptos::prelude::*;

use super::{Access, Feature, get_paid_feature_access};
use crate::components::loaded;

/// Shows `children` when the paid features are open; otherwise what unlocks `feature`.
#[component]
pub fn PaidFeature(feature: Feature, children: ChildrenFn) -> impl IntoView {
    let access = Resource::new(|| (), |_| get_paid_feature_access());
    let children = StoredValue::new(children);
    view! {
        {loaded(access, move |access| match access {
            Access::Locked(reason) => view! { <LockedFeature feature reason/> }.into_any(),
            open => view! {
                <p class="muted granted" data-testid="feature-granted">{granted_by(&open)}</p>
                {children.read_value()()}
            }.into_any(),
        })}
    }
}

/// Why the paid features are open, in words.
pub fn granted_by(access: &Access) -> String {
    match access {
        Access::Licensed(plan) => format!("Included in your {} license.", plan.title()),
        Access::RegistrationFeatures => {
            "Available through the Registration Features Program while Service Ping is on.".into()
        }
        Access::Locked(_) => String::new(),
    }
}

#[component]
fn LockedFeature(feature: Feature, reason: String) -> impl IntoView {
    view! {
        <section class="card locked-feature" data-testid="feature-locked" aria-labelledby="locked-heading">
            <h2 id="locked-heading">{feature.title()}" is a paid feature"</h2>
            <p>{feature.summary()}</p>
            <p class="setting-lock" data-testid="feature-locked-reason">{reason}</p>
            <div class="button-row">
                <a class="button button-primary" href="/admin/application_settings/metrics_and_profiling">"Usage statistics"</a>
                <a class="button button-secondary" href="/admin/license">"License"</a>
            </div>
        </section>
    }
}
