//! Machine clients of the OAuth 2.0 client-credentials grant (RFC 6749 §4.4), and the grant.
//!
//! An office registers a client for its own subtree and hands the secret (shown once) to the
//! agency that runs it; the agency trades `client_id` and secret for a short-lived token of
//! the suite's own format at the token endpoint ([`crate::http`]). The registration fixes what
//! the tokens say: the role (a training provider, or the office of the client's jurisdiction —
//! never a person's role, never above the registering office, since that office must cover the
//! jurisdiction and an office role must match the jurisdiction's level) and the jurisdiction.
//! Revocation is for good; a revoked client's tokens die with their lifetime (at most an hour).

use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use tica_auth::{Caller, Role, TokenSigner};
use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_domain::names::ApiClientName;
use tica_server::errors::ErrorReason;

use super::jurisdictions::check_display_name;
use super::{PageSpec, Roster, jurisdiction_path, parent_scope, require_covers, require_office};
use crate::error::{Problems, Result, RosterError};
use crate::model::{ApiClient, Unit, next_micros};
use crate::store;

/// A token's lifetime when the registration names none.
pub const DEFAULT_TOKEN_TTL_SECONDS: u32 = 600;
/// The shortest lifetime a registration may ask for.
pub const MIN_TOKEN_TTL_SECONDS: u32 = 60;
/// The longest: a revoked client's last token dies within this.
pub const MAX_TOKEN_TTL_SECONDS: u32 = 3600;
/// What every secret starts with, so that secret scanners and people recognise one.
pub const SECRET_PREFIX: &str = "tica_cs_";

/// A client to register.
#[derive(Clone, Debug)]
pub struct NewApiClient {
    /// Who runs it.
    pub display_name: String,
    /// The jurisdiction its tokens act for.
    pub jurisdiction: DivisionCode,
    /// The role its tokens carry.
    pub role: Role,
    /// A training provider's id; empty otherwise.
    pub provider_id: String,
    /// Each token's lifetime; 0 for the default.
    pub ttl_seconds: u32,
}

/// A token the grant issued.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The bearer token.
    pub access_token: String,
    /// Its lifetime.
    pub expires_in: u32,
    /// The scope granted: the client's role.
    pub scope: String,
}

/// Why the grant refused (RFC 6749 §5.2), or failed.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Unknown client, wrong secret, or a revoked client: one answer for all three, so the
    /// endpoint tells a stranger nothing about which clients exist.
    #[error("client authentication failed")]
    InvalidClient,
    /// The scope asked for is not the client's.
    #[error("{0}")]
    InvalidScope(String),
    /// The store or the signer failed.
    #[error(transparent)]
    Internal(#[from] RosterError),
}

/// Whether a registration's role fits its jurisdiction: a machine's role, or the office of the
/// jurisdiction's own level. `Err` says why not, for the `role` field.
pub fn check_client_role(
    role: Role,
    jurisdiction: DivisionCode,
) -> std::result::Result<(), String> {
    if role.is_machine() {
        return Ok(());
    }
    match role.office_level() {
        Some(level) if level == jurisdiction.level() => Ok(()),
        Some(_) => Err(format!(
            "a {role} client acts for a jurisdiction of its own level; jurisdictions/{jurisdiction} needs the office role of its level"
        )),
        None => Err(format!(
            "{role} is a person's role; a machine client is a training_provider or an office (county_office, city_office, province_office)"
        )),
    }
}

/// Whether `id` may be a provider id: 1–64 characters of `A-Z a-z 0-9 . _ -`.
pub fn valid_provider_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The stored form of a secret: SHA-256, lower-case hex.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two equal-length strings in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A fresh secret: the prefix and 256 random bits, base64url.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

