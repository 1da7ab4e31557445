-- Safe retries (issue 17, AIP-155): the request id a client gave when it created a round, with
-- who gave it. A retry by the same caller with the same id gets the round the first call made;
-- the unique index keeps two concurrent retries from both making one. Empty when no id was
-- given (every row before this migration).
ALTER TABLE rounds ADD COLUMN creator_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE rounds ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX rounds_request ON rounds (creator_subject, request_id)
    WHERE request_id <> '';
