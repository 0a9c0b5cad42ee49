//! The payload history pages: the list, one payload, and the diff of two.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::{
    KeyChange, PayloadDetail, PayloadDiff, SubmissionRow, get_payload_detail, get_payload_diff,
    get_payload_history,
};
use crate::components::time::Time;
use crate::components::{Fact, PageHeader, loaded, plural};
use crate::error::ApiError;
use crate::usage_statistics::PayloadSummary;
use crate::usage_statistics::view::{Preview, SentState, describe_trigger, format_size};

fn payload_path(id: i64) -> String {
    format!("/admin/service_ping/history/{id}")
}

fn diff_path(from: i64, to: i64) -> String {
    format!("/admin/service_ping/history/diff?from={from}&to={to}")
}

#[component]
pub fn PayloadHistoryPage() -> impl IntoView {
    let history = Resource::new(|| (), |_| get_payload_history());
    view! {
        <Title text="Payload history · Admin · Service Ping"/>
        <PageHeader
            title="Payload history"
            subtitle="Every payload this instance generated, whether it was sent, and what changed between two."
        />
        {loaded(history, |rows| if rows.is_empty() {
            view! { <section class="card"><p class="empty-state">"No payload has been generated yet."</p></section> }.into_any()
        } else {
            view! { <HistoryTable rows/> }.into_any()
        })}
    }
}

#[component]
fn HistoryTable(rows: Vec<PayloadSummary>) -> impl IntoView {
    // Compare the newest payload with the one before it unless the administrator picks others.
    let (from, set_from) = signal(rows.get(1).or(rows.first()).map(|r| r.id));
    let (to, set_to) = signal(rows.first().map(|r| r.id));
    let compare = move || match (from.get(), to.get()) {
        (Some(from), Some(to)) => diff_path(from, to),
        _ => String::new(),
    };
    let count = rows.len();
    view! {
        <section class="card">
            <div class="card-header">
                <p class="muted">{plural(count, "payload", "payloads")}</p>
                <a class="button button-secondary" href=compare data-testid="compare">"Compare selected"</a>
            </div>
            <div class="table-scroll">
                <table class="data-table" data-testid="history-table">
                    <thead><tr>
                        <th>"Recorded at"</th><th>"SHA-256"</th><th class="numeric">"Size"</th>
                        <th>"Sent"</th><th>"Status"</th><th>"Collector id"</th><th>"Trigger"</th>
                        <th>"From"</th><th>"To"</th>
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|row| {
                            let id = row.id;
                            let trigger = describe_trigger(&row.trigger, row.triggered_by.as_deref());
                            let status = row.submission_status.clone().unwrap_or_else(|| "not sent".into());
                            view! {
                                <tr data-testid="history-row">
                                    <td><a href=payload_path(id)><Time at=row.recorded_at.clone()/></a></td>
                                    <td><code title=row.sha256.clone() data-sha256=row.sha256.clone() data-testid="row-sha256">{format!("{}…", &row.sha256[..12])}</code></td>
                                    <td class="numeric">{format_size(row.size_bytes)}</td>
                                    <td>{row.sent_at.clone().map_or_else(|| "—".into_any(), |at| view! { <Time at/> }.into_any())}</td>
                                    <td data-testid="row-status">{status}</td>
                                    <td>{row.usage_data_id.map(|id| id.to_string()).unwrap_or_else(|| "—".into())}</td>
                                    <td data-testid="row-trigger">{trigger}</td>
                                    <td><input type="radio" name="from" aria-label=format!("Compare from {}", row.recorded_at) checked=move || from.get() == Some(id) on:change=move |_| set_from.set(Some(id))/></td>
                                    <td><input type="radio" name="to" aria-label=format!("Compare to {}", row.recorded_at) checked=move || to.get() == Some(id) on:change=move |_| set_to.set(Some(id))/></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

fn back_to_history() -> impl IntoView {
    view! { <p><a href="/admin/service_ping/history">"← Payload history"</a></p> }
}

#[component]
pub fn PayloadDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok()));
    let detail = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_payload_detail(id).await,
            None => Err(ApiError::NotFound("There is no such payload.".into())),
        }
    });
    view! {
        <Title text="Payload · Admin · Service Ping"/>
        <PageHeader title="Payload" subtitle="One stored payload, exactly as it was generated, and every attempt to send it."/>
        {back_to_history()}
        {loaded(detail, |detail| view! { <PayloadDetailCards detail/> })}
    }
}