impl Roster {
    /// Registers a client; answers it with its secret, which is stored only hashed.
    pub async fn create_api_client(
        &self,
        caller: &Caller,
        new: NewApiClient,
    ) -> Result<(ApiClient, String)> {
        require_office(caller, "register API clients")?;
        let mut problems = Problems::new();
        check_display_name(&mut problems, "api_client.display_name", &new.display_name);
        if let Err(why) = check_client_role(new.role, new.jurisdiction) {
            problems.add("api_client.role", why);
        }
        match (new.role.is_machine(), new.provider_id.is_empty()) {
            (true, true) => problems.add(
                "api_client.provider_id",
                "required for a training_provider: the provider's id its hours records carry",
            ),
            (true, false) if !valid_provider_id(&new.provider_id) => problems.add(
                "api_client.provider_id",
                "1–64 characters of A-Z a-z 0-9 . _ -",
            ),
            (false, false) => problems.add(
                "api_client.provider_id",
                "only a training_provider client has a provider id",
            ),
            _ => {}
        }
        let ttl_seconds = match new.ttl_seconds {
            0 => DEFAULT_TOKEN_TTL_SECONDS,
            ttl if (MIN_TOKEN_TTL_SECONDS..=MAX_TOKEN_TTL_SECONDS).contains(&ttl) => ttl,
            _ => {
                problems.add(
                    "api_client.token_ttl_seconds",
                    format!(
                        "{MIN_TOKEN_TTL_SECONDS}–{MAX_TOKEN_TTL_SECONDS} seconds, or 0 for {DEFAULT_TOKEN_TTL_SECONDS}"
                    ),
                );
                0
            }
        };
        problems.finish()?;
        require_covers(caller, &ScopePath::for_jurisdiction(new.jurisdiction))?;
        let path = jurisdiction_path(self, new.jurisdiction).await?;
        let secret = new_secret();
        let now = store::audit::now();
        let client = ApiClient {
            id: uuid::Uuid::new_v4().simple().to_string(),
            display_name: new.display_name.trim().to_owned(),
            jurisdiction: new.jurisdiction,
            path: path.clone(),
            role: new.role,
            provider_id: new.provider_id,
            ttl_seconds,
            secret_sha256: secret_hash(&secret),
            revoked: false,
            revoke_reason: String::new(),
            revoke_micros: None,
            created_by: caller.subject.clone(),
            create_micros: now,
            update_micros: now,
        };
        let audit = store::audit::entry(
            caller,
            "CreateApiClient",
            ApiClientName::of(&client.id),
            path,
            serde_json::json!({
                "role": client.role.as_str(),
                "jurisdiction": client.jurisdiction.to_string(),
                "token_ttl_seconds": client.ttl_seconds,
            }),
        );
        store::api_clients::insert(&self.db, &client, &audit).await?;
        Ok((client, secret))
    }

    /// One client, if the caller's subtree holds it (NOT_FOUND otherwise, as for a missing one).
    pub async fn get_api_client(&self, caller: &Caller, id: &str) -> Result<ApiClient> {
        require_office(caller, "read API clients")?;
        let found = store::api_clients::get(&self.db, id).await?;
        super::visible(caller, found, |c| &c.path, || ApiClientName::of(id))
    }

    /// Clients acting inside `parent` (the caller's own jurisdiction when `None`), newest first.
    pub async fn list_api_clients(
        &self,
        caller: &Caller,
        parent: Option<DivisionCode>,
        revoked: Option<bool>,
        page: PageSpec<(i64, String)>,
    ) -> Result<(Vec<ApiClient>, i64)> {
        require_office(caller, "list API clients")?;
        let parent = parent.map(Unit::Jurisdiction);
        let scope = parent_scope(self, caller, parent.as_ref()).await?;
        store::api_clients::list(&self.db, &scope, revoked, page.after.as_ref(), page.limit).await
    }

