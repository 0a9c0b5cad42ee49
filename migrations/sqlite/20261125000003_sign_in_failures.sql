-- Failed sign-in attempts, kept for the throttling window. A subject is either
-- 'account:<login>' or 'address:<ip>'; nothing else about the attempt is stored.
CREATE TABLE sign_in_failures (
    id          INTEGER NOT NULL CONSTRAINT sign_in_failures_pkey PRIMARY KEY AUTOINCREMENT,
    subject     TEXT    NOT NULL,
    failed_at   TEXT    NOT NULL,
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX sign_in_failures_subject_failed_at_idx ON sign_in_failures (subject, failed_at);
