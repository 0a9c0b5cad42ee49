//! The `service-ping` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "service-ping",
    version = version_text(),
    about = "Service Ping: usage payloads you can read byte for byte, sent weekly to a collector."
)]
pub struct Cli {
    /// TOML configuration file (values in it lock the matching dashboard controls).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory: the SQLite database and generated secrets [default: ./data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3000]
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the instance: dashboard and background jobs (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage dashboard accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Fill the demo platform with deterministic data (scale 1 is about 100 000 rows).
    Seed(SeedArgs),
    /// Generate and store a payload, then print exactly its bytes (for air-gapped export).
    Payload(PayloadArgs),
    /// List the stored payloads: recorded_at, sha256, size, sent_at.
    History(HistoryArgs),
    /// Generate a payload and send it to the collector now (refused when Service Ping is off).
    Submit,
    /// Run the collector (GitLab's Versions application) that instances send their pings to.
    Collector(service_ping_collector::cli::CollectorArgs),
    /// Write a backup of the instance's database while the server runs.
    Backup(service_ping_collector::cli::BackupArgs),
    /// Restore a backup made by `backup` into an empty database (stop the server first), then
    /// migrate it.
    Restore(service_ping_collector::cli::RestoreArgs),
}

/// `--version`: the release, the commit it was built from, and the newest schema version of
/// each role's database this binary migrates to.
fn version_text() -> &'static str {
    use service_ping_database::Backend;
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{} (commit {}, schema {}, collector schema {})",
            service_ping_database::VERSION,
            service_ping_database::COMMIT,
            crate::db::ROLE.newest_schema(Backend::Sqlite),
            service_ping_collector::db::ROLE.newest_schema(Backend::Sqlite),
        )
    });
    &TEXT
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Size of the platform: rows grow linearly (100 is about 10 million rows).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub scale: u32,
    /// Replace the platform's data when it already has some.
    #[arg(long, conflicts_with = "if_empty")]
    pub reset: bool,
    /// Do nothing (and succeed) when the platform already has data.
    #[arg(long)]
    pub if_empty: bool,
}

#[derive(Debug, Args)]
pub struct PayloadArgs {
    /// Write the payload to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How many payloads to list, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account (an administrator unless --regular).
    Create(CreateAccount),
}

#[derive(Debug, Args)]
pub struct CreateAccount {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub email: String,
    /// Display name [default: the username]
    #[arg(long)]
    pub name: Option<String>,
    /// Read the password from standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
    /// Create a regular account that can sign in but cannot administer.
    #[arg(long)]
    pub regular: bool,
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            listen: self.listen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_means_serve_and_global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["service-ping", "migrate", "--data-dir", "/tmp/x"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Migrate)));
        assert_eq!(
            cli.data_dir.as_deref(),
            Some(std::path::Path::new("/tmp/x"))
        );
        let cli = Cli::try_parse_from(["service-ping"]).unwrap();
        assert!(cli.command.is_none());
    }

    #[test]
    fn seed_scale_must_be_in_range_and_reset_excludes_if_empty() {
        assert!(Cli::try_parse_from(["service-ping", "seed", "--scale", "0"]).is_err());
        assert!(Cli::try_parse_from(["service-ping", "seed", "--scale", "x"]).is_err());
        assert!(Cli::try_parse_from(["service-ping", "seed", "--reset", "--if-empty"]).is_err());
        let cli = Cli::try_parse_from(["service-ping", "seed", "--scale", "100"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Seed(SeedArgs { scale: 100, .. }))
        ));
    }

    #[test]
    fn collector_takes_the_global_listen_and_data_dir_flags() {
        let cli = Cli::try_parse_from([
            "service-ping",
            "collector",
            "--listen",
            "127.0.0.1:3002",
            "--data-dir",
            "/tmp/c",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Collector(
                service_ping_collector::cli::CollectorArgs { command: None }
            ))
        ));
        assert_eq!(cli.listen.unwrap().port(), 3002);
    }

    #[test]
    fn malformed_listen_address_is_refused() {
        assert!(Cli::try_parse_from(["service-ping", "--listen", "localhost"]).is_err());
    }
}
