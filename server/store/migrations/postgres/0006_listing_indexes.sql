-- Farmwatch collector schema, version 6 (PostgreSQL): the device list walks an index for every sort, so a
-- deep page of a 100,000-device fleet does not sort the whole table. Text is ordered bytewise
-- (COLLATE "C"), as SQLite orders it, whatever the database's collation.
CREATE INDEX devices_sort_score ON devices (score, id COLLATE "C");
CREATE INDEX devices_sort_last_seen ON devices (last_seen, id COLLATE "C");
CREATE INDEX devices_sort_hostname ON devices (hostname COLLATE "C", id COLLATE "C");
CREATE INDEX devices_sort_findings ON devices (findings_count, id COLLATE "C");
CREATE INDEX devices_sort_enrolled ON devices (enrolled_at, id COLLATE "C");
