//! The composition root: the command line, start-up, the background jobs and the router. It
//! names every slice; nothing below names it.

pub mod assets;
pub mod cli;
pub mod commands;
pub mod forms;
pub mod monitoring;
pub mod routes;
pub mod security;
pub mod sessions;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use chrono::Utc;
use leptos::prelude::*;
use service_ping_database::prepare_data_dir;
use sessions::Sessions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_sessions::session_store::ExpiredDeletion;

pub use self::routes::{SESSION_COOKIE, router};
use crate::config::{self, Locks, Settings};
use crate::db;
use crate::instance;
use crate::state::AppState;
use crate::state::generation::GenerationTracker;

/// A built instance server: listening, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    session_store: Sessions,
}

impl Application {
    /// Opens the database (migrating it), loads the instance identity, creates the first
    /// administrator if there is none, and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings, locks: Locks) -> anyhow::Result<Self> {
        prepare_data_dir(&settings.data_dir)?;
        let db = db::connect_and_migrate(&settings).await?;
        let identity = instance::load_or_create(&db, Utc::now()).await?;
        let dictionary =
            crate::service_ping::load_dictionary(&settings.service_ping.metrics_dir, &db).await?;
        tracing::info!(
            metrics = dictionary.definitions.len(),
            "metric dictionary loaded"
        );
        if let Some(path) =
            crate::auth::sign_in::ensure_initial_root(&db, &settings, Utc::now()).await?
        {
            tracing::info!(password_file = %path.display(), "created the administrator `root`; its password is in the file");
        }
        let session_store = Sessions::open(&db).await?;

        let listener = TcpListener::bind(settings.server.listen)
            .await
            .with_context(|| format!("listening on {}", settings.server.listen))?;
        let address = listener.local_addr()?;
        let assets = Arc::new(
            assets::SiteAssets::load(&settings.server.site_root).with_context(|| {
                format!(
                    "reading the browser bundle under {}",
                    settings.server.site_root.display()
                )
            })?,
        );
        let leptos_options = leptos_options(&settings, address, assets.output_name());
        let collector = Arc::new(crate::service_ping::collector_client(&settings.collector)?);
        let vendor_key = settings.licensing.vendor_key();
        let state = AppState {
            leptos_options,
            db,
            settings: Arc::new(settings),
            locks: Arc::new(locks),
            identity: Arc::new(identity),
            dictionary: Arc::new(dictionary),
            generation: Arc::new(GenerationTracker::default()),
            collector,
            schedule_owner: format!("serve-{}", uuid::Uuid::new_v4()),
            vendor_key,
        };
        let router = router(state.clone(), session_store.clone(), assets);
        Ok(Self {
            listener,
            router,
            state,
            session_store,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The routes, for driving the app without a socket (`tower::ServiceExt::oneshot`).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until `shutdown` resolves, then stops background tasks and lets open requests
    /// finish. If any task ends on its own, the whole process stops and says which and why.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let server = {
            let stop = stop.clone();
            let app = self
                .router
                .into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(self.listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
        };
        let mut server = tokio::spawn(server.into_future());
        if let Err(error) =
            crate::announcements::mail::resume_queued(&self.state.db, &self.state.settings.email)
                .await
        {
            tracing::warn!(
                error = format!("{error:#}"),
                "resuming queued emails failed"
            );
        }
        let mut cleanup = tokio::spawn(delete_expired_sessions(self.session_store, stop.clone()));
        let mut weekly = tokio::spawn(crate::service_ping::schedule::run_forever(
            self.state.clone(),
            stop.clone(),
        ));
        let mut trends = tokio::spawn(crate::usage_trends::job::run_forever(
            self.state.db.clone(),
            stop.clone(),
        ));
        let mut rollups = tokio::spawn(crate::service_ping::rollups::run_forever(
            self.state.db.clone(),
            self.state.dictionary.clone(),
            self.state.locks.clone(),
            stop.clone(),
        ));
        let mut backups = tokio::spawn(service_ping_database::backup::run_scheduled(
            self.state.db.clone(),
            self.state.settings.database_url(),
            self.state.settings.data_dir.clone(),
            &crate::db::ROLE,
            self.state.settings.backup.clone(),
            stop.clone().cancelled_owned(),
        ));
        let mut geo = tokio::spawn(run_geo_secondary(self.state.clone(), stop.clone()));
        tokio::select! {
            () = shutdown => tracing::info!("shutdown requested"),
            result = &mut server => log_task_end("web server", result),
            result = &mut cleanup => log_task_end("session cleanup", result.map(Ok)),
            result = &mut weekly => log_task_end("weekly Service Ping", result.map(Ok)),
            result = &mut trends => log_task_end("usage trends", result.map(Ok)),
            result = &mut rollups => log_task_end("metric rollups", result.map(Ok)),
            result = &mut backups => log_task_end("scheduled backups", result.map(Ok)),
            result = &mut geo => log_task_end("Geo secondary", result.map(Ok)),
        }
        stop.cancel();
        let (server, ..) = tokio::join!(server, cleanup, weekly, trends, rollups, backups, geo);
        server.context("web server task")??;
        tracing::info!("stopped");
        Ok(())
    }
}

/// On a Geo secondary, its weekly usage collection and its status reports until `stop`; on any
/// other instance, nothing (it waits for `stop`, so it never ends the process).
async fn run_geo_secondary(state: AppState, stop: CancellationToken) {
    let geo = &state.settings.geo;
    if !geo.is_secondary() {
        return stop.cancelled().await;
    }
    // A first collection (when due) before the first status, so that status carries it.
    let (db, prometheus, owner) = (&state.db, &state.settings.prometheus, &state.schedule_owner);
    if let Err(error) =
        crate::geo::secondary::collect_if_due(db, prometheus, owner, Utc::now()).await
    {
        tracing::warn!(%error, "Geo usage collection failed; trying again in a minute");
    }
    let usage = crate::geo::secondary::run_usage_job(
        state.db.clone(),
        state.settings.prometheus.clone(),
        state.schedule_owner.clone(),
        stop.clone(),
    );
    let reports = crate::geo::secondary::run_status_reporter(state.db.clone(), geo.clone(), stop);
    tokio::join!(usage, reports);
}

/// Deletes expired sessions every five minutes until `stop`. A failure (the database busy
/// during a reseed, say) is logged and the next round comes as usual: a periodic task never
/// takes the server down.
async fn delete_expired_sessions(store: Sessions, stop: CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Err(error) = store.delete_expired().await {
            tracing::warn!(%error, "deleting expired sessions failed; trying again in 5 minutes");
        }
    }
}

