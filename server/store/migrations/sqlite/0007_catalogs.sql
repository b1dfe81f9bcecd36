-- Farmwatch collector schema, version 7: catalog versions put in force by administrators.
CREATE TABLE catalogs (
    version      TEXT PRIMARY KEY,
    content      BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    activated_at INTEGER NOT NULL
);
