//! `tica credential verify FILE.json`: checks a W3C Verifiable Credential's `eddsa-jcs-2022`
//! proof offline, as an HR office or an agency would — against the `did:key` in the proof, or
//! against TICA's published keys (`--keys`, the JWKS-style key set the certificate service
//! publishes). Exit status 0 and "valid" when it verifies; 1 and the reason when it does not.

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

/// Runs a credential command; an invalid credential is an error whose message says why.
pub fn run(command: CredentialCommand) -> anyhow::Result<()> {
    match command {
        CredentialCommand::Verify { file, keys } => {
            let credential = read_json(&file)?;
            let published = match keys {
                Some(path) => tica_credential::keys_from_jwks(&read_json(&path)?)
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?,
                None => Default::default(),
            };
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
