//! Command-line tools that work on the instance's database: seeding the demo platform,
//! generating, printing and listing payloads, and backups. They print for people on standard
//! output; logs go to standard error.

use std::io::Write;

use anyhow::Context;
use chrono::Utc;

use service_ping_collector::cli::{BackupArgs, RestoreArgs};
use service_ping_database::backup::{self, Target};

use super::cli::{HistoryArgs, PayloadArgs, SeedArgs};
use super::config::{Locks, Settings};
use super::{db, prepare_data_dir};
use crate::platform::seed::{self, SeedError};
use crate::service_ping::{self, GenerationDeps, Trigger, TriggerKind};

async fn open_database(settings: &Settings) -> anyhow::Result<db::Db> {
    prepare_data_dir(&settings.data_dir)?;
    db::connect_and_migrate(settings).await
}

/// `service-ping seed`: the demo platform, with history up to today.
pub async fn seed(settings: &Settings, args: SeedArgs) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    let started = std::time::Instant::now();
    match seed::seed(&db, args.scale, Utc::now().date_naive(), args.reset).await {
        Ok(report) => {
            println!(
                "Seeded the platform at scale {}: {} rows of history up to {} in {:.1} s.",
                args.scale,
                report.rows,
                report.anchor,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(SeedError::NotEmpty { users }) if args.if_empty => {
            println!("The platform already has data ({users} users); left as it is.");
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

/// What the payload commands need from the instance: its database, identity and dictionary.
struct Instance {
    db: db::Db,
    identity: crate::instance::InstanceIdentity,
    dictionary: service_ping_engine::Dictionary,
}

impl Instance {
    async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let db = open_database(settings).await?;
        let identity = crate::instance::load_or_create(&db, Utc::now()).await?;
        let dictionary =
            crate::service_ping::load_dictionary(&settings.service_ping.metrics_dir, &db).await?;
        Ok(Self {
            db,
            identity,
            dictionary,
        })
    }

    fn deps<'a>(&'a self, settings: &'a Settings, locks: &'a Locks) -> GenerationDeps<'a> {
        GenerationDeps {
            db: &self.db,
            dictionary: &self.dictionary,
            identity: &self.identity,
            instance: &settings.instance,
            locks,
            vendor_key: settings.licensing.vendor_key(),
            prometheus: &settings.prometheus,
            geo: &settings.geo,
        }
    }
}

/// `service-ping payload`: generates and stores a payload, then prints exactly the stored bytes.
pub async fn payload(settings: &Settings, locks: &Locks, args: PayloadArgs) -> anyhow::Result<()> {
    let instance = Instance::open(settings).await?;
    let deps = instance.deps(settings, locks);
    let progress = GenerationProgress::new();
    let trigger = Trigger {
        kind: TriggerKind::Cli,
        account_id: None,
    };
    let stored = service_ping::generate_and_store(deps, trigger, Utc::now(), &|done, total| {
        progress.metrics(done, total)
    })
    .await?;
    progress.finish();
    let generated = &stored.payload;
    match &args.out {
        Some(path) => std::fs::write(path, &generated.bytes)
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&generated.bytes)?;
            stdout.flush()?;
        }
    }
    let failed = generated
        .outcomes
        .iter()
        .filter(|o| o.error.is_some())
        .count();
    eprintln!(
        "payload #{} recorded_at {} sha256 {} ({} bytes, {} metrics, {} failed) in {} ms; peak memory {}",
        stored.id,
        generated.recorded_at,
        generated.sha256,
        generated.bytes.len(),
        generated.outcomes.len(),
        failed,
        generated.elapsed.as_millis(),
        peak_memory_mb().map_or_else(|| "unknown".into(), |mb| format!("{mb:.1} MB")),
    );
    Ok(())
}

/// `service-ping submit`: the same path as the dashboard's "Send now". Fails (non-zero exit)
/// when Service Ping is off or the collector refuses.
pub async fn submit(settings: &Settings, locks: &Locks) -> anyhow::Result<()> {
    use crate::service_ping::submit::Stage;
    let instance = Instance::open(settings).await?;
    let client = service_ping::collector_client(&settings.collector)?;
    let generation = GenerationProgress::new();
    let progress = |stage: Stage| match stage {
        Stage::Generating { done, total } => generation.metrics(done, total),
        Stage::Sending => {
            generation.finish();
            eprintln!("sending to the collector…");
        }
    };
    let trigger = Trigger {
        kind: TriggerKind::Cli,
        account_id: None,
    };
    let sent =
        service_ping::submit_now(instance.deps(settings, locks), &client, trigger, &progress)
            .await?;
    println!(
        "Sent payload #{}; the collector stored it as usage_data_id {}.",
        sent.payload_id, sent.accepted.usage_data_id
    );
    Ok(())
}

/// How a command shows a payload's generation on stderr: a bar with counts and elapsed time on
/// a terminal; when stderr is a pipe or a log, a line when it starts and one when it ends.
struct GenerationProgress {
    bar: indicatif::ProgressBar,
    started: std::time::Instant,
    announced: std::sync::atomic::AtomicBool,
}

impl GenerationProgress {
    fn new() -> Self {
        let style = indicatif::ProgressStyle::with_template(
            "generating [{bar:30}] {pos}/{len} metrics, {elapsed}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        Self {
            // Hidden (draws nothing) when stderr is not a terminal.
            bar: indicatif::ProgressBar::new(0).with_style(style),
            started: std::time::Instant::now(),
            announced: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn metrics(&self, done: usize, total: usize) {
        if self.bar.is_hidden()
            && !self
                .announced
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            eprintln!("generating {total} metrics…");
        }
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
    }

    /// Clears the bar and says how long it took, once.
    fn finish(&self) {
        if self.bar.is_finished() {
            return;
        }
        self.bar.finish_and_clear();
        eprintln!(
            "generated {} metrics in {:.1} s",
            self.bar.position(),
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// `service-ping history`: the stored payloads, newest first.
pub async fn history(settings: &Settings, args: HistoryArgs) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    let payloads = service_ping::db::list(&db, args.limit).await?;
    if payloads.is_empty() {
        println!("No payload has been generated yet.");
        return Ok(());
    }
    println!(
        "{:<26} {:<64} {:>9}  {:<26} TRIGGER",
        "RECORDED_AT", "SHA256", "BYTES", "SENT_AT"
    );
    for payload in payloads {
        println!(
            "{:<26} {:<64} {:>9}  {:<26} {}",
            payload.recorded_at,
            payload.sha256,
            payload.size_bytes,
            payload.sent_at.as_deref().unwrap_or("not sent"),
            payload.trigger
        );
    }
    Ok(())
}

/// The process's peak resident memory so far (`VmHWM`), in MB.
pub fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kilobytes: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes / 1024.0)
}

/// `service-ping backup --out FILE`: a consistent copy while the server runs.
pub async fn backup(settings: &Settings, args: BackupArgs) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    let url = settings.database_url();
    let target = Target {
        url: &url,
        data_dir: &settings.data_dir,
    };
    let manifest = backup::backup(&db, &target, &db::ROLE, &args.out, args.include_secrets).await?;
    println!("{}", backup::describe(&manifest, &args.out));
    Ok(())
}

/// `service-ping restore FILE`.
pub async fn restore(settings: &Settings, args: RestoreArgs) -> anyhow::Result<()> {
    let url = settings.database_url();
    let target = Target {
        url: &url,
        data_dir: &settings.data_dir,
    };
    let manifest = backup::restore(&args.file, &target, &db::ROLE, args.force).await?;
    println!("{}", backup::restored(&manifest));
    Ok(())
}
