//! Verification codes (issue 18 §3), as HR offices already use them: a teacher makes a code for
//! one of their certificates and hands it, with their name, to an HR office, which types both
//! on the public page (`/code`) or calls `VerifyWithCode`, and sees the certificate's verdict.
//!
//! - **The code**: 12 characters from [`CODE_ALPHABET`] (no 0, O, 1 or I), 60 bits from the
//!   operating system's CSPRNG (through `rand`'s thread generator), shown in full once — in the
//!   answer that creates it — and as `****-****-7KQM` ever after.
//! - **Stored as a keyed hash**: HMAC-SHA256 under the installation's search secret, which lives
//!   in a file, not in the database. 60 bits are beyond any online guessing but not beyond an
//!   offline search of a plain SHA-256 (2^60 hashes is days on a GPU farm): a stolen database
//!   alone must not give the codes back. (The roster's API-client secrets are plain SHA-256
//!   because they hold 256 bits.) The stored hash is compared in constant time.
//! - **The name too**: a code answers only with its holder's name as registered (spaces
//!   ignored); the comparison does not stop at the first difference.
//! - **No oracle**: a wrong code, a right code with a wrong name, an expired and a revoked code
//!   get the same NOT FOUND, after the same one database read. Every lookup is charged before
//!   it is evaluated to the caller's address ([`Certificates::per_client`]), to the code itself
//!   (so a code seen without its name cannot be tried against many names: three misses free,
//!   then locks that double — [`super::throttle`]) and to the overall failure budget that stops
//!   breadth attacks. The name is not a throttle target: names are shared by thousands of
//!   teachers, and an attacker could otherwise lock every 王芳's codes for free, while 60 bits
//!   leave nothing to gain by aiming at one name.
//! - **Lifetime**: 30 to 180 days (90 by default), revocable at once by the teacher or an office
//!   over the certificate; the teacher's list shows each code's state, expiry, uses and last use.
//!   Creation and revocation are audited (never the code or a name).
//! - A code of a certificate revoked since answers with the certificate's real verdict,
//!   REVOKED, as the number lookup does.

use sha2::{Digest, Sha256};
use tica_auth::{Caller, Role};

use super::public::normalize_name;
use super::throttle::target_key;
use super::{Certificates, Ctx, Lookup, Subject, denied, invalid, not_found};
use crate::error::{CertificateError, Result};
use crate::model::*;
use crate::store;

/// The characters a code is written with: digits and capitals without 0, O, 1 and I.
pub const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Characters in a code (5 bits each: 60 bits).
pub const CODE_CHARS: usize = 12;
/// The shortest lifetime a code may be given, in days.
pub const MIN_TTL_DAYS: i32 = 30;
/// The longest lifetime a code may be given, in days.
pub const MAX_TTL_DAYS: i32 = 180;
/// The lifetime of a code when none is asked for, in days.
pub const DEFAULT_TTL_DAYS: i32 = 90;
/// Codes of one certificate that may be active at once.
pub const MAX_ACTIVE_CODES: i64 = 20;

const DAY_MICROS: i64 = 86_400_000_000;
const CODE_LABEL: &[u8] = b"tica-verification-code";

/// What a list of codes is of.
#[derive(Clone, Debug)]
pub enum CodeParent {
    /// One certificate's codes.
    Certificate(String),
    /// Every code the caller may see: a teacher's own, an office's within its scope.
    All,
}

/// A fresh code: [`CODE_CHARS`] characters of [`CODE_ALPHABET`], uniformly (32 divides 256, so
/// the low five bits of a random byte are uniform), written `XXXX-XXXX-XXXX`.
pub fn new_code() -> String {
    let mut bytes = [0u8; CODE_CHARS];
    rand::fill(&mut bytes);
    let plain: String = bytes
        .iter()
        .map(|b| CODE_ALPHABET[usize::from(b & 31)] as char)
        .collect();
    format_code(&plain)
}

/// `XXXXXXXXXXXX` as `XXXX-XXXX-XXXX`.
fn format_code(plain: &str) -> String {
    format!("{}-{}-{}", &plain[..4], &plain[4..8], &plain[8..])
}

