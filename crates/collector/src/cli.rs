//! `service-ping collector ...`: the collector role's command line, a subcommand of the one
//! binary (the global `--config`, `--data-dir` and `--listen` flags are the binary's).

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct CollectorArgs {
    #[command(subcommand)]
    pub command: Option<CollectorCommand>,
}

#[derive(Debug, Subcommand)]
pub enum CollectorCommand {
    /// Receive pings on --listen, storing them in --data-dir (the default).
    Serve,
    /// Fill the collector with a deterministic fleet of instances and their weekly pings.
    SeedFleet(SeedFleetArgs),
    /// The vendor's licenses: signing key, issuing, listing.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Write a backup of the collector's database while it runs.
    Backup(BackupArgs),
    /// Restore a backup made by `collector backup` into an empty database, then migrate it.
    Restore(RestoreArgs),
}

/// `backup`, for either role.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (mode 0600; replaced whole, or not at all).
    #[arg(long, value_name = "FILE")]
    pub out: std::path::PathBuf,
    /// Also the data directory's own files: generated keys and passwords.
    #[arg(long)]
    pub include_secrets: bool,
}

/// `restore`, for either role.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup file made by `backup`.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Replace a database that already holds data, and secrets of the same names.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Create the vendor's Ed25519 signing key in --key (refuses to overwrite) and print the
    /// public key that instances configure as `licensing.public_key`.
    Keygen(KeyArgs),
    /// Print the public key of an existing signing key.
    PublicKey(KeyArgs),
    /// Issue a signed license, keep its record, and write the license file.
    Issue(IssueArgs),
    /// List issued licenses with the last ping that named each.
    List,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The signing key file (base64 of 32 bytes, mode 0600).
    #[arg(long)]
    pub key: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The signing key file made by `license keygen`.
    #[arg(long)]
    pub key: std::path::PathBuf,
    /// premium or ultimate.
    #[arg(long)]
    pub plan: service_ping_protocol::edition::Plan,
    /// Seats (the payload's license_user_count).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub seats: u32,
    #[arg(long)]
    pub licensee_name: String,
    #[arg(long)]
    pub licensee_email: String,
    #[arg(long)]
    pub licensee_company: String,
    /// First day the license is in force (YYYY-MM-DD); today when omitted.
    #[arg(long)]
    pub starts: Option<chrono::NaiveDate>,
    /// The day it stops being in force (YYYY-MM-DD).
    #[arg(long)]
    pub expires: chrono::NaiveDate,
    #[arg(long)]
    pub trial: bool,
    /// Where to write the license file; standard output when omitted.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct SeedFleetArgs {
    /// How many instances.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub instances: u32,
    /// Weekly pings per instance, the last one yesterday.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=104))]
    pub weeks: u32,
    /// Do nothing (and succeed) when the collector already has pings.
    #[arg(long)]
    pub if_empty: bool,
}
