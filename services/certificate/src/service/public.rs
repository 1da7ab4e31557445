//! What visitors without a token look up: the teachers' search, a certificate by its printed
//! number, the verification page's check of the QR code it was opened with, downloads for
//! whoever holds a certificate's QR code, and the signed revocation list.
//!
//! Each answers only to what the visitor must already hold (the QR code's signed part, the
//! full ID number, the holder's name or printed code), counts guesses at those secrets
//! ([`super::throttle`]), and otherwise answers "not found" the same way whether or not the
//! certificate exists.

use sha2::{Digest, Sha256};
use tica_credential::qr::{self, QrClaims};
use tica_credential::revocation::RevocationList;

use super::throttle::target_key;
use super::{Certificates, Subject, Verdict, Verification};
use crate::error::{CertificateError, Result};
use crate::model::*;
use crate::store;

/// The signed revocation list as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocations {
    /// The compact JWS (see `tica_credential::revocation`).
    pub token: String,
    /// When it was signed (µs).
    pub issue_micros: i64,
    /// Until when it may be relied on (µs).
    pub expire_micros: i64,
    /// Revoked certificates in it.
    pub count: usize,
}

/// The cached list: remade when a revocation is appended or half its life has passed.
#[derive(Debug)]
pub(super) struct SignedList {
    last_revocation: i64,
    served: Revocations,
}

/// One claim the QR code and the register disagree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Chinese with English beside, e.g. "等级 Grade".
    pub label: &'static str,
    /// What the scanned code says.
    pub scanned: String,
    /// What the register holds.
    pub registered: String,
}

/// The verification page's check of the QR code it was opened with.
#[derive(Clone, Debug)]
pub struct QrCheck {
    /// The verdict on the scanned code (NOT GENUINE unless it is exactly the registered one).
    pub verification: Verification,
    /// What differs from the registered certificate, when there is one to compare with.
    pub differences: Vec<Difference>,
}

/// What the number lookup found.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// The number and the name or code belong together: the certificate's verification.
    Found(Box<Verification>),
    /// No certificate has this number with this name or code (the same answer either way).
    NotFound,
}

/// The code printed on a certificate beside its number, for the lookup when the QR code cannot
/// be scanned: 50 bits of SHA-256 over `"tica-verify-code" 0x1F id` in Crockford base32,
/// `XXXXX-XXXXX`. Anyone who holds the id (the page URL) can compute it; nobody else can guess
/// it within the lookup's throttle.
pub fn verification_code(id: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut hash = Sha256::new();
    hash.update(b"tica-verify-code");
    hash.update([0x1f]);
    hash.update(id.as_bytes());
    let digest = hash.finalize();
    let bits = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) >> 14;
    let chars: String = (0..10)
        .rev()
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A typed code in canonical form (Crockford: case, `-`, spaces, O→0, I/L→1 forgiven).
fn normalize_code(code: &str) -> String {
    let plain: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    match plain.len() {
        10 => format!("{}-{}", &plain[..5], &plain[5..]),
        _ => plain,
    }
}

/// A name as compared: surrounding and inner whitespace dropped.
pub(super) fn normalize_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `341324-2022-000123`.
fn is_number(number: &str) -> bool {
    let parts: Vec<&str> = number.split('-').collect();
    matches!(parts.as_slice(), [county, year, seq]
        if county.len() == 6 && year.len() == 4 && seq.len() >= 6
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())))
}

fn searched(outcome: &'static str) {
    metrics::counter!("tica_certificate_searches_total", "outcome" => outcome).increment(1);
}

/// The claims of both sides, field by field, where they differ.
fn differences(scanned: &QrClaims, registered: &QrClaims) -> Vec<Difference> {
    let pairs: [(&'static str, &String, &String); 9] = [
        ("姓名 Name", &scanned.name, &registered.name),
        ("身份证号 ID", &scanned.id_masked, &registered.id_masked),
        ("学校 School", &scanned.school, &registered.school),
        (
            "项目 Competency",
            &scanned.competency,
            &registered.competency,
        ),
        ("等级 Grade", &scanned.grade, &registered.grade),
        ("发证机关 Issuer", &scanned.issuer, &registered.issuer),
        ("签发日期 Signed", &scanned.issued, &registered.issued),
        ("证书编号 Number", &scanned.number, &registered.number),
        ("签名密钥 Key", &scanned.kid, &registered.kid),
    ];
    pairs
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(label, a, b)| Difference {
            label,
            scanned: a.clone(),
            registered: b.clone(),
        })
        .collect()
}

impl Certificates {
    /// Refused when `client` searched or looked up too often this minute.
    pub(super) fn per_client(&self, client: &str) -> Result<()> {
        if self.inner.per_client.allow(client) {
            Ok(())
        } else {
            Err(CertificateError::ResourceExhausted(
                "查询过于频繁，请一分钟后再试 Too many searches from this address: try again in a minute"
                    .into(),
            ))
        }
    }

