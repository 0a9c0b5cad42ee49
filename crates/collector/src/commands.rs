//! `service-ping collector ...`: serving, seeding a demo fleet, and the vendor's licenses. They
//! print for people on standard output; logs go to standard error.

use std::path::Path;

use anyhow::Context;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use service_ping_protocol::license;

use crate::cli::{CollectorArgs, CollectorCommand, KeyArgs, LicenseCommand, SeedFleetArgs};
use crate::db::{ROLE, open_database};
use crate::licenses;
use crate::server::Collector;
use crate::settings::CollectorConfig;
use crate::state::CollectorState;
use service_ping_database::backup::{self, Target};

/// Runs one collector command; `shutdown` stops the server.
pub async fn run(
    config: &CollectorConfig,
    args: CollectorArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    match args.command.unwrap_or(CollectorCommand::Serve) {
        CollectorCommand::Serve => {
            let collector = Collector::build(config).await?;
            tracing::info!(address = %collector.local_addr(), "collector listening on http://{}/", collector.local_addr());
            collector.run_until_stopped(shutdown).await
        }
        CollectorCommand::SeedFleet(args) => seed_fleet(config, args).await,
        CollectorCommand::License(command) => license(config, command).await,
        CollectorCommand::Backup(args) => {
            let (db, _) = open_database(config).await?;
            let url = config.database_url();
            let target = Target {
                url: &url,
                data_dir: &config.data_dir,
            };
            let manifest =
                backup::backup(&db, &target, &ROLE, &args.out, args.include_secrets).await?;
            println!("{}", backup::describe(&manifest, &args.out));
            Ok(())
        }
        CollectorCommand::Restore(args) => {
            let url = config.database_url();
            let target = Target {
                url: &url,
                data_dir: &config.data_dir,
            };
            let manifest = backup::restore(&args.file, &target, &ROLE, args.force).await?;
            println!("{}", backup::restored(&manifest));
            Ok(())
        }
    }
}

/// `service-ping collector seed-fleet`: a deterministic fleet for the collector.
async fn seed_fleet(config: &CollectorConfig, args: SeedFleetArgs) -> anyhow::Result<()> {
    let (db, writer) = open_database(config).await?;
    let (pings, _, _) = crate::db::counts(&db).await?;
    if pings > 0 {
        if args.if_empty {
            println!("The collector already has {pings} pings; left as it is.");
            return Ok(());
        }
        anyhow::bail!("the collector already has {pings} pings; seed a fleet into an empty one");
    }
    let (started, now) = (std::time::Instant::now(), Utc::now());
    let report =
        crate::fleet::seed_fleet(&db, args.instances as usize, args.weeks as usize, now).await?;
    // The weeks the fleet's pings cover, for the cohorts' history on the fleet page.
    let weeks = if config.settings.cohorts {
        CollectorState::new(db, writer, &config.settings)
            .backfill_cohort_history(args.weeks, now)
            .await?
    } else {
        0
    };
    println!(
        "Seeded a fleet of {} instances with {} pings and {weeks} weeks of cohort history in {:.1} s.",
        report.instances,
        report.pings,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `service-ping collector license ...`.
async fn license(config: &CollectorConfig, command: LicenseCommand) -> anyhow::Result<()> {
    match command {
        LicenseCommand::Keygen(args) => keygen(&args),
        LicenseCommand::PublicKey(args) => {
            println!("{}", public_key_text(&read_key(&args.key)?));
            Ok(())
        }
        LicenseCommand::Issue(args) => {
            let (db, _) = open_database(config).await?;
            let key = read_key(&args.key)?;
            let (id, text) = licenses::issue(&db, &key, &args, Utc::now()).await?;
            match &args.out {
                Some(path) => {
                    std::fs::write(path, format!("{text}\n"))
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "Issued license {id} ({}) to {}.",
                        args.plan.title(),
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
            Ok(())
        }
        LicenseCommand::List => {
            let (db, _) = open_database(config).await?;
            for row in licenses::list(&db).await? {
                println!(
                    "{}\t{}\t{} seats\t{} → {}\t{}\tlast ping: {}",
                    row.id,
                    row.plan,
                    row.seats,
                    row.starts_at,
                    row.expires_at,
                    row.licensee_company,
                    row.last_ping_received_at.as_deref().unwrap_or("never"),
                );
            }
            Ok(())
        }
    }
}

fn keygen(args: &KeyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.key.exists(),
        "{} already exists; refusing to replace a signing key (licenses signed with it would stop verifying)",
        args.key.display()
    );
    let key = license::generate_signing_key();
    write_secret(&args.key, &license::encode_key(&key.to_bytes()))?;
    eprintln!(
        "Wrote the signing key to {} (keep it secret).",
        args.key.display()
    );
    println!("{}", public_key_text(&key));
    Ok(())
}

fn public_key_text(key: &SigningKey) -> String {
    license::encode_key(&key.verifying_key().to_bytes())
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the signing key {}", path.display()))?;
    license::parse_signing_key(&text)
        .map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()))
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{text}").with_context(|| format!("writing {}", path.display()))
}
