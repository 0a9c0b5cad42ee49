//! Backups on SQLite: the online backup API for the copy, a rename for the restore.

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use secrecy::SecretString;

/// Copies the SQLite database at `source` page by page with SQLite's online backup, in one step:
/// one read transaction, so a consistent snapshot while the server goes on writing (in WAL mode
/// writers do not wait for it). Several times faster than `VACUUM INTO`, which rebuilds every
/// table and index.
pub(super) fn copy(source: &Path, destination: &Path) -> anyhow::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    use rusqlite::{Connection, OpenFlags};
    let source = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(std::time::Duration::from_secs(30))?;
    let mut copy = Connection::open(destination)?;
    {
        let backup = Backup::new(&source, &mut copy)?;
        // -1: every page in one step. Busy or locked (a checkpoint holding the lock): wait, retry.
        let mut done = false;
        for _ in 0..300 {
            if backup.step(-1)? == StepResult::Done {
                done = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        ensure!(done, "the database stayed locked for 30 seconds");
    }
    // The copy stands alone: one file, no journal beside it.
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// Puts the restored database file `staged` in place of the one `url` names, removing that one's
/// write-ahead log and shared memory, which belong to the old file.
pub(super) fn replace(url: &SecretString, staged: &Path) -> anyhow::Result<()> {
    let database = crate::sqlite::file_of(url)?;
    for stale in [suffixed(&database, "-wal"), suffixed(&database, "-shm")] {
        match std::fs::remove_file(&stale) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error).context(format!("removing {}", stale.display()));
            }
            _ => {}
        }
    }
    std::fs::rename(staged, &database).with_context(|| format!("replacing {}", database.display()))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
