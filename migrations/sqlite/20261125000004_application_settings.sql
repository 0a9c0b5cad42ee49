-- Instance-wide settings changed from the dashboard. One row; later migrations add columns.
CREATE TABLE application_settings (
    id                   INTEGER NOT NULL CONSTRAINT application_settings_pkey PRIMARY KEY
                         CONSTRAINT application_settings_single_row CHECK (id = 1),
    service_ping_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO application_settings (id) VALUES (1);
