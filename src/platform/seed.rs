//! `service-ping seed --scale N`: fills the demo platform with deterministic, realistic data.
//!
//! A fixed ChaCha seed makes the same scale and anchor day produce the same rows. Activity spans
//! the ~400 days before the anchor with a weekly rhythm (quiet weekends) and steady growth, so
//! 7-day, 28-day and all-time numbers and the yearly trends all differ. Scale 1 is about 100 k
//! rows; row counts grow linearly with the scale.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::QueryBuilder;

use crate::db::{Conn, Db, execute, execute_in, on_conn, on_pool};

use super::{TABLES, TIMESTAMP_FORMAT};

/// The fixed seed: same scale + same anchor = same platform.
const SEED: u64 = 0x5e41_1ce0_0017;
/// Days of history before the anchor.
pub const HISTORY_DAYS: i64 = 400;
/// Page cache of the seeding connection, in KiB.
const SEED_CACHE_KIB: u32 = 256 * 1024;
/// Rows per INSERT statement (well under SQLite's 32 766 bound parameters).
const ROWS_PER_STATEMENT: usize = 500;

/// Rows of each table at scale 1.
struct PerScale {
    users: u64,
    namespaces: u64,
    projects: u64,
    members: u64,
    milestones: u64,
    labels: u64,
    boards: u64,
    issues: u64,
    merge_requests: u64,
    notes: u64,
    ci_pipelines: u64,
    ci_builds_per_pipeline: u64,
    environments: u64,
    deployments: u64,
    releases: u64,
    snippets: u64,
    keys: u64,
    web_hooks: u64,
    events: u64,
}

const SCALE_1: PerScale = PerScale {
    users: 500,
    namespaces: 40,
    projects: 400,
    members: 1_500,
    milestones: 300,
    labels: 800,
    boards: 150,
    issues: 8_000,
    merge_requests: 5_000,
    notes: 30_000,
    ci_pipelines: 10_000,
    ci_builds_per_pipeline: 2,
    environments: 500,
    deployments: 3_000,
    releases: 300,
    snippets: 300,
    keys: 600,
    web_hooks: 150,
    events: 20_000,
};

/// How a seeding run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub rows: u64,
    pub anchor: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the platform already has data ({users} users); pass --reset to replace it")]
    NotEmpty { users: i64 },
    #[error("scale must be between 1 and 1000, got {0}")]
    BadScale(u32),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Seeds the platform at `scale` with history ending on `anchor` (exclusive). Refuses a
/// non-empty platform unless `reset`, in which case every platform table is emptied first.
#[tracing::instrument(skip(db), err)]
pub async fn seed(
    db: &Db,
    scale: u32,
    anchor: NaiveDate,
    reset: bool,
) -> Result<SeedReport, SeedError> {
    if !(1..=1000).contains(&scale) {
        return Err(SeedError::BadScale(scale));
    }
    let users: i64 = on_pool!(db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(p)
        .await)?;
    if users > 0 && !reset {
        return Err(SeedError::NotEmpty { users });
    }
    let rows = match db {
        Db::Sqlite(pool) => {
            // One transaction writes millions of rows into indexes in random date order; with
            // SQLite's default 2 MB page cache every spilled page is read back from the WAL
            // again and again. This connection gets a larger cache for the length of the seed.
            let mut connection = pool.acquire().await?;
            sqlx::query(&format!("PRAGMA cache_size = -{SEED_CACHE_KIB}"))
                .execute(&mut *connection)
                .await?;
            let rows = async {
                let mut tx = sqlx::Connection::begin(&mut *connection).await?;
                let rows = replace_platform(&mut Conn::Sqlite(&mut tx), scale, anchor).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(rows)
            }
            .await;
            sqlx::query("PRAGMA cache_size = -2000")
                .execute(&mut *connection)
                .await?;
            rows?
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let rows = replace_platform(&mut Conn::Postgres(&mut tx), scale, anchor).await?;
            tx.commit().await?;
            rows
        }
    };
    execute!(db, sqlx::query("ANALYZE"))?;
    Ok(SeedReport { rows, anchor })
}

/// Replaces the platform's rows with generated ones, in the caller's transaction.
async fn replace_platform(
    tx: &mut Conn<'_>,
    scale: u32,
    anchor: NaiveDate,
) -> Result<u64, sqlx::Error> {
    service_ping_engine::rollup::forget(tx.reborrow()).await?;
    for table in TABLES.iter().rev() {
        execute_in!(tx, sqlx::query(&format!("DELETE FROM {table}")))?;
    }
    Generator::new(u64::from(scale), anchor).write_all(tx).await
}

