-- The assessment service's tables, in the schema it owns. Same conventions as the roster:
-- instants are BIGINT microseconds, dates 'YYYY-MM-DD' text, enums snake_case keys, structured
-- values JSON text; key and path columns use the "C" collation so range scans compare bytes.

-- One policy per jurisdiction; its rules hold only the sections set at that level.
CREATE TABLE policies (
    jurisdiction_code TEXT COLLATE "C" PRIMARY KEY,
    path              TEXT COLLATE "C" NOT NULL,
    display_name      TEXT NOT NULL,
    preset            TEXT NOT NULL DEFAULT '',
    rules_json        TEXT NOT NULL,
    version           BIGINT NOT NULL,
    create_micros     BIGINT NOT NULL,
    update_micros     BIGINT NOT NULL
);
CREATE INDEX policies_path ON policies (path);

-- Every accepted change: immutable.
CREATE TABLE policy_versions (
    jurisdiction_code TEXT COLLATE "C" NOT NULL REFERENCES policies (jurisdiction_code),
    version           BIGINT NOT NULL,
    rules_json        TEXT NOT NULL,
    change_note       TEXT NOT NULL,
    author_json       TEXT NOT NULL,
    create_micros     BIGINT NOT NULL,
    PRIMARY KEY (jurisdiction_code, version)
);

CREATE TABLE batches (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    county_code          TEXT COLLATE "C" NOT NULL,
    path                 TEXT COLLATE "C" NOT NULL,
    year                 BIGINT NOT NULL,
    display_name         TEXT NOT NULL,
    schools_json         TEXT NOT NULL,
    selection_deadline   TEXT,
    submission_deadline  TEXT,
    grading_deadline     TEXT,
    state                TEXT NOT NULL,
    open_date            TEXT,
    policy_versions_json TEXT NOT NULL DEFAULT '[]',
    rules_json           TEXT NOT NULL DEFAULT '{}',
    last_sequence        BIGINT NOT NULL DEFAULT 0,
    transitions_json     TEXT NOT NULL DEFAULT '[]',
    create_micros        BIGINT NOT NULL,
    update_micros        BIGINT NOT NULL
);
CREATE INDEX batches_path ON batches (path, id);

-- A teacher in a batch, with what the rules need from the roster (copied at enrolment) and
-- running counts kept in step with their submissions, so that roll-ups read one row per teacher.
CREATE TABLE participants (
    batch_id              TEXT COLLATE "C" NOT NULL REFERENCES batches (id),
    teacher_number        TEXT COLLATE "C" NOT NULL,
    school_code           TEXT COLLATE "C" NOT NULL,
    path                  TEXT COLLATE "C" NOT NULL,
    state                 TEXT NOT NULL,
    carried_over_from     TEXT NOT NULL DEFAULT '',
    category              TEXT NOT NULL,
    roles                 TEXT NOT NULL,
    subject               TEXT NOT NULL,
    birth_date            TEXT NOT NULL,
    selection_json        TEXT NOT NULL DEFAULT '[]',
    selection_state       TEXT NOT NULL DEFAULT '',
    verdict_json          TEXT NOT NULL DEFAULT '',
    selection_actor_json  TEXT NOT NULL DEFAULT '',
    selection_micros      BIGINT,
    hours_json            TEXT NOT NULL DEFAULT '[]',
    counted_centihours    BIGINT NOT NULL DEFAULT 0,
    hours_complete        BOOLEAN NOT NULL DEFAULT FALSE,
    submissions_expected  BIGINT NOT NULL DEFAULT 0,
    submissions_submitted BIGINT NOT NULL DEFAULT 0,
    submissions_graded    BIGINT NOT NULL DEFAULT 0,
    submissions_passed    BIGINT NOT NULL DEFAULT 0,
    online_grade          TEXT NOT NULL DEFAULT '',
    offline_check_json    TEXT NOT NULL DEFAULT '',
    grade                 TEXT NOT NULL DEFAULT '',
    grade_reasons_json    TEXT NOT NULL DEFAULT '[]',
    certified             BOOLEAN NOT NULL DEFAULT FALSE,
    withdraw_reason       TEXT NOT NULL DEFAULT '',
    create_micros         BIGINT NOT NULL,
    update_micros         BIGINT NOT NULL,
    PRIMARY KEY (batch_id, teacher_number)
);
CREATE INDEX participants_path ON participants (batch_id, path, teacher_number);
CREATE INDEX participants_teacher ON participants (teacher_number);

