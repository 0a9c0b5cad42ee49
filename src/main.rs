//! `service-ping`: the instance (dashboard and jobs) and its command-line tools.
#![forbid(unsafe_code)]

use clap::Parser;
use service_ping::server::{cli::Cli, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("service-ping: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
