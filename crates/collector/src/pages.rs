//! The collector's HTML pages, rendered on the server without any script: the list of received
//! pings and the upload page for offline instances.

use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use leptos::prelude::*;

use service_ping_protocol::devops_score::{self, FEATURES, Score, Values, format_usage, level};

use service_ping_web::client::ClientAddress;

use crate::cohorts_view::{Cohorts, CohortsView, HISTORY_WEEKS};
use crate::db::{self, ReceivedPing, Source};
use crate::refusal::Refusal;
use crate::state::{CollectorState, week_of};

/// A small stylesheet so the pages read well; served at `/collector.css` (the page policy
/// forbids inline styles).
pub const STYLESHEET: &str = "\
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1f2328}\
header{background:#1f2937;color:#fff;padding:12px 24px}header a{color:#fff;margin-right:16px}\
main{max-width:1100px;margin:24px auto;padding:0 24px}\
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin-bottom:20px}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaeef2;font-size:14px}\
code{font-family:ui-monospace,monospace;font-size:13px}.muted{color:#59636e}\
.ok{color:#1a7f37;font-weight:600}.error{color:#cf222e;font-weight:600}\
.scroll{overflow-x:auto}th.num,td.num{text-align:right;white-space:nowrap}.group{white-space:nowrap}\
button{background:#1f6feb;color:#fff;border:0;border-radius:6px;padding:8px 14px;font-size:14px;cursor:pointer}";

/// Page policy: no script at all, styles and forms from this origin only.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response()
}

fn page(status: StatusCode, title: &str, body: impl IntoView + 'static) -> Response {
    let title = title.to_string();
    let html = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <title>{format!("{title} · Service Ping collector")}</title>
                <link rel="stylesheet" href="/collector.css"/>
            </head>
            <body>
                <header>
                    <strong>"Service Ping collector"</strong>" "
                    <a href="/">"Received pings"</a>
                    <a href="/usage_data/new">"Upload a payload"</a>
                    <a href="/openapi.json">"API"</a>
                </header>
                <main><h1>{title}</h1>{body}</main>
            </body>
        </html>
    }
    .to_html();
    (
        status,
        [(header::CONTENT_SECURITY_POLICY, PAGE_POLICY)],
        Html(format!("<!DOCTYPE html>{html}")),
    )
        .into_response()
}

/// `GET /`: the newest received pings.
pub async fn index(State(state): State<CollectorState>) -> Response {
    let (pings, counts) =
        match tokio::try_join!(db::recent_pings(&state.db, 100), db::counts(&state.db)) {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, "collector: reading pings failed");
                return page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Received pings",
                    view! { <p class="error">"The collector's database could not be read."</p> },
                );
            }
        };
    let (pings_total, metadata_total, errors_total) = counts;
    let scores = match fleet_view(&state).await {
        Ok(scores) => scores,
        Err(error) => {
            tracing::error!(%error, "collector: computing the fleet's scores failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Received pings",
                view! { <p class="error">"The collector's database could not be read."</p> },
            );
        }
    };
    let (scores, cohorts) = scores;
    let body = view! {
        <FleetScores scores cohorts/>
        <section>
            <p>
                <span data-testid="pings-total">{pings_total}</span>" pings, "
                {metadata_total}" metadata reports, "{errors_total}" error reports received."
            </p>
            {if pings.is_empty() {
                view! { <p class="muted">"No ping has been received yet."</p> }.into_any()
            } else {
                view! { <PingTable pings/> }.into_any()
            }}
        </section>
    };
    page(StatusCode::OK, "Received pings", body)
}

/// The current leaders and the latest score of the most recently seen instances.
struct FleetView {
    leaders: Values,
    instances: Vec<(String, Option<String>, String, Score)>,
}

/// The fleet's leaders and latest scores, and its cohorts now and week by week.
async fn fleet_view(state: &CollectorState) -> anyhow::Result<(FleetView, CohortsView)> {
    let figures = state.figures().await?;
    let leaders = figures.leaders;
    let instances = db::latest_instances(&state.db, 50)
        .await?
        .into_iter()
        .map(|(uuid, hostname, at, usage)| {
            (uuid, hostname, at, devops_score::compute(&usage, &leaders))
        })
        .collect();
    let since = week_of(chrono::Utc::now()) - chrono::Duration::weeks(HISTORY_WEEKS - 1);
    let cohorts = CohortsView {
        min_size: state.min_cohort_size(),
        now: figures.cohorts.summaries(),
        history: db::cohort_history(&state.db, since).await?,
    };
    Ok((FleetView { leaders, instances }, cohorts))
}

