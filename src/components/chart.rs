//! Line charts drawn as SVG on the server (readable without JavaScript) that, once hydrated, show
//! the exact value and date of the point under the pointer. No inline styles (the page policy
//! forbids them): positions are SVG attributes, colours come from `series-N` classes.

use leptos::prelude::*;

/// One line: a label and a value for each category of the chart (`None` where there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub label: String,
    pub values: Vec<Option<i64>>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 28.0;

/// The smallest "nice" number (1, 2 or 5 × 10^k) at or above `value`, so the axis reads well.
pub fn nice_ceiling(value: i64) -> i64 {
    if value <= 0 {
        return 1;
    }
    let mut magnitude = 1i64;
    while magnitude * 10 <= value {
        magnitude *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10 * magnitude)
}

/// `1 234 567`, grouped in thousands with a thin space.
pub fn format_count(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if value < 0 { format!("-{out}") } else { out }
}

/// What a chart's values count, which decides how they read and where the axis ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unit {
    /// Things counted: the axis ends on a nice number above the largest value.
    #[default]
    Count,
    /// A percentage in tenths (388 reads 38.8%): the axis runs from 0% to 100%.
    TenthsOfPercent,
}

impl Unit {
    pub fn format(self, value: i64) -> String {
        match self {
            Unit::Count => format_count(value),
            Unit::TenthsOfPercent => format!("{:.1}%", value as f64 / 10.0),
        }
    }

    fn axis_max(self, largest: i64) -> i64 {
        match self {
            Unit::Count => nice_ceiling(largest),
            Unit::TenthsOfPercent => 1000,
        }
    }
}