/// A typed code in canonical form (case, spaces and `-` forgiven), or None when it cannot be a
/// code: not 12 characters, or a character no code has (0, O, 1, I and anything else).
pub fn parse_code(typed: &str) -> Option<String> {
    let plain: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (plain.len() == CODE_CHARS && plain.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        .then_some(plain)
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in message {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The stored form of a code (canonical, as [`parse_code`] gives it): lower-case hex
/// HMAC-SHA256 under `secret` of `"tica-verification-code" 0x1F code`.
pub fn code_hash(secret: &[u8], plain: &str) -> String {
    hex::encode(hmac_sha256(
        secret,
        &[CODE_LABEL, &[0x1f], plain.as_bytes()],
    ))
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// Whether two names are the same as registered (spaces ignored), in time that does not depend
/// on where they differ.
fn same_name(a: &str, b: &str) -> bool {
    same(
        &Sha256::digest(normalize_name(a).as_bytes()),
        &Sha256::digest(normalize_name(b).as_bytes()),
    )
}

fn looked_up(outcome: &'static str) {
    metrics::counter!("tica_certificate_code_lookups_total", "outcome" => outcome).increment(1);
}

impl Certificates {
    /// A new verification code for the caller's own certificate `certificate_id`, valid
    /// `ttl_days` (0: [`DEFAULT_TTL_DAYS`]); the record and the code, which is shown only
    /// here. Teachers only; a certificate that is not theirs answers as a missing one; a
    /// revoked certificate gets no new code (FAILED_PRECONDITION, CERTIFICATE_REVOKED); at most
    /// [`MAX_ACTIVE_CODES`] active at once. A refused call stores nothing.
    pub async fn create_code(
        &self,
        ctx: &Ctx,
        certificate_id: &str,
        ttl_days: i32,
    ) -> Result<(CodeRecord, String)> {
        let ttl_days = match ttl_days {
            0 => DEFAULT_TTL_DAYS,
            n if (MIN_TTL_DAYS..=MAX_TTL_DAYS).contains(&n) => n,
            _ => {
                return Err(invalid(
                    "ttl_days",
                    format!(
                        "验证码有效期为{MIN_TTL_DAYS}至{MAX_TTL_DAYS}天 A code is valid for \
                         {MIN_TTL_DAYS} to {MAX_TTL_DAYS} days (0: {DEFAULT_TTL_DAYS})"
                    ),
                ));
            }
        };
        if ctx.caller.role != Role::Teacher {
            return Err(denied(
                "only the certificate's holder makes verification codes for it",
            ));
        }
        let record = self.certificate(&ctx.caller, certificate_id).await?;
        if record.status == Status::Revoked {
            return Err(CertificateError::refused(
                tica_server::errors::ErrorReason::CertificateRevoked,
                format!("certificates/{certificate_id}"),
                "该证书已撤销，不能再生成验证码 This certificate was revoked: it gets no new verification codes",
            ));
        }
        let now = self.inner.config.clock.now();
        if store::active_codes(self.db(), &record.id, now).await? >= MAX_ACTIVE_CODES {
            return Err(super::precondition(format!(
                "certificates/{certificate_id} has {MAX_ACTIVE_CODES} active verification codes: \
                 revoke one first"
            )));
        }
        for _ in 0..3 {
            let code = new_code();
            let plain = parse_code(&code).expect("a new code parses");
            let stored = CodeRecord {
                id: super::new_certificate_id(),
                certificate_id: record.id.clone(),
                number: record.number.clone(),
                teacher: record.teacher.clone(),
                path: record.path.clone(),
                code_hash: code_hash(&self.inner.config.search_secret, &plain),
                hint: plain[CODE_CHARS - 4..].to_owned(),
                create_micros: now,
                expire_micros: now.saturating_add(i64::from(ttl_days) * DAY_MICROS),
                revoke_micros: 0,
                creator: ctx.caller.subject.clone(),
                revoker: String::new(),
                use_count: 0,
                last_use_micros: 0,
            };
            let audit = ctx.audit(
                "CreateVerificationCode",
                code_name(&stored),
                &stored.path,
                serde_json::json!({
                    "ttl_days": ttl_days,
                    "expire_micros": stored.expire_micros,
                }),
            );
            match store::insert_code(self.db(), &stored, &audit).await {
                Ok(()) => return Ok((stored, code)),
                // Another code has this hash: draw again.
                Err(CertificateError::Conflict(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(CertificateError::Internal(
            "three fresh codes collided with stored ones".into(),
        ))
    }

    /// Codes the caller may see, newest first, after `(create_micros, id)`: a teacher's own
    /// (one certificate's, or all), an office's over certificates within its scope. A
    /// certificate the caller may not read answers as a missing one.
    pub async fn codes(
        &self,
        caller: &Caller,
        parent: CodeParent,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<CodeRecord>> {
        let mut filter = store::CodeFilter {
            range: caller.scope.range(),
            ..store::CodeFilter::default()
        };
        if caller.role == Role::Teacher {
            filter.teacher = caller.subject.clone();
        }
        if let CodeParent::Certificate(id) = parent {
            filter.certificate_id = self.certificate(caller, &id).await?.id;
        }
        store::codes(self.db(), &filter, after, limit).await
    }

    /// Revokes a code of certificate `certificate_id` at once: from now on it answers as an
    /// unknown code. The certificate's holder, or an office over it; revoking a revoked code
    /// answers it again. Audited.
    pub async fn revoke_code(
        &self,
        ctx: &Ctx,
        certificate_id: &str,
        code_id: &str,
    ) -> Result<CodeRecord> {
        let certificate = self.certificate(&ctx.caller, certificate_id).await?;
        let missing = || {
            not_found(format!(
                "certificates/{certificate_id}/verificationCodes/{code_id}"
            ))
        };
        let mut code = store::code(self.db(), &certificate.id, code_id)
            .await?
            .ok_or_else(missing)?;
        if code.revoke_micros > 0 {
            return Ok(code);
        }
        let now = self.inner.config.clock.now().max(code.create_micros + 1);
        let audit = ctx.audit(
            "RevokeVerificationCode",
            code_name(&code),
            &code.path,
            serde_json::json!({ "hint": code.hint }),
        );
        if store::revoke_code(self.db(), &code.id, now, &ctx.caller.subject, &audit).await? {
            code.revoke_micros = now;
            code.revoker = ctx.caller.subject.clone();
            Ok(code)
        } else {
            // Revoked by someone else a moment ago: theirs stands.
            store::code(self.db(), &certificate.id, code_id)
                .await?
                .ok_or_else(missing)
        }
    }

    /// HR's lookup by a verification code and the holder's name: the certificate's
    /// verification (VALID, or REVOKED for a certificate revoked since) when the code is
    /// active and the name is its holder's; otherwise NOT FOUND, the same for a wrong, expired
    /// or revoked code and a wrong name. Limited per client, per code and by the overall
    /// failure budget (see the module's documentation).
    pub async fn lookup_code(&self, client: &str, code: &str, name: &str) -> Result<Lookup> {
        let mut problems = Vec::new();
        let plain = parse_code(code);
        if plain.is_none() {
            problems.push((
                "code".to_owned(),
                "验证码为12位字母数字（不含0、O、1、I），形如 7KQM-X9PD-A2CE The code has 12 letters and digits (no 0, O, 1 or I), like 7KQM-X9PD-A2CE"
                    .to_owned(),
            ));
        }
        let typed_name = normalize_name(name);
        if typed_name.is_empty() || typed_name.chars().count() > 64 {
            problems.push((
                "teacher_display_name".to_owned(),
                "请填写持证人姓名（最多64字） Give the holder's name (at most 64 characters)"
                    .to_owned(),
            ));
        }
        let Some(plain) = plain.filter(|_| problems.is_empty()) else {
            looked_up("invalid");
            return Err(CertificateError::Invalid(problems));
        };
        if let Err(refused) = self.per_client(client) {
            looked_up("rate_limited");
            return Err(refused);
        }
        let secret = &self.inner.config.search_secret;
        let hash = code_hash(secret, &plain);
        let charged = match self
            .charge_guess(vec![target_key(secret, "code", &[&hash])])
            .await
        {
            Ok(charged) => charged,
            Err(refused) => {
                looked_up("locked");
                return Err(refused);
            }
        };
        let now = self.inner.config.clock.now();
        let found = store::code_by_hash(self.db(), &hash).await?;
        let matched = found.filter(|(stored, doc)| {
            // Every part is evaluated: no answer comes sooner for one reason than another.
            let hash_ok = same(stored.code_hash.as_bytes(), hash.as_bytes());
            let name_ok = same_name(&doc.facts.teacher_display_name, &typed_name);
            let active = stored.state(now) == CodeState::Active;
            hash_ok & name_ok & active
        });
        let Some((stored, _)) = matched else {
            self.guess_failed(charged).await?;
            looked_up("not_found");
            return Ok(Lookup::NotFound);
        };
        self.guess_succeeded(charged).await?;
        store::record_code_use(self.db(), &stored.id, now).await?;
        looked_up("found");
        Ok(Lookup::Found(Box::new(
            self.verify(Subject::Id(stored.certificate_id)).await?,
        )))
    }
}

/// `certificates/{certificate_id}/verificationCodes/{id}`.
pub fn code_name(code: &CodeRecord) -> String {
    format!(
        "certificates/{}/verificationCodes/{}",
        code.certificate_id, code.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_twelve_unambiguous_characters_and_forgives_case_spaces_and_dashes() {
        let code = new_code();
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!((&code[4..5], &code[9..10]), ("-", "-"));
        let plain = parse_code(&code.to_lowercase().replace('-', " ")).unwrap();
        assert_eq!(format_code(&plain), code);
        assert!(!plain.contains(['0', 'O', '1', 'I']));
        assert_ne!(new_code(), code);
        for bad in [
            "7KQM-X9PD-A2C",
            "7KQM-X9PD-A2CE2",
            "7KQM-X9PD-A2C0",
            "OKQM-X9PD-A2CE",
            "7KQM-X9PD-A2CÉ",
        ] {
            assert_eq!(parse_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_character_of_the_alphabet_is_drawn() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.extend(parse_code(&new_code()).unwrap().bytes());
        }
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn the_hash_is_rfc_4231_hmac_sha256_keyed_by_the_secret() {
        // RFC 4231 test case 2 and test case 6 (a key longer than a block).
        assert_eq!(
            hex::encode(hmac_sha256(
                b"Jefe",
                &[b"what do ya want ", b"for nothing?"]
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let plain = "7KQMX9PDA2CE";
        assert_ne!(code_hash(b"one", plain), code_hash(b"two", plain));
        assert!(!code_hash(b"one", plain).contains(plain));
    }

    #[test]
    fn names_compare_as_registered_without_spaces() {
        assert!(same_name("王 芳", "王芳"));
        assert!(!same_name("王芳", "王方"));
        assert!(!same(b"ab", b"abc"));
    }
}
