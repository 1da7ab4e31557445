//! The certificate as an Open Badges 3.0 `OpenBadgeCredential` (1EdTech OB 3.0; a W3C VC 2.0)
//! signed with `eddsa-rdfc-2022`, what wallets and the Digital Credentials Consortium's verifier
//! read; its issuer as a `did:web` document; and the W3C Bitstring Status List credential that
//! tells whether it was revoked (issue 18 §1, docs/security.md "Open Badges").
//!
//! What a badge holds, and what it does not: the certificate's title, number, micro-competency
//! or level and grade, the school, the county and the issuing office as printed, the teacher's
//! name (it is on the paper the teacher hands over with it), the dates, the PDF's SHA-256 — and
//! no ID number, not even masked: a badge travels to wallets and employers' systems beyond the
//! office's reach, and the name with the paper is what a reader compares.

use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::io::Write;

use super::Certificates;
use crate::error::{CertificateError, Result};
use crate::model::*;
use crate::store;

/// Where the status list credential is served, under the base URL.
pub const STATUS_LIST_PATH: &str = "/credentials/status/revocation";
/// Bits in the smallest list: 16 KB, the W3C Bitstring Status List minimum (§4.1, "herd
/// privacy"); the list grows by this much.
pub const STATUS_LIST_BITS: usize = 16 * 1024 * 8;

fn internal(e: impl std::fmt::Display) -> CertificateError {
    CertificateError::Internal(e.to_string())
}

/// The `did:web` identifier of a base URL (did:web method §3.1.1: the host, a port
/// percent-encoded as `%3A`, path segments after colons).
pub fn did_web(base_url: &str) -> String {
    let rest = base_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(base_url);
    let mut parts = rest.trim_end_matches('/').split('/');
    let host = parts.next().unwrap_or_default().replace(':', "%3A");
    let mut did = format!("did:web:{host}");
    for segment in parts.filter(|s| !s.is_empty()) {
        did.push(':');
        did.push_str(segment);
    }
    did
}

/// A bitstring with the positions `set` on, at least [`STATUS_LIST_BITS`] long (whole multiples
/// of it), GZIP-compressed and multibase base64url (`u…`), as `encodedList` carries it (the
/// first index is the most significant bit of the first byte, §3.2).
pub fn encode_status_list(set: &[i64]) -> String {
    let highest = set.iter().copied().max().unwrap_or(0).max(0) as usize;
    let bits = (highest / STATUS_LIST_BITS + 1) * STATUS_LIST_BITS;
    let mut bytes = vec![0u8; bits / 8];
    for &i in set.iter().filter(|&&i| i >= 0) {
        let i = i as usize;
        bytes[i / 8] |= 0x80 >> (i % 8);
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&bytes).expect("writing to memory");
    let compressed = gz.finish().expect("writing to memory");
    format!(
        "u{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed)
    )
}

fn grade_key(grade: Grade) -> &'static str {
    match grade {
        Grade::Pass => "pass",
        Grade::Excellent => "excellent",
    }
}

impl Certificates {
    /// The issuer's `did:web` identifier, from the public base URL.
    pub fn did(&self) -> String {
        did_web(&self.inner.config.base_url)
    }

    /// The `did:web` document (`/.well-known/did.json`): every published Ed25519 key, retired
    /// ones too (so badges they signed still verify), as a Multikey (`z6Mk…`) named
    /// `{did}#{kid}`, each an assertion method.
    pub fn did_document(&self) -> Value {
        let did = self.did();
        let keys: Vec<&KeyRecord> = self
            .inner
            .keys
            .records
            .iter()
            .filter(|k| k.public_key.len() == 32)
            .collect();
        let methods: Vec<Value> = keys
            .iter()
            .map(|k| {
                let mut bytes = vec![0xed, 0x01];
                bytes.extend_from_slice(&k.public_key);
                json!({
                    "id": format!("{did}#{}", k.kid),
                    "type": "Multikey",
                    "controller": did,
                    "publicKeyMultibase": format!("z{}", bs58::encode(bytes).into_string()),
                })
            })
            .collect();
        let ids: Vec<String> = keys.iter().map(|k| format!("{did}#{}", k.kid)).collect();
        json!({
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": did,
            "verificationMethod": methods,
            "assertionMethod": ids,
        })
    }

    fn signed_rdfc(&self, unsecured: &Value) -> Result<(Value, String)> {
        let method = format!("{}#{}", self.did(), self.inner.keys.active_kid);
        let created = tica_credential::micros_rfc3339(tica_storage::now_micros());
        let options = tica_credential::ProofOptions {
            created,
            verification_method: method.clone(),
            proof_purpose: "assertionMethod".into(),
        };
        let secured = tica_credential::sign_with(
            tica_credential::Suite::Rdfc,
            unsecured,
            &options,
            &self.inner.keys.active,
        )
        .map_err(internal)?;
        Ok((secured, method))
    }

