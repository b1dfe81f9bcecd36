-- Farmwatch collector schema, version 1. Times are Unix milliseconds (UTC).
CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    hostname         TEXT NOT NULL DEFAULT '',
    os               TEXT NOT NULL DEFAULT '',
    platform         TEXT NOT NULL DEFAULT '',
    os_version       TEXT NOT NULL DEFAULT '',
    kernel_version   TEXT NOT NULL DEFAULT '',
    arch             TEXT NOT NULL DEFAULT '',
    hardware_uuid    TEXT NOT NULL DEFAULT '',
    serial_number    TEXT NOT NULL DEFAULT '',
    machine_id       TEXT NOT NULL DEFAULT '',
    mac_addresses    TEXT NOT NULL DEFAULT '[]',
    agent_version    TEXT NOT NULL DEFAULT '',
    enrolled_at      INTEGER NOT NULL,
    enroll_secret_id TEXT NOT NULL DEFAULT '',
    last_seen        INTEGER NOT NULL DEFAULT 0,
    last_address     TEXT NOT NULL DEFAULT '',
    highest_sequence INTEGER NOT NULL DEFAULT 0,
    reports          INTEGER NOT NULL DEFAULT 0,
    findings_count   INTEGER NOT NULL DEFAULT 0,
    facts            BLOB,
    facts_received   INTEGER NOT NULL DEFAULT 0,
    revoked_at       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX devices_last_seen ON devices (last_seen);
CREATE INDEX devices_hostname ON devices (hostname);

CREATE TABLE certificates (
    serial     TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES devices (id),
    not_before INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certificates_device ON certificates (device_id);

CREATE TABLE reports (
    device_id      TEXT NOT NULL REFERENCES devices (id),
    sequence       INTEGER NOT NULL,
    created        INTEGER NOT NULL,
    received       INTEGER NOT NULL,
    address        TEXT NOT NULL DEFAULT '',
    findings_count INTEGER NOT NULL,
    body           BLOB NOT NULL,
    PRIMARY KEY (device_id, sequence)
) WITHOUT ROWID;

CREATE TABLE findings (
    device_id  TEXT NOT NULL REFERENCES devices (id),
    key        TEXT NOT NULL,
    sequence   INTEGER NOT NULL,
    signal     TEXT NOT NULL,
    severity   INTEGER NOT NULL,
    confidence REAL NOT NULL,
    title      TEXT NOT NULL,
    attack     TEXT NOT NULL,
    detector   TEXT NOT NULL,
    evidence   TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (device_id, key)
) WITHOUT ROWID;
CREATE INDEX findings_signal ON findings (signal);

CREATE TABLE enroll_secrets (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    revoked_at INTEGER NOT NULL DEFAULT 0,
    uses       INTEGER NOT NULL DEFAULT 0,
    last_used  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id_hash    BLOB PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users (username),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
