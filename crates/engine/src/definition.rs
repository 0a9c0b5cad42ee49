//! The metric dictionary: one YAML file per metric, in GitLab's metrics-dictionary format,
//! validated against `metrics/schema.json` when loaded. Problems are collected for every file
//! and reported together, each naming the file and the field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::instrumentation::Instrumentation;
use super::time_frame::TimeFrame;
use super::value_type::ValueType;

/// The schema every definition must satisfy; kept in the repository beside the metrics.
pub const SCHEMA: &str = include_str!("../../../metrics/schema.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Broken,
    Removed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Broken => "broken",
            Status::Removed => "removed",
        }
    }
}

/// GitLab's data categories. `optional` is sent only when the administrator allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataCategory {
    Standard,
    Subscription,
    Operational,
    Optional,
}

impl DataCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            DataCategory::Standard => "standard",
            DataCategory::Subscription => "subscription",
            DataCategory::Operational => "operational",
            DataCategory::Optional => "optional",
        }
    }

    /// The categories permitted in a payload, in the order the payload lists them.
    pub fn permitted(include_optional: bool) -> Vec<DataCategory> {
        let mut categories = vec![
            DataCategory::Standard,
            DataCategory::Subscription,
            DataCategory::Operational,
        ];
        if include_optional {
            categories.push(DataCategory::Optional);
        }
        categories
    }
}

/// The YAML fields, as written.
#[derive(Debug, Clone, Deserialize)]
struct RawDefinition {
    key_path: String,
    description: String,
    product_group: String,
    value_type: ValueType,
    status: Status,
    time_frame: TimeFrame,
    data_source: String,
    data_category: DataCategory,
    instrumentation_class: String,
    #[serde(default)]
    options: serde_json::Map<String, serde_json::Value>,
    tier: Vec<String>,
    milestone: String,
}

/// One metric of the dictionary, with its instrumentation resolved.
#[derive(Debug, Clone)]
pub struct MetricDefinition {
    pub key_path: String,
    pub description: String,
    pub product_group: String,
    pub value_type: ValueType,
    pub status: Status,
    pub time_frame: TimeFrame,
    pub data_source: String,
    pub data_category: DataCategory,
    pub instrumentation_class: String,
    pub instrumentation: Instrumentation,
    pub tier: Vec<String>,
    pub milestone: String,
    /// Path relative to the dictionary directory, for messages.
    pub file: PathBuf,
}

impl MetricDefinition {
    /// Whether the metric goes into a payload that permits `categories`.
    pub fn is_reported(&self, categories: &[DataCategory]) -> bool {
        self.status != Status::Removed && categories.contains(&self.data_category)
    }
}

/// One thing wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// Dotted field name (`options.table`), empty for the whole file.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: field `{}`: {}",
                self.file.display(),
                self.field,
                self.message
            )
        }
    }
}

/// Every problem found in the dictionary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DictionaryError(pub Vec<Problem>);

impl fmt::Display for DictionaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the metric dictionary has {} problem(s):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

/// All metric definitions, sorted by key path.
#[derive(Debug, Clone)]
pub struct Dictionary {
    pub definitions: Vec<MetricDefinition>,
}

