//! Keyset pagination with opaque page tokens bound to the request's filters.
//!
//! A token is base64url(JSON `{"k": <last key>, "f": <filter fingerprint>}`). Reusing a token with
//! different filters is INVALID_ARGUMENT (AIP-158), never a silently wrong page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use tonic::Status;

use crate::errors::invalid;

/// Page size when the request gives 0.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// The largest page served; larger requests are clamped (AIP-158).
pub const MAX_PAGE_SIZE: i64 = 1000;

/// One page to read: how many, and after which key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<K> {
    /// Rows to return (read one more to know whether another page follows).
    pub size: i64,
    /// The last key of the previous page.
    pub after: Option<K>,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Token<K> {
    k: K,
    f: String,
}

fn fingerprint(filter: &str) -> String {
    hex::encode(&Sha256::digest(filter.as_bytes())[..6])
}

impl<K: Serialize + DeserializeOwned> Page<K> {
    /// Reads `page_size` and `page_token`; `filter` describes every other request field that
    /// shapes the result (e.g. `"parent=jurisdictions/341324;stage=2"`).
    #[allow(clippy::result_large_err)]
    pub fn from_request(page_size: i32, page_token: &str, filter: &str) -> Result<Page<K>, Status> {
        if page_size < 0 {
            return Err(invalid("page_size", "must not be negative"));
        }
        let size = match page_size as i64 {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let fingerprint = fingerprint(filter);
        let after = if page_token.is_empty() {
            None
        } else {
            let bytes = URL_SAFE_NO_PAD
                .decode(page_token)
                .map_err(|_| invalid("page_token", "not a token this service issued"))?;
            let token: Token<K> = serde_json::from_slice(&bytes)
                .map_err(|_| invalid("page_token", "not a token this service issued"))?;
            if token.f != fingerprint {
                return Err(invalid(
                    "page_token",
                    "the token was issued for different filters; keep every other field as in the first request",
                ));
            }
            Some(token.k)
        };
        Ok(Page {
            size,
            after,
            fingerprint,
        })
    }

    /// Splits `rows` (read with `LIMIT size + 1`) into the page and the next token.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> K) -> (Vec<T>, String) {
        if rows.len() as i64 > self.size {
            rows.truncate(self.size as usize);
            let last = rows.last().map(&key).expect("a page has at least one row");
            let token = Token {
                k: last,
                f: self.fingerprint.clone(),
            };
            let json = serde_json::to_vec(&token).expect("keys serialise");
            (rows, URL_SAFE_NO_PAD.encode(json))
        } else {
            (rows, String::new())
        }
    }

    /// `LIMIT` for the query: one more than the page, to learn whether more follow.
    pub fn limit(&self) -> i64 {
        self.size + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_walks_the_pages_and_ends_empty() {
        let page: Page<String> = Page::from_request(2, "", "f").unwrap();
        let (rows, token) =
            page.finish(vec!["a".to_owned(), "b".into(), "c".into()], |s| s.clone());
        assert_eq!(rows, vec!["a", "b"]);
        let next: Page<String> = Page::from_request(2, &token, "f").unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        let (rows, token) = next.finish(vec!["c".to_owned()], |s| s.clone());
        assert_eq!(rows, vec!["c"]);
        assert!(token.is_empty());
    }

    #[test]
    fn a_token_reused_with_other_filters_is_refused() {
        let page: Page<String> = Page::from_request(1, "", "stage=1").unwrap();
        let (_, token) = page.finish(vec!["a".to_owned(), "b".into()], |s| s.clone());
        let err = Page::<String>::from_request(1, &token, "stage=2").unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn page_sizes_default_and_clamp() {
        assert_eq!(
            Page::<String>::from_request(0, "", "").unwrap().size,
            DEFAULT_PAGE_SIZE
        );
        assert_eq!(
            Page::<String>::from_request(5000, "", "").unwrap().size,
            MAX_PAGE_SIZE
        );
        assert!(Page::<String>::from_request(-1, "", "").is_err());
        assert!(Page::<String>::from_request(10, "garbage!", "").is_err());
    }
}
