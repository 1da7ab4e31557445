-- The certificate service's tables, in its own PostgreSQL schema. Conventions as the other services:
-- instants are BIGINT microseconds, enums snake_case keys, structured values JSON text.

-- Public halves of every key that ever signed (private keys live in files only).
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    public_key      BYTEA NOT NULL,
    activate_micros BIGINT NOT NULL,
    -- NULL while the key signs new certificates.
    retire_micros   BIGINT
);

-- One pass over a batch's certified-results stream.
CREATE TABLE issuance_runs (
    id            TEXT PRIMARY KEY,
    batch_id      TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    path          TEXT COLLATE "C" NOT NULL,
    state         TEXT NOT NULL,
    doc_json      TEXT NOT NULL,
    create_micros BIGINT NOT NULL,
    update_micros BIGINT NOT NULL,
    UNIQUE (batch_id, seq)
);
CREATE INDEX issuance_runs_path ON issuance_runs (path, create_micros);

-- The last stream sequence durably processed per batch: written in the same transaction as the
-- certificates it produced, so a resumed run neither repeats nor skips.
CREATE TABLE batch_cursors (
    batch_id TEXT PRIMARY KEY,
    cursor   BIGINT NOT NULL
);

-- The last printed number per county and year.
CREATE TABLE number_counters (
    county TEXT NOT NULL,
    year   BIGINT NOT NULL,
    last   BIGINT NOT NULL,
    PRIMARY KEY (county, year)
);

CREATE TABLE certificates (
    id               TEXT PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    -- The exactly-once key: one certificate per certified result.
    result_key       TEXT NOT NULL UNIQUE,
    batch_id         TEXT NOT NULL,
    teacher          TEXT NOT NULL,
    school           TEXT NOT NULL,
    path             TEXT COLLATE "C" NOT NULL,
    kind             TEXT NOT NULL,
    micro_competency TEXT NOT NULL,
    year             BIGINT NOT NULL,
    status           TEXT NOT NULL,
    -- SHA-256 over a per-installation secret, the name and the full ID number: the teachers'
    -- search finds certificates without the number ever being stored.
    search_key       TEXT NOT NULL,
    pdf_sha256       TEXT NOT NULL,
    payload          BYTEA NOT NULL,
    signature        BYTEA NOT NULL,
    log_index        BIGINT NOT NULL,
    -- Facts, revocation, QR text, the run and sequence that issued it.
    doc_json         TEXT NOT NULL,
    create_micros    BIGINT NOT NULL,
    update_micros    BIGINT NOT NULL
);
CREATE INDEX certificates_path ON certificates (path, number);
CREATE INDEX certificates_teacher ON certificates (teacher, number);
CREATE INDEX certificates_batch ON certificates (batch_id, number);
CREATE INDEX certificates_search ON certificates (search_key);
CREATE INDEX certificates_pdf ON certificates (pdf_sha256);

-- Exactly the PDF bytes whose SHA-256 is recorded.
CREATE TABLE certificate_pdfs (
    id  TEXT PRIMARY KEY REFERENCES certificates (id),
    pdf BYTEA NOT NULL
);

-- The transparency log (RFC 9162 hashing). Append-only.
CREATE TABLE log_entries (
    idx            BIGINT PRIMARY KEY,
    kind           TEXT NOT NULL,
    certificate_id TEXT NOT NULL,
    entry          BYTEA NOT NULL,
    leaf_hash      BYTEA NOT NULL,
    create_micros  BIGINT NOT NULL
);

-- Signed checkpoints (size and root), one per size the log had after a commit.
CREATE TABLE checkpoints (
    tree_size     BIGINT PRIMARY KEY,
    root_hash     BYTEA NOT NULL,
    key_id        TEXT NOT NULL,
    note          TEXT NOT NULL,
    signature     BYTEA NOT NULL,
    create_micros BIGINT NOT NULL
);

CREATE FUNCTION log_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'log_entries is append-only';
END
$$;
CREATE TRIGGER log_entries_no_change BEFORE UPDATE OR DELETE ON log_entries
    FOR EACH ROW EXECUTE FUNCTION log_entries_append_only();

-- ZIP archives of a school's certificates, built in the background.
CREATE TABLE archives (
    id            TEXT PRIMARY KEY,
    school        TEXT NOT NULL,
    path          TEXT COLLATE "C" NOT NULL,
    state         TEXT NOT NULL,
    doc_json      TEXT NOT NULL,
    create_micros BIGINT NOT NULL
);

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
