-- The identity of this installation: one row, created on first start.
CREATE TABLE instance_identity (
    id          INTEGER NOT NULL CONSTRAINT instance_identity_pkey PRIMARY KEY
                CONSTRAINT instance_identity_single_row CHECK (id = 1),
    uuid        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
