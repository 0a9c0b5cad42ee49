//! Typed, layered configuration: defaults in code < optional TOML file < `SERVICE_PING__*`
//! environment variables (`__` separates levels) < command-line flags.
//!
//! Loaded once at start-up; this is the only place that reads the environment. A value that an
//! operator set in the file or the environment *locks* the matching dashboard control, the way
//! `usage_ping_enabled` in `gitlab.yml` does; [`Locks`] records which ones and why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
pub use service_ping_collector::{CollectorConfig, CollectorSettings};

/// Prefix of the environment variables read as configuration.
pub const ENV_PREFIX: &str = "SERVICE_PING";

/// The whole configuration of one process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Holds the SQLite database and generated secrets such as `initial_root_password`.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub sign_in: SignInSettings,
    pub instance: InstanceSettings,
    pub service_ping: ServicePingSettings,
    pub collector: CollectorSettings,
    pub licensing: LicensingSettings,
    pub email: EmailSettings,
    pub log: LogSettings,
    /// The operator's Prometheus, which the payload's topology is read from.
    pub prometheus: PrometheusSettings,
    /// Who may read `/-/metrics` (the dashboard's, or the collector's).
    pub monitoring: service_ping_web::metrics::MonitoringSettings,
    /// Scheduled backups of this process's database (the instance's, or the collector's).
    pub backup: service_ping_database::backup::Schedule,
    /// Geo: this instance as a primary site with secondaries, or as a secondary site.
    pub geo: GeoSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address the dashboard listens on. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Directory with the built site (`pkg/` with the wasm bundle and the stylesheet).
    pub site_root: PathBuf,
    /// The address people reach the dashboard at (`https://service-ping.example.com`). When it
    /// is https, session cookies are `Secure` unless `secure_cookies` says otherwise.
    pub public_url: Option<url::Url>,
    /// Mark the session cookie `Secure`. Defaults to whether `public_url` is https; set it when
    /// the dashboard is served over HTTPS without a `public_url`.
    pub secure_cookies: Option<bool>,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A session ends this many days after sign-in however active it is.
    pub session_lifetime_days: u32,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    /// Empty (the default): the connecting address is the client, and the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl ServerSettings {
    /// Whether the session cookie is `Secure`: as configured, else whether the public URL is https.
    pub fn cookies_are_secure(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| {
            self.public_url
                .as_ref()
                .is_some_and(|url| url.scheme() == "https")
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Database URL. Defaults to an SQLite file in the data directory. Secret because a
    /// server URL may carry a password.
    pub url: Option<SecretString>,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInSettings {
    /// Failed attempts allowed per account within the window before sign-in is refused.
    pub max_failures_per_account: u32,
    /// Failed attempts allowed per client address within the window.
    pub max_failures_per_address: u32,
    pub window_minutes: u32,
}

/// How this installation describes itself in the payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstanceSettings {
    /// The payload's `hostname`: the name people reach this instance by. Defaults to the
    /// machine's host name.
    pub hostname: Option<String>,
    /// The payload's `installation_type` (GitLab: `omnibus-gitlab`, `helm`, ...).
    pub installation_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServicePingSettings {
    /// When set, locks Service Ping on or off; the dashboard shows the control greyed out.
    pub enabled: Option<bool>,
    /// When set, locks "Include optional data" on or off.
    pub include_optional_data: Option<bool>,
    /// The weekly send waits a random 0..=this many seconds, so a fleet does not send at once.
    pub schedule_jitter_seconds: u32,
    /// The metric dictionary: one YAML file per metric, validated at start-up.
    pub metrics_dir: PathBuf,
}

/// `[prometheus]`: where the operator's Prometheus answers queries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusSettings {
    /// Its base URL (`http://prometheus:9090`). Unset: the payload's topology says so.
    pub url: Option<url::Url>,
    /// Each query's timeout; a slow Prometheus fails that query, never the payload.
    pub timeout_seconds: u32,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        Self {
            url: None,
            timeout_seconds: 10,
        }
    }
}

