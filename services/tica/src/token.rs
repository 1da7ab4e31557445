//! `tica token`: development tokens signed with the embedded default's key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tica_auth::{KeyPair, Role, TokenSigner, read_signing_key, write_key_pair};
use tica_domain::division::DivisionCode;

/// The file stem of the development token key under `{data_dir}/keys`.
pub const KEY_STEM: &str = "token-signing";

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a bearer token for a role acting for a jurisdiction (and school).
    #[command(after_help = "Example (against `tica serve`'s development key):
  export TICA_TOKEN=$(tica token mint --role county_office --jurisdiction 341324)
  tica token mint --role teacher --jurisdiction 341324 --school 3413240001 --subject 34132400010001 --ttl 30m")]
    Mint(MintArgs),
}

/// Arguments of `tica token mint`.
#[derive(Debug, Args)]
pub struct MintArgs {
    /// teacher, school_admin, assessor, county_office, city_office, province_office, or
    /// training_provider (its subject is the provider id; it pushes and reads its own hours).
    #[arg(long)]
    pub role: Role,
    /// GB/T 2260 code of the jurisdiction acted for (a school's county for school roles).
    #[arg(long)]
    pub jurisdiction: DivisionCode,
    /// School code, for school roles.
    #[arg(long)]
    pub school: Option<String>,
    /// The token's subject (a user id; for a teacher, their teacher number).
    #[arg(long, default_value = "dev-user")]
    pub subject: String,
    /// Lifetime, e.g. 30m, 8h, 7d.
    #[arg(long, default_value = "8h", value_parser = parse_duration)]
    pub ttl: Duration,
    /// Where `tica serve` keeps its data (the key is in `keys/`).
    #[arg(long, env = "TICA_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// Parses `90s`, `30m`, `8h`, `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.trim().split_at(
        text.trim()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.trim().len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 8h"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" | "" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(n * seconds))
}

/// The development signing key under `{data_dir}/keys`, created on first use.
pub fn dev_key(data_dir: &Path) -> anyhow::Result<KeyPair> {
    let keys = data_dir.join("keys");
    let path = keys.join(format!("{KEY_STEM}.pem"));
    if path.exists() {
        return read_signing_key(&path).with_context(|| format!("reading {}", path.display()));
    }
    let pair = KeyPair::generate();
    write_key_pair(&keys, KEY_STEM, &pair)
        .with_context(|| format!("writing {}", keys.display()))?;
    Ok(pair)
}

/// Runs a token command.
pub fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Mint(args) => {
            if !args
                .data_dir
                .join("keys")
                .join(format!("{KEY_STEM}.pem"))
                .exists()
            {
                bail!(
                    "no development key in {}: run `tica serve` once (it creates one), or pass --data-dir",
                    args.data_dir.join("keys").display()
                );
            }
            let pair = dev_key(&args.data_dir)?;
            let token = TokenSigner::new(&pair)
                .mint(
                    &args.subject,
                    args.role,
                    args.jurisdiction,
                    args.school.as_deref(),
                    args.ttl,
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{token}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_the_way_people_write_them() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("8h").unwrap(), Duration::from_secs(8 * 3600));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5w").is_err());
    }
}