/// A value of a generated row.
enum Cell {
    Int(i64),
    Text(String),
    Bool(bool),
    /// A NULL of its column's type: PostgreSQL keeps the parameter types of a prepared
    /// statement, so each position must always be bound with the same type.
    Null(Kind),
}

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Bool,
}

/// A type whose missing value is a typed [`Cell::Null`].
trait Nullable: Into<Cell> {
    const KIND: Kind;
}

impl Nullable for i64 {
    const KIND: Kind = Kind::Int;
}
impl Nullable for u64 {
    const KIND: Kind = Kind::Int;
}
impl Nullable for bool {
    const KIND: Kind = Kind::Bool;
}
impl Nullable for String {
    const KIND: Kind = Kind::Text;
}
impl Nullable for &str {
    const KIND: Kind = Kind::Text;
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
impl From<u64> for Cell {
    fn from(v: u64) -> Self {
        Cell::Int(v as i64)
    }
}
impl From<bool> for Cell {
    fn from(v: bool) -> Self {
        Cell::Bool(v)
    }
}
impl From<String> for Cell {
    fn from(v: String) -> Self {
        Cell::Text(v)
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Cell::Text(v.to_string())
    }
}
impl<T: Nullable> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Null(T::KIND), Into::into)
    }
}

/// Collects rows of one table and writes them in multi-row INSERTs.
struct TableWriter {
    table: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
    written: u64,
}

impl TableWriter {
    fn new(table: &'static str, columns: &'static [&'static str]) -> Self {
        Self {
            table,
            columns,
            rows: Vec::with_capacity(ROWS_PER_STATEMENT),
            written: 0,
        }
    }

    async fn push(&mut self, tx: &mut Conn<'_>, row: Vec<Cell>) -> Result<(), sqlx::Error> {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
        if self.rows.len() == ROWS_PER_STATEMENT {
            self.flush(tx).await?;
        }
        Ok(())
    }

    /// Pushes a row that references rows of `parent`; before this table's batch is written,
    /// the parent's pending rows are, so every foreign key already has its row.
    async fn push_child(
        &mut self,
        tx: &mut Conn<'_>,
        row: Vec<Cell>,
        parent: &mut TableWriter,
    ) -> Result<(), sqlx::Error> {
        if self.rows.len() + 1 == ROWS_PER_STATEMENT {
            parent.flush(tx).await?;
        }
        self.push(tx, row).await
    }

    async fn flush(&mut self, tx: &mut Conn<'_>) -> Result<(), sqlx::Error> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let insert = format!("INSERT INTO {} ({}) ", self.table, self.columns.join(", "));
        let rows = std::mem::take(&mut self.rows);
        self.written += rows.len() as u64;
        on_conn!(tx, |c| {
            let mut query = QueryBuilder::new(&insert);
            query.push_values(rows, |mut values, row| {
                for cell in row {
                    match cell {
                        Cell::Int(v) => values.push_bind(v),
                        Cell::Text(v) => values.push_bind(v),
                        Cell::Bool(v) => values.push_bind(v),
                        Cell::Null(Kind::Int) => values.push_bind(None::<i64>),
                        Cell::Null(Kind::Text) => values.push_bind(None::<String>),
                        Cell::Null(Kind::Bool) => values.push_bind(None::<bool>),
                    };
                }
            });
            query.build().execute(c).await.map(|_| ())
        })?;
        Ok(())
    }

    async fn finish(mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        self.flush(tx).await?;
        Ok(self.written)
    }
}

const FIRST_NAMES: &[&str] = &[
    "Amara", "Bruno", "Chen", "Dalia", "Emil", "Fatima", "Gustav", "Hana", "Igor", "Jasmin",
    "Kofi", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tereza",
    "Umar", "Vera", "Wim", "Xenia", "Yusuf", "Zofia", "Aiko", "Bilal", "Carmen", "Dmitri", "Elif",
    "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Luis", "Maya", "Nils", "Olga", "Pablo",
    "Rania", "Sven", "Tomás", "Ulla", "Viktor", "Wanjiru",
];
const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Nakamura",
    "Haddad",
    "Novak",
    "Fernandes",
    "Schmidt",
    "Kowalski",
    "Rossi",
    "Dubois",
    "Mensah",
    "Ivanova",
    "Takahashi",
    "García",
    "Andersen",
    "Papadopoulos",
    "Yilmaz",
    "Kim",
    "Silva",
    "Horvat",
    "Jansen",
    "Moreau",
    "Nguyen",
    "Petrov",
    "Quist",
    "Rahman",
    "Sato",
    "Tanaka",
    "Urbanek",
    "Virtanen",
    "Weber",
    "Zhang",
    "Bianchi",
    "Costa",
    "Eriksen",
    "Fischer",
];
const TEAM_WORDS: &[&str] = &[
    "platform",
    "payments",
    "mobile",
    "data",
    "infra",
    "search",
    "identity",
    "billing",
    "growth",
    "security",
    "frontend",
    "backend",
    "devtools",
    "analytics",
    "support",
    "docs",
    "ml",
    "edge",
    "storage",
    "network",
];
const PROJECT_WORDS: &[&str] = &[
    "api",
    "web",
    "worker",
    "gateway",
    "cli",
    "sdk",
    "console",
    "scheduler",
    "indexer",
    "exporter",
    "portal",
    "ledger",
    "router",
    "cache",
    "agent",
    "dashboard",
    "pipeline",
    "notifier",
    "auth",
    "importer",
];
const JOB_NAMES: &[&str] = &[
    "build",
    "test",
    "lint",
    "deploy",
    "package",
    "security-scan",
    "integration",
];

