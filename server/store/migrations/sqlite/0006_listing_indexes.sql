-- Farmwatch collector schema, version 6: the device list walks an index for every sort, so a
-- deep page of a 100,000-device fleet does not sort the whole table.
CREATE INDEX devices_sort_score ON devices (score, id);
CREATE INDEX devices_sort_last_seen ON devices (last_seen, id);
CREATE INDEX devices_sort_hostname ON devices (hostname, id);
CREATE INDEX devices_sort_findings ON devices (findings_count, id);
CREATE INDEX devices_sort_enrolled ON devices (enrolled_at, id);
