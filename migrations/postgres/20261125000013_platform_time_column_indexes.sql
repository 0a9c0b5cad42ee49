-- Windowed metrics counted by when something was merged or closed read these columns' ranges.
CREATE INDEX merge_requests_merged_at_idx ON merge_requests (merged_at);
CREATE INDEX issues_closed_at_idx ON issues (closed_at);
