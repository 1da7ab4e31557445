-- Verification codes (issue 18 §3): a teacher makes a code for one of their certificates and
-- hands it to an HR office, which types it with the holder's name on the public page (/code)
-- or calls VerifyWithCode. A code is 12 characters (60 random bits); only its keyed hash is
-- stored (HMAC-SHA256 under the installation's search secret, which is not in the database),
-- with its last four characters for the teacher's list. Never a name or ID number here.
CREATE TABLE verification_codes (
    id              TEXT PRIMARY KEY,
    certificate_id  TEXT NOT NULL,
    -- The certificate's printed number, for the teacher's list (a certificate's number never
    -- changes).
    number          TEXT NOT NULL,
    -- The certificate's teacher and school path: the teacher's own list, offices' scope.
    teacher         TEXT NOT NULL,
    path            TEXT COLLATE "C" NOT NULL,
    -- Lower-case hex HMAC-SHA256(search secret, "tica-verification-code" 0x1F code).
    code_hash       TEXT NOT NULL UNIQUE,
    -- The code's last four characters, as the list shows it masked: ****-****-7KQM.
    hint            TEXT NOT NULL,
    create_micros   BIGINT NOT NULL,
    -- After this instant (µs) the code answers as an unknown one.
    expire_micros   BIGINT NOT NULL,
    -- When it was revoked (µs); 0 while it is not.
    revoke_micros   BIGINT NOT NULL,
    creator_subject TEXT NOT NULL,
    revoker_subject TEXT NOT NULL,
    -- Successful lookups with it, and the last one (µs; 0 for none).
    use_count       BIGINT NOT NULL,
    last_use_micros BIGINT NOT NULL
);
-- A certificate's codes, newest first (and the count of its active ones).
CREATE INDEX verification_codes_certificate ON verification_codes (certificate_id, create_micros);
-- A teacher's codes, newest first.
CREATE INDEX verification_codes_teacher ON verification_codes (teacher, create_micros);
-- Codes of certificates in an office's subtree, newest first.
CREATE INDEX verification_codes_path ON verification_codes (path, create_micros);
