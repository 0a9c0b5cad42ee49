-- People who sign in to the dashboard. Administrators manage Service Ping; regular accounts can
-- sign in but are refused every admin page and server function.
CREATE TABLE accounts (
    id              INTEGER NOT NULL CONSTRAINT accounts_pkey PRIMARY KEY AUTOINCREMENT,
    username        TEXT    NOT NULL COLLATE NOCASE CONSTRAINT accounts_username_key UNIQUE,
    email           TEXT    NOT NULL COLLATE NOCASE CONSTRAINT accounts_email_key UNIQUE,
    name            TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    is_admin        BOOLEAN NOT NULL DEFAULT FALSE,
    state           TEXT    NOT NULL DEFAULT 'active'
                    CONSTRAINT accounts_state_check CHECK (state IN ('active', 'blocked')),
    last_sign_in_at TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
