-- Per-day rollups of the metric dictionary's database metrics (src/engine/rollup.rs).

-- Each platform table the dictionary reads: which time columns its change triggers watch, the
-- measures its rollup holds (a change rebuilds it), and the last change folded in.
CREATE TABLE metric_rollup_tables (
    table_name          TEXT    NOT NULL CONSTRAINT metric_rollup_tables_pkey PRIMARY KEY,
    time_columns        TEXT    NOT NULL,
    measures            TEXT    NOT NULL,
    refreshed_through   INTEGER NOT NULL
);

-- Days whose rows changed since their rollup was computed, written by the triggers. A change to
-- an already marked day replaces its mark, so a mark's id is always the latest change's.
CREATE TABLE metric_rollup_changes (
    id          INTEGER NOT NULL CONSTRAINT metric_rollup_changes_pkey PRIMARY KEY AUTOINCREMENT,
    table_name  TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    CONSTRAINT metric_rollup_changes_day_key UNIQUE (table_name, day)
);

-- One measure's partial aggregate over one day's rows ('' = rows without a date): how many rows
-- or values (`n`), their sum (`total`, integer or real as the column holds) and, for distinct
-- counts, the set of values as a serialized Roaring bitmap.
CREATE TABLE metric_rollup_days (
    measure TEXT    NOT NULL,
    day     TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    total,
    members BLOB,
    CONSTRAINT metric_rollup_days_pkey PRIMARY KEY (measure, day)
) WITHOUT ROWID;

-- The union of a distinct-count measure's day sets per month, so that an all-time count reads a
-- dozen sets instead of hundreds.
CREATE TABLE metric_rollup_months (
    measure TEXT NOT NULL,
    month   TEXT NOT NULL,
    members BLOB NOT NULL,
    CONSTRAINT metric_rollup_months_pkey PRIMARY KEY (measure, month)
) WITHOUT ROWID;

-- The reviewed active-users query reads this column's range.
CREATE INDEX users_last_activity_on_idx ON users (last_activity_on);
