//! The register's change feed (issue 17 §8): certificates issued and revoked under a
//! jurisdiction, in transparency-log order, for agencies that mirror the register.
//!
//! The cursor names the last log entry a mirror has seen by its index and (a prefix of) its
//! leaf hash, so a cursor this register does not hold — past the log's end, or naming an entry
//! with another hash, as after a restore from backup or from another installation — is refused
//! rather than silently skipping or repeating changes. The log keeps every entry, so a cursor
//! never grows too old.

use base64::Engine as _;
use tica_auth::Caller;
use tica_domain::ScopePath;

use super::{Certificates, denied, invalid};
use crate::error::{CertificateError, Result};
use crate::store::{self, RegisterChange};

/// The bytes of a leaf hash a cursor carries.
const HASH_PREFIX: usize = 16;

/// One page of changes: the changes, the cursor to continue from (None while the log is
/// empty) and the log's size when read.
#[derive(Debug)]
pub struct ChangePage {
    /// Oldest first.
    pub changes: Vec<RegisterChange>,
    /// Where the next call continues.
    pub next_cursor: Option<String>,
    /// The log's size.
    pub log_size: i64,
}

fn encode_cursor(idx: i64, leaf_hash: &[u8]) -> String {
    let mut bytes = idx.to_be_bytes().to_vec();
    bytes.extend_from_slice(&leaf_hash[..HASH_PREFIX.min(leaf_hash.len())]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The (index, hash prefix) a cursor names; INVALID_ARGUMENT when it is not one of ours.
fn decode_cursor(cursor: &str) -> Result<(i64, Vec<u8>)> {
    let bad = || {
        invalid(
            "cursor",
            "not a cursor this service gave: send the last next_cursor",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    if bytes.len() != 8 + HASH_PREFIX {
        return Err(bad());
    }
    let idx = i64::from_be_bytes(bytes[..8].try_into().map_err(|_| bad())?);
    if idx < 0 {
        return Err(bad());
    }
    Ok((idx, bytes[8..].to_vec()))
}

impl Certificates {
    /// Up to `limit` changes under `scope` (the caller's own when None) after `cursor`.
    pub async fn register_changes(
        &self,
        caller: &Caller,
        scope: Option<ScopePath>,
        cursor: &str,
        limit: i64,
    ) -> Result<ChangePage> {
        let scope = match scope {
            Some(s) => {
                caller
                    .require_covers(&s)
                    .map_err(|s| denied(s.message().to_owned()))?;
                s
            }
            None => caller.scope.clone(),
        };
        let db = self.db();
        // Read the size first: entries commit in index order, so every entry below it is
        // there to read, and none is skipped by a page that ends at it.
        let log_size = store::log_size(db).await?;
        let after = if cursor.is_empty() {
            -1
        } else {
            let (idx, prefix) = decode_cursor(cursor)?;
            let held = if idx < log_size {
                store::leaf_hash(db, idx).await?
            } else {
                None
            };
            if !held.is_some_and(|h| h.starts_with(&prefix)) {
                return Err(CertificateError::refused(
                    tica_server::errors::ErrorReason::CursorNotInLog,
                    String::new(),
                    format!(
                        "the cursor names log entry {idx}, which this register does not hold \
                         (its log has {log_size} entries): mirror again from an empty cursor"
                    ),
                ));
            }
            idx
        };
        let upto = log_size - 1;
        let changes = store::register_changes(db, scope.range(), after, upto, limit).await?;
        // A full page continues after its last change; a short one has read up to the end.
        let last = if changes.len() as i64 >= limit {
            changes.last().map_or(after, |c| c.idx)
        } else {
            upto
        };
        let next_cursor = if last < 0 {
            None
        } else {
            let hash = store::leaf_hash(db, last)
                .await?
                .ok_or_else(|| CertificateError::Internal(format!("log entry {last} vanished")))?;
            Some(encode_cursor(last, &hash))
        };
        Ok(ChangePage {
            changes,
            next_cursor,
            log_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_anything_else_is_refused() {
        let hash = [7u8; 32];
        let cursor = encode_cursor(41, &hash);
        assert_eq!(decode_cursor(&cursor).unwrap(), (41, hash[..16].to_vec()));
        for bad in ["", "x", "!!!!", &encode_cursor(41, &hash)[..10]] {
            assert!(decode_cursor(bad).is_err(), "{bad:?}");
        }
        let negative = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode([(-1i64).to_be_bytes().as_slice(), &hash[..16]].concat());
        assert!(decode_cursor(&negative).is_err());
    }
}