impl Dictionary {
    /// Loads every `*.yml` under `dir` (recursively).
    pub fn load(dir: &Path) -> Result<Self, DictionaryError> {
        let schema: serde_json::Value =
            serde_json::from_str(SCHEMA).expect("the bundled schema is valid JSON");
        let validator =
            jsonschema::validator_for(&schema).expect("the bundled schema is a valid JSON Schema");
        let mut files = Vec::new();
        collect_yaml_files(dir, &mut files).map_err(|e| {
            DictionaryError(vec![Problem {
                file: dir.to_owned(),
                field: String::new(),
                message: e.to_string(),
            }])
        })?;
        files.sort();
        if files.is_empty() {
            return Err(DictionaryError(vec![Problem {
                file: dir.to_owned(),
                field: String::new(),
                message: "no metric definitions (*.yml) found".into(),
            }]));
        }
        let mut problems = Vec::new();
        let mut definitions = Vec::new();
        for path in files {
            let relative = path.strip_prefix(dir).unwrap_or(&path).to_owned();
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(Problem {
                        file: relative,
                        field: String::new(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            match parse(&text, &relative, &validator) {
                Ok(definition) => definitions.push(definition),
                Err(mut found) => problems.append(&mut found),
            }
        }
        problems.extend(key_path_conflicts(&definitions));
        if !problems.is_empty() {
            return Err(DictionaryError(problems));
        }
        definitions.sort_by(|a, b| a.key_path.cmp(&b.key_path));
        Ok(Dictionary { definitions })
    }

    /// Every table a metric of the dictionary reads.
    pub fn tables(&self) -> std::collections::BTreeSet<&str> {
        self.definitions
            .iter()
            .filter_map(|d| match &d.instrumentation {
                Instrumentation::Database(metric) => Some(metric.table.as_str()),
                Instrumentation::Sql(query) => Some(query.table),
                Instrumentation::System(_) => None,
            })
            .collect()
    }

    pub fn get(&self, key_path: &str) -> Option<&MetricDefinition> {
        self.definitions
            .binary_search_by(|d| d.key_path.as_str().cmp(key_path))
            .ok()
            .map(|i| &self.definitions[i])
    }
}

fn collect_yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses and validates one definition.
fn parse(
    text: &str,
    file: &Path,
    validator: &jsonschema::Validator,
) -> Result<MetricDefinition, Vec<Problem>> {
    let problem = |field: &str, message: String| Problem {
        file: file.to_owned(),
        field: field.to_owned(),
        message,
    };
    let value: serde_json::Value = serde_yaml_ng::from_str(text)
        .map_err(|e| vec![problem("", format!("not valid YAML: {e}"))])?;
    let schema_problems: Vec<Problem> = validator
        .iter_errors(&value)
        .map(|error| {
            problem(
                &pointer_to_field(&error.instance_path().to_string()),
                error.to_string(),
            )
        })
        .collect();
    if !schema_problems.is_empty() {
        return Err(schema_problems);
    }
    let raw: RawDefinition =
        serde_json::from_value(value).map_err(|e| vec![problem("", e.to_string())])?;
    let instrumentation =
        Instrumentation::parse(&raw.instrumentation_class, &raw.options, raw.value_type)
            .map_err(|e| vec![problem(&e.field, e.message)])?;
    if let Some(reason) = instrumentation.time_frame_mismatch(raw.time_frame) {
        return Err(vec![problem("time_frame", reason)]);
    }
    Ok(MetricDefinition {
        key_path: raw.key_path,
        description: raw.description,
        product_group: raw.product_group,
        value_type: raw.value_type,
        status: raw.status,
        time_frame: raw.time_frame,
        data_source: raw.data_source,
        data_category: raw.data_category,
        instrumentation_class: raw.instrumentation_class,
        instrumentation,
        tier: raw.tier,
        milestone: raw.milestone,
        file: file.to_owned(),
    })
}

/// `/options/table` → `options.table`; the root → empty.
fn pointer_to_field(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// Two files with the same key path, or a key path that is a prefix of another (a value cannot
/// also be an object), make the payload ambiguous.
fn key_path_conflicts(definitions: &[MetricDefinition]) -> Vec<Problem> {
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    let mut problems = Vec::new();
    for definition in definitions {
        if let Some(other) = seen.insert(&definition.key_path, &definition.file) {
            problems.push(Problem {
                file: definition.file.clone(),
                field: "key_path".into(),
                message: format!(
                    "`{}` is also defined in {}",
                    definition.key_path,
                    other.display()
                ),
            });
        }
    }
    for (key, file) in &seen {
        let mut prefix = String::new();
        for part in key.split('.') {
            if !prefix.is_empty() {
                if let Some(parent_file) = seen.get(prefix.as_str()) {
                    problems.push(Problem {
                        file: file.to_path_buf(),
                        field: "key_path".into(),
                        message: format!(
                            "`{key}` is inside `{prefix}`, which {} defines as a value",
                            parent_file.display()
                        ),
                    });
                }
                prefix.push('.');
            }
            prefix.push_str(part);
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "key_path: counts.issues
description: Count of issues
product_group: project_management
value_type: number
status: active
time_frame: all
data_source: database
data_category: optional
instrumentation_class: CountMetric
options:
  table: issues
tier: [free, premium, ultimate]
milestone: \"1.0\"
";

    fn dictionary_with(files: &[(&str, &str)]) -> Result<Dictionary, DictionaryError> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Dictionary::load(dir.path())
    }

    #[test]
    fn a_valid_definition_loads() {
        let dictionary = dictionary_with(&[("counts_all/issues.yml", VALID)]).unwrap();
        let issues = dictionary.get("counts.issues").unwrap();
        assert_eq!(issues.time_frame, TimeFrame::All);
        assert_eq!(issues.file, PathBuf::from("counts_all/issues.yml"));
    }

    #[test]
    fn an_invalid_enum_value_names_the_file_and_the_field() {
        let bad = VALID.replace("time_frame: all", "time_frame: 8d");
        let error = dictionary_with(&[("counts_all/issues.yml", &bad)]).unwrap_err();
        assert_eq!(error.0.len(), 1);
        assert_eq!(error.0[0].file, PathBuf::from("counts_all/issues.yml"));
        assert_eq!(error.0[0].field, "time_frame");
        assert!(
            error
                .to_string()
                .contains("counts_all/issues.yml: field `time_frame`"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_field_and_an_unknown_field_are_both_reported() {
        let bad = VALID
            .replace("description: Count of issues\n", "")
            .replace("milestone:", "colour: red\nmilestone:");
        let error = dictionary_with(&[("x.yml", &bad)]).unwrap_err().to_string();
        assert!(error.contains("description"), "{error}");
        assert!(error.contains("colour"), "{error}");
    }

    #[test]
    fn an_unknown_instrumentation_option_names_the_option() {
        let bad = VALID.replace("  table: issues", "  table: issues\n  colum: id");
        let error = dictionary_with(&[("x.yml", &bad)]).unwrap_err();
        assert_eq!(error.0[0].field, "options.colum");
    }

    #[test]
    fn yaml_syntax_errors_name_the_file() {
        let error = dictionary_with(&[("broken.yml", "key_path: [unclosed")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("broken.yml: not valid YAML"), "{error}");
    }

    #[test]
    fn duplicate_key_paths_are_refused() {
        let error = dictionary_with(&[("a.yml", VALID), ("b.yml", VALID)])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("b.yml: field `key_path`: `counts.issues` is also defined in a.yml"),
            "{error}"
        );
    }

    #[test]
    fn a_value_cannot_also_be_a_parent() {
        let parent = VALID.replace("key_path: counts.issues", "key_path: counts");
        let error = dictionary_with(&[("a.yml", VALID), ("b.yml", &parent)])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`counts.issues` is inside `counts`"),
            "{error}"
        );
    }

    #[test]
    fn a_broken_metric_needs_a_repair_issue() {
        let broken = VALID.replace("status: active", "status: broken");
        let error = dictionary_with(&[("a.yml", &broken)])
            .unwrap_err()
            .to_string();
        assert!(error.contains("repair_issue_url"), "{error}");
    }

    #[test]
    fn the_repository_dictionary_loads_with_at_least_150_active_metrics() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../metrics");
        let dictionary = Dictionary::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let active = dictionary
            .definitions
            .iter()
            .filter(|d| d.status == Status::Active)
            .count();
        assert!(active >= 150, "only {active} active metrics");
    }
}
