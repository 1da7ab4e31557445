-- Machine clients of the OAuth 2.0 client-credentials grant (issue 17 §2): registered by an
-- office, revoked for good. The secret is kept only as its SHA-256 (hex); it is 256 random bits,
-- so a slow password hash would add nothing.
CREATE TABLE api_clients (
    id            TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    jurisdiction  TEXT NOT NULL,
    path          TEXT NOT NULL,
    role          TEXT NOT NULL,
    provider_id   TEXT NOT NULL,
    ttl_seconds   BIGINT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    revoked       BOOLEAN NOT NULL,
    revoke_reason TEXT NOT NULL,
    revoke_micros BIGINT,
    created_by    TEXT NOT NULL,
    create_micros BIGINT NOT NULL,
    update_micros BIGINT NOT NULL
);
CREATE INDEX api_clients_path ON api_clients (path, create_micros, id);
