-- Farmwatch collector schema, version 3 (PostgreSQL): what the location analysis could not judge, and why
-- (no geolocation database, no HR row, private egress...), shown with the device.
ALTER TABLE devices ADD COLUMN location_notes TEXT NOT NULL DEFAULT '[]';
