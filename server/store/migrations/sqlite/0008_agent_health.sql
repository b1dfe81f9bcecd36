-- Farmwatch collector schema, version 8: what heartbeats say about the agent itself (spool
-- evictions, the executable's hash and platform), and the hash of each stored report body so
-- that a second agent replaying a sequence with other content is told apart from a retry.
ALTER TABLE devices ADD COLUMN spool_evicted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN agent_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN agent_platform TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN agent_hb_version TEXT NOT NULL DEFAULT '';
CREATE INDEX findings_signal_source ON findings (signal, source);
-- Reports that arrived under a sequence already stored with other content (a cloned agent).
CREATE TABLE report_conflicts (
    device_id TEXT NOT NULL REFERENCES devices (id),
    sequence  INTEGER NOT NULL,
    received  INTEGER NOT NULL,
    address   TEXT NOT NULL,
    body      BLOB NOT NULL
);
CREATE INDEX report_conflicts_device ON report_conflicts (device_id, received);
