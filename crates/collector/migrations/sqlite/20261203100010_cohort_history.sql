-- The fleet's cohorts week by week, for the vendor's fleet page: each refresh of the figures
-- replaces its ISO week's rows (the last refresh of a week stands for it). Only groups large
-- enough to report are written (collector.min_cohort_size), so nothing here singles out an
-- instance. `cohort` is a size band's key (service_ping_protocol::cohort::SIZES) or 'all' for
-- the fleet; `edition` is '' unless cohorts are by edition.
CREATE TABLE cohort_history (
    week           TEXT   NOT NULL,
    cohort         TEXT   NOT NULL,
    edition        TEXT   NOT NULL,
    instances      INTEGER NOT NULL,
    overall_median REAL NOT NULL,
    -- The median of each DevOps Score feature, as a JSON array in the order of FEATURES.
    medians        TEXT   NOT NULL,
    computed_at    TEXT   NOT NULL,
    CONSTRAINT cohort_history_pkey PRIMARY KEY (week, cohort, edition)
);
