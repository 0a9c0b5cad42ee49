//! Storing pings: in batches, each ping decided as if sent alone.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use service_ping_database::{Conn, Db, placeholders};
use service_ping_protocol::devops_score::{self, Values};
use service_ping_protocol::ingest::Ping;
use service_ping_protocol::time::format_timestamp;

/// Where a ping came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `POST /usage_data` from an instance.
    Api,
    /// The upload page, for offline instances.
    Upload,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Upload => "upload",
        }
    }
}

/// What storing a ping did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new ping, stored under this id.
    Created(i64),
    /// The same bytes were received before under this id; nothing new was stored.
    AlreadyReceived(i64),
    /// Another payload with the same uuid and recorded_at was received before: refused.
    Conflict,
    /// The uuid's pings of the last seven days already fill its storage quota: refused.
    OverQuota,
}

/// A validated ping on its way to the database.
#[derive(Debug, Clone)]
pub struct NewPing {
    pub ping: Ping,
    /// The exact bytes received.
    pub bytes: axum::body::Bytes,
    pub sha256: String,
    /// `bytes` compressed with zstd, as they are stored.
    pub compressed: Vec<u8>,
    pub source: Source,
    pub received_at: DateTime<Utc>,
}

/// The zstd level pings are stored at: a ~59 KB payload becomes a few KB in a fraction of a
/// millisecond, which the database then writes (twice, on SQLite: log and checkpoint) instead of
/// the whole. Higher levels cost more time than the bytes they save.
const ZSTD_LEVEL: i32 = 1;

/// `usage_data.payload_encoding` of a ping stored compressed.
const ZSTD: &str = "zstd";

impl NewPing {
    /// The ping as it will be stored: hashed, and compressed (by the handler, in parallel, so
    /// the writer only writes).
    pub fn new(
        ping: Ping,
        bytes: axum::body::Bytes,
        source: Source,
        received_at: DateTime<Utc>,
    ) -> std::io::Result<Self> {
        Ok(Self {
            sha256: service_ping_protocol::hash::sha256_hex(&bytes),
            compressed: zstd::bulk::compress(&bytes, ZSTD_LEVEL)?,
            ping,
            bytes,
            source,
            received_at,
        })
    }
}

/// A validated ping with its DevOps Score inputs and active users (its size cohort), on its way
/// to the database.
#[derive(Debug, Clone)]
pub struct Pending {
    pub new: NewPing,
    pub usage: Values,
    pub active_users: i64,
}

impl Pending {
    /// `new` with what the fleet's questions read of it.
    pub fn new(new: NewPing) -> Self {
        Self {
            usage: devops_score::usage_from_ping(&new.ping.usage),
            active_users: devops_score::active_users(&new.ping.usage).round() as i64,
            new,
        }
    }
}

/// Stores a batch of validated pings in one transaction, each once per (uuid, recorded_at)
/// with its DevOps Score inputs, unless its uuid's pings received in the seven days before the
/// batch would then exceed `max_bytes_per_week` (an exact resend is still recognised). Pings
/// are decided in order, so a batch behaves as its pings sent one by one; the answer has one
/// [`Stored`] per ping.
///
/// A batch costs the same few round trips whatever its size: one on PostgreSQL (the
/// `collector_store_pings` function does every step in the server), five on SQLite (begin,
/// look up earlier copies and weekly totals, insert the pings, record their instances, commit,
/// each a trip to SQLite's thread in this process). This is what keeps ingest near the speed of
/// parsing when many instances send at once.
pub async fn store_pings(
    db: &Db,
    batch: &[Pending],
    max_bytes_per_week: u64,
) -> Result<Vec<Stored>, sqlx::Error> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    match db {
        Db::Sqlite(pool) => {
            let mut tx = service_ping_database::begin_write(pool).await?;
            let stored = store_pings_sqlite(&mut tx, batch, max_bytes_per_week).await?;
            tx.commit().await?;
            Ok(stored)
        }
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await?;
            store_pings_postgres(&mut conn, batch, max_bytes_per_week).await
        }
    }
}

