//! PostgreSQL: connecting with a clear error for each way a `database.url` can be wrong.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// The oldest server we run on: the oldest PostgreSQL still supported upstream when this
/// release was made (GitLab 17 asks for 14 as well).
const MINIMUM_SERVER_VERSION_NUM: i32 = 14_00_00;

pub(crate) async fn connect(url: &SecretString, max_connections: u32) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url.expose_secret())
        .map_err(|_| {
            anyhow::anyhow!(
                "database.url is not a valid postgres:// URL (the value is not shown: it may hold a password)"
            )
        })?
        .application_name("service-ping")
        // The server's notices ("relation … already exists, skipping" at every migration run)
        // are not the operator's business; warnings and errors still come through.
        .options([("client_min_messages", "warning")])
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    let server = format!(
        "the PostgreSQL server {}:{} (database {:?}) named by database.url",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("<default>")
    );
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|error| explain(error, &server))?;
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&pool)
        .await
        .with_context(|| format!("asking {server} for its version"))?;
    if version < MINIMUM_SERVER_VERSION_NUM {
        pool.close().await;
        anyhow::bail!(
            "{server} runs PostgreSQL {}.{}; Service Ping needs {} or newer",
            version / 10_000,
            version % 10_000,
            MINIMUM_SERVER_VERSION_NUM / 10_000
        );
    }
    Ok(pool)
}

/// What went wrong connecting to `server`, in the operator's words.
fn explain(error: sqlx::Error, server: &str) -> anyhow::Error {
    let code = match &error {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    let reason = match (&error, code.as_deref()) {
        (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut, _) => {
            "could not be reached: is it running, and are the host and port right?"
        }
        (sqlx::Error::Tls(_), _) => {
            "refused the TLS connection: check sslmode (and sslrootcert) in the URL"
        }
        (_, Some("28P01" | "28000")) => "refused the user name or password",
        (_, Some("3D000")) => "has no such database: create it first (createdb)",
        (_, Some("42501")) => "does not let this user connect to that database",
        _ => "refused the connection",
    };
    anyhow::Error::new(error).context(format!("{server} {reason}"))
}