    /// The teachers' search: certificates whose name and full ID number match. Limited per
    /// client, and per person by what an attacker cannot vary (the name and the printed part of
    /// the ID number) with locks that double ([`super::throttle`]); empty when nothing matches
    /// (the same answer as an unknown teacher).
    pub async fn search(
        &self,
        client: &str,
        name: &str,
        id_number: &str,
    ) -> Result<Vec<CertificateRecord>> {
        let name = normalize_name(name);
        let id_number = id_number.trim().to_uppercase();
        let mut problems = Vec::new();
        if name.is_empty() || name.chars().count() > 64 {
            problems.push((
                "teacher_display_name".to_owned(),
                "请填写与登记一致的姓名（最多64字） Give the name exactly as registered (at most 64 characters)"
                    .to_owned(),
            ));
        }
        let today = tica_domain::time_zone::today_in_china(time::OffsetDateTime::now_utc());
        if let Err(error) = tica_domain::resident_id::ResidentId::parse(&id_number, today) {
            let message = match error {
                tica_domain::resident_id::ResidentIdError::BadCheckCharacter { .. } => {
                    "身份证号校验位不符，请逐位核对 The check character does not match the other 17: check each digit"
                        .to_owned()
                }
                other => other.to_string(),
            };
            problems.push(("id_number".to_owned(), message));
        }
        if !problems.is_empty() {
            searched("invalid");
            return Err(CertificateError::Invalid(problems));
        }
        if let Err(refused) = self.per_client(client) {
            searched("rate_limited");
            return Err(refused);
        }
        let secret = &self.inner.config.search_secret;
        // Aimed at one person from what a certificate shows (the name, the printed part of the
        // number), or at one number's holder (guessing names): both are charged.
        let targets = vec![
            target_key(
                secret,
                "search",
                &[&name, &id_number[..4], &id_number[14..]],
            ),
            target_key(secret, "search-id", &[&id_number]),
        ];
        let charged = match self.charge_guess(targets).await {
            Ok(charged) => charged,
            Err(refused) => {
                searched("locked");
                return Err(refused);
            }
        };
        let key = crate::upstream::search_key(secret, &name, &id_number);
        let found = store::certificates_by_search_key(&self.inner.db, &key).await?;
        if found.is_empty() {
            self.guess_failed(charged).await?;
            searched("not_found");
        } else {
            self.guess_succeeded(charged).await?;
            searched("found");
        }
        Ok(found)
    }

    /// A certificate by its printed number and its holder's name or printed code, for when the
    /// QR code cannot be scanned. Limited per client and per number; an unknown number and a
    /// wrong name answer alike.
    pub async fn lookup(
        &self,
        client: &str,
        number: &str,
        name: &str,
        code: &str,
    ) -> Result<Lookup> {
        let number = number.trim().to_uppercase();
        let (name, code) = (normalize_name(name), normalize_code(code));
        let mut problems = Vec::new();
        if !is_number(&number) {
            problems.push((
                "number".to_owned(),
                "证书编号形如 341324-2022-000123 The certificate number looks like 341324-2022-000123"
                    .to_owned(),
            ));
        }
        if name.is_empty() == code.is_empty() {
            problems.push((
                "name".to_owned(),
                "请填写持证人姓名或证书上的验证码（二选一） Give the holder's name or the code printed on the certificate (one of them)"
                    .to_owned(),
            ));
        } else if !code.is_empty() && code.len() != 11 {
            problems.push((
                "code".to_owned(),
                "验证码为10位字母数字，形如 7K3MQ-X9PDA The code has 10 letters and digits, like 7K3MQ-X9PDA"
                    .to_owned(),
            ));
        }
        if !problems.is_empty() {
            searched("invalid");
            return Err(CertificateError::Invalid(problems));
        }
        self.per_client(client)?;
        let target = target_key(&self.inner.config.search_secret, "number", &[&number]);
        let charged = self.charge_guess(vec![target]).await?;
        let record = store::certificate_by_number(&self.inner.db, &number).await?;
        let matches = record.as_ref().is_some_and(|r| {
            if code.is_empty() {
                normalize_name(&r.doc.facts.teacher_display_name) == name
            } else {
                verification_code(&r.id) == code
            }
        });
        match record.filter(|_| matches) {
            Some(record) => {
                self.guess_succeeded(charged).await?;
                searched("found");
                Ok(Lookup::Found(Box::new(
                    self.verify(Subject::Id(record.id)).await?,
                )))
            }
            None => {
                self.guess_failed(charged).await?;
                searched("not_found");
                Ok(Lookup::NotFound)
            }
        }
    }

