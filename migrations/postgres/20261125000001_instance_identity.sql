-- The identity of this installation: one row, created on first start.
CREATE TABLE instance_identity (
    id          BIGINT  NOT NULL CONSTRAINT instance_identity_pkey PRIMARY KEY
                CONSTRAINT instance_identity_single_row CHECK (id = 1),
    uuid        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
);
