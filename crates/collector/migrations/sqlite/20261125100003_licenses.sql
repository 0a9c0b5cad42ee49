-- Licenses the vendor issued (the Licenses application): what was granted, the signed file, and
-- the last ping that named it.
CREATE TABLE licenses (
    id                      INTEGER NOT NULL CONSTRAINT licenses_pkey PRIMARY KEY AUTOINCREMENT,
    plan                    TEXT    NOT NULL CONSTRAINT licenses_plan_check CHECK (plan IN ('premium', 'ultimate')),
    seats                   INTEGER NOT NULL,
    licensee_name           TEXT    NOT NULL,
    licensee_email          TEXT    NOT NULL,
    licensee_company        TEXT    NOT NULL,
    starts_at               TEXT    NOT NULL,
    expires_at              TEXT    NOT NULL,
    trial                   BOOLEAN NOT NULL,
    issued_at               TEXT    NOT NULL,
    data                    TEXT    NOT NULL,
    sha256                  TEXT    NOT NULL,
    last_ping_received_at   TEXT,
    last_ping_usage_data_id INTEGER,
    last_ping_uuid          TEXT
);
CREATE INDEX licenses_sha256_idx ON licenses (sha256);
