-- Farmwatch collector schema, version 11: report history that can be pruned, and is cheaper to
-- append to.
--
-- reports becomes an ordinary (rowid) table with a unique (device_id, sequence) index. As a
-- WITHOUT ROWID table every 3 KB body lived in the primary-key b-tree, where a cell holds at
-- most about 1 KB: each insert split pages and spilled the body to overflow pages. Now bodies
-- append at the end of the table and the index holds only the key.
--
-- reports_received finds the reports past the retention period (serve --report-retention);
-- devices.history_from is the sequence below which a device's reports may have been pruned,
-- so that pruned history is not mistaken for missing reports.
CREATE TABLE reports_new (
    device_id      TEXT NOT NULL REFERENCES devices (id),
    sequence       INTEGER NOT NULL,
    created        INTEGER NOT NULL,
    received       INTEGER NOT NULL,
    address        TEXT NOT NULL DEFAULT '',
    findings_count INTEGER NOT NULL,
    body           BLOB NOT NULL
);
INSERT INTO reports_new (device_id, sequence, created, received, address, findings_count, body)
    SELECT device_id, sequence, created, received, address, findings_count, body FROM reports ORDER BY received, device_id, sequence;
DROP TABLE reports;
ALTER TABLE reports_new RENAME TO reports;
CREATE UNIQUE INDEX reports_device_sequence ON reports (device_id, sequence);
CREATE INDEX reports_received ON reports (received);
ALTER TABLE devices ADD COLUMN history_from INTEGER NOT NULL DEFAULT 0;
