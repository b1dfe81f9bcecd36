-- Farmwatch collector schema, version 4 (PostgreSQL): scores, device groups, fleet clusters, policy history.
ALTER TABLE enroll_secrets ADD COLUMN device_group TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN device_group TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN score DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN band TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN breakdown TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN policy_version TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN scored_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX devices_score ON devices (score);
CREATE INDEX findings_detector ON findings (detector);

-- Devices that share a home, as the last correlation run found them (replaced whole).
CREATE TABLE clusters (
    id      TEXT PRIMARY KEY,
    members TEXT NOT NULL,  -- JSON array of device ids
    kinds   TEXT NOT NULL,  -- JSON array: egress, wifi_bssid, gateway_mac, lan_neighbor, display_serial
    links   TEXT NOT NULL,  -- JSON array of {kind, value, devices, first, last}
    first   BIGINT NOT NULL,
    last    BIGINT NOT NULL,
    updated BIGINT NOT NULL
);

-- Every policy the collector has run, newest activated last.
CREATE TABLE policies (
    version      TEXT PRIMARY KEY,
    content      BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    activated_at BIGINT NOT NULL
);
