-- One row per instance that ever sent a ping: when it was first and last heard from, how many
-- pings it sent, and what its latest ping said (its id, hostname, version, edition and DevOps
-- Score inputs). Kept by the transaction that stores the pings, so that the fleet's questions
-- (leaders over each instance's latest ping, the most recently seen instances, how many pings)
-- read a row per instance instead of every ping ever received.
CREATE TABLE instances (
    uuid                       TEXT   NOT NULL CONSTRAINT instances_pkey PRIMARY KEY,
    first_received_at          TEXT   NOT NULL,
    last_received_at           TEXT   NOT NULL,
    latest_usage_data_id       BIGINT NOT NULL
                               CONSTRAINT instances_latest_usage_data_fkey REFERENCES usage_data (id),
    pings                      BIGINT NOT NULL,
    hostname                   TEXT,
    version                    TEXT   NOT NULL,
    edition                    TEXT,
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
CREATE INDEX instances_last_received_at_idx ON instances (last_received_at, latest_usage_data_id);

INSERT INTO instances
SELECT a.uuid, a.first_received_at, a.last_received_at, a.latest_usage_data_id, a.pings,
       u.hostname, u.version, u.edition, f.issues, f.notes, f.milestones, f.boards,
       f.merge_requests, f.ci_pipelines, f.environments, f.deployments,
       f.projects_prometheus_active, f.service_desk_issues
FROM (SELECT uuid, min(received_at) AS first_received_at, max(received_at) AS last_received_at,
             max(usage_data_id) AS latest_usage_data_id, count(*) AS pings
      FROM usage_data_features GROUP BY uuid) AS a
JOIN usage_data AS u ON u.id = a.latest_usage_data_id
JOIN usage_data_features AS f ON f.usage_data_id = a.latest_usage_data_id;

-- What these served (the latest ping of each instance, found from every ping received in a
-- window) now reads `instances`; every ping stored no longer pays for them.
DROP INDEX usage_data_received_at_idx;
DROP INDEX usage_data_features_received_at_uuid_idx;
