//! Storing pings in batches. Handlers queue each validated ping and wait for its outcome; writer
//! tasks take whatever has queued up (up to [`MAX_BATCH`]) and store it in one transaction
//! ([`db::store_pings`]). Alone, a ping is a batch of one and waits for nothing; when many
//! instances send at once, the statements and the commit are shared by the batch instead of
//! being paid per ping (SQLite writes one transaction at a time; PostgreSQL's commits cost a
//! round trip and a WAL flush each).
//!
//! On SQLite one task writes, on its one connection. On PostgreSQL several do, each taking a
//! connection of the pool per batch: writers run side by side, kept apart per instance by the
//! locks [`db::store_pings`] takes.

use std::sync::Arc;

use service_ping_database::Db;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::db::{self, Pending, Stored};

/// The most pings stored in one transaction.
pub const MAX_BATCH: usize = 64;

/// Why a queued ping was not stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("storing the batch failed: {0}")]
    Database(String),
    #[error("the collector is stopping")]
    Stopped,
}

struct Job {
    pending: Pending,
    outcome: oneshot::Sender<Result<Stored, WriteError>>,
}

/// The queue in front of the writer tasks. Cloning shares it; the tasks stop when the last clone
/// is dropped.
#[derive(Clone)]
pub struct PingWriter {
    queue: mpsc::Sender<Job>,
}

impl PingWriter {
    /// Starts the writer tasks on `db`: one on SQLite, `postgres_writers` on PostgreSQL.
    pub fn start(db: Db, postgres_writers: usize, max_bytes_per_week: u64) -> Self {
        let (queue, jobs) = mpsc::channel(MAX_BATCH * 16);
        let jobs = Arc::new(Mutex::new(jobs));
        let writers = match db {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => postgres_writers.max(1),
        };
        for _ in 0..writers {
            tokio::spawn(write_batches(db.clone(), jobs.clone(), max_bytes_per_week));
        }
        Self { queue }
    }

    /// Queues `pending` and waits until its batch is stored.
    pub async fn store(&self, pending: Pending) -> Result<Stored, WriteError> {
        let (outcome, stored) = oneshot::channel();
        self.queue
            .send(Job { pending, outcome })
            .await
            .map_err(|_| WriteError::Stopped)?;
        stored.await.map_err(|_| WriteError::Stopped)?
    }
}

async fn write_batches(db: Db, jobs: Arc<Mutex<mpsc::Receiver<Job>>>, max_bytes_per_week: u64) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        batch.clear();
        // One writer at a time takes what has queued; the others wait for the next batch.
        if jobs.lock().await.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let (pendings, outcomes): (Vec<Pending>, Vec<_>) = batch
            .drain(..)
            .map(|job| (job.pending, job.outcome))
            .unzip();
        let stored = service_ping_database::retrying_busy(|| {
            db::store_pings(&db, &pendings, max_bytes_per_week)
        })
        .await;
        match stored {
            Ok(stored) => {
                for (outcome, stored) in outcomes.into_iter().zip(stored) {
                    let _ = outcome.send(Ok(stored));
                }
            }
            Err(error) => {
                tracing::error!(%error, pings = pendings.len(), "collector: a batch of pings could not be stored");
                for outcome in outcomes {
                    let _ = outcome.send(Err(WriteError::Database(error.to_string())));
                }
            }
        }
    }
}
