-- Farmwatch collector schema, version 9 (PostgreSQL): the collector CAs each agent pins (fingerprints,
-- sorted, comma-separated), so that a CA rotation can see when every agent has the next CA.
ALTER TABLE devices ADD COLUMN pinned_cas TEXT NOT NULL DEFAULT '';
