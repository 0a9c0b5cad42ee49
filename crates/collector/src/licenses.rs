//! The vendor's side of licenses (GitLab's Licenses application): a signing key, issuing signed
//! licenses and keeping their records, and noting the last ping that named each one.

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;

use service_ping_database::{Db, on_conn, on_pool};
use service_ping_protocol::hash::sha256_hex;
use service_ping_protocol::license::{self, Claims, Licensee};
use service_ping_protocol::time::format_timestamp;

use crate::cli::IssueArgs;

/// Issues a license: its record gets the next license number, which the signed claims carry.
pub async fn issue(
    db: &Db,
    key: &SigningKey,
    args: &IssueArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<(u64, String)> {
    let starts_at = args.starts.unwrap_or_else(|| now.date_naive());
    anyhow::ensure!(
        args.expires > starts_at,
        "--expires ({}) must be after the start ({starts_at})",
        args.expires
    );
    for (flag, value, max) in [
        ("--licensee-name", &args.licensee_name, 200),
        ("--licensee-email", &args.licensee_email, 254),
        ("--licensee-company", &args.licensee_company, 200),
    ] {
        anyhow::ensure!(
            !value.trim().is_empty() && value.chars().count() <= max,
            "{flag} must be 1 to {max} characters"
        );
    }
    anyhow::ensure!(
        args.licensee_email.contains('@'),
        "--licensee-email must be an email address"
    );
    let mut tx = db.begin_write().await?;
    let id: i64 = on_conn!(tx.conn(), |c| {
        sqlx::query_scalar(
        "INSERT INTO licenses (plan, seats, licensee_name, licensee_email, licensee_company, starts_at, \
         expires_at, trial, issued_at, data, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', '') RETURNING id",
    )
    .bind(args.plan.as_str())
    .bind(i64::from(args.seats))
    .bind(&args.licensee_name)
    .bind(&args.licensee_email)
    .bind(&args.licensee_company)
    .bind(starts_at.to_string())
    .bind(args.expires.to_string())
    .bind(args.trial)
    .bind(format_timestamp(now))
    .fetch_one(c)
    .await
    })?;
    let claims = Claims {
        id: u64::try_from(id)?,
        plan: args.plan,
        seats: args.seats,
        licensee: Licensee {
            name: args.licensee_name.clone(),
            email: args.licensee_email.clone(),
            company: args.licensee_company.clone(),
        },
        starts_at,
        expires_at: args.expires,
        trial: args.trial,
        issued_at: now,
    };
    let text = license::issue(&claims, key);
    on_conn!(tx.conn(), |c| sqlx::query(
        "UPDATE licenses SET data = $2, sha256 = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(&text)
    .bind(sha256_hex(text.as_bytes()))
    .execute(c)
    .await
    .map(|_| ()))?;
    tx.commit().await?;
    Ok((claims.id, text))
}

/// An issued license as the vendor keeps it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct IssuedLicense {
    pub id: i64,
    pub plan: String,
    pub seats: i64,
    pub licensee_company: String,
    pub starts_at: String,
    pub expires_at: String,
    pub trial: bool,
    pub last_ping_received_at: Option<String>,
    pub last_ping_usage_data_id: Option<i64>,
}

pub async fn list(db: &Db) -> Result<Vec<IssuedLicense>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_as(
        "SELECT id, plan, seats, licensee_company, starts_at, expires_at, trial, \
         last_ping_received_at, last_ping_usage_data_id FROM licenses ORDER BY id DESC LIMIT 200",
    )
    .fetch_all(pool)
    .await)
}

/// Notes that ping `usage_data_id` named the license with this `sha256` (if the vendor issued it),
/// on SQLite; on PostgreSQL `collector_store_pings` does it as it stores the ping.
pub async fn record_ping(
    conn: &mut sqlx::SqliteConnection,
    sha256: &str,
    usage_data_id: i64,
    uuid: &str,
    received_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE licenses SET last_ping_received_at = $2, last_ping_usage_data_id = $3, last_ping_uuid = $4 \
         WHERE sha256 = $1",
    )
    .bind(sha256)
    .bind(format_timestamp(received_at))
    .bind(usage_data_id)
    .bind(uuid)
    .execute(conn)
    .await
    .map(|_| ())
}
