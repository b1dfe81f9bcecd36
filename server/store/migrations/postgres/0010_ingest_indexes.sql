-- Farmwatch collector schema, version 10: every report rewrites its device's last_seen entries,
-- so the single-column indexes that the sort indexes of version 6 (and findings_signal_source)
-- already cover go. devices_hostname stays: the sort index orders hostname COLLATE "C".
DROP INDEX devices_last_seen;
DROP INDEX devices_score;
DROP INDEX findings_signal;
