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
                    <tbody>
                        <For each=move || shown.get() key=|m| m.key_path.clone() let:metric>
                            <MetricTableRow metric/>
                        </For>
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn MetricTableRow(metric: MetricRow) -> impl IntoView {
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
    view! {
        <tr data-key-path=metric.key_path.clone()>
            <td>
                <code>{metric.key_path.clone()}</code>
                <div class="muted small">{metric.description.clone()}</div>
                <div class="muted small">{format!("{} · {} · {}", metric.instrumentation_class, metric.product_group, metric.file)}</div>
                {metric.last_error.clone().map(|error| view! { <div class="error-text small">{error}</div> })}
            </td>
            <td>{metric.data_category.clone()}</td>
            <td>{metric.time_frame.clone()}</td>
            <td><span class=status_class>{metric.status.clone()}</span></td>
            <td class="numeric last-value"><code>{value}</code></td>
            <td class="numeric" data-testid="metric-duration">{format_duration(metric.last_duration_us)}</td>
        </tr>
    }
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
    fn durations_read_in_the_right_unit() {
        assert_eq!(super::format_duration(None), "—");
        assert_eq!(super::format_duration(Some(250)), "250 µs");
        assert_eq!(super::format_duration(Some(12_345)), "12.3 ms");
        assert_eq!(super::format_duration(Some(2_500_000)), "2.50 s");
    }
}
