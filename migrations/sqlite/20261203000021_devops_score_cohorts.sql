-- The `cohort` object the collector answered beside `conv_index` (how this instance compares with
-- organizations of its size: service_ping_protocol::cohort::CohortReport), as received; NULL when
-- the collector sent none (GitLab's does not).
ALTER TABLE devops_scores ADD COLUMN cohort TEXT;
