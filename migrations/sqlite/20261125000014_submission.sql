-- Every attempt to send a stored payload to the collector: when, how it ended, and why.
CREATE TABLE service_ping_submissions (
    id                INTEGER NOT NULL CONSTRAINT service_ping_submissions_pkey PRIMARY KEY AUTOINCREMENT,
    raw_usage_data_id INTEGER NOT NULL
                      CONSTRAINT service_ping_submissions_payload_fkey REFERENCES raw_usage_data (id) ON DELETE CASCADE,
    trigger           TEXT    NOT NULL
                      CONSTRAINT service_ping_submissions_trigger_check CHECK (trigger IN ('schedule', 'manual', 'cli')),
    triggered_by      INTEGER CONSTRAINT service_ping_submissions_triggered_by_fkey REFERENCES accounts (id) ON DELETE SET NULL,
    started_at        TEXT    NOT NULL,
    finished_at       TEXT,
    status            TEXT    NOT NULL
                      CONSTRAINT service_ping_submissions_status_check CHECK (status IN ('sending', 'sent', 'failed')),
    http_status       INTEGER,
    error             TEXT,
    duration_ms       INTEGER,
    usage_data_id     INTEGER
);
CREATE INDEX service_ping_submissions_payload_idx ON service_ping_submissions (raw_usage_data_id);

-- The weekly job's state, so a restart neither skips nor repeats a week. One row.
CREATE TABLE service_ping_schedule (
    id                INTEGER NOT NULL CONSTRAINT service_ping_schedule_pkey PRIMARY KEY
                      CONSTRAINT service_ping_schedule_single_row CHECK (id = 1),
    -- The latest weekly slot the job has taken care of (sent, failed for good, or skipped).
    handled_slot      TEXT,
    status            TEXT    NOT NULL DEFAULT 'idle'
                      CONSTRAINT service_ping_schedule_status_check
                      CHECK (status IN ('idle', 'sending', 'retrying', 'sent', 'gave_up', 'skipped')),
    raw_usage_data_id INTEGER CONSTRAINT service_ping_schedule_payload_fkey REFERENCES raw_usage_data (id) ON DELETE SET NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_retry_at     TEXT,
    last_error        TEXT,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    updated_at        TEXT
);
INSERT INTO service_ping_schedule (id) VALUES (1);

-- Who changed which setting, when, from what to what.
CREATE TABLE audit_events (
    id          INTEGER NOT NULL CONSTRAINT audit_events_pkey PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER CONSTRAINT audit_events_account_fkey REFERENCES accounts (id) ON DELETE SET NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    created_at  TEXT    NOT NULL
);
CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);

-- The one-time notice that Service Ping is on, shown to the first administrator.
ALTER TABLE accounts ADD COLUMN service_ping_notice_dismissed_at TEXT;

-- Personal access tokens for the API. Only the SHA-256 of a token is kept: tokens are long
-- random strings, shown once when created.
CREATE TABLE personal_access_tokens (
    id           INTEGER NOT NULL CONSTRAINT personal_access_tokens_pkey PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL
                 CONSTRAINT personal_access_tokens_account_fkey REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_digest TEXT    NOT NULL CONSTRAINT personal_access_tokens_digest_key UNIQUE,
    scopes       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);
