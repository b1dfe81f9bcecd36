-- Farmwatch collector schema, version 11: report history that can be pruned.
-- reports_received finds the reports past the retention period (serve --report-retention);
-- devices.history_from is the sequence below which a device's reports may have been pruned,
-- so that pruned history is not mistaken for missing reports.
CREATE INDEX reports_received ON reports (received);
ALTER TABLE devices ADD COLUMN history_from BIGINT NOT NULL DEFAULT 0;
