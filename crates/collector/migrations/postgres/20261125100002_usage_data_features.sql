-- The DevOps Score inputs read from each stored ping: usage of the ten features per active user
-- (monitoring: fraction of projects), in the order of devops_score::FEATURES. Leaders come from
-- the latest row of each instance.
CREATE TABLE usage_data_features (
    usage_data_id              BIGINT NOT NULL CONSTRAINT usage_data_features_pkey PRIMARY KEY
                               CONSTRAINT usage_data_features_usage_data_fkey REFERENCES usage_data (id) ON DELETE CASCADE,
    uuid                       TEXT   NOT NULL,
    received_at                TEXT   NOT NULL,
    issues                     DOUBLE PRECISION NOT NULL,
    notes                      DOUBLE PRECISION NOT NULL,
    milestones                 DOUBLE PRECISION NOT NULL,
    boards                     DOUBLE PRECISION NOT NULL,
    merge_requests             DOUBLE PRECISION NOT NULL,
    ci_pipelines               DOUBLE PRECISION NOT NULL,
    environments               DOUBLE PRECISION NOT NULL,
    deployments                DOUBLE PRECISION NOT NULL,
    projects_prometheus_active DOUBLE PRECISION NOT NULL,
    service_desk_issues        DOUBLE PRECISION NOT NULL
);
CREATE INDEX usage_data_features_received_at_uuid_idx ON usage_data_features (received_at, uuid);