#[component]
fn PayloadDetailCards(detail: PayloadDetail) -> impl IntoView {
    let PayloadDetail {
        preview,
        submissions,
    } = detail;
    let download = preview.summary.download_path();
    view! {
        <section class="card">
            <div class="card-header">
                <h2>"Send attempts"</h2>
                <a class="button button-secondary" href=download download rel="external">"Download payload"</a>
            </div>
            <Submissions submissions/>
        </section>
        <section class="card">
            <Preview preview sent=true/>
        </section>
    }
}

#[component]
fn Submissions(submissions: Vec<SubmissionRow>) -> impl IntoView {
    if submissions.is_empty() {
        return view! { <p class="empty-state">"This payload was never sent."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="data-table" data-testid="submissions">
                <thead><tr>
                    <th>"Started at"</th><th>"Trigger"</th><th>"Result"</th><th>"HTTP"</th>
                    <th class="numeric">"Duration"</th><th>"Collector id"</th><th>"Error"</th>
                </tr></thead>
                <tbody>
                    {submissions.into_iter().map(|s| view! {
                        <tr>
                            <td><Time at=s.started_at/></td>
                            <td>{describe_trigger(&s.trigger, s.triggered_by.as_deref())}</td>
                            <td>{s.status}</td>
                            <td>{s.http_status.map(|c| c.to_string()).unwrap_or_else(|| "—".into())}</td>
                            <td class="numeric">{s.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "—".into())}</td>
                            <td>{s.usage_data_id.map(|id| id.to_string()).unwrap_or_else(|| "—".into())}</td>
                            <td>{s.error.unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
pub fn PayloadDiffPage() -> impl IntoView {
    let query = use_query_map();
    let ids = move || {
        query.with(|q| {
            let id = |name: &str| q.get(name).and_then(|v| v.parse::<i64>().ok());
            (id("from"), id("to"))
        })
    };
    let diff = Resource::new(ids, |ids| async move {
        match ids {
            (Some(from), Some(to)) => get_payload_diff(from, to).await,
            _ => Err(ApiError::Validation(
                "Choose two payloads to compare on the history page.".into(),
            )),
        }
    });
    view! {
        <Title text="Compare payloads · Admin · Service Ping"/>
        <PageHeader title="Compare payloads" subtitle="Keys added, removed and changed between two stored payloads."/>
        {back_to_history()}
        {loaded(diff, |diff| view! { <DiffCards diff/> })}
    }
}

#[component]
fn DiffCards(diff: PayloadDiff) -> impl IntoView {
    let PayloadDiff {
        from,
        to,
        added,
        removed,
        changed,
        unchanged,
    } = diff;
    let side = |label: &'static str, summary: PayloadSummary| {
        let sent = view! { <SentState summary=summary.clone() service_ping_on=true/> };
        view! {
            <section class="card">
                <h2><a href=payload_path(summary.id)>{label}</a></h2>
                <dl class="facts">
                    <Fact label="Recorded at"><Time at=summary.recorded_at.clone()/></Fact>
                    <Fact label="SHA-256"><code class="hash">{summary.sha256.clone()}</code></Fact>
                    <Fact label="Sent">{sent}</Fact>
                </dl>
            </section>
        }
    };
    let summary = format!(
        "{} added, {} removed, {} changed, {} unchanged",
        added.len(),
        removed.len(),
        changed.len(),
        unchanged
    );
    view! {
        <div class="card-grid">
            {side("From", from)}
            {side("To", to)}
        </div>
        <section class="card">
            <p data-testid="diff-summary"><strong>{summary}</strong></p>
            <ChangeTable title="Changed" row_class="diff-changed" changes=changed test_id="diff-changed"/>
            <ChangeTable title="Added" row_class="diff-added" changes=added test_id="diff-added"/>
            <ChangeTable title="Removed" row_class="diff-removed" changes=removed test_id="diff-removed"/>
        </section>
    }
}

#[component]
fn ChangeTable(
    title: &'static str,
    row_class: &'static str,
    changes: Vec<KeyChange>,
    test_id: &'static str,
) -> impl IntoView {
    if changes.is_empty() {
        return view! { <h3>{title}</h3><p class="muted">"None."</p> }.into_any();
    }
    view! {
        <h3>{title}" ("{changes.len()}")"</h3>
        <div class="table-scroll">
            <table class="data-table" data-testid=test_id>
                <thead><tr><th>"Key"</th><th>"Old"</th><th>"New"</th></tr></thead>
                <tbody>
                    {changes.into_iter().map(|change| view! {
                        <tr class=row_class>
                            <td><code>{change.key}</code></td>
                            <td><code>{change.old.unwrap_or_else(|| "—".into())}</code></td>
                            <td><code>{change.new.unwrap_or_else(|| "—".into())}</code></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
