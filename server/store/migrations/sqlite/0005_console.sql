-- Farmwatch collector schema, version 5: triage, notes, API tokens.
ALTER TABLE devices ADD COLUMN triage_state TEXT NOT NULL DEFAULT 'new';
ALTER TABLE devices ADD COLUMN triage_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN triage_assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN triage_by TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN triage_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX devices_band ON devices (band);
CREATE INDEX devices_triage ON devices (triage_state);
CREATE INDEX devices_group ON devices (device_group);

CREATE TABLE device_notes (
    id        INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id),
    at        INTEGER NOT NULL,
    author    TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX device_notes_device ON device_notes (device_id, at);

-- API tokens: only the SHA-256 of the value is kept.
CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    last_used  INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER NOT NULL DEFAULT 0
);
