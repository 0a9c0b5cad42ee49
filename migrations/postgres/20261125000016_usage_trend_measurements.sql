-- Usage trends: one count per identifier and day (as of the end of that day), recorded by the
-- daily job and backfilled from the platform's own creation dates.
CREATE TABLE usage_trend_measurements (
    identifier  TEXT    NOT NULL,
    recorded_on TEXT    NOT NULL,
    count       BIGINT  NOT NULL,
    CONSTRAINT usage_trend_measurements_pkey PRIMARY KEY (identifier, recorded_on)
);