/// `[geo]`: this instance's place among Geo sites. A secondary sends its status (and its weekly
/// Git traffic, read from its own Prometheus) to the primary, signed with the shared secret; the
/// primary keeps each listed secondary's latest status and reports them in its payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoSettings {
    /// `primary` or `secondary`; unset, Geo is off.
    pub role: Option<GeoRole>,
    /// A secondary's name, as the primary lists it in `sites`.
    pub name: Option<String>,
    /// A secondary's primary (`https://primary.example.com`).
    pub primary_url: Option<url::Url>,
    /// The secret both sites sign and check status tokens with (at least 32 characters).
    pub secret: Option<SecretString>,
    /// The primary's secondaries. A status from a site not listed here is refused.
    pub sites: Vec<GeoSite>,
    /// How often a secondary sends its status.
    pub status_interval_seconds: u32,
    /// The primary shows a secondary unhealthy after this long without a status.
    pub unhealthy_after_seconds: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GeoRole {
    Primary,
    Secondary,
}

/// A secondary site the primary knows.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GeoSite {
    pub name: String,
    /// Where its dashboard is, shown on the Geo sites page.
    pub url: url::Url,
}

impl Default for GeoSettings {
    fn default() -> Self {
        Self {
            role: None,
            name: None,
            primary_url: None,
            secret: None,
            sites: Vec::new(),
            status_interval_seconds: 60,
            unhealthy_after_seconds: 600,
        }
    }
}

impl GeoSettings {
    pub fn is_secondary(&self) -> bool {
        self.role == Some(GeoRole::Secondary)
    }

    /// Shortest shared secret accepted: an HS256 key should be as long as its hash.
    const MIN_SECRET_CHARS: usize = 32;

    fn validate(&self) -> anyhow::Result<()> {
        let Some(role) = self.role else {
            return Ok(());
        };
        let secret = self
            .secret
            .as_ref()
            .map(|s| s.expose_secret().chars().count());
        anyhow::ensure!(
            secret.is_some_and(|chars| chars >= Self::MIN_SECRET_CHARS),
            "geo.secret must be set to at least {} characters on both sites (its text is not shown)",
            Self::MIN_SECRET_CHARS
        );
        anyhow::ensure!(
            (1..=86_400).contains(&self.status_interval_seconds),
            "geo.status_interval_seconds must be between 1 and 86400"
        );
        anyhow::ensure!(
            self.unhealthy_after_seconds > 0,
            "geo.unhealthy_after_seconds must be at least 1"
        );
        match role {
            GeoRole::Secondary => {
                anyhow::ensure!(
                    self.name.as_deref().is_some_and(is_site_name),
                    "geo.name must name this secondary site (letters, digits, `.`, `_` or `-`, at most 255)"
                );
                let url = self.primary_url.as_ref();
                anyhow::ensure!(
                    url.is_some_and(is_web_address),
                    "geo.primary_url must be the primary's http:// or https:// address"
                );
            }
            GeoRole::Primary => {
                for site in &self.sites {
                    anyhow::ensure!(
                        is_site_name(&site.name),
                        "geo.sites: `{}` is not a site name (letters, digits, `.`, `_` or `-`, at most 255)",
                        site.name
                    );
                    anyhow::ensure!(
                        is_web_address(&site.url),
                        "geo.sites: the url of `{}` must be http:// or https://",
                        site.name
                    );
                }
                let mut names: Vec<&str> = self.sites.iter().map(|s| s.name.as_str()).collect();
                names.sort_unstable();
                anyhow::ensure!(
                    names.windows(2).all(|pair| pair[0] != pair[1]),
                    "geo.sites names each site once"
                );
            }
        }
        Ok(())
    }
}

/// An `http://` or `https://` address with a host.
fn is_web_address(url: &url::Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.has_host()
}

/// A Geo site's name: what its status is keyed on and its token names.
fn is_site_name(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// How this instance verifies licenses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LicensingSettings {
    /// The vendor's Ed25519 public key (base64 of 32 bytes). Without it no license can be
    /// installed; the instance stays `EE Free`.
    pub public_key: Option<String>,
}

impl LicensingSettings {
    /// The vendor key; checked when the configuration is loaded.
    pub fn vendor_key(&self) -> Option<ed25519_dalek::VerifyingKey> {
        self.public_key
            .as_deref()
            .and_then(|key| service_ping_protocol::license::parse_public_key(key).ok())
    }
}

