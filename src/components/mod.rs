//! Building blocks shared by every dashboard page.

use leptos::prelude::*;

use crate::error::ApiError;

pub mod chart;
pub mod time;

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

/// A form acting on one row by its `id` (revoke, delete): with the bundle it dispatches `action`;
/// before the bundle has loaded (or without JavaScript) it posts `id` to `url` itself, and the
/// server sends the browser back to the page.
#[component]
pub fn RowActionForm(
    url: &'static str,
    id: i64,
    action: Action<i64, Result<(), ApiError>>,
    children: Children,
) -> impl IntoView {
    view! {
        <form method="post" action=url on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            action.dispatch(id);
        }>
            <input type="hidden" name="id" value=id.to_string()/>
            {children()}
        </form>
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

/// A search field that filters a list as a person types.
#[component]
pub fn SearchBox(
    /// Read by screen readers; the field shows `placeholder`.
    label: &'static str,
    placeholder: &'static str,
    test_id: &'static str,
    query: ReadSignal<String>,
    set_query: WriteSignal<String>,
) -> impl IntoView {
    view! {
        <label class="search">
            <span class="visually-hidden">{label}</span>
            <input
                type="search"
                placeholder=placeholder
                data-testid=test_id
                prop:value=query
                on:input=move |ev| set_query.set(event_target_value(&ev))
            />
        </label>
    }
}

/// `text` safe as an element's text or a double-quoted attribute's value.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
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

/// The refusal of a form posted without JavaScript to the server function at `path`: the server
/// redirected back here with it in the address (`__path`, `__err`), and the router keeps it.
#[component]
pub fn FormRefusal(path: &'static str) -> impl IntoView {
    use leptos::server_fn::error::ServerFnUrlError;
    use_context::<ServerActionError>()
        .filter(|refusal| refusal.path() == path)
        .map(|refusal| {
            let error = ServerFnUrlError::<ApiError>::decode_err(refusal.err());
            view! { <div data-testid="form-refused"><ErrorNotice error/></div> }
        })
}

/// While `resource` loads, says so; then renders its value, or the error.
pub fn loaded<T, V>(
    resource: Resource<Result<T, ApiError>>,
    render: impl Fn(T) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match resource.await {
                        Ok(value) => render(value).into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
