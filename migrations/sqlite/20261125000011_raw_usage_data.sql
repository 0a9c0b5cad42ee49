-- Every generated payload, stored once as the exact bytes that preview, download and
-- submission use. recorded_at is the payload's own `recorded_at` and its idempotency key.
CREATE TABLE raw_usage_data (
    id              INTEGER NOT NULL CONSTRAINT raw_usage_data_pkey PRIMARY KEY AUTOINCREMENT,
    recorded_at     TEXT    NOT NULL CONSTRAINT raw_usage_data_recorded_at_key UNIQUE,
    payload         BLOB    NOT NULL,
    sha256          TEXT    NOT NULL,
    size_bytes      INTEGER NOT NULL,
    metrics_total   INTEGER NOT NULL,
    metrics_failed  INTEGER NOT NULL,
    generation_ms   INTEGER NOT NULL,
    trigger         TEXT    NOT NULL
                    CONSTRAINT raw_usage_data_trigger_check CHECK (trigger IN ('schedule', 'manual', 'cli', 'preview')),
    triggered_by    INTEGER CONSTRAINT raw_usage_data_triggered_by_fkey REFERENCES accounts (id) ON DELETE SET NULL,
    sent_at         TEXT,
    usage_data_id   INTEGER,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);

-- Per-metric value, error and cost of each stored payload (the metadata side channel).
CREATE TABLE raw_usage_data_metrics (
    raw_usage_data_id   INTEGER NOT NULL
                        CONSTRAINT raw_usage_data_metrics_payload_fkey REFERENCES raw_usage_data (id) ON DELETE CASCADE,
    key_path            TEXT    NOT NULL,
    value               TEXT    NOT NULL,
    error               TEXT,
    duration_us         INTEGER NOT NULL,
    scan                TEXT,
    CONSTRAINT raw_usage_data_metrics_pkey PRIMARY KEY (raw_usage_data_id, key_path)
);
