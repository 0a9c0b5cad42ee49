-- The weekly storage quota sums one instance's recent ping sizes at every ping: from this index
-- alone (an index-only scan).
CREATE INDEX usage_data_uuid_received_at_idx ON usage_data (uuid, received_at) INCLUDE (size_bytes);