-- Hours pushed by training providers, keyed by the provider's own record id.
CREATE TABLE hours_records (
    provider_id     TEXT COLLATE "C" NOT NULL,
    record_id       TEXT COLLATE "C" NOT NULL,
    teacher_number  TEXT COLLATE "C" NOT NULL,
    path            TEXT COLLATE "C" NOT NULL,
    kind            TEXT NOT NULL,
    course_id       TEXT NOT NULL,
    course_title    TEXT NOT NULL,
    centihours      BIGINT NOT NULL,
    watched_minutes BIGINT NOT NULL,
    course_minutes  BIGINT NOT NULL,
    complete_micros BIGINT NOT NULL,
    revision        BIGINT NOT NULL,
    create_micros   BIGINT NOT NULL,
    update_micros   BIGINT NOT NULL,
    PRIMARY KEY (provider_id, record_id)
);
CREATE INDEX hours_records_teacher ON hours_records (teacher_number);

-- Evidence files' metadata; the bytes live in the object store under object_key.
CREATE TABLE evidence (
    id               TEXT COLLATE "C" PRIMARY KEY,
    batch_id         TEXT COLLATE "C" NOT NULL,
    teacher_number   TEXT COLLATE "C" NOT NULL,
    path             TEXT COLLATE "C" NOT NULL,
    codes_json       TEXT NOT NULL,
    kind             TEXT NOT NULL,
    file_name        TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    size_bytes       BIGINT NOT NULL,
    sha256           TEXT NOT NULL,
    duration_seconds BIGINT NOT NULL,
    description      TEXT NOT NULL,
    uploaded_by_json TEXT NOT NULL,
    object_key       TEXT NOT NULL,
    create_micros    BIGINT NOT NULL
);
CREATE INDEX evidence_participant ON evidence (batch_id, teacher_number, id);

-- One per selected micro-competency (code), or `leadership` for a principal's extra assessment.
CREATE TABLE submissions (
    batch_id       TEXT COLLATE "C" NOT NULL,
    teacher_number TEXT COLLATE "C" NOT NULL,
    code           TEXT COLLATE "C" NOT NULL,
    school_code    TEXT COLLATE "C" NOT NULL,
    path           TEXT COLLATE "C" NOT NULL,
    state          TEXT NOT NULL,
    submit_micros  BIGINT,
    grading_json   TEXT NOT NULL DEFAULT '',
    history_json   TEXT NOT NULL DEFAULT '[]',
    return_reason  TEXT NOT NULL DEFAULT '',
    carried_over   BOOLEAN NOT NULL DEFAULT FALSE,
    update_micros  BIGINT NOT NULL,
    PRIMARY KEY (batch_id, teacher_number, code)
);
CREATE INDEX submissions_path ON submissions (batch_id, path, teacher_number, code);

CREATE TABLE school_results (
    batch_id         TEXT COLLATE "C" NOT NULL REFERENCES batches (id),
    school_code      TEXT COLLATE "C" NOT NULL,
    path             TEXT COLLATE "C" NOT NULL,
    state            TEXT NOT NULL,
    transitions_json TEXT NOT NULL DEFAULT '[]',
    update_micros    BIGINT NOT NULL,
    PRIMARY KEY (batch_id, school_code)
);

-- The certificate service's feed: gap-free sequence per batch; a result is certified (or
-- withdrawn) at most once.
CREATE TABLE certified_results (
    batch_id     TEXT COLLATE "C" NOT NULL REFERENCES batches (id),
    sequence     BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    result_key   TEXT COLLATE "C" NOT NULL,
    payload_json TEXT NOT NULL,
    event_micros BIGINT NOT NULL,
    PRIMARY KEY (batch_id, sequence)
);
CREATE UNIQUE INDEX certified_results_once ON certified_results (result_key, kind);

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
