-- The DevOps Score inputs read from each stored ping: usage of the ten features per active user
-- (monitoring: fraction of projects), in the order of devops_score::FEATURES. Leaders come from
-- the latest row of each instance.
CREATE TABLE usage_data_features (
    usage_data_id              INTEGER NOT NULL CONSTRAINT usage_data_features_pkey PRIMARY KEY
                               CONSTRAINT usage_data_features_usage_data_fkey REFERENCES usage_data (id) ON DELETE CASCADE,
    uuid                       TEXT    NOT NULL,
    received_at                TEXT    NOT NULL,
    issues                     REAL    NOT NULL,
    notes                      REAL    NOT NULL,
    milestones                 REAL    NOT NULL,
    boards                     REAL    NOT NULL,
    merge_requests             REAL    NOT NULL,
    ci_pipelines               REAL    NOT NULL,
    environments               REAL    NOT NULL,
    deployments                REAL    NOT NULL,
    projects_prometheus_active REAL    NOT NULL,
    service_desk_issues        REAL    NOT NULL
);
CREATE INDEX usage_data_features_received_at_uuid_idx ON usage_data_features (received_at, uuid);
