//! Starting the real application for tests: on port 0, with a temporary data directory.
#![allow(dead_code)]

use std::net::SocketAddr;

use service_ping::config::{Locks, Settings};
use service_ping::db::{Db, execute};
use service_ping::server::Application;
use tokio::sync::oneshot;

pub struct TestApp {
    pub address: SocketAddr,
    pub data_dir: tempfile::TempDir,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A payload asked for from the command line (`service-ping payload` / `submit`).
pub const CLI: service_ping::service_ping::Trigger = service_ping::service_ping::Trigger {
    kind: service_ping::service_ping::TriggerKind::Cli,
    account_id: None,
};

pub fn settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings {
        data_dir: data_dir.to_owned(),
        ..Settings::default()
    };
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.service_ping.metrics_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("metrics");
    settings.database.url = test_database_url(data_dir);
    settings
}

/// The database of the backend under test (`SERVICE_PING_TEST_BACKEND`) for `data_dir`:
/// SQLite's default file there, or a PostgreSQL database created for it on first use, its URL
/// kept in the directory so that a restart on the same directory finds the same database.
fn test_database_url(data_dir: &std::path::Path) -> Option<secrecy::SecretString> {
    use secrecy::ExposeSecret;
    use service_ping_database::{Backend, testing};
    if testing::backend_under_test() == Backend::Sqlite {
        return None;
    }
    let file = data_dir.join("test-postgres-url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return Some(url.into());
    }
    // `settings` is not async; the database is created on a runtime of its own.
    let dir = data_dir.to_owned();
    let url = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(testing::fresh_database(Backend::Postgres, &dir, ""))
            .expose_secret()
            .to_string()
    })
    .join()
    .unwrap();
    std::fs::write(&file, &url).unwrap();
    Some(url.into())
}

/// The payload's `database.adapter` on the backend under test.
pub fn expected_adapter() -> &'static str {
    match service_ping_database::testing::backend_under_test() {
        service_ping_database::Backend::Sqlite => "sqlite",
        service_ping_database::Backend::Postgres => "postgresql",
    }
}

/// Makes every `event` (INSERT, UPDATE) on `table` fail with `message`, as a full disk or a
/// broken database would; [`repair`] undoes it.
pub async fn break_writes(db: &Db, name: &str, event: &str, table: &str, message: &str) {
    let statements = match db {
        Db::Sqlite(_) => vec![format!(
            "CREATE TRIGGER {name} BEFORE {event} ON {table} \
             BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )],
        Db::Postgres(_) => vec![
            format!(
                "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION '{message}'; END $$"
            ),
            format!(
                "CREATE TRIGGER {name} BEFORE {event} ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION {name}()"
            ),
        ],
    };
    for statement in statements {
        execute!(db, sqlx::query(&statement)).unwrap();
    }
}

/// Undoes [`break_writes`].
pub async fn repair(db: &Db, name: &str, table: &str) {
    let drop = match db {
        Db::Sqlite(_) => format!("DROP TRIGGER {name}"),
        Db::Postgres(_) => format!("DROP TRIGGER {name} ON {table}"),
    };
    execute!(db, sqlx::query(&drop)).unwrap();
}

/// A fresh, migrated database of the backend under test, and the directory it belongs to.
pub async fn database() -> (service_ping::db::Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = service_ping::db::connect_and_migrate(&settings(dir.path()))
        .await
        .unwrap();
    (db, dir)
}

/// Builds the application (not serving) for router tests.
pub async fn build_app() -> (Application, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().unwrap();
    let app = Application::build(settings(data_dir.path()), Locks::default())
        .await
        .unwrap();
    (app, data_dir)
}

/// Starts the real server on a free port; it stops when the `TestApp` is stopped or dropped.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_, _| {}).await
}

/// Starts the real server after `configure` adjusted its settings and locks.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings, &mut Locks)) -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), configure).await
}

