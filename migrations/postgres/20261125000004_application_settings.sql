-- Instance-wide settings changed from the dashboard. One row; later migrations add columns.
CREATE TABLE application_settings (
    id                   BIGINT  NOT NULL CONSTRAINT application_settings_pkey PRIMARY KEY
                         CONSTRAINT application_settings_single_row CHECK (id = 1),
    service_ping_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           TEXT    NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    updated_at           TEXT    NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
);
INSERT INTO application_settings (id) VALUES (1);
