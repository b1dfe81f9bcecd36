-- Farmwatch collector schema, version 2 (PostgreSQL): location and time.
-- Findings the collector derives itself (location.*) live beside the agent's, told apart by source.
ALTER TABLE findings ADD COLUMN source TEXT NOT NULL DEFAULT 'agent';

-- The HR import: where each employee says they are. Replaced whole by each import.
CREATE TABLE people (
    employee_id     TEXT PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    country         TEXT NOT NULL DEFAULT '',
    region          TEXT NOT NULL DEFAULT '',
    city            TEXT NOT NULL DEFAULT '',
    time_zone       TEXT NOT NULL DEFAULT '',
    latitude        DOUBLE PRECISION,
    longitude       DOUBLE PRECISION,
    languages       TEXT NOT NULL DEFAULT '[]',
    night_shift     INTEGER NOT NULL DEFAULT 0,
    device_serial   TEXT NOT NULL DEFAULT '',
    device_hostname TEXT NOT NULL DEFAULT '',
    imported_at     BIGINT NOT NULL
);
CREATE INDEX people_serial ON people (device_serial);
CREATE INDEX people_hostname ON people (device_hostname);

-- Every address a device has connected from, with its geolocation at first sight.
CREATE TABLE egress (
    device_id  TEXT NOT NULL REFERENCES devices (id),
    address    TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    seen       BIGINT NOT NULL DEFAULT 1,
    country    TEXT NOT NULL DEFAULT '',
    asn        BIGINT NOT NULL DEFAULT 0,
    as_org     TEXT NOT NULL DEFAULT '',
    class      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device_id, address)
);
CREATE INDEX egress_address ON egress (address);

-- Round trips the collector measured on each device's connection (kernel TCP estimate).
CREATE TABLE rtt (
    device_id    TEXT PRIMARY KEY REFERENCES devices (id),
    min_micros   BIGINT NOT NULL,
    samples      BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    updated      BIGINT NOT NULL,
    address      TEXT NOT NULL DEFAULT ''
);
