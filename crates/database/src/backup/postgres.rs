//! Backups on PostgreSQL: `pg_dump` and `pg_restore`, given the connection in libpq's `PG*`
//! variables, never on their command line, where other users could read the password.

use std::path::Path;

use anyhow::{Context, ensure};
use secrecy::{ExposeSecret, SecretString};
use tokio::process::Command;

use crate::Db;

/// Dumps the database `url` names into `file` (`pg_dump`'s custom format: one snapshot).
pub(super) async fn dump(url: &SecretString, file: &Path) -> anyhow::Result<()> {
    let mut pg_dump = Command::new("pg_dump");
    pg_dump
        .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
        .arg(file);
    run_postgres_tool(pg_dump, url, "pg_dump").await
}

/// Replaces every table of the database `url` names with the dump in `file`, in one
/// transaction.
pub(super) async fn restore(url: &SecretString, file: &Path) -> anyhow::Result<()> {
    let db = Db::connect(url, 1).await?;
    drop_every_table(&db).await?;
    db.close().await;
    let mut pg_restore = Command::new("pg_restore");
    pg_restore
        .args([
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
        ])
        .arg(format!("--dbname={}", conninfo_dbname(url)?))
        .arg(file);
    run_postgres_tool(pg_restore, url, "pg_restore").await
}

/// Empties the current schema of tables (`--force` on PostgreSQL): tables a newer schema added
/// would otherwise stay beside the restored ones.
async fn drop_every_table(db: &Db) -> anyhow::Result<()> {
    let Db::Postgres(pool) = db else {
        return Ok(());
    };
    // Quoted as identifiers: `"` doubled, the name kept as it is spelled.
    let tables: Vec<String> = db
        .table_names()
        .await?
        .iter()
        .map(|name| format!("\"{}\"", name.replace('"', "\"\"")))
        .collect();
    if !tables.is_empty() {
        sqlx::query(&format!("DROP TABLE {} CASCADE", tables.join(", ")))
            .execute(pool)
            .await
            .context("emptying the target database")?;
    }
    Ok(())
}

/// Runs `pg_dump` or `pg_restore` on the database `url` names, which it reads from `PG*`
/// variables (libpq's own), so the password never appears in a process listing.
async fn run_postgres_tool(
    mut command: Command,
    url: &SecretString,
    tool: &str,
) -> anyhow::Result<()> {
    for (variable, value) in libpq_environment(url)? {
        command.env(variable, value);
    }
    // A scheduled backup stopped with the server stops its pg_dump too.
    command.kill_on_drop(true);
    let output = command.output().await.map_err(|error| {
        anyhow::anyhow!(
            "running {tool}: {error} (install PostgreSQL's client tools, Debian's postgresql-client, of the server's major version or newer)"
        )
    })?;
    ensure!(
        output.status.success(),
        "{tool} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

/// libpq's variables for a `postgres://user:password@host:port/database?sslmode=…` URL.
fn libpq_environment(url: &SecretString) -> anyhow::Result<Vec<(&'static str, String)>> {
    let parsed = url::Url::parse(url.expose_secret())
        .map_err(|_| anyhow::anyhow!("database.url is not a valid postgres:// URL"))?;
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| anyhow::anyhow!("database.url is not a valid URL"))
    };
    let mut environment = Vec::new();
    if let Some(host) = parsed.host_str() {
        environment.push(("PGHOST", host.trim_matches(['[', ']']).to_string()));
    }
    if let Some(port) = parsed.port() {
        environment.push(("PGPORT", port.to_string()));
    }
    if !parsed.username().is_empty() {
        environment.push(("PGUSER", decode(parsed.username())?));
    }
    if let Some(password) = parsed.password() {
        environment.push(("PGPASSWORD", decode(password)?));
    }
    let database = parsed.path().trim_start_matches('/');
    if !database.is_empty() {
        environment.push(("PGDATABASE", decode(database)?));
    }
    for (key, value) in parsed.query_pairs() {
        let variable = match key.as_ref() {
            "sslmode" => "PGSSLMODE",
            "sslrootcert" => "PGSSLROOTCERT",
            "sslcert" => "PGSSLCERT",
            "sslkey" => "PGSSLKEY",
            "host" => "PGHOST",
            "port" => "PGPORT",
            "user" => "PGUSER",
            "password" => "PGPASSWORD",
            "dbname" => "PGDATABASE",
            "options" => "PGOPTIONS",
            _ => continue,
        };
        environment.push((variable, value.into_owned()));
    }
    Ok(environment)
}

/// `dbname='…'`: `pg_restore` must be told the database by argument (the rest of the connection
/// comes from the variables); a bare name with `=` in it would read as a connection string.
fn conninfo_dbname(url: &SecretString) -> anyhow::Result<String> {
    let (_, name) = libpq_environment(url)?
        .into_iter()
        .rev()
        .find(|(variable, _)| *variable == "PGDATABASE")
        .context("database.url names no database")?;
    Ok(format!(
        "dbname='{}'",
        name.replace('\\', "\\\\").replace('\'', "\\'")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_gets_the_connection_from_variables() {
        let url = SecretString::from(
            "postgres://ping%40ops:p%3Ass@db.example:5433/service_ping?sslmode=verify-full&application_name=x",
        );
        let environment = libpq_environment(&url).unwrap();
        assert_eq!(
            environment,
            vec![
                ("PGHOST", "db.example".to_string()),
                ("PGPORT", "5433".to_string()),
                ("PGUSER", "ping@ops".to_string()),
                ("PGPASSWORD", "p:ss".to_string()),
                ("PGDATABASE", "service_ping".to_string()),
                ("PGSSLMODE", "verify-full".to_string()),
            ]
        );
    }
}
