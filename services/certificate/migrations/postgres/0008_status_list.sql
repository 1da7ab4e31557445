-- The W3C Bitstring Status List (issue 18 §1): each certificate exported as an Open Badges 3.0
-- credential gets a stable position in the issuer's revocation list, `/credentials/status/revocation`,
-- assigned at its first export and never reused; the credential's `credentialStatus` names it
-- (`statusListIndex`), and its bit is set once the certificate is revoked. Positions are dense
-- (0, 1, 2, …), so the list grows by 16 KB (131,072 certificates) at a time.
CREATE TABLE status_list_entries (
    certificate_id TEXT PRIMARY KEY,
    idx            BIGINT NOT NULL UNIQUE
);
