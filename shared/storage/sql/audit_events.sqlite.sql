CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    create_micros BIGINT NOT NULL,
    actor_subject TEXT NOT NULL,
    actor_role    TEXT NOT NULL,
    acting_for    TEXT NOT NULL,
    method        TEXT NOT NULL,
    resource      TEXT NOT NULL,
    path          TEXT NOT NULL,
    change_json   TEXT NOT NULL
);
CREATE INDEX audit_events_path ON audit_events (path, id);
CREATE INDEX audit_events_resource ON audit_events (resource, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