/// Generates the rows. Keeps what later tables need: ids and activity days.
struct Generator {
    rng: ChaCha8Rng,
    scale: u64,
    anchor: NaiveDateTime,
    /// Cumulative activity weight of each day before the anchor, oldest first.
    day_weights: Vec<f64>,
    user_ids: Vec<i64>,
    last_activity: Vec<Option<NaiveDate>>,
}

impl Generator {
    fn new(scale: u64, anchor: NaiveDate) -> Self {
        let anchor = anchor.and_hms_opt(0, 0, 0).expect("midnight exists");
        let mut total = 0.0;
        let day_weights = (0..HISTORY_DAYS)
            .map(|i| {
                let day = anchor.date() - Duration::days(HISTORY_DAYS - i);
                total += activity_weight(day, i as f64 / HISTORY_DAYS as f64);
                total
            })
            .collect();
        Self {
            rng: ChaCha8Rng::seed_from_u64(SEED),
            scale,
            anchor,
            day_weights,
            user_ids: Vec::new(),
            last_activity: Vec::new(),
        }
    }

    fn count(&self, per_scale: u64) -> u64 {
        per_scale * self.scale
    }

    /// A moment of activity: a day drawn by the activity weights, during working hours mostly.
    fn activity_time(&mut self) -> NaiveDateTime {
        let total = *self.day_weights.last().expect("history has days");
        let target = self.rng.gen_range(0.0..total);
        let index = self.day_weights.partition_point(|w| *w < target) as i64;
        let day = self.anchor - Duration::days(HISTORY_DAYS - index);
        let hour = if self.rng.gen_bool(0.8) {
            self.rng.gen_range(8..18)
        } else {
            self.rng.gen_range(0..24)
        };
        day + Duration::hours(hour) + Duration::seconds(self.rng.gen_range(0..3600))
    }

    /// A moment after `start`, within `max_days`, not past the anchor.
    fn later(&mut self, start: NaiveDateTime, max_days: i64) -> Option<NaiveDateTime> {
        let t = start + Duration::seconds(self.rng.gen_range(600..max_days * 86_400));
        (t < self.anchor).then_some(t)
    }

    fn pick(&mut self, ids: u64) -> i64 {
        self.rng.gen_range(1..=ids as i64)
    }

    fn pick_user(&mut self) -> i64 {
        // Some people are far more active than others (a rough power law).
        let n = self.user_ids.len();
        let skewed = (self.rng.gen_range(0.0f64..1.0).powf(2.2) * n as f64) as usize;
        self.user_ids[skewed.min(n - 1)]
    }

