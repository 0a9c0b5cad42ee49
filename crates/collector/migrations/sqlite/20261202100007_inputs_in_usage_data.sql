-- A ping's DevOps Score inputs move into its own row: one row and one index entry written per
-- ping instead of two (the inputs table had no reader but the ping it belonged to).
ALTER TABLE usage_data ADD COLUMN issues REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN notes REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN milestones REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN boards REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN merge_requests REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN ci_pipelines REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN environments REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN deployments REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN projects_prometheus_active REAL NOT NULL DEFAULT 0;
ALTER TABLE usage_data ADD COLUMN service_desk_issues REAL NOT NULL DEFAULT 0;
UPDATE usage_data SET (issues, notes, milestones, boards, merge_requests, ci_pipelines,
    environments, deployments, projects_prometheus_active, service_desk_issues) =
    (SELECT f.issues, f.notes, f.milestones, f.boards, f.merge_requests, f.ci_pipelines,
            f.environments, f.deployments, f.projects_prometheus_active, f.service_desk_issues
     FROM usage_data_features AS f WHERE f.usage_data_id = usage_data.id)
WHERE id IN (SELECT usage_data_id FROM usage_data_features);
DROP TABLE usage_data_features;
