//! The daily measurement job: [`run_once`] records every day up to yesterday that is missing
//! from the last 365 (so a fresh instance backfills a year from its own creation dates, and a
//! restart catches up), and a thin loop calls it every hour. Days are recorded once they are
//! over, so a value never changes after it is written; reruns store nothing.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio_util::sync::CancellationToken;

use super::{db, measure};
use crate::db::Db;

/// How far back the backfill goes.
pub const BACKFILL_DAYS: u64 = 365;

/// What a run recorded: the days measured (if any) and how many values were new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub days: Option<(NaiveDate, NaiveDate)>,
    pub inserted: u64,
}

pub async fn run_once(db: &Db, now: DateTime<Utc>) -> Result<RunReport, sqlx::Error> {
    let yesterday = now.date_naive() - chrono::Days::new(1);
    let oldest = now.date_naive() - chrono::Days::new(BACKFILL_DAYS);
    let Some(first) = db::first_missing_day(db, oldest, yesterday).await? else {
        return Ok(RunReport {
            days: None,
            inserted: 0,
        });
    };
    let measured = measure::measure(db, first, yesterday).await?;
    let inserted = db::insert(db, &measured).await?;
    Ok(RunReport {
        days: Some((first, yesterday)),
        inserted,
    })
}

/// The background job: [`run_once`] on start and every hour until `stop`.
pub async fn run_forever(db: Db, stop: CancellationToken) {
    loop {
        let started = std::time::Instant::now();
        match run_once(&db, Utc::now()).await {
            Ok(RunReport {
                days: Some((first, last)),
                inserted,
            }) => tracing::info!(
                %first, %last, inserted,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "usage trends recorded"
            ),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "recording usage trends failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            () = stop.cancelled() => return,
        }
    }
}
