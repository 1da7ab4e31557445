use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tica_domain::division::{DivisionCode, JurisdictionLevel};
use tica_domain::school::validate_school_code;

use crate::caller::Caller;
use crate::keys::KeyPair;
use crate::provider;
use crate::role::Role;

/// The `iss` claim TICA's own tokens carry unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "tica";
/// The `aud` claim every TICA service expects unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "tica";

/// How far the verifier's clock may disagree with the issuer's, in seconds: an expired token
/// is accepted this long after `exp`, and one dated (`iat`) or valid from (`nbf`) later than
/// now is refused beyond it.
pub const CLOCK_LEEWAY_SECS: u64 = 60;

/// A TICA access token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: a user, service, or (for teachers) a teacher number. Never an ID number.
    pub sub: String,
    /// The caller's role, e.g. `county_office`.
    pub role: String,
    /// The GB/T 2260 code of the jurisdiction acted for (a school role's county).
    pub jur: String,
    /// The school acted for (school roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school: Option<String>,
    /// Issued at (Unix seconds); a token issued later than now (beyond the leeway) is refused.
    pub iat: u64,
    /// Not before (Unix seconds), when the issuer sets one; refused until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// Token id.
    pub jti: String,
    /// The registered API client the token was issued to by the client-credentials grant
    /// (RFC 9068 §2.2); absent from tokens minted by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Why a token was refused. Shown to callers; holds no secrets.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `authorization` metadata.
    #[error(
        "missing bearer token: send `authorization: Bearer <token>` (for the embedded default, mint one with `tica token mint`)"
    )]
    Missing,
    /// Not `Bearer <token>`.
    #[error("the authorization metadata must be `Bearer <token>`")]
    Malformed,
    /// The `kid` is unknown.
    #[error("token signed with unknown key id {0:?}")]
    UnknownKey(String),
    /// Expired.
    #[error("token expired")]
    Expired,
    /// Issued (`iat`) or valid from (`nbf`) later than now, beyond the clock leeway.
    #[error("token not yet valid: its {0} lies in the future")]
    NotYetValid(&'static str),
    /// Signature, algorithm, issuer or audience wrong.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The claims contradict themselves (e.g. a county office acting for a province).
    #[error("invalid token claims: {0}")]
    Claims(String),
}

impl From<AuthError> for tonic::Status {
    fn from(error: AuthError) -> tonic::Status {
        let reason = match error {
            AuthError::Missing => "TOKEN_MISSING",
            AuthError::Expired => "TOKEN_EXPIRED",
            _ => "TOKEN_INVALID",
        };
        crate::refusal(tonic::Code::Unauthenticated, reason, error.to_string())
    }
}

/// Mints tokens (the `tica token mint` command, tests, and service-to-service calls).
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    kid: String,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer for `pair`, with the default issuer and audience.
    pub fn new(pair: &KeyPair) -> TokenSigner {
        provider::install();
        let der = pair
            .signing
            .to_pkcs8_der()
            .expect("an Ed25519 key always encodes as PKCS#8");
        TokenSigner {
            key: EncodingKey::from_ed_der(der.as_bytes()),
            kid: pair.kid.clone(),
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
        }
    }

    /// The signing key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Mints a token for `role` acting for `jurisdiction` (and `school`), valid for `ttl`.
    pub fn mint(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: DivisionCode,
        school: Option<&str>,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        self.mint_claims(subject, role, jurisdiction, school, ttl, None)
    }

    /// Mints a token for the registered API client `client_id` (the client-credentials grant):
    /// as [`TokenSigner::mint`], with the `client_id` claim.
    pub fn mint_for_client(
        &self,
        client_id: &str,
        subject: &str,
        role: Role,
        jurisdiction: DivisionCode,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        self.mint_claims(
            subject,
            role,
            jurisdiction,
            None,
            ttl,
            Some(client_id.to_owned()),
        )
    }

    fn mint_claims(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: DivisionCode,
        school: Option<&str>,
        ttl: Duration,
        client_id: Option<String>,
    ) -> Result<String, AuthError> {
        let now = unix_now();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_owned(),
            role: role.as_str().to_owned(),
            jur: jurisdiction.to_string(),
            school: school.map(str::to_owned),
            iat: now,
            nbf: None,
            exp: now + ttl.as_secs().max(1),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            client_id,
        };
        check_claims(&claims)?;
        self.sign(&claims)
    }

    /// Signs arbitrary claims as they are (tests use this to forge bad tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| AuthError::Invalid(e.to_string()))
    }
}

