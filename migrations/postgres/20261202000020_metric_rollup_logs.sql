-- Rollups fold row images instead of recomputing marked days (crates/engine/src/rollup/): each
-- rolled-up table gets a change log, created with its triggers by the engine. A rebuilt rollup
-- keeps the two log watermarks its pass over the rows was read between, until the next fold.
-- Every rollup is rebuilt once, which replaces the old triggers by name.
DELETE FROM metric_rollup_tables;
ALTER TABLE metric_rollup_tables DROP COLUMN refreshed_through;
ALTER TABLE metric_rollup_tables ADD COLUMN reflected TEXT;
ALTER TABLE metric_rollup_tables ADD COLUMN ambiguous TEXT;
