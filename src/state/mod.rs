//! The bottom layer every slice stands on: the state built once at start-up and shared by server
//! functions, routes and jobs. It names only what is below the slices (configuration, the
//! database, the instance's identity, the engine's dictionary, the collector client), so any
//! slice may use it and it uses none.

pub mod generation;
pub mod page_reads;

use std::sync::Arc;

use axum::extract::FromRef;
use ed25519_dalek::VerifyingKey;
use leptos::prelude::*;
use service_ping_engine::Dictionary;
use service_ping_protocol::client::CollectorClient;

use self::generation::{GenerationDeps, GenerationTracker};
use crate::config::{Locks, Settings};
use crate::db::Db;
use crate::error::AppError;
use crate::instance::InstanceIdentity;

/// Everything a request handler or server function may need, built once at start-up.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub settings: Arc<Settings>,
    pub locks: Arc<Locks>,
    pub identity: Arc<InstanceIdentity>,
    pub dictionary: Arc<Dictionary>,
    pub generation: Arc<GenerationTracker>,
    pub collector: Arc<CollectorClient>,
    /// This process's name in the weekly job's lease.
    pub schedule_owner: String,
    /// The vendor's license key (`licensing.public_key`), parsed once.
    pub vendor_key: Option<VerifyingKey>,
}

/// What working out the paid features' entitlement reads: the database, the operator's locks
/// and the vendor's key. Services that ask about paid features take this, not the whole state.
#[derive(Clone, Copy)]
pub struct Licensing<'a> {
    pub db: &'a Db,
    pub locks: &'a Locks,
    pub vendor_key: Option<&'a VerifyingKey>,
}

impl AppState {
    /// What generating a payload needs, borrowed from the state.
    pub fn generation_deps(&self) -> GenerationDeps<'_> {
        GenerationDeps {
            db: &self.db,
            dictionary: &self.dictionary,
            identity: &self.identity,
            instance: &self.settings.instance,
            locks: &self.locks,
            vendor_key: self.vendor_key,
            prometheus: &self.settings.prometheus,
            geo: &self.settings.geo,
        }
    }

    /// What the paid features' guards need, borrowed from the state.
    pub fn licensing(&self) -> Licensing<'_> {
        Licensing {
            db: &self.db,
            locks: &self.locks,
            vendor_key: self.vendor_key.as_ref(),
        }
    }
}

/// The state inside a server function.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("AppState is not in the context")))
}
