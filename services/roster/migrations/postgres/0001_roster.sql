-- The roster's tables, in the schema the service owns (search_path is set on connect).
-- Conventions shared with the SQLite migration: instants are BIGINT microseconds since the Unix
-- epoch, dates are 'YYYY-MM-DD' text, enums are their snake_case keys, small lists are JSON text.
-- Key and path columns use the "C" collation so that ordering and the scope range queries
-- (path >= lo AND path < hi) compare bytes exactly as SQLite does.

CREATE TABLE jurisdictions (
    code            TEXT COLLATE "C" PRIMARY KEY,
    display_name    TEXT NOT NULL,
    level           TEXT NOT NULL,
    parent_code     TEXT COLLATE "C" REFERENCES jurisdictions (code),
    path            TEXT COLLATE "C" NOT NULL UNIQUE,
    team_rules_json TEXT NOT NULL DEFAULT '{}',
    create_micros   BIGINT NOT NULL,
    update_micros   BIGINT NOT NULL
);
CREATE INDEX jurisdictions_parent ON jurisdictions (parent_code, code);

CREATE TABLE schools (
    code                    TEXT COLLATE "C" PRIMARY KEY,
    display_name            TEXT NOT NULL,
    jurisdiction_code       TEXT COLLATE "C" NOT NULL REFERENCES jurisdictions (code),
    path                    TEXT COLLATE "C" NOT NULL UNIQUE,
    kind                    TEXT NOT NULL,
    rural                   BOOLEAN NOT NULL,
    full_time_teacher_count BIGINT NOT NULL,
    plan_theme              TEXT NOT NULL DEFAULT '',
    plan_summary            TEXT NOT NULL DEFAULT '',
    plan_document_uri       TEXT NOT NULL DEFAULT '',
    plan_state              TEXT NOT NULL DEFAULT 'none',
    plan_review_comment     TEXT NOT NULL DEFAULT '',
    plan_review_micros      BIGINT,
    create_micros           BIGINT NOT NULL,
    update_micros           BIGINT NOT NULL
);

-- One row per person; `path` is the current school's path (kept in step by moves), so that a
-- jurisdiction's teachers are one index range. The current assignment starts at `since_date`;
-- earlier ones are in teacher_assignments.
CREATE TABLE teachers (
    number        TEXT COLLATE "C" PRIMARY KEY,
    display_name  TEXT NOT NULL,
    id_number     TEXT COLLATE "C" NOT NULL UNIQUE,
    birth_date    TEXT NOT NULL,
    sex           TEXT NOT NULL,
    school_code   TEXT COLLATE "C" NOT NULL REFERENCES schools (code),
    path          TEXT COLLATE "C" NOT NULL,
    stage         TEXT NOT NULL,
    subject       TEXT NOT NULL,
    category      TEXT NOT NULL,
    roles         TEXT NOT NULL,
    since_date    TEXT NOT NULL,
    create_micros BIGINT NOT NULL,
    update_micros BIGINT NOT NULL
);
CREATE INDEX teachers_path_number ON teachers (path, number);

CREATE TABLE teacher_assignments (
    teacher_number TEXT COLLATE "C" NOT NULL REFERENCES teachers (number),
    seq            BIGINT NOT NULL,
    school_code    TEXT COLLATE "C" NOT NULL,
    start_date     TEXT NOT NULL,
    end_date       TEXT NOT NULL,
    end_reason     TEXT NOT NULL,
    PRIMARY KEY (teacher_number, seq)
);

CREATE TABLE teams (
    id            TEXT COLLATE "C" PRIMARY KEY,
    kind          TEXT NOT NULL,
    owner         TEXT COLLATE "C" NOT NULL,
    owner_path    TEXT COLLATE "C" NOT NULL,
    display_name  TEXT NOT NULL,
    members_json  TEXT NOT NULL,
    create_micros BIGINT NOT NULL,
    update_micros BIGINT NOT NULL
);
CREATE INDEX teams_owner_path ON teams (owner_path, id);
-- A school has one ICT management team (DOMAIN.md "Teams").
CREATE UNIQUE INDEX teams_one_ict_team_per_school ON teams (owner) WHERE kind = 'school_ict_management';

CREATE TABLE assessors (
    id               TEXT COLLATE "C" PRIMARY KEY,
    teacher_number   TEXT COLLATE "C" NOT NULL REFERENCES teachers (number),
    level            TEXT NOT NULL,
    registered_at    TEXT COLLATE "C" NOT NULL,
    path             TEXT COLLATE "C" NOT NULL,
    subjects_json    TEXT NOT NULL,
    state            TEXT NOT NULL,
    cert_number      TEXT,
    cert_exam_date   TEXT,
    cert_issued_by   TEXT,
    reprimands_json  TEXT NOT NULL DEFAULT '[]',
    state_reason     TEXT NOT NULL DEFAULT '',
    create_micros    BIGINT NOT NULL,
    update_micros    BIGINT NOT NULL
);
CREATE INDEX assessors_path ON assessors (path, id);
-- A person holds at most one live registration per level.
CREATE UNIQUE INDEX assessors_one_live_per_level ON assessors (teacher_number, level) WHERE state <> 'struck_off';

-- Append-only: every successful write adds one row in the same transaction.
CREATE TABLE audit_events (
    id            BIGSERIAL PRIMARY KEY,
    create_micros BIGINT NOT NULL,
    actor_subject TEXT NOT NULL,
    actor_role    TEXT NOT NULL,
    acting_for    TEXT NOT NULL,
    method        TEXT NOT NULL,
    resource      TEXT NOT NULL,
    path          TEXT COLLATE "C" NOT NULL,
    change_json   TEXT NOT NULL
);
CREATE INDEX audit_events_path ON audit_events (path, id);
CREATE INDEX audit_events_resource ON audit_events (resource, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
