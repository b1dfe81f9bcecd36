-- Farmwatch collector schema, version 12: a report that repeats the findings of the one before
-- writes none of them.
--
-- The agent's findings are all of the device's newest report: their sequence is the device's
-- highest_sequence. A finding whose last seen is its report's creation time (as an agent stamps
-- the findings of its scan) follows the report: its last_seen is devices.report_created, the
-- newest report's. devices.findings_digest digests the agent's findings as stored (all but
-- first_seen), and findings_first_max is the latest first_seen among them: a report whose
-- findings have the same digest and none first seen earlier changes nothing of them.
--
-- Rows from before keep their own last_seen (follows = 0), which was current;
-- a device's first report after the upgrade compares its findings row by row, as before.
ALTER TABLE findings ADD COLUMN follows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN report_created INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN findings_digest BLOB;
ALTER TABLE devices ADD COLUMN findings_first_max INTEGER NOT NULL DEFAULT 0;
