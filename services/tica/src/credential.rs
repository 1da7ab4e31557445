//! `tica credential verify FILE.json`: checks a W3C Verifiable Credential's `eddsa-jcs-2022`
//! proof offline, as an HR office or an agency would — against the `did:key` in the proof, or
//! against TICA's published keys (`--keys`, the JWKS-style key set the certificate service
//! publishes). Exit status 0 and "valid" when it verifies; 1 and the reason when it does not.
//!
//! `tica verify --qr "<scanned text>"` checks a certificate's QR code the same way, offline:
//! the signature by a published key in force on the certificate's date, the issuer's address,
//! and — with the issuer's signed revocation list — whether it was revoked. Without a current
//! list it never says a plain VALID: "genuine, revocation not checked since …" (exit 4).

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Subcommand;
use serde_json::Value;

/// Offline credential tools.
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Verify a Verifiable Credential's eddsa-jcs-2022 or eddsa-rdfc-2022 proof.
    #[command(
        after_help = "Example (offline, with the keys and revocation list the issuer publishes):
  tica credential verify 证书.json --keys jwks.json --revocations revocations.jwt"
    )]
    Verify {
        /// The credential (JSON).
        file: PathBuf,
        /// Published keys (JWKS-style JSON: `{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid",
        /// "x"}]}`), matched by the fragment of the proof's verificationMethod.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// The issuer's signed revocation list (`/revocations`), for a credential whose
        /// `credentialStatus` points at one.
        #[arg(long)]
        revocations: Option<PathBuf>,
        /// The issuer's DID document (`/.well-known/did.json`), for an Open Badges export
        /// signed by `did:web:{host}#{kid}` (eddsa-rdfc-2022).
        #[arg(long)]
        did: Option<PathBuf>,
    },
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Arguments of `tica verify`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example, with the files the certificate service publishes:
  curl -o jwks.json https://verify.ahedu.gov.cn/.well-known/jwks.json
  curl -o revocations.jwt https://verify.ahedu.gov.cn/revocations
  tica verify --qr \"HTTPS://VERIFY.AHEDU.GOV.CN/C/…#…\" --keys jwks.json --revocations revocations.jwt

Exit status: 0 valid (genuine, and not revoked by a current revocation list); 1 not genuine;
3 revoked; 4 genuine but revocation not checked (no list, or the list expired); 2 usage."
)]
pub struct VerifyArgs {
    /// The text a phone camera reads from the certificate's QR code.
    #[arg(long)]
    pub qr: String,
    /// The issuer's published keys (`/.well-known/jwks.json`), matched by the payload's key id.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// The issuer's signed revocation list (`/revocations`); without a current one, a genuine
    /// certificate is reported as genuine with its revocation not checked.
    #[arg(long)]
    pub revocations: Option<PathBuf>,
    /// The issuer's base URL, when the key set does not name it (the address QR codes point at).
    #[arg(long)]
    pub issuer: Option<String>,
}

fn published_keys(
    path: Option<&Path>,
) -> anyhow::Result<std::collections::BTreeMap<String, ed25519_dalek::VerifyingKey>> {
    match path {
        Some(path) => tica_credential::keys_from_jwks(&read_json(path)?)
            .map_err(|e| anyhow!("{}: {e}", path.display())),
        None => Ok(Default::default()),
    }
}

/// What `tica verify` concludes; its exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offline {
    /// Genuine, and not revoked according to a current revocation list.
    Valid,
    /// Not genuine (or a file could not be read).
    NotGenuine,
    /// Usage: something needed was not given.
    Usage,
    /// Genuine, and revoked.
    Revoked,
    /// Genuine; revocation not checked (no list, or an expired one).
    Unchecked,
}

impl Offline {
    /// The process's exit status.
    pub fn exit_code(self) -> std::process::ExitCode {
        std::process::ExitCode::from(match self {
            Offline::Valid => 0,
            Offline::NotGenuine => 1,
            Offline::Usage => 2,
            Offline::Revoked => 3,
            Offline::Unchecked => 4,
        })
    }
}

/// The base URL a QR text points at, for messages.
fn base_of(qr: &str) -> String {
    tica_credential::qr::parse_qr(qr)
        .map(|s| s.base_url)
        .unwrap_or_else(|_| "https://<the address the QR code opens>".into())
}

