-- Parked results (issue 16): a certified result whose certificate could not be made (a value no
-- certificate can print or encode, a teacher missing from the roster) no longer stops its run.
-- The run issues the rest and parks it here with its reason, in the same transaction as the
-- chunk's certificates; a later run retries it, and the transaction that issues its
-- certificate deletes the row (the certificates' unique result key keeps it to one).
CREATE TABLE parked_results (
    result_key    TEXT PRIMARY KEY,
    batch_id      TEXT NOT NULL,
    -- The county's scope path: offices list what is parked under them.
    path          TEXT NOT NULL,
    -- The stream sequence of the certified result.
    sequence      BIGINT NOT NULL,
    -- The record: reason, attempts, the run that last tried, the event to retry (JSON).
    doc_json      TEXT NOT NULL,
    update_micros BIGINT NOT NULL
);
CREATE INDEX parked_results_batch ON parked_results (batch_id, sequence);
CREATE INDEX parked_results_path ON parked_results (path, result_key);
