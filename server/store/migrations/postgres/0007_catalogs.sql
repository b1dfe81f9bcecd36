-- Farmwatch collector schema, version 7 (PostgreSQL): catalog versions put in force by administrators.
CREATE TABLE catalogs (
    version      TEXT PRIMARY KEY,
    content      BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    activated_at BIGINT NOT NULL
);
