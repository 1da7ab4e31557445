-- Safe retries (issue 17, AIP-155): the request id a client gave when it started a run or
-- asked for an archive, with who gave it. A retry by the same caller with the same id gets the
-- run or archive the first call made; the unique index keeps two concurrent retries from both
-- making one. Empty when no id was given (every row before this migration).
ALTER TABLE issuance_runs ADD COLUMN creator_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE issuance_runs ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX issuance_runs_request ON issuance_runs (creator_subject, request_id)
    WHERE request_id <> '';

ALTER TABLE archives ADD COLUMN creator_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE archives ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX archives_request ON archives (creator_subject, request_id)
    WHERE request_id <> '';
