-- The hash of the bytes the collector says it stored for an accepted attempt (its reply's
-- `sha256`); NULL when it did not say (GitLab's collector) or the attempt failed.
ALTER TABLE service_ping_submissions ADD COLUMN confirmed_sha256 TEXT;
