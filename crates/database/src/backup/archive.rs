//! The backup file: a zstd-compressed tar of the parts and, last, their manifest, written and
//! read with every part's size and sha256.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The backup format this binary writes and reads.
pub(super) const FORMAT: u32 = 1;
pub(super) const MANIFEST: &str = "manifest.json";
pub(super) const SQLITE_PART: &str = "database.sqlite3";
pub(super) const POSTGRES_PART: &str = "database.pgdump";
pub(super) const SECRETS: &str = "secrets/";

/// What a backup holds, written into it last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub role: String,
    /// The product version and git commit that wrote it.
    pub version: String,
    pub commit: String,
    /// `sqlite` or `postgresql`.
    pub backend: String,
    /// The newest migration applied to the database when it was copied.
    pub schema_version: i64,
    pub created_at: String,
    pub secrets_included: bool,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Part {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Writes `files` and then the manifest, with each file's size and sha256, into a compressed
/// tar at `out`: first as a private file beside the parts, renamed over `out` once synced.
pub(super) fn write_archive(
    staging: &Path,
    files: &[(String, PathBuf)],
    manifest: &mut Manifest,
    out: &Path,
) -> anyhow::Result<()> {
    let partial = staging.join("backup.partial");
    let file = private_file(&partial)?;
    let mut archive = tar::Builder::new(zstd::Encoder::new(file, 3)?);
    for (name, path) in files {
        // Hashed as it is written: one read of each part, however large.
        let file = std::fs::File::open(path)?;
        let bytes = file.metadata()?.len();
        let mut source = Hashing::new(file);
        archive
            .append_data(&mut entry_header(bytes), name, &mut source)
            .with_context(|| format!("writing {name} into the backup"))?;
        ensure!(
            source.bytes == bytes,
            "{} changed while it was written into the backup",
            path.display()
        );
        manifest.parts.push(Part {
            name: name.clone(),
            bytes,
            sha256: hex::encode(source.hasher.finalize()),
        });
    }
    let text = serde_json::to_vec_pretty(&manifest)?;
    archive.append_data(
        &mut entry_header(text.len() as u64),
        MANIFEST,
        text.as_slice(),
    )?;
    let file = archive.into_inner()?.finish()?;
    file.sync_all()?;
    std::fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// A tar entry readable by its owner only, with no timestamp to leak or vary.
fn entry_header(bytes: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes);
    header.set_mode(0o600);
    header.set_mtime(0);
    header
}

/// Unpacks a backup into `staging`, each part's size and sha256 checked against the manifest.
pub(super) fn unpack(file: &Path, staging: &Path) -> anyhow::Result<Manifest> {
    let opened =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let damaged = || {
        format!(
            "{} is not a whole Service Ping backup (truncated or damaged)",
            file.display()
        )
    };
    let decoder = zstd::Decoder::new(opened).with_context(damaged)?;
    let mut archive = tar::Archive::new(decoder);
    let mut seen: Vec<Part> = Vec::new();
    let mut manifest: Option<Manifest> = None;
    for entry in archive.entries().with_context(damaged)? {
        let mut entry = entry.with_context(damaged)?;
        let name = entry
            .path()
            .with_context(damaged)?
            .to_string_lossy()
            .to_string();
        if name == MANIFEST {
            let mut text = Vec::new();
            entry.read_to_end(&mut text).with_context(damaged)?;
            manifest = Some(
                serde_json::from_slice(&text)
                    .with_context(|| format!("{}: its manifest does not read", file.display()))?,
            );
            continue;
        }
        ensure!(
            is_part_name(&name),
            "{}: unexpected entry {name:?}; not a Service Ping backup",
            file.display()
        );
        let destination = staging.join(&name);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = private_file(&destination)?;
        let mut source = Hashing::new(&mut entry);
        let mut buffer = vec![0; 1 << 16];
        loop {
            let n = source.read(&mut buffer).with_context(damaged)?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n])?;
        }
        seen.push(Part {
            name,
            bytes: source.bytes,
            sha256: hex::encode(source.hasher.finalize()),
        });
    }
    let manifest = manifest.with_context(|| format!("{} (no manifest)", damaged()))?;
    ensure!(
        manifest.format == FORMAT,
        "{}: backup format {} is not one this release reads ({FORMAT})",
        file.display(),
        manifest.format
    );
    for part in &manifest.parts {
        let Some(found) = seen.iter().find(|s| s.name == part.name) else {
            bail!("{}: {} is missing", damaged(), part.name);
        };
        ensure!(
            found == part,
            "{}: {} does not match its sha256 in the manifest",
            damaged(),
            part.name
        );
    }
    ensure!(
        seen.len() == manifest.parts.len(),
        "{}: it holds parts its manifest does not list",
        damaged()
    );
    Ok(manifest)
}

/// A part's name: the database, or a secret's plain file name (no directory, no `..`).
fn is_part_name(name: &str) -> bool {
    match name.strip_prefix(SECRETS) {
        Some(secret) => {
            !secret.is_empty() && !secret.contains('/') && secret != ".." && secret != "."
        }
        None => name == SQLITE_PART || name == POSTGRES_PART,
    }
}

/// A new file readable and writable by its owner only.
pub(super) fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// A reader that hashes and counts what is read through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_database_and_plain_secret_names_are_parts() {
        assert!(is_part_name("database.sqlite3"));
        assert!(is_part_name("database.pgdump"));
        assert!(is_part_name("secrets/initial_root_password"));
        for name in [
            "secrets/",
            "secrets/../x",
            "secrets/a/b",
            "etc/passwd",
            "../x",
            "secrets/..",
        ] {
            assert!(!is_part_name(name), "{name}");
        }
    }
}
