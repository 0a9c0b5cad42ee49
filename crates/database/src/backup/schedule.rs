//! Backups the server takes on its own (`[backup]` in the configuration): every so many hours
//! into a directory, keeping the newest few.
//!
//! When the next one is due is read from the directory, not kept in memory: the newest backup's
//! time plus the period. A restart neither takes an extra backup nor forgets one that is late;
//! a server that was down through its slot takes the backup as soon as it is back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, ensure};
use chrono::{DateTime, NaiveDateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;

use super::{Role, Target, backup};
use crate::Db;

/// `[backup]`: the scheduled backup and its retention.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    /// Hours between backups; 0 (the default) takes none.
    pub every_hours: u32,
    /// How many of the newest scheduled backups to keep; older ones are deleted after each new
    /// one is written whole. Backups written by hand elsewhere are never touched.
    pub keep: u32,
    /// Where they go; by default `backups/` in the data directory (created readable by the
    /// service's user only).
    pub dir: Option<PathBuf>,
    /// Whether they hold the data directory's secrets, as `backup --include-secrets` does.
    pub include_secrets: bool,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            every_hours: 0,
            keep: 7,
            dir: None,
            include_secrets: false,
        }
    }
}

/// A year: a longer period is surely a mistake in the configuration.
const LONGEST_PERIOD_HOURS: u32 = 24 * 366;

/// The format of a scheduled backup's time in its file name: sorts as it reads.
const STAMP: &str = "%Y%m%dT%H%M%SZ";

impl Schedule {
    /// Whether the settings make sense; checked when the configuration is loaded.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            self.every_hours <= LONGEST_PERIOD_HOURS,
            "backup.every_hours is {}: at most {LONGEST_PERIOD_HOURS} (a year), or 0 for no scheduled backups",
            self.every_hours
        );
        ensure!(
            self.every_hours == 0 || self.keep >= 1,
            "backup.keep is 0: scheduled backups would be deleted as soon as written; keep at least 1, or set backup.every_hours = 0"
        );
        Ok(())
    }

    pub fn is_enabled(&self) -> bool {
        self.every_hours > 0
    }

    /// The directory scheduled backups go to.
    pub fn dir_in(&self, data_dir: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| data_dir.join("backups"))
    }

    fn period(&self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.every_hours))
    }
}

/// A scheduled backup's file name: `ROLE-TIME.tar.zst`.
fn file_name(role: &Role, at: DateTime<Utc>) -> String {
    format!("{}-{}.tar.zst", role.name, at.format(STAMP))
}

/// The scheduled backups of `role` in `dir`, oldest first, with their times.
pub fn scheduled_backups(dir: &Path, role: &Role) -> anyhow::Result<Vec<(DateTime<Utc>, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).context(format!("reading {}", dir.display())),
    };
    let prefix = format!("{}-", role.name);
    let mut backups = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let stamp = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tar.zst"));
        if let Some(at) = stamp.and_then(|stamp| NaiveDateTime::parse_from_str(stamp, STAMP).ok()) {
            backups.push((at.and_utc(), path));
        }
    }
    backups.sort();
    Ok(backups)
}

/// When the next scheduled backup is due: a period after the newest, or `None` (now) when there
/// is none yet.
pub fn next_due(
    schedule: &Schedule,
    dir: &Path,
    role: &Role,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let backups = scheduled_backups(dir, role)?;
    Ok(backups
        .last()
        .map(|(newest, _)| *newest + schedule.period()))
}

/// Writes the backup due at `now` into the schedule's directory, then deletes all but the newest
/// `keep`. Returns the new file.
pub async fn take_scheduled(
    db: &Db,
    target: &Target<'_>,
    role: &Role,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> anyhow::Result<PathBuf> {
    let dir = schedule.dir_in(target.data_dir);
    create_private_dir(&dir)?;
    let file = dir.join(file_name(role, now));
    backup(db, target, role, &file, schedule.include_secrets).await?;
    let backups = scheduled_backups(&dir, role)?;
    let surplus = backups.len().saturating_sub(schedule.keep as usize);
    for (_, old) in &backups[..surplus] {
        std::fs::remove_file(old).with_context(|| format!("deleting {}", old.display()))?;
    }
    Ok(file)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the backup directory {}", dir.display()))
}

/// Takes the scheduled backups until `stop` resolves. A failure is logged and tried again in an
/// hour (or at the next period, when shorter): a backup never takes the server down.
pub async fn run_scheduled(
    db: Db,
    url: SecretString,
    data_dir: PathBuf,
    role: &'static Role,
    schedule: Schedule,
    stop: impl Future<Output = ()>,
) {
    if !schedule.is_enabled() {
        return stop.await;
    }
    let target = Target {
        url: &url,
        data_dir: &data_dir,
    };
    let dir = schedule.dir_in(&data_dir);
    let retry =
        Duration::from_secs(3600).min(Duration::from_secs(u64::from(schedule.every_hours) * 3600));
    tokio::pin!(stop);
    loop {
        let wait = match next_due(&schedule, &dir, role) {
            Ok(due) => due.map_or(Duration::ZERO, |due| {
                (due - Utc::now()).to_std().unwrap_or(Duration::ZERO)
            }),
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "reading the backup directory failed"
                );
                retry
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut stop => return,
        }
        let started = std::time::Instant::now();
        match take_scheduled(&db, &target, role, &schedule, Utc::now()).await {
            Ok(file) => tracing::info!(
                role = role.name,
                file = %file.display(),
                seconds = started.elapsed().as_secs_f64(),
                "scheduled backup written"
            ),
            Err(error) => {
                tracing::warn!(
                    role = role.name,
                    error = format!("{error:#}"),
                    "scheduled backup failed; trying again later"
                );
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    () = &mut stop => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_that_would_keep_nothing_or_wait_years_is_refused() {
        let keeps_nothing = Schedule {
            every_hours: 24,
            keep: 0,
            ..Schedule::default()
        };
        let error = keeps_nothing.validate().unwrap_err().to_string();
        assert!(error.contains("backup.keep is 0"), "{error}");
        let too_rare = Schedule {
            every_hours: LONGEST_PERIOD_HOURS + 1,
            ..Schedule::default()
        };
        assert!(too_rare.validate().is_err());
        assert!(Schedule::default().validate().is_ok());
        assert!(!Schedule::default().is_enabled(), "off unless configured");
    }
}