fn log_task_end(task: &str, result: Result<std::io::Result<()>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(())) => tracing::warn!(task, "task ended"),
        Ok(Err(error)) => tracing::error!(task, %error, "task failed"),
        Err(error) => tracing::error!(task, %error, "task panicked or was cancelled"),
    }
}

/// Leptos options from our configuration, so the binary needs none of cargo-leptos's
/// environment variables and runs from the repository root as it is. `output_name` is the
/// bundle's content-hashed name ([`assets::SiteAssets`]).
fn leptos_options(settings: &Settings, address: SocketAddr, output_name: &str) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(output_name)
        .site_root(settings.server.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(address)
        .build()
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Runs one command line; returns the process exit code.
pub async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let loaded = config::load(&cli.overrides(), &config::Environment::from_process())?;
    telemetry::init(&loaded.settings.log);
    match cli.command.unwrap_or(cli::Command::Serve) {
        cli::Command::Serve => {
            let app = Application::build(loaded.settings, loaded.locks).await?;
            tracing::info!(address = %app.local_addr(), "dashboard listening on http://{}/admin", app.local_addr());
            app.run_until_stopped(shutdown_signal()).await
        }
        cli::Command::Migrate => {
            prepare_data_dir(&loaded.settings.data_dir)?;
            db::connect_and_migrate(&loaded.settings).await?;
            println!("Database is up to date.");
            Ok(())
        }
        cli::Command::Admin(cli::AdminCommand::Create(args)) => {
            create_account(&loaded.settings, &loaded.locks, args).await
        }
        cli::Command::Seed(args) => commands::seed(&loaded.settings, args).await,
        cli::Command::Payload(args) => {
            commands::payload(&loaded.settings, &loaded.locks, args).await
        }
        cli::Command::History(args) => commands::history(&loaded.settings, args).await,
        cli::Command::Submit => commands::submit(&loaded.settings, &loaded.locks).await,
        cli::Command::Backup(args) => commands::backup(&loaded.settings, args).await,
        cli::Command::Restore(args) => commands::restore(&loaded.settings, args).await,
        cli::Command::Collector(args) => {
            let config = loaded.settings.collector_config();
            service_ping_collector::commands::run(&config, args, shutdown_signal()).await
        }
    }
}

async fn create_account(
    settings: &Settings,
    locks: &Locks,
    args: cli::CreateAccount,
) -> anyhow::Result<()> {
    use secrecy::{ExposeSecret, SecretString};
    prepare_data_dir(&settings.data_dir)?;
    let db = db::connect_and_migrate(settings).await?;
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        (
            SecretString::from(line.trim_end_matches(['\r', '\n']).to_string()),
            false,
        )
    } else {
        (crate::auth::password::generate(), true)
    };
    let shown = generated.then(|| password.expose_secret().to_string());
    // A generated password is random; a chosen one meets the rules in force.
    let policy = if generated {
        crate::password_rules::PasswordPolicy::basic()
    } else {
        let vendor = settings.licensing.vendor_key();
        crate::password_rules::in_force_with(&db, locks, vendor.as_ref()).await?
    };
    let request = crate::auth::sign_in::AccountRequest {
        username: args.username.clone(),
        email: args.email,
        name: args.name,
        password,
        is_admin: !args.regular,
    };
    crate::auth::sign_in::create_account(&db, request, &policy, Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let role = if args.regular {
        "account"
    } else {
        "administrator"
    };
    println!("Created {role} {}.", args.username);
    if let Some(password) = shown {
        println!("Password (shown once): {password}");
    }
    Ok(())
}
