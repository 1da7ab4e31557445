//! Who a test calls as: one Ed25519 key pair, the signer that mints its tokens and the
//! verifier that trusts them (keyed by the pair's kid), as every in-process server of a test
//! is configured.

use std::collections::BTreeMap;
use std::time::Duration;

use tica_auth::{KeyPair, Role, TokenSigner, TokenVerifier};
use tica_domain::division::DivisionCode;

/// How long a minted token is valid: longer than any test or benchmark runs, so none fails on
/// an expired token; tests about expiry sign their own claims.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A token key: mints tokens, and makes the verifier servers check them with.
#[derive(Clone, Debug)]
pub struct Keys {
    pair: KeyPair,
    signer: TokenSigner,
}

impl Keys {
    /// A fresh random key.
    pub fn generate() -> Keys {
        Keys::from_pair(KeyPair::generate())
    }

    /// The key `pair` (one a server already uses, e.g. the key `tica serve` created).
    pub fn from_pair(pair: KeyPair) -> Keys {
        let signer = TokenSigner::new(&pair);
        Keys { pair, signer }
    }

    /// The signer (to forge claims with [`TokenSigner::sign`]).
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// A verifier trusting exactly this key.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier::new(&BTreeMap::from([(
            self.pair.kid.clone(),
            self.pair.verifying_key(),
        )]))
    }

    /// A token for `subject` as `role` acting for `jurisdiction` (a division code) and
    /// `school`, valid for [`TOKEN_LIFETIME`].
    ///
    /// # Panics
    /// If the claims are invalid (a code that is not one, an office at the wrong level).
    pub fn mint(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> String {
        self.signer
            .mint(
                subject,
                role,
                DivisionCode::parse(jurisdiction).expect("a division code"),
                school,
                TOKEN_LIFETIME,
            )
            .expect("valid claims")
    }
}
