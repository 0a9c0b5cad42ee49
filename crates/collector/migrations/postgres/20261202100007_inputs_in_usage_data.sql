-- A ping's DevOps Score inputs move into its own row: one row and one index entry written per
-- ping instead of two (the inputs table had no reader but the ping it belonged to).
ALTER TABLE usage_data
    ADD COLUMN issues DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN notes DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN milestones DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN boards DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN merge_requests DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN ci_pipelines DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN environments DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN deployments DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN projects_prometheus_active DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN service_desk_issues DOUBLE PRECISION NOT NULL DEFAULT 0;
UPDATE usage_data AS u SET (issues, notes, milestones, boards, merge_requests, ci_pipelines,
    environments, deployments, projects_prometheus_active, service_desk_issues) =
    (f.issues, f.notes, f.milestones, f.boards, f.merge_requests, f.ci_pipelines,
     f.environments, f.deployments, f.projects_prometheus_active, f.service_desk_issues)
FROM usage_data_features AS f WHERE f.usage_data_id = u.id;
DROP TABLE usage_data_features;