/// Outgoing email (the Announcements feature's email to all users).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSettings {
    /// An SMTP URL such as `smtps://user:password@mail.example.com` or
    /// `smtp://mail.example.com:587?tls=required`. Without one, messages are kept in the outbox
    /// that the dashboard lists. Secret because it may carry a password.
    pub smtp_url: Option<SecretString>,
    /// The `From` address of messages.
    pub from: String,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Service Ping <noreply@localhost>".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `tracing` filter directives, e.g. `info,service_ping=debug`. `RUST_LOG` wins when set.
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            sign_in: SignInSettings::default(),
            instance: InstanceSettings::default(),
            service_ping: ServicePingSettings::default(),
            collector: CollectorSettings::default(),
            licensing: LicensingSettings::default(),
            email: EmailSettings::default(),
            log: LogSettings::default(),
            prometheus: PrometheusSettings::default(),
            monitoring: service_ping_web::metrics::MonitoringSettings::default(),
            backup: service_ping_database::backup::Schedule::default(),
            geo: GeoSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            site_root: PathBuf::from("target/site"),
            public_url: None,
            secure_cookies: None,
            session_idle_minutes: 60 * 24 * 7,
            session_lifetime_days: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 8,
        }
    }
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            window_minutes: 15,
        }
    }
}

impl Default for InstanceSettings {
    fn default() -> Self {
        Self {
            hostname: None,
            installation_type: "service-ping-binary".into(),
        }
    }
}

impl Default for ServicePingSettings {
    fn default() -> Self {
        Self {
            enabled: None,
            include_optional_data: None,
            schedule_jitter_seconds: 60,
            metrics_dir: PathBuf::from("metrics"),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// What the command line may override, applied over file and environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

/// The process environment as configuration sees it. Passed in rather than read ad hoc so
/// tests can load configuration without touching the real environment.
#[derive(Debug, Clone, Default)]
pub struct Environment(pub Vec<(String, String)>);

impl Environment {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `SERVICE_PING__*` variables only, which are the configuration ones.
    fn configuration_source(&self) -> config::Environment {
        let vars = self
            .0
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(vars))
    }
}

/// A dashboard control fixed by the operator, with the reason shown next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub value: bool,
    pub reason: String,
}

/// Controls that the operator's file or environment decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locks {
    pub service_ping_enabled: Option<Lock>,
    pub include_optional_data: Option<Lock>,
}

/// Configuration plus the facts about where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub settings: Settings,
    pub locks: Locks,
}

/// Loads the configuration layers; an unreadable file, a bad value or an unknown key is an error
/// that names the key.
pub fn load(overrides: &Overrides, env: &Environment) -> anyhow::Result<LoadedConfig> {
    let mut builder = config::Config::builder();
    if let Some(path) = &overrides.config_file {
        anyhow::ensure!(
            path.is_file(),
            "configuration file {} does not exist",
            path.display()
        );
        builder = builder.add_source(file_source(path));
    }
    builder = builder.add_source(env.configuration_source());
    if let Some(dir) = &overrides.data_dir {
        builder = builder.set_override("data_dir", dir.display().to_string())?;
    }
    if let Some(listen) = overrides.listen {
        builder = builder.set_override("server.listen", listen.to_string())?;
    }
    let settings: Settings = builder
        .build()
        .context("reading configuration")?
        .try_deserialize()
        .context("invalid configuration")?;
    settings.validate()?;
    let locks = Locks {
        service_ping_enabled: service_ping_lock(&settings, overrides, env),
        include_optional_data: settings
            .service_ping
            .include_optional_data
            .map(|value| Lock {
                value,
                reason: configured_reason("SERVICE_PING__INCLUDE_OPTIONAL_DATA", overrides, env),
            }),
    };
    Ok(LoadedConfig { settings, locks })
}

fn file_source(path: &Path) -> config::File<config::FileSourceFile, config::FileFormat> {
    config::File::from(path)
        .format(config::FileFormat::Toml)
        .required(true)
}

/// A Geo secondary never sends Service Ping (its figures travel in the primary's payload), and
/// `DO_NOT_TRACK` wins over everything else (both can only lock *off*); then the environment,
/// then the file.
fn service_ping_lock(
    settings: &Settings,
    overrides: &Overrides,
    env: &Environment,
) -> Option<Lock> {
    if settings.geo.is_secondary() {
        return Some(Lock {
            value: false,
            reason: "this is a Geo secondary site: its usage is reported by the primary".into(),
        });
    }
    if env.get("DO_NOT_TRACK").is_some_and(is_truthy) {
        return Some(Lock {
            value: false,
            reason: "DO_NOT_TRACK is set in the environment".into(),
        });
    }
    let value = settings.service_ping.enabled?;
    let reason = configured_reason("SERVICE_PING__ENABLED", overrides, env);
    Some(Lock { value, reason })
}

