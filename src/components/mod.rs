//! Building blocks shared by every dashboard page.

use leptos::prelude::*;

use crate::error::ApiError;

pub mod layout;

pub use layout::AdminLayout;

/// The title block at the top of a page.
#[component]
pub fn PageHeader(
    title: &'static str,
    #[prop(optional)] subtitle: Option<&'static str>,
) -> impl IntoView {
    view! {
        <header class="page-header">
            <h1>{title}</h1>
            {subtitle.map(|s| view! { <p class="muted">{s}</p> })}
        </header>
    }
}

/// One label/value pair in a `<dl class="facts">`.
#[component]
pub fn Fact(label: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="fact">
            <dt>{label}</dt>
            <dd>{children()}</dd>
        </div>
    }
}

/// Whether Service Ping is on, as a badge.
#[component]
pub fn ServicePingBadge(enabled: bool) -> impl IntoView {
    let (class, label) = if enabled {
        ("badge badge-success", "Enabled")
    } else {
        ("badge badge-muted", "Disabled")
    };
    view! { <span class=class data-testid="service-ping-state">{label}</span> }
}

/// `1 key`, `2 keys`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How a failed server call is shown to a person.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    view! { <p class="flash flash-alert" role="alert">{error.to_string()}</p> }
}