    /// The certificate as an Open Badges 3.0 credential signed with `eddsa-rdfc-2022` by the
    /// active key (`did:web:…#kid`), its `credentialStatus` a position in the status list
    /// (assigned now if it has none). JSON and the verification method.
    pub async fn open_badge(&self, record: &CertificateRecord) -> Result<(String, String)> {
        let f = &record.doc.facts;
        let base = &self.inner.config.base_url;
        let index = store::status_list_index(self.db(), &record.id).await?;
        let list = format!("{base}{STATUS_LIST_PATH}");
        let (achievement_id, what) = match f.kind {
            Kind::MicroCompetency => (
                format!(
                    "{base}/achievements/{}/{}",
                    f.micro_competency,
                    grade_key(f.grade)
                ),
                format!(
                    "{} {}（{}）",
                    f.micro_competency,
                    f.micro_competency_display_name,
                    f.grade.zh()
                ),
            ),
            _ => (
                format!(
                    "{base}/achievements/{}/{}",
                    f.kind.key(),
                    grade_key(f.grade)
                ),
                format!("{}（{}）", f.title, f.grade.zh()),
            ),
        };
        let mut description = format!(
            "{what}。证书编号 Certificate number {}，{} {}，{}年度。",
            f.number, f.county_display_name, f.school_display_name, f.year
        );
        if f.credits > 0 {
            description.push_str(&format!("学分 Credits {}。", f.credits));
        }
        if f.counted_centihours > 0 {
            description.push_str(&format!(
                "学时 Hours {}。",
                f.counted_centihours as f64 / 100.0
            ));
        }
        description.push_str(&format!("证书 PDF SHA-256 {}", record.pdf_sha256));
        let unsecured = json!({
            "@context": [tica_credential::jsonld::VC_V2, tica_credential::jsonld::OB_V3],
            "id": record.doc.verification_url,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": f.title,
            "description": description,
            "issuer": {
                "id": self.did(),
                "type": ["Profile"],
                "name": f.issuing_authority,
                "url": base,
            },
            "validFrom": format!("{}T00:00:00+08:00", f.printed_date()),
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "name": f.teacher_display_name,
                "achievement": {
                    "id": achievement_id,
                    "type": ["Achievement"],
                    "achievementType": "Certificate",
                    "name": what,
                    "description": f.title,
                    "criteria": {
                        "narrative": "经县级教育行政部门组织的信息技术应用能力提升工程2.0微能力认证考核合格（《教育部关于实施全国中小学教师信息技术应用能力提升工程2.0的意见》）。Assessed and certified by the county education office under the national Teacher ICT Application Ability Improvement Project 2.0.",
                    },
                },
            },
            "credentialStatus": {
                "id": format!("{list}#{index}"),
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": index.to_string(),
                "statusListCredential": list,
            },
        });
        let (secured, method) = self.signed_rdfc(&unsecured)?;
        Ok((
            serde_json::to_string_pretty(&secured).expect("JSON serialises"),
            method,
        ))
    }

    /// The signed `BitstringStatusListCredential` (revocation) at [`STATUS_LIST_PATH`]: the bit
    /// of every revoked certificate that has a position is set, signed by the active key. The
    /// register is read on every request (a revocation on any replica shows at the next fetch),
    /// but the list is signed only when the revoked positions differ from those of the list
    /// last served: a public URL that canonicalized, compressed and signed on every hit would
    /// let any visitor spend the service's CPU at will.
    pub async fn status_list_credential(&self) -> Result<String> {
        let base = &self.inner.config.base_url;
        let revoked = store::revoked_status_indexes(self.db()).await?;
        if let Some((set, body)) = &*self.inner.status_list.lock().expect("status list")
            && *set == revoked
        {
            return Ok(body.clone());
        }
        let id = format!("{base}{STATUS_LIST_PATH}");
        let unsecured = json!({
            "@context": [tica_credential::jsonld::VC_V2],
            "id": id,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.did(),
            "validFrom": tica_credential::micros_rfc3339(tica_storage::now_micros()),
            "credentialSubject": {
                "id": format!("{id}#list"),
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": encode_status_list(&revoked),
            },
        });
        let (secured, _) = self.signed_rdfc(&unsecured)?;
        let body = serde_json::to_string_pretty(&secured).expect("JSON serialises");
        *self.inner.status_list.lock().expect("status list") = Some((revoked, body.clone()));
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_did_web_names_the_host_and_percent_encodes_a_port() {
        assert_eq!(
            did_web("https://verify.ahedu.gov.cn"),
            "did:web:verify.ahedu.gov.cn"
        );
        assert_eq!(
            did_web("http://127.0.0.1:8080/"),
            "did:web:127.0.0.1%3A8080"
        );
        assert_eq!(
            did_web("https://edu.example/tica/verify"),
            "did:web:edu.example:tica:verify"
        );
    }

    fn decode(list: &str) -> Vec<u8> {
        let gz = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(list.strip_prefix('u').unwrap())
            .unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_status_list_is_at_least_16_kb_and_sets_the_revoked_positions_from_the_left() {
        let bits = decode(&encode_status_list(&[0, 9, 131_071]));
        assert_eq!(bits.len(), 16 * 1024);
        assert_eq!(bits[0], 0b1000_0000);
        assert_eq!(bits[1], 0b0100_0000);
        assert_eq!(bits[16 * 1024 - 1], 0b0000_0001);
        assert_eq!(bits.iter().map(|b| b.count_ones()).sum::<u32>(), 3);
        assert!(decode(&encode_status_list(&[])).iter().all(|&b| b == 0));
        assert_eq!(decode(&encode_status_list(&[131_072])).len(), 32 * 1024);
    }
}
