//! The tables and columns the database really has. Checked against the dictionary at start-up,
//! so a typo in a metric's table or column stops the process with a message naming the file,
//! rather than turning into a `-1` in every payload.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;

use super::definition::{Dictionary, DictionaryError, Problem};
use super::instrumentation::Instrumentation;
use service_ping_database::{Db, on_pool};

/// Loads the metric dictionary and checks every table and column it names against the
/// database, where a metric may read only the `readable` tables (the platform's, never the
/// product's own accounts, tokens or sessions). Any problem is an error naming the file and the
/// field, and the process must not start with it.
pub async fn load_checked(dir: &Path, db: &Db, readable: &[&str]) -> anyhow::Result<Dictionary> {
    let dictionary = Dictionary::load(dir)
        .with_context(|| format!("loading the metric dictionary {}", dir.display()))?;
    Catalog::read(db)
        .await?
        .readable_only(readable)
        .check(&dictionary)
        .with_context(|| format!("checking the metric dictionary {}", dir.display()))?;
    Ok(dictionary)
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    tables: BTreeMap<String, BTreeSet<String>>,
}

impl Catalog {
    /// Reads the schema of `db`.
    pub async fn read(db: &Db) -> Result<Self, sqlx::Error> {
        let sql = match db {
            Db::Sqlite(_) => {
                "SELECT m.name, p.name FROM sqlite_schema AS m JOIN pragma_table_info(m.name) AS p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
            }
            Db::Postgres(_) => {
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema()"
            }
        };
        let rows: Vec<(String, String)> =
            on_pool!(db, |pool| sqlx::query_as(sql).fetch_all(pool).await)?;
        let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (table, column) in rows {
            tables.entry(table).or_default().insert(column);
        }
        Ok(Catalog { tables })
    }

    /// Forgets every table but `readable`, so that a metric naming another one is refused.
    pub fn readable_only(mut self, readable: &[&str]) -> Self {
        self.tables
            .retain(|table, _| readable.contains(&table.as_str()));
        self
    }

    /// Every table and column a database metric names must exist.
    pub fn check(&self, dictionary: &Dictionary) -> Result<(), DictionaryError> {
        let mut problems = Vec::new();
        for definition in &dictionary.definitions {
            let Instrumentation::Database(metric) = &definition.instrumentation else {
                continue;
            };
            let problem = |field: &str, message: String| Problem {
                file: definition.file.clone(),
                field: field.into(),
                message,
            };
            let Some(columns) = self.tables.get(&metric.table) else {
                problems.push(problem(
                    "options.table",
                    format!(
                        "the database has no table `{}` that metrics may read",
                        metric.table
                    ),
                ));
                continue;
            };
            for (field, column) in metric.columns() {
                if !columns.contains(column) {
                    problems.push(problem(
                        &field,
                        format!("table `{}` has no column `{column}`", metric.table),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DictionaryError(problems))
        }
    }
}
