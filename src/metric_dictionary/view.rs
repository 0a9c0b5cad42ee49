//! The metric dictionary page.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{MetricDictionary, MetricRow, get_metric_dictionary};
use crate::components::{PageHeader, SearchBox, loaded};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortOrder {
    KeyPath,
    SlowestFirst,
}

#[component]
pub fn MetricDictionaryPage() -> impl IntoView {
    let dictionary = Resource::new(|| (), |_| get_metric_dictionary());
    view! {
        <Title text="Metric dictionary · Admin · Service Ping"/>
        <PageHeader
            title="Metric dictionary"
            subtitle="Every value Service Ping can send: what it means, and what it cost in the latest payload."
        />
        {loaded(dictionary, |dictionary| view! { <MetricTable dictionary/> })}
    }
}

#[component]
fn MetricTable(dictionary: MetricDictionary) -> impl IntoView {
    let (query, set_query) = signal(String::new());
    let (order, set_order) = signal(SortOrder::KeyPath);
    let total = dictionary.metrics.len();
    let metrics = StoredValue::new(dictionary.metrics);
    // A memo: the rows and their count read it, and hydration filters 230 rows once, not twice.
    let shown = Memo::new(move |_| {
        let query = query.get().trim().to_lowercase();
        let mut rows: Vec<MetricRow> = metrics.with_value(|all| {
            all.iter()
                .filter(|m| {
                    query.is_empty()
                        || m.key_path.to_lowercase().contains(&query)
                        || m.description.to_lowercase().contains(&query)
                })
                .cloned()
                .collect()
        });
        if order.get() == SortOrder::SlowestFirst {
            rows.sort_by_key(|m| std::cmp::Reverse(m.last_duration_us.unwrap_or(-1)));
        }
        rows
    });
    let source = match dictionary.latest_recorded_at {
        Some(at) => format!("Last values from the payload recorded at {at}."),
        None => "No payload has been generated yet, so there are no last values.".to_string(),
    };
    view! {
        <section class="card">
            <div class="preview-toolbar">
                <SearchBox
                    label="Search metrics"
                    placeholder="Search key paths and descriptions"
                    test_id="metric-search"
                    query
                    set_query
                />
                <label class="inline-field">
                    "Sort "
                    <select
                        data-testid="metric-sort"
                        on:change=move |ev| set_order.set(if event_target_value(&ev) == "slowest" { SortOrder::SlowestFirst } else { SortOrder::KeyPath })
                    >
                        <option value="key_path">"by key path"</option>
                        <option value="slowest">"slowest first"</option>
                    </select>
                </label>
                <span class="muted" data-testid="metric-count">{move || format!("{} of {total} metrics", shown.with(Vec::len))}</span>
            </div>
            <p class="muted">{source}</p>
            <div class="table-scroll">
                <table class="data-table" data-testid="metric-table">
                    <thead>
                        <tr>
                            <th scope="col">"Key path"</th>
                            <th scope="col">"Category"</th>
                            <th scope="col">"Time frame"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col" class="numeric">"Last value"</th>
                            <th scope="col" class="numeric">"Took"</th>
                        </tr>
                    </thead>
                    // The rows are markup written here, not views: hydration then leaves the
                    // server's rows as they are instead of walking 230 of them (nothing in a
                    // row reacts), and a search writes the rows again in one assignment.
                    <tbody inner_html=move || shown.with(|rows| rows_html(rows))></tbody>
                </table>
            </div>
        </section>
    }
}

/// The table's rows as markup, every text escaped.
fn rows_html(rows: &[MetricRow]) -> String {
    let mut html = String::with_capacity(rows.len() * 600);
    for metric in rows {
        row_html(&mut html, metric);
    }
    html
}

fn row_html(html: &mut String, metric: &MetricRow) {
    use crate::components::escape;
    use std::fmt::Write;
    let status_class = match metric.status.as_str() {
        "active" => "badge badge-success",
        "broken" => "badge badge-warning",
        _ => "badge badge-muted",
    };
    let value = match (&metric.last_value, &metric.last_error) {
        (Some(value), Some(_)) => format!("{value} (failed)"),
        (Some(value), None) => value.clone(),
        (None, _) if metric.status == "removed" => "never sent".to_string(),
        (None, _) => "—".to_string(),
    };
    let origin = format!(
        "{} · {} · {}",
        metric.instrumentation_class, metric.product_group, metric.file
    );
    let error = metric.last_error.as_deref().map_or(String::new(), |error| {
        format!(r#"<div class="error-text small">{}</div>"#, escape(error))
    });
    let _ = write!(
        html,
        r#"<tr data-key-path="{key}"><td><code>{key}</code><div class="muted small">{description}</div><div class="muted small">{origin}</div>{error}</td><td>{category}</td><td>{time_frame}</td><td><span class="{status_class}">{status}</span></td><td class="numeric last-value"><code>{value}</code></td><td class="numeric" data-testid="metric-duration">{took}</td></tr>"#,
        key = escape(&metric.key_path),
        description = escape(&metric.description),
        origin = escape(&origin),
        category = escape(&metric.data_category),
        time_frame = escape(&metric.time_frame),
        status = escape(&metric.status),
        value = escape(&value),
        took = escape(&format_duration(metric.last_duration_us)),
    );
}

/// Microseconds as a person reads them.
fn format_duration(us: Option<i64>) -> String {
    match us {
        None => "—".into(),
        Some(us) if us < 1_000 => format!("{us} µs"),
        Some(us) if us < 1_000_000 => format!("{:.1} ms", us as f64 / 1_000.0),
        Some(us) => format!("{:.2} s", us as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_text_in_a_row_is_escaped() {
        let row = super::MetricRow {
            key_path: "counts.issues".into(),
            description: "Issues <b>\"quoted\"</b> & 'more'".into(),
            last_value: Some("<script>alert(1)</script>".into()),
            last_error: Some("failed: a < b".into()),
            ..Default::default()
        };
        let html = super::rows_html(&[row]);
        assert!(
            html.contains("Issues &lt;b&gt;&quot;quoted&quot;&lt;/b&gt; &amp; &#39;more&#39;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; (failed)"),
            "{html}"
        );
        assert!(
            html.contains(r#"<div class="error-text small">failed: a &lt; b</div>"#),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.starts_with(r#"<tr data-key-path="counts.issues">"#));
    }

    #[test]
    fn durations_read_in_the_right_unit() {
        assert_eq!(super::format_duration(None), "—");
        assert_eq!(super::format_duration(Some(250)), "250 µs");
        assert_eq!(super::format_duration(Some(12_345)), "12.3 ms");
        assert_eq!(super::format_duration(Some(2_500_000)), "2.50 s");
    }
}