/// A line chart of `lines` over `categories` (months by default, as `category_label` says), with
/// a legend, a table view of the same numbers and, when given, a CSV download.
#[component]
pub fn LineChart(
    title: String,
    categories: Vec<String>,
    lines: Vec<Line>,
    #[prop(optional, into)] csv_href: Option<String>,
    test_id: String,
    #[prop(optional)] unit: Unit,
    #[prop(optional, into)] category_label: Option<String>,
) -> impl IntoView {
    let max = unit.axis_max(
        lines
            .iter()
            .flat_map(|l| l.values.iter().flatten())
            .copied()
            .max()
            .unwrap_or(0),
    );
    let count = categories.len().max(1);
    // Whole units of a 640-wide view box: finer is invisible, and formatting fractions cost a
    // page of 14 charts more than drawing them (`bench/delivery.sh`).
    let x = move |i: usize| {
        let x = if count == 1 {
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (WIDTH - LEFT - RIGHT) * i as f64 / (count - 1) as f64
        };
        x.round() as i32
    };
    let y = move |v: i64| {
        (TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - v as f64 / max as f64)).round() as i32
    };
    let hovered = RwSignal::new(None::<(usize, usize)>);
    let label_every = count.div_ceil(12);
    let grid = (0..=4)
        .map(move |step| {
            let value = max * step / 4;
            view! {
                <g class="chart-grid">
                    <line x1=LEFT x2=WIDTH - RIGHT y1=y(value) y2=y(value)></line>
                    <text x=LEFT - 6.0 y=y(value) + 4 text-anchor="end">{unit.format(value)}</text>
                </g>
            }
        })
        .collect_view();
    // The first and last labels are anchored inward, so a long one stays inside the chart.
    let anchor = move |i: usize| match i {
        _ if count == 1 => "middle",
        0 => "start",
        i if i == count - 1 => "end",
        _ => "middle",
    };
    let axis = categories.iter().enumerate().filter(|(i, _)| i.is_multiple_of(label_every)).map(|(i, c)| view! {
        <text class="chart-axis" x=x(i) y=HEIGHT - 8.0 text-anchor=anchor(i)>{c.clone()}</text>
    }).collect_view();
    let paths = lines.iter().enumerate().map(|(s, line)| {
        let points: Vec<String> = line.values.iter().enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{},{}", x(i), y(v))))
            .collect();
        view! { <polyline class=format!("chart-line series-{s}") points=points.join(" ")></polyline> }
    }).collect_view();
    let dots = lines
        .iter()
        .enumerate()
        .flat_map(|(s, line)| {
            let categories = categories.clone();
            line.values
                .iter()
                .enumerate()
                .filter_map(move |(i, v)| {
                    let v = (*v)?;
                    Some(view! {
                        <circle
                            class=format!("chart-point series-{s}")
                            data-testid="chart-point"
                            data-series=s
                            data-category=categories[i].clone()
                            data-value=v
                            cx=x(i) cy=y(v) r="4"
                            tabindex="0"
                            on:mouseenter=move |_| hovered.set(Some((s, i)))
                            on:focus=move |_| hovered.set(Some((s, i)))
                            on:mouseleave=move |_| hovered.set(None)
                            on:blur=move |_| hovered.set(None)
                        ></circle>
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect_view();
    let tooltip = {
        let lines = lines.clone();
        let categories = categories.clone();
        move || {
            hovered.get().and_then(|(s, i)| {
                let value = lines.get(s)?.values.get(i).copied().flatten()?;
                let text = format!(
                    "{} · {}: {}",
                    lines[s].label,
                    categories[i],
                    unit.format(value)
                );
                let width = 7 * text.chars().count() as i32 + 16;
                let left = (x(i) - width / 2).clamp(0, (WIDTH as i32 - width).max(0));
                let top = (y(value) - 34).max(0);
                Some(view! {
                    <g class="chart-tooltip" data-testid="chart-tooltip">
                        <rect x=left y=top width=width height="24" rx="4"></rect>
                        <text x=left + width / 2 y=top + 16 text-anchor="middle">{text}</text>
                    </g>
                })
            })
        }
    };
    let legend = lines
        .iter()
        .enumerate()
        .map(|(s, line)| {
            view! {
                <li><span class=format!("legend-swatch series-{s}")></span>{line.label.clone()}</li>
            }
        })
        .collect_view();
    let table_rows = categories
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let cells = lines.iter().map(|l| view! {
            <td class="numeric">{l.values[i].map(|v| unit.format(v)).unwrap_or_else(|| "—".into())}</td>
        }).collect_view();
            view! { <tr><th scope="row">{c.clone()}</th>{cells}</tr> }
        })
        .collect_view();
    let headers = lines
        .iter()
        .map(|l| view! { <th class="numeric">{l.label.clone()}</th> })
        .collect_view();
    view! {
        <figure class="chart" data-testid=test_id>
            <figcaption><h2>{title.clone()}</h2></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title.clone() class="chart-svg">
                {grid}
                {axis}
                {paths}
                {dots}
                {tooltip}
            </svg>
            <ul class="chart-legend">{legend}</ul>
            <details class="chart-table">
                <summary>"Table view"</summary>
                <div class="table-scroll">
                    <table class="data-table" data-testid="chart-table">
                        <thead><tr><th>{category_label.unwrap_or_else(|| "Month".to_string())}</th>{headers}</tr></thead>
                        <tbody>{table_rows}</tbody>
                    </table>
                </div>
            </details>
            {csv_href.map(|href| view! { <a class="button button-ghost" href=href download rel="external" data-testid="chart-csv">"Download CSV"</a> })}
        </figure>
    }
}

/// A small line of values, for the overview.
#[component]
pub fn Sparkline(values: Vec<i64>, label: String) -> impl IntoView {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = values.len().max(2) - 1;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            // Whole units, as the line chart's.
            let x = (120.0 * i as f64 / n as f64).round();
            let y = (30.0 - 28.0 * *v as f64 / max).round();
            format!("{x},{y}")
        })
        .collect();
    view! {
        <svg class="sparkline" viewBox="0 0 120 32" role="img" aria-label=label>
            <polyline points=points.join(" ")></polyline>
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_nice_numbers_and_counts_are_grouped() {
        assert_eq!(
            [0, 1, 3, 7, 10, 11, 180, 2_345, 60_001].map(nice_ceiling),
            [1, 1, 5, 10, 10, 20, 200, 5_000, 100_000]
        );
        assert_eq!(format_count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(format_count(999), "999");
    }
}
