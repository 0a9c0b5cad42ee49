-- The active users of each ping (`counts_monthly.active_users`, else `active_user_count`), and of
-- each instance's latest ping: what puts an instance in a size cohort (service_ping_protocol::
-- cohort). NULL for pings stored before this version: their instances join a cohort with their
-- next ping.
ALTER TABLE usage_data ADD COLUMN active_users BIGINT;
ALTER TABLE instances ADD COLUMN active_users BIGINT;
