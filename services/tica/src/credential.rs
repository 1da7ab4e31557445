//! `tica credential verify FILE.json`: checks a W3C Verifiable Credential's `eddsa-jcs-2022`
//! proof offline, as an HR office or an agency would — against the `did:key` in the proof, or
//! against TICA's published keys (`--keys`, the JWKS-style key set the certificate service
//! publishes). Exit status 0 and "valid" when it verifies; 1 and the reason when it does not.
//!
//! `tica verify --qr "<scanned text>"` checks a certificate's QR code the same way, offline.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Subcommand;
use serde_json::Value;

/// Offline credential tools.
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Verify a Verifiable Credential's eddsa-jcs-2022 proof.
    Verify {
        /// The credential (JSON).
        file: PathBuf,
        /// Published keys (JWKS-style JSON: `{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid",
        /// "x"}]}`), matched by the fragment of the proof's verificationMethod.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Arguments of `tica verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The text a phone camera reads from the certificate's QR code.
    #[arg(long)]
    pub qr: String,
    /// Published keys (JWKS-style JSON), matched by the payload's key id.
    #[arg(long)]
    pub keys: Option<PathBuf>,
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

/// Verifies a certificate's QR text; a certificate that is not genuine is an error saying why.
pub fn run_verify(args: VerifyArgs) -> anyhow::Result<()> {
    let keys = published_keys(args.keys.as_deref())?;
    let claims = tica_credential::qr::verify_qr(&args.qr, None, &|kid| {
        keys.get(kid)
            .copied()
            .map(tica_credential::qr::PublishedKey::unbounded)
    })
    .map_err(|e| anyhow!("无法验证 NOT GENUINE: {e}"))?;
    println!("有效 VALID");
    for (label, value) in [
        ("姓名 name", &claims.name),
        ("身份证号 ID", &claims.id_masked),
        ("学校 school", &claims.school),
        ("微能力 competency", &claims.competency),
        ("等级 grade", &claims.grade),
        ("发证机关 issuer", &claims.issuer),
        ("发证日期 issued", &claims.issued),
        ("证书编号 number", &claims.number),
        ("密钥 key", &claims.kid),
    ] {
        println!("  {label}: {value}");
    }
    Ok(())
}

/// Runs a credential command; an invalid credential is an error whose message says why.
pub fn run(command: CredentialCommand) -> anyhow::Result<()> {
    match command {
        CredentialCommand::Verify { file, keys } => {
            let credential = read_json(&file)?;
            let published = published_keys(keys.as_deref())?;
            let resolve = |method: &str| {
                method
                    .rsplit_once('#')
                    .and_then(|(_, kid)| published.get(kid).copied())
            };
            let verified = tica_credential::verify(&credential, &resolve)
                .map_err(|e| anyhow!("not valid: {e}"))?;
            println!(
                "valid: signed by {} on {}",
                verified.verification_method, verified.created
            );
            Ok(())
        }
    }
}