fn when(seconds: i64) -> String {
    let micros = seconds.saturating_mul(1_000_000);
    let rfc = tica_credential::micros_rfc3339(micros);
    format!("{} UTC", rfc.trim_end_matches('Z').replace('T', " "))
}

/// The revocation list at `path`, verified against `keys`.
fn revocation_list(
    path: &Path,
    keys: &tica_credential::KeySet,
) -> anyhow::Result<tica_credential::revocation::RevocationList> {
    let token =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    tica_credential::revocation::RevocationList::verify(&token, keys).map_err(|e| {
        anyhow!(
            "{}: not a genuine revocation list of this issuer: {e}",
            path.display()
        )
    })
}

/// Verifies a certificate's QR text offline: the signature by a published key in force on the
/// certificate's date, the issuer's address, and — with a current revocation list — whether
/// it was revoked. Prints the verdict and the signed facts; the answer is the exit status.
pub fn run_verify(args: VerifyArgs) -> Offline {
    let Some(keys_path) = args.keys.as_deref() else {
        eprintln!(
            "tica verify needs the issuer's published keys to check a signature: download {}/.well-known/jwks.json and pass --keys FILE",
            base_of(&args.qr)
        );
        return Offline::Usage;
    };
    let keys = match read_json(keys_path).and_then(|json| {
        tica_credential::key_set_from_jwks(&json)
            .map_err(|e| anyhow!("{}: {e}", keys_path.display()))
    }) {
        Ok(keys) => keys,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Offline::Usage;
        }
    };
    let Some(issuer) = args.issuer.clone().or_else(|| keys.issuer.clone()) else {
        eprintln!(
            "{} does not name its issuer (key sets published since version 2 do): pass --issuer with the address the certificates' QR codes point at, e.g. --issuer {}",
            keys_path.display(),
            base_of(&args.qr)
        );
        return Offline::Usage;
    };
    // A payload signed with SM2 too (version 3) is genuine only when both signatures hold.
    let claims = match tica_credential::qr::verify_qr_with(
        &args.qr,
        Some(&issuer),
        &|kid| keys.get(kid),
        &|kid| keys.get_sm2(kid),
    ) {
        Ok(claims) => claims,
        Err(error) => {
            println!("无法验证 NOT GENUINE: {error}");
            return Offline::NotGenuine;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let list = match args
        .revocations
        .as_deref()
        .map(|p| revocation_list(p, &keys))
        .transpose()
    {
        Ok(list) => list,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Offline::Usage;
        }
    };
    let outcome = match &list {
        Some(list) if list.revokes(&claims.id) => {
            println!(
                "已撤销 REVOKED — 撤销列表（{}）列出此证书 the revocation list of {} lists this certificate",
                when(list.issued_at),
                when(list.issued_at)
            );
            Offline::Revoked
        }
        Some(list) if list.is_current(now) => {
            println!(
                "有效 VALID — 签名真实，撤销列表（{}，有效至 {}）未列出此证书 signature genuine; not revoked according to the revocation list of {} (current until {})",
                when(list.issued_at),
                when(list.expires_at),
                when(list.issued_at),
                when(list.expires_at)
            );
            Offline::Valid
        }
        Some(list) => {
            println!(
                "签名真实，未核对撤销状态 GENUINE — REVOCATION NOT CHECKED since {}: 撤销列表已于 {} 过期 the revocation list expired at {}; download a new one from {issuer}/revocations",
                when(list.issued_at),
                when(list.expires_at),
                when(list.expires_at)
            );
            Offline::Unchecked
        }
        None => {
            println!(
                "签名真实，未核对撤销状态 GENUINE — REVOCATION NOT CHECKED: 没有撤销列表 no revocation list given; download {issuer}/revocations and pass --revocations FILE"
            );
            Offline::Unchecked
        }
    };
    for (label, value) in [
        ("姓名 name", &claims.name),
        ("身份证号 ID", &claims.id_masked),
        ("学校 school", &claims.school),
        ("微能力 competency", &claims.competency),
        ("等级 grade", &claims.grade),
        ("发证机关 issuer", &claims.issuer),
        ("签发日期 signed", &claims.issued),
        ("证书编号 number", &claims.number),
        ("密钥 key", &claims.kid),
    ] {
        println!("  {label}: {value}");
    }
    if let Some(sm2_kid) = args
        .qr
        .split_once('#')
        .and_then(|_| tica_credential::qr::parse_qr(&args.qr).ok())
        .and_then(|scanned| tica_credential::qr::sm2_kid(&scanned.protected))
    {
        println!("  SM2 密钥 SM2 key: {sm2_kid}");
    }
    outcome
}

