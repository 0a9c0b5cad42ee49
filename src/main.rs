//! `service-ping`: the instance (dashboard and jobs) and its command-line tools.
#![forbid(unsafe_code)]

use clap::Parser;
use service_ping::server::{cli::Cli, run};

/// A page render allocates many small, short-lived values on the runtime's threads: with 8
/// clients on `/admin`, glibc's `malloc`/`free` took 13% of the server's profile samples,
/// mimalloc's 7% (`perf record` under `bench/delivery.sh`'s load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
