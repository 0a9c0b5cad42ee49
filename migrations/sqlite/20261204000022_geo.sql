-- Geo sites. On a secondary: its weekly Git traffic read from its own Prometheus (one row per
-- collection; `payload` holds only git_fetch_event_count_weekly and git_push_event_count_weekly,
-- numbers or null, as GitLab's secondary_usage_data does), and the leases of its jobs. On the
-- primary: the latest status each secondary sent.
CREATE TABLE geo_secondary_usage (
    id           INTEGER NOT NULL CONSTRAINT geo_secondary_usage_pkey PRIMARY KEY AUTOINCREMENT,
    payload      TEXT    NOT NULL,
    collected_at TEXT    NOT NULL
);
CREATE INDEX geo_secondary_usage_collected_at_idx ON geo_secondary_usage (collected_at);

-- Which process may run a job until when (one row per job, taken when expired).
CREATE TABLE job_leases (
    name       TEXT NOT NULL CONSTRAINT job_leases_pkey PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE geo_site_statuses (
    site_name                    TEXT    NOT NULL CONSTRAINT geo_site_statuses_pkey PRIMARY KEY,
    healthy                      BOOLEAN NOT NULL,
    health                       TEXT    NOT NULL,
    version                      TEXT    NOT NULL,
    last_event_at                TEXT,
    git_fetch_event_count_weekly INTEGER,
    git_push_event_count_weekly  INTEGER,
    usage_collected_at           TEXT,
    reported_at                  TEXT    NOT NULL,
    received_at                  TEXT    NOT NULL
);

-- On a secondary: how its latest status to the primary went. One row.
CREATE TABLE geo_status_reports (
    id           INTEGER NOT NULL CONSTRAINT geo_status_reports_pkey PRIMARY KEY
                 CONSTRAINT geo_status_reports_single_row CHECK (id = 1),
    attempted_at TEXT    NOT NULL,
    succeeded_at TEXT,
    error        TEXT
);