/// Runs a credential command, printing the verdict; the answer is the exit status (as
/// [`run_verify`]'s).
pub fn run(command: CredentialCommand) -> Offline {
    match command {
        CredentialCommand::Verify {
            file,
            keys,
            revocations,
            did,
        } => {
            let credential = match read_json(&file) {
                Ok(credential) => credential,
                Err(error) => {
                    println!("not valid: {error:#}");
                    return Offline::NotGenuine;
                }
            };
            let read = Ok::<_, anyhow::Error>(credential).and_then(|credential| {
                let published = published_keys(keys.as_deref())?;
                let set = match keys.as_deref() {
                    Some(path) => tica_credential::key_set_from_jwks(&read_json(path)?)
                        .map_err(|e| anyhow!("{}: {e}", path.display()))?,
                    None => tica_credential::KeySet::default(),
                };
                let methods = match did.as_deref() {
                    Some(path) => tica_credential::keys_from_did_document(&read_json(path)?)
                        .map_err(|e| anyhow!("{}: {e}", path.display()))?,
                    None => Default::default(),
                };
                Ok((credential, published, set, methods))
            });
            let (credential, published, set, methods) = match read {
                Ok(read) => read,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    return Offline::Usage;
                }
            };
            let resolve = |method: &str| {
                if method.starts_with("did:web:") {
                    return methods.get(method).copied();
                }
                method
                    .rsplit_once('#')
                    .and_then(|(_, kid)| published.get(kid).copied())
            };
            let verified = match tica_credential::verify(&credential, &resolve) {
                Ok(verified) => verified,
                Err(error) => {
                    println!("not valid: {error}");
                    return Offline::NotGenuine;
                }
            };
            // A published key signs only within its span.
            let kid = verified
                .verification_method
                .rsplit_once('#')
                .map(|(_, k)| k);
            if let (Some(key), Some(created)) = (
                kid.and_then(|k| set.get(k)),
                tica_credential::rfc3339_micros(&verified.created),
            ) && !key.in_force_on(&tica_credential::qr::china_date(created))
            {
                println!(
                    "not valid: key {} was not in force when the proof says it signed ({})",
                    kid.unwrap_or_default(),
                    verified.created
                );
                return Offline::NotGenuine;
            }
            println!(
                "valid: signed by {} on {}",
                verified.verification_method, verified.created
            );
            let status = credential.get("credentialStatus");
            let entry = status
                .filter(|s| {
                    s.get("type").and_then(Value::as_str)
                        == Some(tica_credential::revocation::STATUS_TYPE)
                })
                .and_then(|s| s.get("revocationEntry").and_then(Value::as_str))
                .and_then(|hex| hex::decode(hex).ok())
                .and_then(|bytes| <[u8; 12]>::try_from(bytes).ok());
            match (status, entry, revocations) {
                (None, _, _) => Offline::Valid,
                (Some(_), None, _) => {
                    println!(
                        "revocation not checked: the credentialStatus is not one this tool reads"
                    );
                    Offline::Unchecked
                }
                (Some(_), Some(_), None) => {
                    println!(
                        "revocation not checked: no revocation list given (--revocations, from the issuer's /revocations)"
                    );
                    Offline::Unchecked
                }
                (Some(_), Some(entry), Some(path)) => match revocation_list(&path, &set) {
                    Err(error) => {
                        eprintln!("error: {error:#}");
                        Offline::Usage
                    }
                    Ok(list) if list.lists(&entry) => {
                        println!(
                            "revoked: the revocation list of {} lists it",
                            when(list.issued_at)
                        );
                        Offline::Revoked
                    }
                    Ok(list) => {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs() as i64);
                        if list.is_current(now) {
                            println!(
                                "not revoked according to the revocation list of {} (current until {})",
                                when(list.issued_at),
                                when(list.expires_at)
                            );
                            Offline::Valid
                        } else {
                            println!(
                                "revocation not checked since {}: the revocation list expired at {}",
                                when(list.issued_at),
                                when(list.expires_at)
                            );
                            Offline::Unchecked
                        }
                    }
                },
            }
        }
    }
}