/// Verifies tokens against the published public keys.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: BTreeMap<String, DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier trusting `keys` (by key id), for the default issuer and audience.
    pub fn new(keys: &BTreeMap<String, VerifyingKey>) -> TokenVerifier {
        provider::install();
        let keys = keys
            .iter()
            .map(|(kid, key)| (kid.clone(), DecodingKey::from_ed_der(key.as_bytes())))
            .collect();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[DEFAULT_ISSUER]);
        validation.set_audience(&[DEFAULT_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS;
        TokenVerifier { keys, validation }
    }

    /// The key ids trusted.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Verifies `token` and returns its caller.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Invalid(format!(
                "algorithm {:?} is not accepted; TICA tokens use EdDSA",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("the token header has no kid".into()))?;
        let key = self.keys.get(&kid).ok_or(AuthError::UnknownKey(kid))?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                    jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                        AuthError::NotYetValid("nbf")
                    }
                    _ => AuthError::Invalid(e.to_string()),
                }
            })?;
        // jsonwebtoken checks `exp` and `nbf`, not `iat`: a token dated in the future was
        // minted by a clock (or a hand) that cannot be trusted with the lifetime it claims.
        if data.claims.iat > unix_now().saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(AuthError::NotYetValid("iat"));
        }
        check_claims(&data.claims)
    }

    /// Verifies the value of an `authorization` header (`Bearer <token>`).
    pub fn verify_header(&self, value: Option<&str>) -> Result<Caller, AuthError> {
        let value = value.ok_or(AuthError::Missing)?.trim();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AuthError::Malformed)?;
        self.verify(token.trim())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Checks that the claims make sense together and builds the caller.
fn check_claims(claims: &Claims) -> Result<Caller, AuthError> {
    let role: Role = claims.role.parse().map_err(AuthError::Claims)?;
    let jurisdiction =
        DivisionCode::parse(&claims.jur).map_err(|e| AuthError::Claims(format!("jur: {e}")))?;
    if claims.sub.trim().is_empty() {
        return Err(AuthError::Claims("sub is empty".into()));
    }
    if let Some(level) = role.office_level() {
        if jurisdiction.level() != level {
            return Err(AuthError::Claims(format!(
                "a {role} acts for a {} jurisdiction, not {} ({:?})",
                level_name(level),
                jurisdiction,
                jurisdiction.level()
            )));
        }
        if claims.school.is_some() {
            return Err(AuthError::Claims(format!(
                "a {role} does not act for a school"
            )));
        }
    }
    if role.is_machine() && claims.school.is_some() {
        return Err(AuthError::Claims(format!(
            "a {role} does not act for a school"
        )));
    }
    if role.requires_school() && claims.school.is_none() {
        return Err(AuthError::Claims(format!(
            "a {role} token must name its school"
        )));
    }
    if let Some(school) = &claims.school {
        validate_school_code(school).map_err(|e| AuthError::Claims(format!("school: {e}")))?;
    }
    Ok(Caller::new(
        claims.sub.clone(),
        role,
        jurisdiction,
        claims.school.clone(),
    ))
}

