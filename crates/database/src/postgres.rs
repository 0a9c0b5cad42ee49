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

/// The server's version, flavor and system identifier. A role that may not call
/// `pg_control_system()` (managed services restrict it) reports no system identifier rather
/// than failing the payload.
pub(crate) async fn facts(pool: &PgPool) -> sqlx::Result<crate::DatabaseFacts> {
    let (version, aurora, rds, cloud_sql, azure, alloy_db): (String, bool, bool, bool, bool, bool) =
        sqlx::query_as(
            "SELECT current_setting('server_version'), \
                    EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'aurora_version'), \
                    EXISTS (SELECT 1 FROM pg_settings WHERE name = 'rds.extensions'), \
                    EXISTS (SELECT 1 FROM pg_settings WHERE name LIKE 'cloudsql.%'), \
                    EXISTS (SELECT 1 FROM pg_settings WHERE name LIKE 'azure.%'), \
                    EXISTS (SELECT 1 FROM pg_settings WHERE name LIKE 'alloydb.%')",
        )
        .fetch_one(pool)
        .await?;
    let system_id = sqlx::query_scalar("SELECT system_identifier FROM pg_control_system()")
        .fetch_one(pool)
        .await
        .inspect_err(|error| tracing::warn!(%error, "the PostgreSQL system identifier cannot be read; database.pg_system_id is reported as null"))
        .ok();
    Ok(crate::DatabaseFacts {
        adapter: crate::Backend::Postgres.name().into(),
        version: version_number(&version).to_string(),
        flavor: flavor(aurora, rds, cloud_sql, azure, alloy_db).map(str::to_string),
        system_id,
    })
}

/// `15.10` of `15.10 (Debian 15.10-0+deb12u1)`.
fn version_number(server_version: &str) -> &str {
    server_version
        .split_whitespace()
        .next()
        .unwrap_or(server_version)
}

/// The managed service a server's own settings and functions reveal, in GitLab's words. Aurora
/// also has RDS's settings, so it is asked first.
fn flavor(
    aurora: bool,
    rds: bool,
    cloud_sql: bool,
    azure: bool,
    alloy_db: bool,
) -> Option<&'static str> {
    match (aurora, rds, cloud_sql, azure, alloy_db) {
        (true, ..) => Some("Amazon Aurora PostgreSQL"),
        (_, true, ..) => Some("PostgreSQL on Amazon RDS"),
        (_, _, _, _, true) => Some("AlloyDB for PostgreSQL"),
        (_, _, true, ..) => Some("Cloud SQL for PostgreSQL"),
        (_, _, _, true, _) => Some("Azure Database for PostgreSQL - Flexible Server"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_drops_the_packagers_suffix() {
        assert_eq!(version_number("15.10 (Debian 15.10-0+deb12u1)"), "15.10");
        assert_eq!(version_number("16.4"), "16.4");
    }

    #[test]
    fn aurora_is_told_apart_from_plain_rds_and_a_plain_server_has_no_flavor() {
        assert_eq!(
            flavor(true, true, false, false, false),
            Some("Amazon Aurora PostgreSQL")
        );
        assert_eq!(
            flavor(false, true, false, false, false),
            Some("PostgreSQL on Amazon RDS")
        );
        assert_eq!(
            flavor(false, false, true, false, false),
            Some("Cloud SQL for PostgreSQL")
        );
        assert_eq!(
            flavor(false, false, true, false, true),
            Some("AlloyDB for PostgreSQL")
        );
        assert_eq!(flavor(false, false, false, false, false), None);
    }
}
