//! The `service-ping` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "service-ping",
    version,
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
    fn malformed_listen_address_is_refused() {
        assert!(Cli::try_parse_from(["service-ping", "--listen", "localhost"]).is_err());
    }
}