fn level_name(level: JurisdictionLevel) -> &'static str {
    match level {
        JurisdictionLevel::Province => "province-level",
        JurisdictionLevel::City => "city-level",
        JurisdictionLevel::County => "county-level",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn setup() -> (TokenSigner, TokenVerifier) {
        let pair = KeyPair::generate();
        let signer = TokenSigner::new(&pair);
        let verifier =
            TokenVerifier::new(&BTreeMap::from([(pair.kid.clone(), pair.verifying_key())]));
        (signer, verifier)
    }

    #[test]
    fn a_minted_token_verifies_to_its_caller() {
        let (signer, verifier) = setup();
        let token = signer
            .mint(
                "office-1",
                Role::CountyOffice,
                code("341324"),
                None,
                Duration::from_secs(60),
            )
            .unwrap();
        let caller = verifier
            .verify_header(Some(&format!("Bearer {token}")))
            .unwrap();
        assert_eq!(caller.role, Role::CountyOffice);
        assert_eq!(caller.jurisdiction, code("341324"));
        assert_eq!(caller.scope.as_str(), "/340000/341300/341324/");
        assert_eq!(caller.acting_for(), "jurisdictions/341324");
    }

    #[test]
    fn a_school_admin_acts_for_its_school_only() {
        let (signer, verifier) = setup();
        let token = signer
            .mint(
                "admin",
                Role::SchoolAdmin,
                code("341324"),
                Some("3413240001"),
                Duration::from_secs(60),
            )
            .unwrap();
        let caller = verifier.verify(&token).unwrap();
        assert_eq!(caller.scope.as_str(), "/340000/341300/341324/s3413240001/");
        assert_eq!(caller.acting_for(), "schools/3413240001");
    }

    #[test]
    fn a_token_signed_by_an_unknown_key_is_refused() {
        let (_, verifier) = setup();
        let (other, _) = setup();
        let token = other
            .mint(
                "x",
                Role::ProvinceOffice,
                code("340000"),
                None,
                Duration::from_secs(60),
            )
            .unwrap();
        assert!(matches!(
            verifier.verify(&token),
            Err(AuthError::UnknownKey(_))
        ));
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let (signer, verifier) = setup();
        let token = signer
            .mint(
                "x",
                Role::CountyOffice,
                code("341324"),
                None,
                Duration::from_secs(60),
            )
            .unwrap();
        // Re-sign nothing: swap the payload for one claiming the whole province.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_claims = Claims {
            iss: "tica".into(),
            aud: "tica".into(),
            sub: "x".into(),
            role: "province_office".into(),
            jur: "340000".into(),
            school: None,
            iat: 0,
            nbf: None,
            exp: u64::MAX / 2,
            jti: "j".into(),
            client_id: None,
        };
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged_claims).unwrap());
        parts[1] = &payload;
        let forged = parts.join(".");
        assert!(matches!(
            verifier.verify(&forged),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let (signer, verifier) = setup();
        let claims = Claims {
            iss: "tica".into(),
            aud: "tica".into(),
            sub: "x".into(),
            role: "county_office".into(),
            jur: "341324".into(),
            school: None,
            iat: 1,
            nbf: None,
            exp: 2,
            jti: "j".into(),
            client_id: None,
        };
        let token = signer.sign(&claims).unwrap();
        assert!(matches!(verifier.verify(&token), Err(AuthError::Expired)));
    }

    fn claims_at(iat: u64, nbf: Option<u64>, exp: u64) -> Claims {
        Claims {
            iss: "tica".into(),
            aud: "tica".into(),
            sub: "x".into(),
            role: "county_office".into(),
            jur: "341324".into(),
            school: None,
            iat,
            nbf,
            exp,
            jti: "j".into(),
            client_id: None,
        }
    }

    #[test]
    fn a_token_issued_or_valid_from_beyond_the_leeway_in_the_future_is_refused() {
        let (signer, verifier) = setup();
        let now = unix_now();
        let day = 86_400;
        let early = signer
            .sign(&claims_at(now + 3600, None, now + day))
            .unwrap();
        let err = verifier.verify(&early).unwrap_err();
        assert!(matches!(err, AuthError::NotYetValid("iat")), "{err}");
        let later = signer
            .sign(&claims_at(now, Some(now + 3600), now + day))
            .unwrap();
        let err = verifier.verify(&later).unwrap_err();
        assert!(matches!(err, AuthError::NotYetValid("nbf")), "{err}");
        assert_eq!(
            tonic::Status::from(err).code(),
            tonic::Code::Unauthenticated
        );
        // Within the leeway, a clock a little ahead is tolerated.
        let skewed = signer
            .sign(&claims_at(now + 30, Some(now + 30), now + day))
            .unwrap();
        assert!(verifier.verify(&skewed).is_ok());
        // Expiry has the same leeway, and no more.
        let just = signer.sign(&claims_at(now - day, None, now - 30)).unwrap();
        assert!(verifier.verify(&just).is_ok());
        let gone = signer
            .sign(&claims_at(now - day, None, now - CLOCK_LEEWAY_SECS - 5))
            .unwrap();
        assert!(matches!(verifier.verify(&gone), Err(AuthError::Expired)));
    }

    #[test]
    fn an_office_token_must_match_its_jurisdictions_level() {
        let (signer, _) = setup();
        let err = signer
            .mint(
                "x",
                Role::CountyOffice,
                code("340000"),
                None,
                Duration::from_secs(60),
            )
            .unwrap_err();
        assert!(matches!(err, AuthError::Claims(_)), "{err}");
        let err = signer
            .mint(
                "t",
                Role::Teacher,
                code("341324"),
                None,
                Duration::from_secs(60),
            )
            .unwrap_err();
        assert!(err.to_string().contains("must name its school"), "{err}");
    }

    #[test]
    fn a_missing_or_malformed_header_says_what_to_send() {
        let (_, verifier) = setup();
        assert!(matches!(
            verifier.verify_header(None),
            Err(AuthError::Missing)
        ));
        assert!(matches!(
            verifier.verify_header(Some("Basic abc")),
            Err(AuthError::Malformed)
        ));
    }
}
