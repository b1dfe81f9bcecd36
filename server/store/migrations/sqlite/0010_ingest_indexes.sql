-- Farmwatch collector schema, version 10: every report rewrites its device's last_seen entries
-- and may rewrite hostname's and its findings', so the single-column indexes that the sort
-- indexes of version 6 (and findings_signal_source) already cover go.
DROP INDEX devices_last_seen;
DROP INDEX devices_hostname;
DROP INDEX devices_score;
DROP INDEX findings_signal;
