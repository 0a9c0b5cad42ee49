-- How `payload` holds the received bytes: 'identity' (as received: every ping stored before this
-- migration) or 'zstd' (compressed; the exact bytes come back on decompression, and sha256 and
-- size_bytes are those of the bytes received).
ALTER TABLE usage_data ADD COLUMN payload_encoding TEXT NOT NULL DEFAULT 'identity'
    CONSTRAINT usage_data_payload_encoding_check CHECK (payload_encoding IN ('identity', 'zstd'));
