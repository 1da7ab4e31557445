-- The sampling service's tables, in its own schema. Conventions as the other services:
-- instants are BIGINT microseconds, enums snake_case keys, structured values JSON text; codes
-- and paths compare bytewise (COLLATE "C"), as on SQLite.

-- A review round. Filter columns beside the whole record as JSON (plan, seed, transitions).
CREATE TABLE rounds (
    id            TEXT PRIMARY KEY,
    scope_code    TEXT NOT NULL,
    path          TEXT COLLATE "C" NOT NULL,
    year          BIGINT NOT NULL,
    level         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL,
    -- The id of the chain's first round; every round of a chain shares its seed and order.
    chain         TEXT NOT NULL,
    -- level, kind and batches: a new round with the same key extends the chain.
    chain_key     TEXT NOT NULL,
    doc_json      TEXT NOT NULL,
    create_micros BIGINT NOT NULL,
    update_micros BIGINT NOT NULL
);
CREATE INDEX rounds_path ON rounds (path, create_micros);
CREATE INDEX rounds_chain_key ON rounds (chain_key, create_micros);

-- The frozen population: one row per id fed to the sampler. Immutable once written.
CREATE TABLE population (
    round_id    TEXT NOT NULL REFERENCES rounds (id),
    stage       TEXT NOT NULL,
    stratum     TEXT COLLATE "C" NOT NULL,
    sampler_id  TEXT COLLATE "C" NOT NULL,
    batch_id    TEXT NOT NULL,
    school_code TEXT NOT NULL,
    -- Teacher rows: the grades under review, [[code, submission, grade], ...].
    grades_json TEXT NOT NULL,
    PRIMARY KEY (round_id, sampler_id)
);
CREATE INDEX population_order ON population (round_id, stage, stratum, sampler_id);

CREATE TABLE strata (
    round_id         TEXT NOT NULL REFERENCES rounds (id),
    stratum_id       TEXT COLLATE "C" NOT NULL,
    stage            TEXT NOT NULL,
    parent_unit      TEXT NOT NULL,
    batch_id         TEXT NOT NULL,
    population_size  BIGINT NOT NULL,
    rate_numerator   BIGINT NOT NULL,
    rate_denominator BIGINT NOT NULL,
    minimum          BIGINT NOT NULL,
    sample_size      BIGINT NOT NULL,
    first_position   BIGINT NOT NULL,
    wrapped          BOOLEAN NOT NULL,
    PRIMARY KEY (round_id, stratum_id)
);

CREATE TABLE items (
    round_id       TEXT NOT NULL REFERENCES rounds (id),
    item_id        TEXT NOT NULL,
    stage          TEXT NOT NULL,
    sampler_id     TEXT NOT NULL,
    stratum        TEXT COLLATE "C" NOT NULL,
    position       BIGINT NOT NULL,
    ticket         TEXT NOT NULL,
    unit           TEXT NOT NULL,
    batch_id       TEXT NOT NULL,
    school_code    TEXT NOT NULL,
    teacher_number TEXT NOT NULL,
    assessor       TEXT NOT NULL,
    state          TEXT NOT NULL,
    history_json   TEXT NOT NULL,
    PRIMARY KEY (round_id, item_id)
);
CREATE INDEX items_order ON items (round_id, stage, stratum, position);

CREATE TABLE regrades (
    round_id       TEXT NOT NULL REFERENCES rounds (id),
    item_id        TEXT NOT NULL,
    code           TEXT NOT NULL,
    -- Draw order of the item within the round, for listing.
    seq            BIGINT NOT NULL,
    unit           TEXT NOT NULL,
    submission     TEXT NOT NULL,
    assessor       TEXT NOT NULL,
    state          TEXT NOT NULL,
    original_grade TEXT NOT NULL,
    grade          TEXT NOT NULL,
    agrees         BOOLEAN NOT NULL,
    detail_json    TEXT NOT NULL,
    submit_micros  BIGINT,
    PRIMARY KEY (round_id, item_id, code)
);
CREATE INDEX regrades_assessor ON regrades (assessor, state);
CREATE INDEX regrades_unit ON regrades (round_id, unit);

CREATE TABLE units (
    round_id      TEXT NOT NULL REFERENCES rounds (id),
    unit_id       TEXT COLLATE "C" NOT NULL,
    unit          TEXT NOT NULL,
    batch_id      TEXT NOT NULL,
    drawn         BOOLEAN NOT NULL,
    outcome       TEXT NOT NULL,
    decision_json TEXT NOT NULL,
    PRIMARY KEY (round_id, unit_id)
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
