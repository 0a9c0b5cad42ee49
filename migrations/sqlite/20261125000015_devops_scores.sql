-- Each DevOps Score the collector returned (GitLab: conversational_development_index_metrics):
-- the overall score and the 30 numbers of its conv_index, as received.
CREATE TABLE devops_scores (
    id                INTEGER NOT NULL CONSTRAINT devops_scores_pkey PRIMARY KEY AUTOINCREMENT,
    raw_usage_data_id INTEGER CONSTRAINT devops_scores_payload_fkey REFERENCES raw_usage_data (id) ON DELETE SET NULL,
    usage_data_id     INTEGER NOT NULL,
    overall           REAL    NOT NULL,
    conv_index        TEXT    NOT NULL,
    created_at        TEXT    NOT NULL
);
CREATE INDEX devops_scores_created_at_idx ON devops_scores (created_at);
