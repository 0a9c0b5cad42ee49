//! Service Ping on the instance side: generating payloads from the metric dictionary and keeping
//! them, byte for byte, as raw usage data. Plain server code (no Leptos): the dashboard, the
//! command line and the weekly job all call these functions.

pub mod db;
pub mod facts;
pub mod generate;
pub mod rollups;
pub mod schedule;
pub mod submit;
pub mod tracker;

pub use generate::{GenerationDeps, Trigger, TriggerKind, generate_and_store};
pub use submit::{CollectorClient, SubmitError, submit_now};
pub use tracker::GenerationTracker;

use std::path::Path;

use crate::engine::Dictionary;
use crate::engine::catalog::Catalog;
use crate::server::db::Db;

/// Loads the metric dictionary and checks every table and column it names against the
/// database. Any problem is an error naming the file and the field, and the process must not
/// start with it.
pub async fn load_dictionary(dir: &Path, db: &Db) -> anyhow::Result<Dictionary> {
    use anyhow::Context;
    let dictionary = Dictionary::load(dir)
        .with_context(|| format!("loading the metric dictionary {}", dir.display()))?;
    Catalog::read(db)
        .await?
        .check(&dictionary)
        .with_context(|| format!("checking the metric dictionary {}", dir.display()))?;
    Ok(dictionary)
}