    /// The verification page's check of the QR fragment it was opened with (`#…`, never sent
    /// by the browser itself; the page's script posts it): genuine only when it is exactly
    /// the registered payload and signature; otherwise NOT GENUINE, naming what differs.
    pub async fn check_qr(&self, id: &str, fragment: &str) -> Result<QrCheck> {
        let id = id.trim().to_lowercase();
        let fragment = fragment.trim().trim_start_matches('#');
        let text = format!(
            "{}/C/{}#{fragment}",
            self.inner.config.base_url,
            id.to_uppercase()
        );
        let verification = self.verify(Subject::Qr(text.clone())).await?;
        if verification.verdict != Verdict::NotGenuine {
            return Ok(QrCheck {
                verification,
                differences: Vec::new(),
            });
        }
        let Some(record) = store::certificate(self.db(), &id).await? else {
            return Ok(QrCheck {
                verification,
                differences: Vec::new(),
            });
        };
        let registered = qr::decode_claims(&record.id, &record.payload).ok();
        let scanned = qr::parse_qr(&text).ok();
        let mut found = match (&scanned, &registered) {
            (Some(s), Some(r)) => qr::decode_claims(&id, &s.protected)
                .map(|claims| differences(&claims, r))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if found.is_empty() {
            let same_signature = scanned
                .as_ref()
                .is_some_and(|s| s.signature == record.signature);
            found.push(Difference {
                label: if same_signature {
                    "内容 Content"
                } else {
                    "签名 Signature"
                },
                scanned: "与登记不一致 differs".into(),
                registered: "登记 on record".into(),
            });
        }
        Ok(QrCheck {
            verification,
            differences: found,
        })
    }

    /// A certificate's PDF for whoever holds its QR code: `proof` is the code's fragment (what
    /// follows `#`), which must be exactly the registered signed payload. A revoked
    /// certificate's PDF is not handed out.
    pub async fn pdf_for_holder(
        &self,
        id: &str,
        proof: &str,
    ) -> Result<(CertificateRecord, Vec<u8>)> {
        let id = id.trim().to_lowercase();
        if !super::is_certificate_id(&id) || proof.trim().is_empty() {
            return Err(CertificateError::NotFound(format!("certificates/{id}")));
        }
        let check = self.check_qr(&id, proof).await?;
        let verification = check.verification;
        match (verification.verdict, verification.record) {
            (Verdict::Valid, Some(record)) => {
                let pdf = self.pdf_of(&record.id).await?;
                Ok((record, pdf))
            }
            (Verdict::Revoked, _) => Err(CertificateError::refused(
                tica_server::errors::ErrorReason::CertificateRevoked,
                format!("certificates/{}", id),
                "该证书已撤销，不提供下载 This certificate was revoked: it is not offered for download",
            )),
            _ => Err(CertificateError::PermissionDenied(
                "下载证书需要证书二维码中的签名部分 Downloading needs the signed part of the certificate's QR code"
                    .into(),
            )),
        }
    }

    /// The signed revocation list, remade when a revocation was appended since or half its
    /// life has passed (so a list handed out is good for at least half its maximum age).
    pub async fn revocation_list(&self) -> Result<Revocations> {
        let now = self.inner.config.clock.now();
        let last = store::last_revocation(self.db()).await?;
        let max_age = self.inner.config.revocation_max_age;
        let mut cached = self.inner.revocations.lock().await;
        if let Some(list) = cached.as_ref()
            && list.last_revocation == last
            && now < list.served.issue_micros + (max_age.as_micros() as i64) / 2
        {
            return Ok(list.served.clone());
        }
        let ids = store::revoked_ids(self.db()).await?;
        let list = RevocationList::new(
            &self.inner.config.base_url,
            &ids,
            now / 1_000_000,
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        );
        let served = Revocations {
            token: list.sign(&self.inner.keys.active_kid, &self.inner.keys.active),
            issue_micros: list.issued_at * 1_000_000,
            expire_micros: list.expires_at * 1_000_000,
            count: list.entries.len(),
        };
        *cached = Some(SignedList {
            last_revocation: last,
            served: served.clone(),
        });
        Ok(served)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_code_is_ten_crockford_characters_and_forgives_typing() {
        let code = verification_code("b2c4e1f07a9d4c3e8f615d2a9c");
        assert_eq!(code.len(), 11, "{code}");
        assert_eq!(&code[5..6], "-");
        assert_eq!(normalize_code(&code.to_lowercase().replace('-', " ")), code);
        assert_ne!(code, verification_code("b2c4e1f07a9d4c3e8f615d2a9d"));
        assert_eq!(normalize_code("oi1l0-abcde"), "01110-ABCDE");
    }

    #[test]
    fn numbers_are_county_year_and_sequence() {
        assert!(is_number("341324-2022-000123"));
        assert!(!is_number("341324-2022"));
        assert!(!is_number("34132X-2022-000123"));
    }
}
