//! A collapsible, searchable view of a JSON document. Server-rendered fully expanded (readable
//! without JavaScript); once hydrated, branches fold, "Expand all"/"Collapse all" work and the
//! key search hides every leaf whose dotted key path does not contain the query.

use leptos::html::Details;
use leptos::prelude::*;

use crate::components::plural;
use serde_json::{Map, Value};

/// Whether the tree's branches are open; `generation` changes on every button press so that
/// pressing "Expand all" twice reopens what a person folded in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expansion {
    pub open: bool,
    pub generation: u32,
}

impl Default for Expansion {
    fn default() -> Self {
        Self {
            open: true,
            generation: 0,
        }
    }
}

/// Every leaf's dotted key path, in document order.
pub fn leaf_paths(document: &Value) -> Vec<String> {
    leaves(document).into_iter().map(|(path, _)| path).collect()
}

/// Every leaf of `document` with its dotted key path, in document order.
pub fn leaves(document: &Value) -> Vec<(String, &Value)> {
    fn walk<'a>(prefix: &str, map: &'a Map<String, Value>, out: &mut Vec<(String, &'a Value)>) {
        for (key, value) in map {
            let path = join(prefix, key);
            match value {
                Value::Object(children) if !children.is_empty() => walk(&path, children, out),
                _ => out.push((path, value)),
            }
        }
    }
    let mut out = Vec::new();
    if let Value::Object(map) = document {
        walk("", map, &mut out);
    }
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Whether `path` matches the (already lower-cased) search `query`.
pub fn path_matches(path: &str, query: &str) -> bool {
    query.is_empty() || path.to_lowercase().contains(query)
}

#[component]
pub fn JsonTree(
    document: Value,
    /// The lower-cased key search.
    #[prop(into)]
    query: Signal<String>,
    expansion: RwSignal<Expansion>,
) -> impl IntoView {
    let Value::Object(map) = document else {
        return view! { <pre class="payload-raw">{document.to_string()}</pre> }.into_any();
    };
    view! {
        <ul class="json-tree" data-testid="json-tree">
            {entries(String::new(), map, query, expansion)}
        </ul>
    }
    .into_any()
}

fn entries(
    prefix: String,
    map: Map<String, Value>,
    query: Signal<String>,
    expansion: RwSignal<Expansion>,
) -> Vec<AnyView> {
    map.into_iter()
        .map(|(key, value)| {
            let path = join(&prefix, &key);
            match value {
                Value::Object(children) if !children.is_empty() => {
                    branch(key, path, children, query, expansion)
                }
                other => leaf(key, path, other, query),
            }
        })
        .collect()
}

fn branch(
    key: String,
    path: String,
    children: Map<String, Value>,
    query: Signal<String>,
    expansion: RwSignal<Expansion>,
) -> AnyView {
    let paths = leaf_paths(&Value::Object(children.clone()))
        .into_iter()
        .map(|p| join(&path, &p))
        .collect::<Vec<_>>();
    let count = children.len();
    let matches = {
        let paths = paths.clone();
        move || {
            let query = query.get();
            paths.iter().any(|p| path_matches(p, &query))
        }
    };
    let details = NodeRef::<Details>::new();
    let key_path = path.clone();
    let opens = matches.clone();
    Effect::new(move || {
        let wanted = if query.get().is_empty() {
            expansion.get().open
        } else {
            opens()
        };
        if let Some(element) = details.get() {
            element.set_open(wanted);
        }
    });
    view! {
        <li class="json-branch" class:is-hidden=move || !matches() data-key-path=key_path>
            <details open node_ref=details>
                <summary>
                    <span class="json-key">{key}</span>
                    <span class="json-count">{plural(count, "key", "keys")}</span>
                </summary>
                <ul>{entries(path, children, query, expansion)}</ul>
            </details>
        </li>
    }
    .into_any()
}

fn leaf(key: String, path: String, value: Value, query: Signal<String>) -> AnyView {
    let kind = match &value {
        Value::Number(_) => "json-number",
        Value::String(_) => "json-string",
        Value::Bool(_) => "json-boolean",
        Value::Null => "json-null",
        Value::Array(_) | Value::Object(_) => "json-compound",
    };
    let searched_path = path.clone();
    let matches = move || path_matches(&searched_path, &query.get());
    let highlighted = {
        let matches = matches.clone();
        move || !query.get().is_empty() && matches()
    };
    view! {
        <li class="json-leaf" class:is-hidden=move || !matches() class:is-match=highlighted data-key-path=path>
            <span class="json-key">{key}</span>
            <span class="json-colon">": "</span>
            <span class=kind>{value.to_string()}</span>
        </li>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaf_paths_follow_the_document_and_empty_objects_are_leaves() {
        let document = json!({"counts": {"boards": 1, "issues": 2}, "license": {}, "uuid": "u"});
        assert_eq!(
            leaf_paths(&document),
            ["counts.boards", "counts.issues", "license", "uuid"]
        );
    }

    #[test]
    fn the_search_matches_any_part_of_the_path_ignoring_case() {
        assert!(path_matches("counts_monthly.ci_pipelines", "monthly.ci"));
        assert!(path_matches("Counts.Issues", "issues"));
        assert!(!path_matches("counts.issues", "deploy"));
        assert!(path_matches("anything", ""));
    }
}
