-- GitLab's include_optional_metrics_in_service_ping: metrics of the `optional` category are
-- sent only when this is on.
ALTER TABLE application_settings ADD COLUMN include_optional_data BOOLEAN NOT NULL DEFAULT TRUE;