/// Starts the real server on the data directory of an earlier one (a restart).
pub async fn spawn_app_in(
    data_dir: tempfile::TempDir,
    configure: impl FnOnce(&mut Settings, &mut Locks),
) -> TestApp {
    let mut settings = settings(data_dir.path());
    let mut locks = Locks::default();
    configure(&mut settings, &mut locks);
    let app = Application::build(settings, locks).await.unwrap();
    let address = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        data_dir,
        client,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub fn root_password(&self) -> String {
        let text =
            std::fs::read_to_string(self.data_dir.path().join("initial_root_password")).unwrap();
        service_ping::auth::sign_in::parse_initial_password(&text)
            .unwrap()
            .to_string()
    }

    /// Calls a server function the way the browser's server-fn client does.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/{endpoint}")))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_in_as_root(&self) -> reqwest::Response {
        let password = self.root_password();
        self.call("sign_in", &[("login", "root"), ("password", &password)])
            .await
    }

    /// A pool on the server's database, to look at what it stored.
    pub async fn db(&self) -> service_ping::db::Db {
        service_ping::db::connect(&settings(self.data_dir.path()))
            .await
            .unwrap()
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }

    /// Stops the server and hands back its data directory, to start it again.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        let empty = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.data_dir, empty)
    }

    /// A second browser: its own cookies, no session.
    pub fn other_browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

/// The `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> String {
    let header = response.headers()["set-cookie"].to_str().unwrap();
    header.split(';').next().unwrap().to_string()
}

/// A real collector on a free port with its own temporary data directory: the collector's own
/// test support.
pub use crate::collector_support::spawn_collector;

/// An instance sending to `collector`, with root signed in.
pub async fn spawn_app_signed_in_sending_to(
    collector: &crate::collector_support::TestCollector,
) -> TestApp {
    let collector_url = collector.url("/");
    let app = spawn_app_with(move |settings, _| {
        settings.collector.url = Some(collector_url.parse().unwrap());
    })
    .await;
    app.sign_in_as_root().await;
    app
}

/// Starts "Generate new preview" and waits for it to end; returns the final status.
pub async fn generate_preview_and_wait(app: &TestApp) -> serde_json::Value {
    let started = app.call("generate_preview", &[]).await;
    assert!(started.status().is_success(), "{}", started.status());
    for _ in 0..600 {
        let status: serde_json::Value = app
            .call("generation_status", &[])
            .await
            .json()
            .await
            .unwrap();
        if status["running"] == false {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the preview did not finish in 30 s");
}

/// What generating a payload needs, for tests that work on a database directly: the identity,
/// the repository's metric dictionary, and the instance settings and locks.
pub struct Instance {
    pub identity: service_ping::instance::InstanceIdentity,
    pub dictionary: service_ping_engine::Dictionary,
    pub settings: service_ping::config::InstanceSettings,
    pub locks: Locks,
    pub prometheus: service_ping::config::PrometheusSettings,
    pub geo: service_ping::config::GeoSettings,
}

impl Instance {
    pub async fn new(db: &service_ping::db::Db) -> Self {
        Self::with_locks(db, Locks::default()).await
    }

    pub async fn with_locks(db: &service_ping::db::Db, locks: Locks) -> Self {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("metrics");
        Self {
            identity: service_ping::instance::load_or_create(db, chrono::Utc::now())
                .await
                .unwrap(),
            dictionary: service_ping::service_ping::load_dictionary(&dir, db)
                .await
                .unwrap(),
            settings: service_ping::config::InstanceSettings {
                hostname: Some("devops.example.test".into()),
                ..Default::default()
            },
            locks,
            prometheus: service_ping::config::PrometheusSettings::default(),
            geo: service_ping::config::GeoSettings::default(),
        }
    }

    pub fn deps<'a>(
        &'a self,
        db: &'a service_ping::db::Db,
    ) -> service_ping::service_ping::GenerationDeps<'a> {
        service_ping::service_ping::GenerationDeps {
            db,
            dictionary: &self.dictionary,
            identity: &self.identity,
            instance: &self.settings,
            locks: &self.locks,
            vendor_key: None,
            prometheus: &self.prometheus,
            geo: &self.geo,
        }
    }
}
