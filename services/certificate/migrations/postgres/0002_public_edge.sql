-- The public edge (issue 15).

-- Revoked certificates are few: the revocation list reads them by status.
CREATE INDEX certificates_status ON certificates (status, id);
-- The revocation list is made again when a revocation is appended: the newest revoked entry.
CREATE INDEX log_entries_kind ON log_entries (kind, idx);

-- Guesses at what the public pages look up by a secret the visitor must know (the teachers'
-- search: name and full ID number; the number lookup: number and name or code), counted per
-- target and overall, shared by every replica and kept across restarts. The key is a keyed
-- hash of what the visitor cannot vary (e.g. name and the printed part of the ID number):
-- never a name, number or ID number.
CREATE TABLE guess_throttle (
    key                 TEXT PRIMARY KEY,
    -- Failed guesses counted (per target: since the last success; overall: in the window).
    failures            BIGINT NOT NULL,
    -- Overall budget only: when the current window began (µs) and how many windows in a row
    -- went over the budget.
    window_start_micros BIGINT NOT NULL,
    strikes             BIGINT NOT NULL,
    -- No guess is evaluated before this instant (µs).
    locked_until_micros BIGINT NOT NULL,
    update_micros       BIGINT NOT NULL
);
