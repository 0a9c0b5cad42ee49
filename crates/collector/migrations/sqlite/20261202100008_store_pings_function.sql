-- On PostgreSQL this version adds the function that stores a batch of pings in one round trip.
-- SQLite runs in the collector's process: the application does the same steps (db::store), and
-- the two backends keep the same schema versions.
SELECT 1;