    fn choose<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.rng.gen_range(0..options.len())]
    }

    /// Picks by weight: `options` pairs a value with its relative frequency.
    fn weighted<'a>(&mut self, options: &[(&'a str, u32)]) -> &'a str {
        let total: u32 = options.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.gen_range(0..total);
        for (value, weight) in options {
            if roll < *weight {
                return value;
            }
            roll -= weight;
        }
        options[options.len() - 1].0
    }

    fn note_activity(&mut self, user_id: i64, at: NaiveDateTime) {
        let slot = &mut self.last_activity[(user_id - 1) as usize];
        if slot.is_none_or(|d| d < at.date()) {
            *slot = Some(at.date());
        }
    }

    async fn write_all(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut rows = 0;
        rows += self.users(tx).await?;
        rows += self.namespaces(tx).await?;
        rows += self.projects(tx).await?;
        rows += self.members(tx).await?;
        rows += self.project_children(tx).await?;
        rows += self.issues(tx).await?;
        rows += self.merge_requests(tx).await?;
        rows += self.notes(tx).await?;
        rows += self.pipelines_and_builds(tx).await?;
        rows += self.environments_and_deployments(tx).await?;
        rows += self.user_children(tx).await?;
        rows += self.events(tx).await?;
        self.record_last_activity(tx).await?;
        Ok(rows)
    }

    async fn users(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut out = TableWriter::new(
            "users",
            &[
                "id",
                "username",
                "name",
                "email",
                "state",
                "user_type",
                "admin",
                "created_at",
                "updated_at",
            ],
        );
        let count = self.count(SCALE_1.users);
        for id in 1..=count as i64 {
            let first = self.choose(FIRST_NAMES);
            let last = self.choose(LAST_NAMES);
            let handle = format!("{}.{}{}", ascii_lower(first), ascii_lower(last), id);
            let user_type = match id {
                1 => "support_bot",
                _ if id % 97 == 0 => "bot",
                _ => "human",
            };
            let state = self.weighted(&[("active", 90), ("blocked", 4), ("deactivated", 6)]);
            let created = self.activity_time();
            let row = vec![
                id.into(),
                handle.clone().into(),
                format!("{first} {last}").into(),
                format!(
                    "{handle}@{}",
                    self.choose(&["example.com", "example.org", "corp.example"])
                )
                .into(),
                state.into(),
                user_type.into(),
                (id % 50 == 2).into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            out.push(tx, row).await?;
        }
        self.user_ids = (1..=count as i64).collect();
        self.last_activity = vec![None; count as usize];
        out.finish(tx).await
    }

    async fn namespaces(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut out = TableWriter::new(
            "namespaces",
            &[
                "id",
                "name",
                "path",
                "type",
                "visibility",
                "created_at",
                "updated_at",
            ],
        );
        for id in 1..=self.count(SCALE_1.namespaces) as i64 {
            let word = self.choose(TEAM_WORDS);
            let created = self.activity_time();
            let visibility = self.weighted(&[("private", 70), ("internal", 20), ("public", 10)]);
            let row = vec![
                id.into(),
                format!("{} team {id}", capitalize(word)).into(),
                format!("{word}-{id}").into(),
                "Group".into(),
                visibility.into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            out.push(tx, row).await?;
        }
        out.finish(tx).await
    }

    async fn projects(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut out = TableWriter::new(
            "projects",
            &[
                "id",
                "namespace_id",
                "creator_id",
                "name",
                "visibility",
                "archived",
                "prometheus_active",
                "service_desk_enabled",
                "created_at",
                "updated_at",
            ],
        );
        let namespaces = self.count(SCALE_1.namespaces);
        for id in 1..=self.count(SCALE_1.projects) as i64 {
            let created = self.activity_time();
            let row = vec![
                id.into(),
                self.pick(namespaces).into(),
                self.pick_user().into(),
                format!("{}-{id}", self.choose(PROJECT_WORDS)).into(),
                self.weighted(&[("private", 75), ("internal", 15), ("public", 10)])
                    .into(),
                self.rng.gen_bool(0.06).into(),
                self.rng.gen_bool(0.04).into(),
                self.rng.gen_bool(0.07).into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            out.push(tx, row).await?;
        }
        out.finish(tx).await
    }

    async fn members(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut out = TableWriter::new(
            "members",
            &[
                "id",
                "user_id",
                "source_type",
                "source_id",
                "access_level",
                "created_at",
                "updated_at",
            ],
        );
        let (projects, namespaces) = (self.count(SCALE_1.projects), self.count(SCALE_1.namespaces));
        for id in 1..=self.count(SCALE_1.members) as i64 {
            let created = self.activity_time();
            let on_project = self.rng.gen_bool(0.7);
            let source = if on_project {
                self.pick(projects)
            } else {
                self.pick(namespaces)
            };
            let level = [10i64, 20, 30, 30, 30, 40, 50][self.rng.gen_range(0..7)];
            let row = vec![
                id.into(),
                self.pick_user().into(),
                (if on_project { "Project" } else { "Namespace" }).into(),
                source.into(),
                level.into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            out.push(tx, row).await?;
        }
        out.finish(tx).await
    }

    /// Milestones, labels and boards: small tables hanging off projects.
    async fn project_children(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let projects = self.count(SCALE_1.projects);
        let mut milestones = TableWriter::new(
            "milestones",
            &[
                "id",
                "project_id",
                "title",
                "state",
                "created_at",
                "updated_at",
            ],
        );
        for id in 1..=self.count(SCALE_1.milestones) as i64 {
            let created = self.activity_time();
            let state = self.weighted(&[("active", 40), ("closed", 60)]);
            let row = vec![
                id.into(),
                self.pick(projects).into(),
                format!("Release {}.{}", 1 + id % 17, id % 12).into(),
                state.into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            milestones.push(tx, row).await?;
        }
        let mut labels = TableWriter::new(
            "labels",
            &["id", "project_id", "title", "created_at", "updated_at"],
        );
        for id in 1..=self.count(SCALE_1.labels) as i64 {
            let created = self.activity_time();
            let title = self.choose(&[
                "bug",
                "feature",
                "backend",
                "frontend",
                "security",
                "performance",
                "docs",
                "ux",
            ]);
            let row = vec![
                id.into(),
                self.pick(projects).into(),
                title.into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            labels.push(tx, row).await?;
        }
        let mut boards = TableWriter::new(
            "boards",
            &["id", "project_id", "name", "created_at", "updated_at"],
        );
        for id in 1..=self.count(SCALE_1.boards) as i64 {
            let created = self.activity_time();
            let name = self.choose(&["Development", "Triage", "Sprint", "Roadmap"]);
            let row = vec![
                id.into(),
                self.pick(projects).into(),
                name.into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            boards.push(tx, row).await?;
        }
        Ok(milestones.finish(tx).await? + labels.finish(tx).await? + boards.finish(tx).await?)
    }

    async fn issues(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut out = TableWriter::new(
            "issues",
            &[
                "id",
                "project_id",
                "author_id",
                "milestone_id",
                "title",
                "state",
                "issue_type",
                "confidential",
                "service_desk",
                "closed_at",
                "created_at",
                "updated_at",
            ],
        );
        let (projects, milestones) = (self.count(SCALE_1.projects), self.count(SCALE_1.milestones));
        for id in 1..=self.count(SCALE_1.issues) as i64 {
            let created = self.activity_time();
            let service_desk = self.rng.gen_bool(0.02);
            let author = if service_desk { 1 } else { self.pick_user() };
            self.note_activity(author, created);
            let closed_at = if self.rng.gen_bool(0.6) {
                self.later(created, 60)
            } else {
                None
            };
            let milestone = self.rng.gen_bool(0.3).then(|| self.pick(milestones));
            let row = vec![
                id.into(),
                self.pick(projects).into(),
                author.into(),
                milestone.into(),
                format!("Issue {id}").into(),
                (if closed_at.is_some() {
                    "closed"
                } else {
                    "opened"
                })
                .into(),
                self.weighted(&[("issue", 90), ("incident", 4), ("task", 6)])
                    .into(),
                self.rng.gen_bool(0.05).into(),
                service_desk.into(),
                closed_at.map(stamp).into(),
                stamp(created).into(),
                stamp(closed_at.unwrap_or(created)).into(),
            ];
            out.push(tx, row).await?;
        }
        out.finish(tx).await
    }

    async fn merge_requests(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut out = TableWriter::new(
            "merge_requests",
            &[
                "id",
                "project_id",
                "author_id",
                "title",
                "state",
                "merged_at",
                "created_at",
                "updated_at",
            ],
        );
        let projects = self.count(SCALE_1.projects);
        for id in 1..=self.count(SCALE_1.merge_requests) as i64 {
            let created = self.activity_time();
            let author = self.pick_user();
            self.note_activity(author, created);
            let outcome = self.weighted(&[("merged", 70), ("closed", 12), ("opened", 18)]);
            let merged_at = if outcome == "merged" {
                self.later(created, 14)
            } else {
                None
            };
            let state = if outcome == "merged" && merged_at.is_none() {
                "opened"
            } else {
                outcome
            };
            let row = vec![
                id.into(),
                self.pick(projects).into(),
                author.into(),
                format!("Merge request {id}").into(),
                state.into(),
                merged_at.map(stamp).into(),
                stamp(created).into(),
                stamp(merged_at.unwrap_or(created)).into(),
            ];
            out.push(tx, row).await?;
        }
        out.finish(tx).await
    }

    async fn notes(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut out = TableWriter::new(
            "notes",
            &[
                "id",
                "project_id",
                "author_id",
                "noteable_type",
                "noteable_id",
                "system",
                "created_at",
                "updated_at",
            ],
        );
        let (projects, issues, mrs) = (
            self.count(SCALE_1.projects),
            self.count(SCALE_1.issues),
            self.count(SCALE_1.merge_requests),
        );
        for id in 1..=self.count(SCALE_1.notes) as i64 {
            let created = self.activity_time();
            let author = self.pick_user();
            let system = self.rng.gen_bool(0.25);
            if !system {
                self.note_activity(author, created);
            }
            let noteable_type = self.weighted(&[
                ("Issue", 50),
                ("MergeRequest", 45),
                ("Commit", 3),
                ("Snippet", 2),
            ]);
            let noteable_id = match noteable_type {
                "Issue" => self.pick(issues),
                "MergeRequest" => self.pick(mrs),
                _ => self.pick(1000),
            };
            let row = vec![
                id.into(),
                self.pick(projects).into(),
                author.into(),
                noteable_type.into(),
                noteable_id.into(),
                system.into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            out.push(tx, row).await?;
        }
        out.finish(tx).await
    }

    async fn pipelines_and_builds(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut pipelines = TableWriter::new(
            "ci_pipelines",
            &[
                "id",
                "project_id",
                "user_id",
                "status",
                "source",
                "config_source",
                "duration",
                "created_at",
                "updated_at",
            ],
        );
        let mut builds = TableWriter::new(
            "ci_builds",
            &[
                "id",
                "pipeline_id",
                "project_id",
                "user_id",
                "name",
                "status",
                "duration",
                "created_at",
                "updated_at",
            ],
        );
        let projects = self.count(SCALE_1.projects);
        let mut build_id = 0i64;
        for id in 1..=self.count(SCALE_1.ci_pipelines) as i64 {
            let created = self.activity_time();
            let source = self.weighted(&[
                ("push", 55),
                ("merge_request_event", 25),
                ("schedule", 8),
                ("web", 6),
                ("api", 3),
                ("trigger", 2),
                ("external", 1),
            ]);
            let user = (source != "schedule" && source != "external").then(|| self.pick_user());
            if let Some(user) = user {
                self.note_activity(user, created);
            }
            let status = self.weighted(&[
                ("success", 70),
                ("failed", 15),
                ("canceled", 6),
                ("skipped", 5),
                ("running", 2),
                ("pending", 2),
            ]);
            let duration = matches!(status, "success" | "failed" | "canceled")
                .then(|| self.rng.gen_range(30..1800i64));
            let project = self.pick(projects);
            let config_source = if self.rng.gen_bool(0.04) {
                "auto_devops"
            } else {
                "repository"
            };
            pipelines
                .push(
                    tx,
                    vec![
                        id.into(),
                        project.into(),
                        user.into(),
                        status.into(),
                        source.into(),
                        config_source.into(),
                        duration.into(),
                        stamp(created).into(),
                        stamp(created).into(),
                    ],
                )
                .await?;
            let jobs = self
                .rng
                .gen_range(1..=SCALE_1.ci_builds_per_pipeline * 2 - 1);
            for _ in 0..jobs {
                build_id += 1;
                let name = self.choose(JOB_NAMES);
                let job_duration = duration.map(|d| d / jobs as i64);
                builds
                    .push_child(
                        tx,
                        vec![
                            build_id.into(),
                            id.into(),
                            project.into(),
                            user.into(),
                            name.into(),
                            status.into(),
                            job_duration.into(),
                            stamp(created).into(),
                            stamp(created).into(),
                        ],
                        &mut pipelines,
                    )
                    .await?;
            }
        }
        Ok(pipelines.finish(tx).await? + builds.finish(tx).await?)
    }

    async fn environments_and_deployments(
        &mut self,
        tx: &mut Conn<'_>,
    ) -> Result<u64, sqlx::Error> {
        let mut environments = TableWriter::new(
            "environments",
            &[
                "id",
                "project_id",
                "name",
                "tier",
                "created_at",
                "updated_at",
            ],
        );
        let projects = self.count(SCALE_1.projects);
        let environment_count = self.count(SCALE_1.environments);
        let mut environment_projects = Vec::with_capacity(environment_count as usize);
        for id in 1..=environment_count as i64 {
            let created = self.activity_time();
            let tier = self.weighted(&[
                ("production", 35),
                ("staging", 30),
                ("testing", 15),
                ("development", 15),
                ("other", 5),
            ]);
            let project = self.pick(projects);
            environment_projects.push(project);
            environments
                .push(
                    tx,
                    vec![
                        id.into(),
                        project.into(),
                        tier.into(),
                        tier.into(),
                        stamp(created).into(),
                        stamp(created).into(),
                    ],
                )
                .await?;
        }
        let mut deployments = TableWriter::new(
            "deployments",
            &[
                "id",
                "environment_id",
                "project_id",
                "user_id",
                "status",
                "created_at",
                "updated_at",
            ],
        );
        for id in 1..=self.count(SCALE_1.deployments) as i64 {
            let created = self.activity_time();
            let environment = self.pick(environment_count);
            let user = self.pick_user();
            self.note_activity(user, created);
            let status = self.weighted(&[
                ("success", 82),
                ("failed", 12),
                ("canceled", 4),
                ("running", 2),
            ]);
            deployments
                .push_child(
                    tx,
                    vec![
                        id.into(),
                        environment.into(),
                        environment_projects[(environment - 1) as usize].into(),
                        user.into(),
                        status.into(),
                        stamp(created).into(),
                        stamp(created).into(),
                    ],
                    &mut environments,
                )
                .await?;
        }
        Ok(environments.finish(tx).await? + deployments.finish(tx).await?)
    }

    /// Releases, snippets, SSH/deploy keys and web hooks.
    async fn user_children(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let projects = self.count(SCALE_1.projects);
        let mut releases = TableWriter::new(
            "releases",
            &[
                "id",
                "project_id",
                "author_id",
                "tag",
                "created_at",
                "updated_at",
            ],
        );
        for id in 1..=self.count(SCALE_1.releases) as i64 {
            let created = self.activity_time();
            let author = self.pick_user();
            let row = vec![
                id.into(),
                self.pick(projects).into(),
                author.into(),
                format!("v{}.{}.0", id / 10, id % 10).into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            releases.push(tx, row).await?;
        }
        let mut snippets = TableWriter::new(
            "snippets",
            &[
                "id",
                "author_id",
                "project_id",
                "type",
                "title",
                "created_at",
                "updated_at",
            ],
        );
        for id in 1..=self.count(SCALE_1.snippets) as i64 {
            let created = self.activity_time();
            let personal = self.rng.gen_bool(0.4);
            let project = (!personal).then(|| self.pick(projects));
            let row = vec![
                id.into(),
                self.pick_user().into(),
                project.into(),
                (if personal {
                    "PersonalSnippet"
                } else {
                    "ProjectSnippet"
                })
                .into(),
                format!("Snippet {id}").into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            snippets.push(tx, row).await?;
        }
        let mut keys = TableWriter::new(
            "keys",
            &["id", "user_id", "type", "title", "created_at", "updated_at"],
        );
        for id in 1..=self.count(SCALE_1.keys) as i64 {
            let created = self.activity_time();
            let deploy = self.rng.gen_bool(0.15);
            let user = (!deploy).then(|| self.pick_user());
            let row = vec![
                id.into(),
                user.into(),
                (if deploy { "DeployKey" } else { "Key" }).into(),
                format!("key {id}").into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            keys.push(tx, row).await?;
        }
        let mut hooks = TableWriter::new(
            "web_hooks",
            &["id", "project_id", "type", "created_at", "updated_at"],
        );
        for id in 1..=self.count(SCALE_1.web_hooks) as i64 {
            let created = self.activity_time();
            let kind = self.weighted(&[("ProjectHook", 85), ("GroupHook", 10), ("SystemHook", 5)]);
            let project = (kind == "ProjectHook").then(|| self.pick(projects));
            hooks
                .push(
                    tx,
                    vec![
                        id.into(),
                        project.into(),
                        kind.into(),
                        stamp(created).into(),
                        stamp(created).into(),
                    ],
                )
                .await?;
        }
        Ok(releases.finish(tx).await?
            + snippets.finish(tx).await?
            + keys.finish(tx).await?
            + hooks.finish(tx).await?)
    }

    async fn events(&mut self, tx: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        let mut out = TableWriter::new(
            "events",
            &[
                "id",
                "author_id",
                "project_id",
                "action",
                "target_type",
                "target_id",
                "created_at",
                "updated_at",
            ],
        );
        let projects = self.count(SCALE_1.projects);
        for id in 1..=self.count(SCALE_1.events) as i64 {
            let created = self.activity_time();
            let author = self.pick_user();
            self.note_activity(author, created);
            let action = self.weighted(&[
                ("pushed", 40),
                ("commented", 20),
                ("created", 15),
                ("updated", 8),
                ("closed", 6),
                ("merged", 6),
                ("approved", 3),
                ("joined", 1),
                ("reopened", 1),
            ]);
            let target_type = match action {
                "pushed" | "joined" => None,
                "commented" => Some("Note"),
                "merged" | "approved" => Some("MergeRequest"),
                _ => Some(self.weighted(&[
                    ("Issue", 60),
                    ("MergeRequest", 25),
                    ("Milestone", 5),
                    ("WikiPage", 8),
                    ("DesignManagement::Design", 2),
                ])),
            };
            let target_id = target_type.map(|_| self.pick(1000 * self.scale));
            let row = vec![
                id.into(),
                author.into(),
                self.pick(projects).into(),
                action.into(),
                target_type.into(),
                target_id.into(),
                stamp(created).into(),
                stamp(created).into(),
            ];
            out.push(tx, row).await?;
        }
        out.finish(tx).await
    }

    async fn record_last_activity(&mut self, tx: &mut Conn<'_>) -> Result<(), sqlx::Error> {
        for (index, day) in self.last_activity.iter().enumerate() {
            if let Some(day) = day {
                execute_in!(
                    tx,
                    sqlx::query("UPDATE users SET last_activity_on = $1 WHERE id = $2")
                        .bind(day.format("%Y-%m-%d").to_string())
                        .bind(index as i64 + 1)
                )?;
            }
        }
        Ok(())
    }
}

/// Relative activity on `day`: quiet weekends, and growth from half to one and a half times
/// the average over the history (`progress` runs from 0 to 1).
fn activity_weight(day: NaiveDate, progress: f64) -> f64 {
    let weekday = match day.weekday() {
        Weekday::Sat => 0.25,
        Weekday::Sun => 0.15,
        Weekday::Mon => 0.9,
        Weekday::Fri => 0.85,
        _ => 1.0,
    };
    weekday * (0.5 + progress)
}

fn stamp(t: NaiveDateTime) -> String {
    t.format(TIMESTAMP_FORMAT).to_string()
}

fn ascii_lower(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'á' => 'a',
            'í' => 'i',
            'ó' => 'o',
            'ú' => 'u',
            'é' => 'e',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    /// A digest of the seeded rows: names, emails, timings and dates.
    async fn fingerprint(db: &Db) -> (String, i64, String) {
        on_pool!(db, |p| sqlx::query_as(
            "SELECT (SELECT string_agg(name || ' ' || email, ',' ORDER BY id) FROM users), \
             (SELECT CAST(SUM(duration) AS BIGINT) FROM ci_pipelines), \
             (SELECT string_agg(created_at, ',' ORDER BY id) FROM issues WHERE id % 97 = 0)",
        )
        .fetch_one(p)
        .await)
        .unwrap()
    }

    #[tokio::test]
    async fn seeding_is_deterministic_and_refuses_a_platform_with_data() {
        let (db, _dir) = crate::db::test_database().await;
        let first = seed(&db, 1, anchor(), false).await.unwrap();
        assert!(
            (90_000..130_000).contains(&first.rows),
            "{} rows",
            first.rows
        );
        let digest = fingerprint(&db).await;
        assert!(matches!(
            seed(&db, 1, anchor(), false).await,
            Err(SeedError::NotEmpty { users: 500 })
        ));
        let again = seed(&db, 1, anchor(), true).await.unwrap();
        assert_eq!(again.rows, first.rows);
        assert_eq!(fingerprint(&db).await, digest);
    }

    #[tokio::test]
    async fn activity_spans_the_history_with_quiet_weekends_and_growth() {
        let (db, _dir) = crate::db::test_database().await;
        seed(&db, 1, anchor(), false).await.unwrap();
        let (oldest, newest): (String, String) = on_pool!(&db, |p| sqlx::query_as(
            "SELECT MIN(created_at), MAX(created_at) FROM events"
        )
        .fetch_one(p)
        .await)
        .unwrap();
        assert!(
            oldest.as_str() < "2025-10-30" && oldest.as_str() >= "2025-10-21",
            "{oldest}"
        );
        assert!(
            newest.as_str() >= "2026-11-23" && newest.as_str() < "2026-11-25",
            "{newest}"
        );
        let per_day: Vec<(String, i64)> = on_pool!(&db, |p| sqlx::query_as(
            "SELECT substr(created_at, 1, 10), COUNT(*) FROM events GROUP BY 1"
        )
        .fetch_all(p)
        .await)
        .unwrap();
        let (mut weekend, mut weekdays) = (0, 0);
        for (day, events) in per_day {
            match NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                .unwrap()
                .weekday()
            {
                Weekday::Sat | Weekday::Sun => weekend += events,
                _ => weekdays += events,
            }
        }
        assert!(
            weekend * 5 < weekdays,
            "{weekend} at weekends, {weekdays} on weekdays"
        );
        let (first_quarter, last_quarter): (i64, i64) = on_pool!(&db, |p| sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE created_at < '2025-12-30'), \
                    COUNT(*) FILTER (WHERE created_at >= '2026-09-25') FROM events",
        )
        .fetch_one(p)
        .await)
        .unwrap();
        assert!(
            first_quarter < last_quarter,
            "{first_quarter} then {last_quarter}"
        );
    }

    #[tokio::test]
    async fn a_scale_out_of_range_is_refused_and_nothing_is_written() {
        let (db, _dir) = crate::db::test_database().await;
        assert!(matches!(
            seed(&db, 0, anchor(), false).await,
            Err(SeedError::BadScale(0))
        ));
        let users: i64 = on_pool!(&db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(p)
            .await)
        .unwrap();
        assert_eq!(users, 0);
    }
}