/// Stores a batch inside the caller's transaction on `conn` (the seeded fleet's).
pub async fn store_pings_in_transaction(
    conn: Conn<'_>,
    batch: &[Pending],
    max_bytes_per_week: u64,
) -> Result<Vec<Stored>, sqlx::Error> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        Conn::Sqlite(c) => store_pings_sqlite(c, batch, max_bytes_per_week).await,
        Conn::Postgres(c) => store_pings_postgres(c, batch, max_bytes_per_week).await,
    }
}

/// The keys of the advisory locks that keep two writers storing pings of the same instance
/// apart: the first 64 bits of each uuid's sha256, sorted (taken in one order, two batches
/// cannot deadlock).
fn lock_keys(batch: &[Pending]) -> Vec<i64> {
    let mut keys: Vec<i64> = batch
        .iter()
        .map(|p| {
            let digest = service_ping_protocol::hash::sha256_hex(p.new.ping.uuid.as_bytes());
            u64::from_str_radix(&digest[..16], 16).map_or(0, |key| key as i64)
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The batch's oldest receipt less seven days: the start of the weekly quota's window.
fn quota_since(batch: &[Pending]) -> DateTime<Utc> {
    let oldest = batch
        .iter()
        .map(|p| p.new.received_at)
        .min()
        .unwrap_or_default();
    oldest - chrono::Duration::days(7)
}

/// Stores the batch on PostgreSQL in one statement: `collector_store_pings` (a migration)
/// takes the instances' locks, then decides and stores each ping in order, as
/// [`store_pings_sqlite`] does.
async fn store_pings_postgres(
    conn: &mut sqlx::PgConnection,
    batch: &[Pending],
    max_bytes_per_week: u64,
) -> Result<Vec<Stored>, sqlx::Error> {
    let text = |f: fn(&NewPing) -> Option<&str>| -> Vec<Option<&str>> {
        batch.iter().map(|p| f(&p.new)).collect()
    };
    let mut query = sqlx::query_as::<_, (i32, String, Option<i64>)>(
        "SELECT ping, stored, stored_id FROM collector_store_pings($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26) \
         ORDER BY ping",
    )
    .bind(lock_keys(batch))
    .bind(format_timestamp(quota_since(batch)))
    .bind(i64::try_from(max_bytes_per_week).unwrap_or(i64::MAX))
    .bind(ZSTD)
    .bind(text(|p| Some(&p.ping.uuid)))
    .bind(text(|p| Some(&p.ping.recorded_at)))
    .bind(text(|p| p.ping.hostname.as_deref()))
    .bind(text(|p| Some(&p.ping.version)))
    .bind(text(|p| p.ping.edition.as_deref()))
    .bind(
        batch
            .iter()
            .map(|p| p.new.compressed.as_slice())
            .collect::<Vec<_>>(),
    )
    .bind(text(|p| Some(&p.sha256)))
    .bind(
        batch
            .iter()
            .map(|p| p.new.bytes.len() as i64)
            .collect::<Vec<_>>(),
    )
    .bind(text(|p| Some(p.source.as_str())))
    .bind(
        batch
            .iter()
            .map(|p| format_timestamp(p.new.received_at))
            .collect::<Vec<_>>(),
    )
    .bind(text(|p| p.ping.license_sha256.as_deref()));
    for feature in 0..10 {
        query = query.bind(batch.iter().map(|p| p.usage[feature]).collect::<Vec<_>>());
    }
    query = query.bind(batch.iter().map(|p| p.active_users).collect::<Vec<_>>());
    let rows = query.fetch_all(conn).await?;
    if rows.len() != batch.len() {
        return Err(sqlx::Error::Protocol(format!(
            "collector_store_pings answered {} outcomes for {} pings",
            rows.len(),
            batch.len()
        )));
    }
    rows.into_iter()
        .map(|(_, stored, id)| match (stored.as_str(), id) {
            ("created", Some(id)) => Ok(Stored::Created(id)),
            ("already_received", Some(id)) => Ok(Stored::AlreadyReceived(id)),
            ("conflict", _) => Ok(Stored::Conflict),
            ("over_quota", _) => Ok(Stored::OverQuota),
            (other, _) => Err(sqlx::Error::Protocol(format!(
                "collector_store_pings answered {other:?}"
            ))),
        })
        .collect()
}

/// Decides and stores the batch on SQLite, whose one writer holds every instance's pings back
/// until the caller commits.
async fn store_pings_sqlite(
    conn: &mut sqlx::SqliteConnection,
    batch: &[Pending],
    max_bytes_per_week: u64,
) -> Result<Vec<Stored>, sqlx::Error> {
    let mut uuids: Vec<&str> = batch.iter().map(|p| p.new.ping.uuid.as_str()).collect();
    uuids.sort_unstable();
    uuids.dedup();
    let (mut copies, mut stored_this_week) =
        look_up(&mut *conn, batch, &uuids, quota_since(batch)).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut accepted = Vec::new();
    for (index, pending) in batch.iter().enumerate() {
        let ping = &pending.new.ping;
        let key = (ping.uuid.clone(), ping.recorded_at.clone());
        if let Some(earlier) = copies.get(&key) {
            outcomes.push(match earlier {
                Earlier::Stored { id, sha256 } if *sha256 == pending.new.sha256 => {
                    Outcome::Decided(Stored::AlreadyReceived(*id))
                }
                Earlier::InThisBatch { index: first }
                    if batch[*first].new.sha256 == pending.new.sha256 =>
                {
                    Outcome::SameAs(*first)
                }
                _ => Outcome::Decided(Stored::Conflict),
            });
            continue;
        }
        let total = stored_this_week.entry(ping.uuid.clone()).or_default();
        if total.saturating_add(pending.new.bytes.len() as u64) > max_bytes_per_week {
            outcomes.push(Outcome::Decided(Stored::OverQuota));
            continue;
        }
        *total += pending.new.bytes.len() as u64;
        copies.insert(key, Earlier::InThisBatch { index });
        accepted.push(index);
        outcomes.push(Outcome::Inserted);
    }
    let ids = insert(&mut *conn, batch, &accepted).await?;
    for (&index, &id) in accepted.iter().zip(&ids) {
        let new = &batch[index].new;
        if let Some(sha256) = &new.ping.license_sha256 {
            crate::licenses::record_ping(&mut *conn, sha256, id, &new.ping.uuid, new.received_at)
                .await?;
        }
    }
    let id_of: HashMap<usize, i64> = accepted.iter().copied().zip(ids).collect();
    Ok(outcomes
        .iter()
        .enumerate()
        .map(|(index, outcome)| match outcome {
            Outcome::Decided(stored) => *stored,
            Outcome::Inserted => Stored::Created(id_of[&index]),
            Outcome::SameAs(first) => Stored::AlreadyReceived(id_of[first]),
        })
        .collect())
}

/// What the batch does with one ping.
enum Outcome {
    Decided(Stored),
    Inserted,
    /// The same bytes as an earlier ping of this batch: answered with its id.
    SameAs(usize),
}

/// A ping already holding a (uuid, recorded_at).
enum Earlier {
    Stored { id: i64, sha256: String },
    InThisBatch { index: usize },
}

/// What the database already holds for the batch: the stored pings holding the (uuid,
/// recorded_at) of any of its pings, and the bytes stored per uuid (of `uuids`) received after
/// `since`. One statement: the two questions travel together.
async fn look_up(
    conn: &mut sqlx::SqliteConnection,
    batch: &[Pending],
    uuids: &[&str],
    since: DateTime<Utc>,
) -> Result<(HashMap<(String, String), Earlier>, HashMap<String, u64>), sqlx::Error> {
    let ping_uuids: Vec<&str> = batch.iter().map(|p| p.new.ping.uuid.as_str()).collect();
    let times: Vec<&str> = batch
        .iter()
        .map(|p| p.new.ping.recorded_at.as_str())
        .collect();
    let since = format_timestamp(since);
    // (uuid, recorded_at, id, sha256) of a copy, or (uuid, NULL, NULL, NULL) with the bytes.
    type Row = (String, Option<String>, Option<i64>, Option<String>, i64);
    let rows: Vec<Row> = {
        // Both lists rather than `(uuid, recorded_at) IN (VALUES …)`, which SQLite answers
        // with a scan of the table: this one searches the unique index, and the pairs that
        // are not the batch's are dropped below.
        let list = |first: usize, count: usize| {
            (first..first + count)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let n = batch.len();
        let sql = format!(
            "SELECT uuid, recorded_at, id, sha256, 0 FROM usage_data \
                 WHERE uuid IN ({}) AND recorded_at IN ({}) \
                 UNION ALL SELECT uuid, NULL, NULL, NULL, CAST(SUM(size_bytes) AS BIGINT) \
                 FROM usage_data WHERE received_at > $1 AND uuid IN ({}) GROUP BY uuid",
            list(2, n),
            list(2 + n, n),
            list(2 + 2 * n, uuids.len())
        );
        let mut query = sqlx::query_as(&sql).bind(since);
        for value in ping_uuids.iter().chain(&times).chain(uuids) {
            query = query.bind(*value);
        }
        query.fetch_all(conn).await?
    };
    let keys: std::collections::HashSet<(&str, &str)> = ping_uuids
        .iter()
        .copied()
        .zip(times.iter().copied())
        .collect();
    let (mut copies, mut stored) = (HashMap::new(), HashMap::new());
    for (uuid, recorded_at, id, sha256, bytes) in rows {
        match (recorded_at, id, sha256) {
            (Some(recorded_at), Some(id), Some(sha256)) => {
                if keys.contains(&(uuid.as_str(), recorded_at.as_str())) {
                    copies.insert((uuid, recorded_at), Earlier::Stored { id, sha256 });
                }
            }
            _ => {
                stored.insert(uuid, bytes.unsigned_abs());
            }
        }
    }
    Ok((copies, stored))
}

/// A ping's columns: what it is, its bytes, its DevOps Score inputs (as `FEATURE_COLUMNS`) and
/// active users.
const PING_COLUMNS: &str = "uuid, recorded_at, hostname, version, edition, payload, \
    payload_encoding, sha256, size_bytes, source, received_at, issues, notes, milestones, boards, \
    merge_requests, ci_pipelines, environments, deployments, projects_prometheus_active, \
    service_desk_issues, active_users";

/// Inserts the pings of `batch` at `accepted` (with their DevOps Score inputs) and their
/// instances' rows; the pings' ids, in their order.
async fn insert(
    conn: &mut sqlx::SqliteConnection,
    batch: &[Pending],
    accepted: &[usize],
) -> Result<Vec<i64>, sqlx::Error> {
    if accepted.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<&Pending> = accepted.iter().map(|&i| &batch[i]).collect();
    const RETURNING: &str =
        "ON CONFLICT (uuid, recorded_at) DO NOTHING RETURNING id, uuid, recorded_at";
    let sql = format!(
        "INSERT INTO usage_data ({PING_COLUMNS}) VALUES {} {RETURNING}",
        placeholders(rows.len(), 22, 1)
    );
    let mut query = sqlx::query_as(&sql);
    for Pending {
        new: p,
        usage,
        active_users,
    } in &rows
    {
        query = query
            .bind(&p.ping.uuid)
            .bind(&p.ping.recorded_at)
            .bind(&p.ping.hostname)
            .bind(&p.ping.version)
            .bind(&p.ping.edition)
            .bind(p.compressed.as_slice())
            .bind(ZSTD)
            .bind(&p.sha256)
            .bind(p.bytes.len() as i64)
            .bind(p.source.as_str())
            .bind(format_timestamp(p.received_at));
        for value in usage {
            query = query.bind(*value);
        }
        query = query.bind(*active_users);
    }
    let ids = ids_in_order(&rows, query.fetch_all(&mut *conn).await?)?;
    upsert_instances_sqlite(conn, &rows, &ids).await?;
    Ok(ids)
}

/// What `instances` keeps of an instance: first the columns an upsert does not take from the
/// new row as they are.
const INSTANCE_COLUMNS: &str = "uuid, first_received_at, pings, last_received_at, \
    latest_usage_data_id, hostname, version, edition, issues, notes, milestones, boards, \
    merge_requests, ci_pipelines, environments, deployments, projects_prometheus_active, \
    service_desk_issues, active_users";

/// An instance already known keeps its first time, adds the new pings to its count and takes
/// the rest from its newest ping (a ping just stored has the highest id there is).
fn upsert_instance() -> String {
    let latest: Vec<String> = INSTANCE_COLUMNS
        .split(", ")
        .map(str::trim)
        .skip(3)
        .map(|column| format!("{column} = excluded.{column}"))
        .collect();
    format!(
        "ON CONFLICT (uuid) DO UPDATE SET pings = instances.pings + excluded.pings, \
         first_received_at = CASE WHEN excluded.first_received_at < instances.first_received_at \
         THEN excluded.first_received_at ELSE instances.first_received_at END, {}",
        latest.join(", ")
    )
}

/// Per instance of `rows`, in the batch: the first time, the number of pings and the index in
/// `rows` of its newest ping (the last in the batch, hence the highest id).
fn instances_of(rows: &[&Pending]) -> Vec<(String, i64, usize)> {
    let mut seen: std::collections::BTreeMap<&str, (String, i64, usize)> =
        std::collections::BTreeMap::new();
    for (index, p) in rows.iter().enumerate() {
        let at = format_timestamp(p.new.received_at);
        let entry = seen
            .entry(p.new.ping.uuid.as_str())
            .or_insert_with(|| (at.clone(), 0, index));
        entry.0 = entry.0.clone().min(at);
        entry.1 += 1;
        entry.2 = index;
    }
    seen.into_values().collect()
}

/// Records the instances of `rows` (stored as `ids`) in `instances`.
async fn upsert_instances_sqlite(
    conn: &mut sqlx::SqliteConnection,
    rows: &[&Pending],
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    let instances = instances_of(rows);
    let sql = format!(
        "INSERT INTO instances ({INSTANCE_COLUMNS}) VALUES {} {}",
        placeholders(instances.len(), 19, 1),
        upsert_instance()
    );
    let mut query = sqlx::query(&sql);
    for (first, pings, latest) in instances {
        let Pending {
            new,
            usage,
            active_users,
        } = rows[latest];
        query = query
            .bind(&new.ping.uuid)
            .bind(first)
            .bind(pings)
            .bind(format_timestamp(new.received_at))
            .bind(ids[latest])
            .bind(&new.ping.hostname)
            .bind(&new.ping.version)
            .bind(&new.ping.edition);
        for value in usage {
            query = query.bind(*value);
        }
        query = query.bind(*active_users);
    }
    query.execute(conn).await.map(|_| ())
}

/// The ids of `rows`, in their order, from what RETURNING gave (whose order is not promised):
/// matched by key. The copies were looked for in this transaction with the instances' pings
/// held back (SQLite's one writer, PostgreSQL's locks), so every accepted ping has its row.
fn ids_in_order(
    rows: &[&Pending],
    inserted: Vec<(i64, String, String)>,
) -> Result<Vec<i64>, sqlx::Error> {
    let id_of: HashMap<(String, String), i64> = inserted
        .into_iter()
        .map(|(id, uuid, recorded_at)| ((uuid, recorded_at), id))
        .collect();
    rows.iter()
        .map(|p| {
            let ping = &p.new.ping;
            id_of
                .get(&(ping.uuid.clone(), ping.recorded_at.clone()))
                .copied()
                .ok_or_else(|| {
                    sqlx::Error::Protocol(format!("ping {} was not inserted", ping.uuid))
                })
        })
        .collect()
}
