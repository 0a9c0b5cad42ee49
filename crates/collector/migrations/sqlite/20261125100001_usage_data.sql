-- Every ping the collector accepted, as the exact bytes received. (uuid, recorded_at) is the
-- idempotency key: a resend of the same bytes answers the same id and stores nothing.
CREATE TABLE usage_data (
    id           INTEGER NOT NULL CONSTRAINT usage_data_pkey PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT    NOT NULL,
    recorded_at  TEXT    NOT NULL,
    hostname     TEXT,
    version      TEXT    NOT NULL,
    edition      TEXT,
    payload      BLOB    NOT NULL,
    sha256       TEXT    NOT NULL,
    size_bytes   INTEGER NOT NULL,
    source       TEXT    NOT NULL
                 CONSTRAINT usage_data_source_check CHECK (source IN ('api', 'upload')),
    received_at  TEXT    NOT NULL,
    CONSTRAINT usage_data_uuid_recorded_at_key UNIQUE (uuid, recorded_at)
);
CREATE INDEX usage_data_received_at_idx ON usage_data (received_at);

-- Per-metric timings and errors an instance reports after a successful ping.
CREATE TABLE usage_ping_metadata (
    id           INTEGER NOT NULL CONSTRAINT usage_ping_metadata_pkey PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT    NOT NULL,
    metrics      TEXT    NOT NULL,
    metric_count INTEGER NOT NULL,
    failed_count INTEGER NOT NULL,
    received_at  TEXT    NOT NULL
);
CREATE INDEX usage_ping_metadata_uuid_idx ON usage_ping_metadata (uuid);

-- Whole-run failures an instance reports when it could not send its ping.
CREATE TABLE usage_ping_errors (
    id           INTEGER NOT NULL CONSTRAINT usage_ping_errors_pkey PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT    NOT NULL,
    hostname     TEXT,
    version      TEXT,
    message      TEXT    NOT NULL,
    elapsed      REAL,
    time         TEXT,
    received_at  TEXT    NOT NULL
);
CREATE INDEX usage_ping_errors_uuid_idx ON usage_ping_errors (uuid);