    /// Revokes a client for good.
    pub async fn revoke_api_client(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<ApiClient> {
        let mut problems = Problems::new();
        let reason = reason.trim();
        if reason.is_empty() {
            problems.add("reason", "required: why the client is revoked");
        } else if reason.chars().count() > 200 {
            problems.add("reason", "at most 200 characters");
        }
        problems.finish()?;
        let mut client = self.get_api_client(caller, id).await?;
        let resource = ApiClientName::of(id);
        let already = || {
            RosterError::refused(
                ErrorReason::ApiClientRevoked,
                resource.clone(),
                format!("{resource} is revoked already"),
            )
        };
        if client.revoked {
            return Err(already());
        }
        let now = next_micros(client.update_micros);
        client.revoked = true;
        client.revoke_reason = reason.to_owned();
        client.revoke_micros = Some(now);
        client.update_micros = now;
        let audit = store::audit::entry(
            caller,
            "RevokeApiClient",
            resource.clone(),
            client.path.clone(),
            serde_json::json!({ "reason": reason }),
        );
        if !store::api_clients::revoke(&self.db, &client, &audit).await? {
            return Err(already());
        }
        Ok(client)
    }

    /// The client-credentials grant: a token for the client whose secret this is.
    pub async fn issue_token(
        &self,
        signer: &TokenSigner,
        client_id: &str,
        secret: &str,
        scope: Option<&str>,
    ) -> std::result::Result<IssuedToken, GrantError> {
        // Hash whatever came, found or not: the answer's timing does not tell a stranger
        // whether the id exists.
        let presented = secret_hash(secret);
        let well_formed = client_id.len() == 32 && client_id.bytes().all(|b| b.is_ascii_hexdigit());
        let client = match well_formed {
            true => store::api_clients::get(&self.db, client_id).await?,
            false => None,
        };
        let client = match client {
            Some(c) if same(&c.secret_sha256, &presented) && !c.revoked => c,
            _ => return Err(GrantError::InvalidClient),
        };
        let granted = client.role.as_str();
        if let Some(scope) = scope
            && scope.split(' ').any(|s| !s.is_empty() && s != granted)
        {
            return Err(GrantError::InvalidScope(format!(
                "this client's scope is {granted:?}"
            )));
        }
        let access_token = signer
            .mint_for_client(
                &client.id,
                &client.subject(),
                client.role,
                client.jurisdiction,
                Duration::from_secs(u64::from(client.ttl_seconds)),
            )
            .map_err(|e| RosterError::Internal(format!("minting a client's token: {e}")))?;
        tracing::info!(client_id = %client.id, role = granted, "token issued to an API client");
        Ok(IssuedToken {
            access_token,
            expires_in: client.ttl_seconds,
            scope: granted.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    #[test]
    fn a_client_is_a_provider_anywhere_or_the_office_of_its_own_level() {
        assert!(check_client_role(Role::TrainingProvider, code("341324")).is_ok());
        assert!(check_client_role(Role::TrainingProvider, code("340000")).is_ok());
        assert!(check_client_role(Role::CountyOffice, code("341324")).is_ok());
        assert!(check_client_role(Role::CityOffice, code("341300")).is_ok());
        assert!(check_client_role(Role::ProvinceOffice, code("340000")).is_ok());
        assert!(check_client_role(Role::ProvinceOffice, code("341324")).is_err());
        assert!(check_client_role(Role::CountyOffice, code("340000")).is_err());
    }

    #[test]
    fn no_machine_client_carries_a_persons_role() {
        for role in [Role::Teacher, Role::SchoolAdmin, Role::Assessor] {
            let why = check_client_role(role, code("341324")).unwrap_err();
            assert!(why.contains("person"), "{why}");
        }
    }

    #[test]
    fn provider_ids_are_short_plain_tokens() {
        assert!(valid_provider_id("ahjy-2026"));
        assert!(valid_provider_id("provider_1.cn"));
        assert!(!valid_provider_id(""));
        assert!(!valid_provider_id("has space"));
        assert!(!valid_provider_id("培训机构"));
        assert!(!valid_provider_id(&"x".repeat(65)));
    }

    #[test]
    fn secrets_are_prefixed_256_bit_and_never_repeat() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(a.len(), SECRET_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert_eq!(secret_hash(&a).len(), 64);
        assert!(same(&secret_hash(&a), &secret_hash(&a)));
        assert!(!same(&secret_hash(&a), &secret_hash(&b)));
    }
}