/// Where a locked value came from: the environment variable `SERVICE_PING__<key>`, else the file.
fn configured_reason(key: &str, overrides: &Overrides, env: &Environment) -> String {
    let env_name = format!("{ENV_PREFIX}__{key}");
    if env.get(&env_name).is_some() {
        format!("set by the environment variable {env_name}")
    } else {
        let file = overrides
            .config_file
            .as_deref()
            .map(|p| p.display().to_string());
        format!("set in the configuration file {}", file.unwrap_or_default())
    }
}

fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

impl Settings {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.database.max_connections > 0,
            "database.max_connections must be at least 1"
        );
        anyhow::ensure!(
            self.server.session_idle_minutes > 0,
            "server.session_idle_minutes must be at least 1"
        );
        anyhow::ensure!(
            self.server.session_lifetime_days > 0,
            "server.session_lifetime_days must be at least 1"
        );
        if let Some(url) = &self.server.public_url {
            anyhow::ensure!(
                is_web_address(url),
                "server.public_url must be an http:// or https:// address"
            );
        }
        anyhow::ensure!(
            self.sign_in.window_minutes > 0,
            "sign_in.window_minutes must be at least 1"
        );
        anyhow::ensure!(
            self.sign_in.max_failures_per_account > 0 && self.sign_in.max_failures_per_address > 0,
            "sign_in.max_failures_per_account and max_failures_per_address must be at least 1"
        );
        if let Some(hostname) = &self.instance.hostname {
            anyhow::ensure!(
                !hostname.trim().is_empty()
                    && hostname.len() <= 255
                    && !hostname.contains(char::is_whitespace),
                "instance.hostname must be a host name without spaces"
            );
        }
        if let Some(key) = &self.licensing.public_key {
            service_ping_protocol::license::parse_public_key(key)
                .map_err(|reason| anyhow::anyhow!("licensing.public_key {reason}"))?;
        }
        anyhow::ensure!(
            self.email.from.parse::<lettre::message::Mailbox>().is_ok(),
            "email.from must be an email address such as `Service Ping <noreply@example.com>`"
        );
        if let Some(url) = &self.email.smtp_url {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url.expose_secret())
                .map_err(|_| {
                    anyhow::anyhow!(
                        "email.smtp_url must be an smtp:// or smtps:// URL (its text is not shown because it may hold a password)"
                    )
                })?;
        }
        anyhow::ensure!(
            !self.instance.installation_type.trim().is_empty(),
            "instance.installation_type must not be empty"
        );
        self.collector.validate()?;
        self.backup.validate()?;
        self.geo.validate()?;
        anyhow::ensure!(
            self.service_ping.schedule_jitter_seconds <= 3600,
            "service_ping.schedule_jitter_seconds must be at most 3600"
        );
        if let Some(url) = &self.database.url {
            service_ping_database::Backend::of_url(url)?;
        }
        Ok(())
    }

    /// The database URL in effect: the configured one or the SQLite file in the data directory.
    pub fn database_url(&self) -> SecretString {
        match &self.database.url {
            Some(url) => url.clone(),
            None => {
                let file = self.data_dir.join("service-ping.sqlite3");
                SecretString::from(format!("sqlite://{}?mode=rwc", file.display()))
            }
        }
    }

    /// What the collector role (`service-ping collector`) runs with.
    pub fn collector_config(&self) -> CollectorConfig {
        CollectorConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database.url.clone(),
            listen: self.server.listen,
            max_connections: self.database.max_connections,
            settings: self.collector.clone(),
            backup: self.backup.clone(),
            monitoring: self.monitoring.clone(),
        }
    }

    /// Where the first administrator's generated password is written.
    pub fn initial_root_password_path(&self) -> PathBuf {
        self.data_dir.join("initial_root_password")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service-ping.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn defaults_apply_without_file_or_environment() {
        let loaded = load(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(loaded.settings.server.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(loaded.settings.data_dir, PathBuf::from("data"));
        assert_eq!(loaded.locks, Locks::default());
    }

    #[test]
    fn environment_overrides_file_and_flags_override_both() {
        let (_dir, path) = write_config(
            "data_dir = \"from-file\"\n[server]\nlisten = \"127.0.0.1:4000\"\nsession_idle_minutes = 30\n",
        );
        let overrides = Overrides {
            config_file: Some(path),
            ..Default::default()
        };
        let loaded = load(
            &overrides,
            &env(&[("SERVICE_PING__SERVER__SESSION_IDLE_MINUTES", "45")]),
        )
        .unwrap();
        assert_eq!(loaded.settings.server.listen.port(), 4000);
        assert_eq!(loaded.settings.server.session_idle_minutes, 45);
        assert_eq!(loaded.settings.data_dir, PathBuf::from("from-file"));

        let overrides = Overrides {
            data_dir: Some("flag".into()),
            ..overrides
        };
        let loaded = load(&overrides, &env(&[])).unwrap();
        assert_eq!(loaded.settings.data_dir, PathBuf::from("flag"));
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let (_dir, path) = write_config("[server]\nlisten_port = 3000\n");
        let overrides = Overrides {
            config_file: Some(path),
            ..Default::default()
        };
        let error = format!("{:#}", load(&overrides, &env(&[])).unwrap_err());
        assert!(error.contains("listen_port"), "{error}");
    }

    #[test]
    fn bad_value_is_an_error_naming_the_key() {
        let error = format!(
            "{:#}",
            load(
                &Overrides::default(),
                &env(&[("SERVICE_PING__SERVER__LISTEN", "not an address")])
            )
            .unwrap_err()
        );
        assert!(error.contains("listen"), "{error}");
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let overrides = Overrides {
            config_file: Some("/nonexistent/sp.toml".into()),
            ..Default::default()
        };
        assert!(load(&overrides, &env(&[])).is_err());
    }

    #[test]
    fn service_ping_set_in_the_environment_locks_the_control() {
        let loaded = load(
            &Overrides::default(),
            &env(&[("SERVICE_PING__SERVICE_PING__ENABLED", "false")]),
        )
        .unwrap();
        let lock = loaded.locks.service_ping_enabled.unwrap();
        assert!(!lock.value);
        assert!(lock.reason.contains("SERVICE_PING__SERVICE_PING__ENABLED"));
    }

    #[test]
    fn service_ping_set_in_the_file_locks_the_control_naming_the_file() {
        let (_dir, path) = write_config("[service_ping]\nenabled = true\n");
        let overrides = Overrides {
            config_file: Some(path.clone()),
            ..Default::default()
        };
        let lock = load(&overrides, &env(&[]))
            .unwrap()
            .locks
            .service_ping_enabled
            .unwrap();
        assert!(lock.value);
        assert!(lock.reason.contains(&path.display().to_string()));
    }

    #[test]
    fn do_not_track_locks_service_ping_off_even_when_enabled_elsewhere() {
        let vars = env(&[
            ("DO_NOT_TRACK", "1"),
            ("SERVICE_PING__SERVICE_PING__ENABLED", "true"),
        ]);
        let lock = load(&Overrides::default(), &vars)
            .unwrap()
            .locks
            .service_ping_enabled
            .unwrap();
        assert_eq!(
            lock,
            Lock {
                value: false,
                reason: "DO_NOT_TRACK is set in the environment".into()
            }
        );
    }

    fn loaded_from(file: &str) -> anyhow::Result<LoadedConfig> {
        let overrides = Overrides {
            config_file: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)),
            ..Default::default()
        };
        load(&overrides, &env(&[]))
    }

    #[test]
    fn a_geo_secondary_is_locked_off_and_its_example_configurations_load() {
        let primary = loaded_from("config/geo-primary.example.toml").unwrap();
        assert_eq!(primary.settings.geo.role, Some(GeoRole::Primary));
        assert_eq!(primary.settings.geo.sites.len(), 1);
        assert_eq!(primary.locks.service_ping_enabled, None);
        let secondary = loaded_from("config/geo-secondary.example.toml").unwrap();
        assert_eq!(secondary.settings.geo.name.as_deref(), Some("secondary-1"));
        let lock = secondary.locks.service_ping_enabled.unwrap();
        assert!(!lock.value);
        assert!(lock.reason.contains("Geo secondary"), "{}", lock.reason);
    }

    #[test]
    fn geo_needs_a_long_secret_a_name_and_a_primary_and_never_shows_the_secret() {
        let refused = |text: &str| {
            let (_dir, path) = write_config(text);
            let overrides = Overrides {
                config_file: Some(path),
                ..Default::default()
            };
            format!("{:#}", load(&overrides, &env(&[])).unwrap_err())
        };
        let short = refused("[geo]\nrole = \"primary\"\nsecret = \"hunter2-not-long\"\n");
        assert!(short.contains("geo.secret"), "{short}");
        assert!(!short.contains("hunter2"), "{short}");
        let secret = "secret = \"0123456789abcdef0123456789abcdef\"\n";
        let nameless = refused(&format!(
            "[geo]\nrole = \"secondary\"\n{secret}primary_url = \"http://p.example\"\n"
        ));
        assert!(nameless.contains("geo.name"), "{nameless}");
        let orphan = refused(&format!(
            "[geo]\nrole = \"secondary\"\n{secret}name = \"b\"\n"
        ));
        assert!(orphan.contains("geo.primary_url"), "{orphan}");
        let twice = refused(&format!(
            "[geo]\nrole = \"primary\"\n{secret}sites = [{{ name = \"b\", url = \"http://b\" }}, {{ name = \"b\", url = \"http://c\" }}]\n"
        ));
        assert!(twice.contains("once"), "{twice}");
        let role = refused("[geo]\nrole = \"tertiary\"\n");
        assert!(
            role.contains("geo.role") || role.contains("tertiary"),
            "{role}"
        );
    }

    #[test]
    fn the_example_configuration_file_loads() {
        let overrides = Overrides {
            config_file: Some(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("config/service-ping.example.toml"),
            ),
            ..Default::default()
        };
        let loaded = load(&overrides, &env(&[])).unwrap();
        assert_eq!(loaded.settings.collector.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(loaded.locks, Locks::default());
    }

    #[test]
    fn optional_data_set_in_the_environment_locks_its_control() {
        let loaded = load(
            &Overrides::default(),
            &env(&[("SERVICE_PING__SERVICE_PING__INCLUDE_OPTIONAL_DATA", "false")]),
        )
        .unwrap();
        let lock = loaded.locks.include_optional_data.unwrap();
        assert!(!lock.value);
        assert!(
            lock.reason
                .contains("SERVICE_PING__SERVICE_PING__INCLUDE_OPTIONAL_DATA")
        );
    }

    #[test]
    fn collector_url_must_be_http() {
        let error = format!(
            "{:#}",
            load(
                &Overrides::default(),
                &env(&[("SERVICE_PING__COLLECTOR__URL", "ftp://example.com")])
            )
            .unwrap_err()
        );
        assert!(error.contains("collector.url"), "{error}");
        let loaded = load(
            &Overrides::default(),
            &env(&[("SERVICE_PING__COLLECTOR__URL", "http://127.0.0.1:3002")]),
        )
        .unwrap();
        assert_eq!(
            loaded.settings.collector.url.unwrap().as_str(),
            "http://127.0.0.1:3002/"
        );
    }

    #[test]
    fn database_url_is_redacted_in_debug_output() {
        let loaded = load(
            &Overrides::default(),
            &env(&[("SERVICE_PING__DATABASE__URL", "sqlite://secret-path.db")]),
        )
        .unwrap();
        let debug = format!("{:?}", loaded.settings);
        assert!(!debug.contains("secret-path"), "{debug}");
    }

    #[test]
    fn database_url_of_another_kind_is_refused_without_repeating_it() {
        let error = format!(
            "{:#}",
            load(
                &Overrides::default(),
                &env(&[("SERVICE_PING__DATABASE__URL", "mysql://u:hunter2@h/db")])
            )
            .unwrap_err()
        );
        assert!(error.contains("sqlite: or postgres://"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let loaded = load(
            &Overrides::default(),
            &env(&[(
                "SERVICE_PING__DATABASE__URL",
                "postgres://u:p@h/db?sslmode=require",
            )]),
        )
        .unwrap();
        assert!(loaded.settings.database.url.is_some());
    }
}
