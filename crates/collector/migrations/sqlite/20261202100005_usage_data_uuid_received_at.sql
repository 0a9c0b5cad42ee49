-- The weekly storage quota sums one instance's recent ping sizes at every ping: from this index
-- alone (the rows hold the payload before size_bytes, so reading the row reads the payload).
CREATE INDEX usage_data_uuid_received_at_idx ON usage_data (uuid, received_at, size_bytes);
