//! The Usage statistics page.

use leptos::prelude::*;
use leptos_meta::Title;

use super::json_tree::{Expansion, JsonTree, leaf_paths, path_matches};
use super::{
    GenerationStatus, PayloadPreview, PayloadSummary, UsageStatistics, generate_preview,
    get_generation_status, get_usage_statistics,
};
use crate::components::{ErrorNotice, Fact, PageHeader, SearchBox, ServicePingBadge, plural};
use crate::error::ApiError;

/// How often the page asks for progress while a payload is being generated.
const POLL_INTERVAL_MS: u64 = 250;

#[component]
pub fn UsageStatisticsPage() -> impl IntoView {
    // Bumped when a generation finishes, so the page shows the payload it stored.
    let (reloads, set_reloads) = signal(0u32);
    let statistics = Resource::new(move || reloads.get(), |_| get_usage_statistics());
    let status = RwSignal::new(None::<Result<GenerationStatus, ApiError>>);
    let generate = Action::new(|_: &()| generate_preview());
    Effect::new(move || {
        if let Some(result) = generate.value().get() {
            status.set(Some(result));
        }
    });
    follow_generation(status, set_reloads);
    let busy = Signal::derive(move || {
        generate.pending().get()
            || matches!(
                status.get(),
                Some(Ok(GenerationStatus { running: true, .. }))
            )
    });

    view! {
        <Title text="Usage statistics · Admin · Service Ping"/>
        <PageHeader
            title="Usage statistics"
            subtitle="Service Ping: what this instance shares, byte for byte."
        />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match statistics.await {
                    Ok(statistics) => view! {
                        <UsageStatisticsCards statistics status busy on_generate=Callback::new(move |()| { generate.dispatch(()); })/>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// While a generation runs, asks for its progress every [`POLL_INTERVAL_MS`]; when it ends,
/// reloads the page's data so the new payload shows.
fn follow_generation(
    status: RwSignal<Option<Result<GenerationStatus, ApiError>>>,
    set_reloads: WriteSignal<u32>,
) {
    Effect::new(move |previous: Option<bool>| {
        let running = matches!(
            status.get(),
            Some(Ok(GenerationStatus { running: true, .. }))
        );
        if running {
            set_timeout(
                move || {
                    leptos::task::spawn_local(async move {
                        status.set(Some(get_generation_status().await));
                    });
                },
                std::time::Duration::from_millis(POLL_INTERVAL_MS),
            );
        } else if previous == Some(true) {
            set_reloads.update(|n| *n += 1);
        }
        running
    });
}

#[component]
fn UsageStatisticsCards(
    statistics: UsageStatistics,
    status: RwSignal<Option<Result<GenerationStatus, ApiError>>>,
    busy: Signal<bool>,
    on_generate: Callback<()>,
) -> impl IntoView {
    let service_ping = statistics.service_ping.clone();
    view! {
        <section class="card" aria-labelledby="service-ping-heading">
            <h2 id="service-ping-heading">"Service Ping"</h2>
            <p><ServicePingBadge enabled=service_ping.enabled/></p>
            {service_ping.locked_reason.clone().map(|reason| view! { <p class="muted">"Locked: " {reason}</p> })}
            <p class="muted">
                {if service_ping.enabled {
                    "The payload below is what this instance sends to the collector."
                } else {
                    "Service Ping is off: the payload below can be generated and read, but it is never sent."
                }}
            </p>
        </section>
        <section class="card" aria-labelledby="preview-heading">
            <div class="card-header">
                <h2 id="preview-heading">"Payload preview"</h2>
                <div class="button-row">
                    <button
                        type="button"
                        class="button button-primary"
                        data-testid="generate-preview"
                        disabled=move || busy.get()
                        on:click=move |_| on_generate.run(())
                    >
                        {move || if busy.get() { "Generating…" } else { "Generate new preview" }}
                    </button>
                    {statistics.preview.as_ref().map(|preview| view! {
                        <a class="button button-secondary" href=preview.summary.download_path() download data-testid="download-payload" rel="external">
                            "Download payload"
                        </a>
                    })}
                </div>
            </div>
            <GenerationProgress status/>
            {match statistics.preview {
                Some(preview) => view! { <Preview preview sent=service_ping.enabled/> }.into_any(),
                None => view! {
                    <p class="empty-state" data-testid="no-payload">
                        "No payload has been generated yet. Generate one to see exactly what would be sent."
                    </p>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn GenerationProgress(
    status: RwSignal<Option<Result<GenerationStatus, ApiError>>>,
) -> impl IntoView {
    move || {
        status.get().map(|status| match status {
            Ok(status) => {
                let label = if status.running {
                    format!("Generating: {} of {} metrics", status.done, status.total)
                } else if let Some(error) = &status.error {
                    format!("Generation failed: {error}")
                } else {
                    format!("Generated: {} of {} metrics", status.done, status.total)
                };
                view! {
                    <div class="generation-progress" role="status" data-testid="generation-progress">
                        <progress max=status.total.max(1) value=status.done></progress>
                        <span>{label}</span>
                    </div>
                }
                .into_any()
            }
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PreviewTab {
    Tree,
    Raw,
}

#[component]
fn Preview(preview: PayloadPreview, sent: bool) -> impl IntoView {
    let PayloadPreview { summary, text } = preview;
    let document: serde_json::Value =
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    let paths = leaf_paths(&document);
    let (tab, set_tab) = signal(PreviewTab::Tree);
    let (query, set_query) = signal(String::new());
    let lowered = Signal::derive(move || query.get().trim().to_lowercase());
    let expansion = RwSignal::new(Expansion::default());
    let set_expansion = move |open: bool| {
        expansion.update(|e| {
            e.open = open;
            e.generation += 1;
        })
    };
    let matching = move || {
        let query = lowered.get();
        paths.iter().filter(|p| path_matches(p, &query)).count()
    };
    let copy_text = text.clone();
    view! {
        <PayloadFacts summary sent/>
        <div class="preview-toolbar">
            <div class="tabs" role="tablist">
                <button type="button" role="tab" class="tab" aria-selected=move || (tab.get() == PreviewTab::Tree).to_string() on:click=move |_| set_tab.set(PreviewTab::Tree)>"Tree"</button>
                <button type="button" role="tab" class="tab" aria-selected=move || (tab.get() == PreviewTab::Raw).to_string() on:click=move |_| set_tab.set(PreviewTab::Raw) data-testid="raw-tab">"Raw bytes"</button>
            </div>
            <CopyButton text=copy_text/>
        </div>
        <div class:is-hidden=move || tab.get() != PreviewTab::Tree>
            <div class="preview-toolbar">
                <SearchBox
                    label="Search keys"
                    placeholder="Search keys, e.g. counts_monthly"
                    test_id="key-search"
                    query
                    set_query
                />
                <span class="muted" data-testid="match-count">{move || plural(matching(), "key", "keys")}</span>
                <div class="button-row">
                    <button type="button" class="button button-ghost" on:click=move |_| set_expansion(true)>"Expand all"</button>
                    <button type="button" class="button button-ghost" on:click=move |_| set_expansion(false)>"Collapse all"</button>
                </div>
            </div>
            <JsonTree document query=lowered expansion/>
        </div>
        <pre class="payload-raw" class:is-hidden=move || tab.get() != PreviewTab::Raw data-testid="payload-raw">{text}</pre>
    }
}

#[component]
pub fn PayloadFacts(summary: PayloadSummary, sent: bool) -> impl IntoView {
    let trigger = match &summary.triggered_by {
        Some(who) => format!("{} by {who}", summary.trigger),
        None => summary.trigger.clone(),
    };
    let sent_at = match (&summary.sent_at, sent) {
        (Some(at), _) => at.clone(),
        (None, true) => "Not sent yet".to_string(),
        (None, false) => "Not sent: Service Ping is off".to_string(),
    };
    view! {
        <dl class="facts facts-wide">
            <Fact label="Recorded at"><code data-testid="recorded-at">{summary.recorded_at.clone()}</code></Fact>
            <Fact label="SHA-256"><code class="hash" data-testid="payload-sha256">{summary.sha256.clone()}</code></Fact>
            <Fact label="Size">{format_size(summary.size_bytes)}</Fact>
            <Fact label="Metrics">
                {format!("{} ({} failed) in {} ms", summary.metrics_total, summary.metrics_failed, summary.generation_ms)}
            </Fact>
            <Fact label="Generated by">{trigger}</Fact>
            <Fact label="Sent"><span data-testid="sent-state">{sent_at}</span></Fact>
        </dl>
    }
}

/// `51 234 bytes (50.0 KiB)`.
pub fn format_size(bytes: i64) -> String {
    format!("{bytes} bytes ({:.1} KiB)", bytes as f64 / 1024.0)
}

/// Copies `text` to the clipboard and says so.
#[component]
fn CopyButton(text: String) -> impl IntoView {
    let (copied, set_copied) = signal(None::<bool>);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let text = text.clone();
            leptos::task::spawn_local(async move {
                let clipboard = window().navigator().clipboard();
                let result =
                    wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&text)).await;
                set_copied.set(Some(result.is_ok()));
                set_timeout(
                    move || set_copied.set(None),
                    std::time::Duration::from_secs(3),
                );
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&text, set_copied);
    };
    view! {
        <button type="button" class="button button-secondary" data-testid="copy-payload" on:click=copy>
            {move || match copied.get() {
                Some(true) => "Copied",
                Some(false) => "Copy failed",
                None => "Copy JSON",
            }}
        </button>
    }
}
