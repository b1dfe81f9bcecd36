-- Farmwatch collector schema, version 11: reports become an ordinary (rowid) table with a
-- unique (device_id, sequence) index. As a WITHOUT ROWID table every 3 KB body lived in the
-- primary-key b-tree, where a cell holds at most about 1 KB: each insert split index pages
-- and spilled the body to overflow pages. Now bodies append at the end of the table and
-- the index holds only the key.
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
