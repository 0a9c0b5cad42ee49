-- The Registration Features Program, licenses, and the paid features behind them.

-- "Enable Registration Features": only in force while Service Ping is on.
ALTER TABLE application_settings ADD COLUMN registration_features_enabled BOOLEAN NOT NULL DEFAULT FALSE;

-- Every license ever installed, newest last. The one in use is the newest not removed.
CREATE TABLE licenses (
    id          INTEGER NOT NULL CONSTRAINT licenses_pkey PRIMARY KEY AUTOINCREMENT,
    data        TEXT    NOT NULL,
    license_id  TEXT    NOT NULL,
    uploaded_by INTEGER CONSTRAINT licenses_uploaded_by_fkey REFERENCES accounts (id) ON DELETE SET NULL,
    uploaded_at TEXT    NOT NULL,
    removed_at  TEXT
);

-- Maintenance mode: the platform is read-only while it is on (and the instance is entitled).
ALTER TABLE application_settings ADD COLUMN maintenance_mode BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE application_settings ADD COLUMN maintenance_mode_message TEXT;

-- Password complexity rules, applied while the instance is entitled.
ALTER TABLE application_settings ADD COLUMN password_minimum_length INTEGER NOT NULL DEFAULT 12
    CONSTRAINT application_settings_password_minimum_length_check CHECK (password_minimum_length BETWEEN 12 AND 128);
ALTER TABLE application_settings ADD COLUMN password_require_lowercase BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE application_settings ADD COLUMN password_require_uppercase BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE application_settings ADD COLUMN password_require_number BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE application_settings ADD COLUMN password_require_symbol BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE application_settings ADD COLUMN password_reject_breached BOOLEAN NOT NULL DEFAULT TRUE;

-- Instance-wide announcement banners.
CREATE TABLE broadcast_messages (
    id          INTEGER NOT NULL CONSTRAINT broadcast_messages_pkey PRIMARY KEY AUTOINCREMENT,
    message     TEXT    NOT NULL,
    theme       TEXT    NOT NULL CONSTRAINT broadcast_messages_theme_check CHECK (theme IN ('info', 'warning', 'success')),
    starts_at   TEXT    NOT NULL,
    ends_at     TEXT    NOT NULL,
    created_by  INTEGER CONSTRAINT broadcast_messages_created_by_fkey REFERENCES accounts (id) ON DELETE SET NULL,
    created_at  TEXT    NOT NULL
);

-- Emails to every user of the platform, and each message as it was handed to SMTP or kept.
CREATE TABLE admin_emails (
    id          INTEGER NOT NULL CONSTRAINT admin_emails_pkey PRIMARY KEY AUTOINCREMENT,
    subject     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    transport   TEXT    NOT NULL CONSTRAINT admin_emails_transport_check CHECK (transport IN ('smtp', 'outbox')),
    recipients  INTEGER NOT NULL,
    created_by  INTEGER CONSTRAINT admin_emails_created_by_fkey REFERENCES accounts (id) ON DELETE SET NULL,
    created_at  TEXT    NOT NULL
);
CREATE TABLE email_outbox (
    id             INTEGER NOT NULL CONSTRAINT email_outbox_pkey PRIMARY KEY AUTOINCREMENT,
    admin_email_id INTEGER NOT NULL CONSTRAINT email_outbox_admin_email_fkey REFERENCES admin_emails (id) ON DELETE CASCADE,
    recipient      TEXT    NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'queued'
                   CONSTRAINT email_outbox_status_check CHECK (status IN ('queued', 'kept', 'sent', 'failed')),
    error          TEXT,
    updated_at     TEXT    NOT NULL
);
CREATE INDEX email_outbox_admin_email_idx ON email_outbox (admin_email_id, status);

-- DevOps Adoption: the features each group used in a finished month. Finished months do not
-- change, so each is computed once.
CREATE TABLE devops_adoption_snapshots (
    namespace_id INTEGER NOT NULL CONSTRAINT devops_adoption_snapshots_namespace_fkey REFERENCES namespaces (id) ON DELETE CASCADE,
    month        TEXT    NOT NULL,
    features     TEXT    NOT NULL,
    CONSTRAINT devops_adoption_snapshots_pkey PRIMARY KEY (namespace_id, month)
);
CREATE TABLE devops_adoption_months (
    month       TEXT    NOT NULL CONSTRAINT devops_adoption_months_pkey PRIMARY KEY,
    computed_at TEXT    NOT NULL
);