/// The fleet's leaders, its cohorts, then the latest score of the most recently seen instances.
#[component]
fn FleetScores(scores: FleetView, cohorts: CohortsView) -> impl IntoView {
    let FleetView { leaders, instances } = scores;
    view! {
        <section>
            <h2>"DevOps Score leaders"</h2>
            <table data-testid="leaders">
                <thead><tr>{FEATURES.iter().map(|f| view! { <th>{f.title}</th> }).collect_view()}</tr></thead>
                <tbody><tr>{leaders.iter().map(|v| view! { <td>{format_usage(*v)}</td> }).collect_view()}</tr></tbody>
            </table>
        </section>
        <Cohorts cohorts/>
        <section>
            <h2>"Latest score per instance"</h2>
            {if instances.is_empty() {
                view! { <p class="muted">"No instance has sent a ping yet."</p> }.into_any()
            } else {
                view! {
                    <table data-testid="instance-scores">
                        <thead><tr><th>"Instance uuid"</th><th>"Hostname"</th><th>"Latest ping"</th><th>"Score"</th><th>"Level"</th></tr></thead>
                        <tbody>
                            {instances.into_iter().map(|(uuid, hostname, at, score)| view! {
                                <tr>
                                    <td><code>{uuid}</code></td>
                                    <td>{hostname.unwrap_or_default()}</td>
                                    <td><code>{at}</code></td>
                                    <td>{format!("{:.1}%", score.overall)}</td>
                                    <td>{level(score.overall)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn PingTable(pings: Vec<ReceivedPing>) -> impl IntoView {
    view! {
        <table>
            <thead><tr>
                <th>"Id"</th><th>"Instance uuid"</th><th>"Hostname"</th><th>"Version"</th>
                <th>"Edition"</th><th>"Recorded at"</th><th>"Received at"</th><th>"Via"</th><th>"SHA-256"</th>
            </tr></thead>
            <tbody>
                {pings.into_iter().map(|ping| view! {
                    <tr>
                        <td>{ping.id}</td>
                        <td><code>{ping.uuid}</code></td>
                        <td>{ping.hostname.unwrap_or_default()}</td>
                        <td>{ping.version}</td>
                        <td>{ping.edition.unwrap_or_default()}</td>
                        <td><code>{ping.recorded_at}</code></td>
                        <td><code>{ping.received_at}</code></td>
                        <td>{ping.source}</td>
                        <td><code title=ping.sha256.clone()>{ping.sha256[..12].to_string()}"…"</code></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

fn upload_form() -> impl IntoView {
    view! {
        <section>
            <p>
                "An instance without a connection to this collector can still share its usage: "
                "download the payload from its Usage statistics page (or run "<code>"service-ping payload --out ping.json"</code>
                ") and upload the file here. It is checked and stored exactly as if the instance had sent it."
            </p>
            <form method="post" action="/usage_data/new" enctype="multipart/form-data">
                <p>
                    <label for="payload">"Payload file (JSON)"</label>" "
                    <input id="payload" name="payload" type="file" accept="application/json,.json" required/>
                </p>
                <button type="submit">"Upload"</button>
            </form>
        </section>
    }
}

/// `GET /usage_data/new`.
pub async fn upload_page() -> Response {
    page(StatusCode::OK, "Upload a payload", upload_form())
}

/// `POST /usage_data/new`: the uploaded file goes through the same checks as `POST /usage_data`.
pub async fn receive_upload(
    State(state): State<CollectorState>,
    axum::Extension(address): axum::Extension<ClientAddress>,
    multipart: Multipart,
) -> Response {
    let outcome = match uploaded_file(multipart).await {
        Ok(bytes) => crate::api::ingest(&state, bytes, Source::Upload, address).await,
        Err(refusal) => Err(refusal),
    };
    match outcome {
        Ok(crate::api::Received { status, id, .. }) => {
            let message = if status == StatusCode::CREATED {
                format!("Payload stored as ping #{id}.")
            } else {
                format!("This payload was received before, as ping #{id}; nothing new was stored.")
            };
            page(
                status,
                "Upload a payload",
                view! { <section><p class="ok" data-testid="upload-result">{message}</p></section>{upload_form()} },
            )
        }
        Err(refusal) => page(
            refusal.status,
            "Upload a payload",
            view! {
                <section><p class="error" data-testid="upload-result">"Refused: "{refusal.reason}</p></section>
                {upload_form()}
            },
        ),
    }
}

async fn uploaded_file(mut multipart: Multipart) -> Result<axum::body::Bytes, Refusal> {
    let bad = |reason: String| Refusal::new(StatusCode::BAD_REQUEST, reason);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| Refusal::new(e.status(), e.body_text()))?
    {
        if field.name() == Some("payload") {
            return field
                .bytes()
                .await
                .map_err(|e| Refusal::new(e.status(), e.body_text()));
        }
    }
    Err(bad("choose a payload file to upload".into()))
}
