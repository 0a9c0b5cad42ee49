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

/// How a failed server call is shown to a person.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    view! { <p class="flash flash-alert" role="alert">{error.to_string()}</p> }
}
