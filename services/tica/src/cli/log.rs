//! `tica log witness`: an outside witness of an installation's transparency log (issue 18 §5).
//!
//! The certificate service appends every issue and revocation to an RFC 9162 log and signs a
//! checkpoint (origin, size, root) after every commit. A log that shows one history to one
//! reader and another to the next (a *fork*), or that quietly drops entries, betrays itself
//! only to someone who remembers what it said before. The witness is that someone: it keeps,
//! per installation (by the log's origin), the last checkpoint it accepted, as the C2SP signed
//! note the server served, and on every run
//!
//! 1. fetches the latest checkpoint (GetLogCheckpoint) and verifies its signed note against a
//!    pinned key (`--key`, `--keys`, or pinned in the state on the first run, loudly);
//! 2. if it holds an earlier checkpoint of the same origin: the same size must have the same
//!    root, a smaller size is refused, and a larger one must come with a consistency proof
//!    (GetConsistencyProof) from the earlier tree that verifies (RFC 9162 §2.1.4.2);
//! 3. stores the new checkpoint (a temporary file renamed over the state) and prints one line.
//!
//! Anything else — a fork, a shrunk log, a signature no pinned key made, a server that switches
//! logs — exits with [`EXIT_REFUSED`], prints both checkpoints and leaves the state untouched.
//! It calls public methods only (no token), so any office, or anyone, can run it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tica_credential::merkle::{self, Hash};
use tica_credential::note::{self, NoteError, VerifierKey};
use tica_proto::tica::certificate::v1 as pb;

/// Exit status when the log misbehaved (fork, shrink, bad or untrusted signature): distinct from
/// 1 (the witness could not run: network, files, arguments) so cron and monitoring tell them
/// apart.
pub const EXIT_REFUSED: u8 = 3;

/// Log commands.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Witness an installation's certificate log: verify its latest signed checkpoint, check it
    /// extends the one seen last time (consistency proof), and remember it. Fails loudly, with
    /// exit status 3 and both checkpoints printed, on a fork.
    #[command(after_help = WITNESS_HELP)]
    Witness(WitnessArgs),
}

const WITNESS_HELP: &str = "\
Uses the certificate service's public methods only (GetLogCheckpoint, GetConsistencyProof,
ListSigningKeys; no token), so any office can witness any installation — a city or province
office above a county, or another province. Run it regularly (e.g. from cron) and keep the
state file: it is the witness's memory, one entry per log origin.

Keys: the checkpoint must be signed by a pinned key. Give the installation's verifier key
(`GET https://<verification host>/log/key`, checked out of band) with --key, or its published
key set (`/.well-known/jwks.json`, downloaded) with --keys. Without either, the first run pins
the keys the server lists and says so loudly; compare them then.

Exit status: 0 witnessed (one line on stdout); 1 could not witness (unreachable, bad
arguments, unreadable state); 3 the log misbehaved (fork, shrunk log, unpinned or bad
signature): both checkpoints are printed on stderr and the state file is left as it was.

Example (a province office witnessing 泗县's installation every ten minutes):
  curl -s https://verify.sixian.example.gov.cn/log/key
  tica log witness --server https://grpc.verify.sixian.example.gov.cn --tls-ca gateway-ca.pem \\
      --state /var/lib/tica-witness/state.json \\
      --key 'verify.sixian.example.gov.cn/certificates+1a2b3c4d+AX…'
  # crontab: */10 * * * * tica log witness --server … --state … || mail -s 'TICA log' …";

/// Arguments of `tica log witness`.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The certificate service's gRPC endpoint; `https://` needs --tls-ca.
    #[arg(long, env = "TICA_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// For an `https://` server: the PEM CA that signs its certificate (e.g. the province
    /// gateway's). The checkpoints are signed either way; TLS only keeps the connection private.
    #[arg(long, env = "TICA_TLS_CA", value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// The witness's state file (JSON; created on the first run; holds several installations,
    /// keyed by log origin). Written only after a checkpoint is accepted.
    #[arg(long)]
    pub state: PathBuf,
    /// A verifier key to trust, `{origin}+{key id}+{base64 key}` as `GET /log/key` lists them
    /// (repeat for several). Added to the keys pinned in the state.
    #[arg(long = "key", value_name = "VERIFIER_KEY")]
    pub key: Vec<String>,
    /// The installation's published key set (`/.well-known/jwks.json`, a downloaded file):
    /// every Ed25519 key in it (and every SM2 key of an installation that signs with SM2 too),
    /// named by the log's origin, is trusted and pinned.
    #[arg(long = "keys", value_name = "JWKS_FILE")]
    pub keys: Option<PathBuf>,
}

/// Runs a log command; its exit status.
pub async fn run(command: LogCommand) -> ExitCode {
    match command {
        LogCommand::Witness(args) => match witness(&args).await {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(Failure::Refused(message)) => {
                eprintln!("{message}");
                ExitCode::from(EXIT_REFUSED)
            }
            Err(Failure::Error(error)) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Why a run did not accept a checkpoint.
#[derive(Debug)]
pub enum Failure {
    /// The log misbehaved: the message names what was seen before and what was presented.
    Refused(String),
    /// The witness could not do its work (network, files, arguments).
    Error(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::Error(error)
    }
}

/// The state file: what the witness remembers, per log origin.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct State {
    /// By origin.
    pub logs: BTreeMap<String, Witnessed>,
}

/// What the witness remembers of one log.
#[derive(Debug, Clone, PartialEq)]
pub struct Witnessed {
    /// The gRPC endpoint it was last witnessed at.
    pub server: String,
    /// The pinned verifier keys.
    pub keys: Vec<String>,
    /// The last accepted checkpoint, as the signed note the server served.
    pub checkpoint: String,
    /// When it was accepted (RFC 3339).
    pub witnessed_at: String,
}

const STATE_FORMAT: &str = "tica-log-witness/v1";

impl State {
    /// Reads the state at `path`; an absent file is an empty state.
    pub fn read(path: &Path) -> anyhow::Result<State> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let broken = |why: &str| {
            anyhow!(
                "{} is not a witness state file ({why}); it is left as it is",
                path.display()
            )
        };
        let value: Value = serde_json::from_str(&text).map_err(|_| broken("not JSON"))?;
        if value["format"] != STATE_FORMAT {
            return Err(broken(&format!("no \"format\": \"{STATE_FORMAT}\"")));
        }
        let mut state = State::default();
        for (origin, log) in value["logs"]
            .as_object()
            .ok_or_else(|| broken("no \"logs\" object"))?
        {
            let text = |key: &str| {
                log[key]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| broken(&format!("log {origin}: no \"{key}\"")))
            };
            let keys = log["keys"]
                .as_array()
                .ok_or_else(|| broken(&format!("log {origin}: no \"keys\"")))?
                .iter()
                .map(|k| k.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| broken(&format!("log {origin}: a key is not a string")))?;
            state.logs.insert(
                origin.clone(),
                Witnessed {
                    server: text("server")?,
                    keys,
                    checkpoint: text("checkpoint")?,
                    witnessed_at: text("witnessed_at")?,
                },
            );
        }
        Ok(state)
    }

    /// Writes the state to `path` atomically: a temporary file beside it, flushed, then renamed
    /// over it, so a crash leaves the old state or the new one, never half of one.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let logs: serde_json::Map<String, Value> = self
            .logs
            .iter()
            .map(|(origin, w)| {
                (
                    origin.clone(),
                    json!({
                        "server": w.server,
                        "keys": w.keys,
                        "checkpoint": w.checkpoint,
                        "witnessed_at": w.witnessed_at,
                    }),
                )
            })
            .collect();
        let text = serde_json::to_string_pretty(&json!({ "format": STATE_FORMAT, "logs": logs }))?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| anyhow!("--state {} names no file", path.display()))?;
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let written = (|| -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&temp, path)?;
            // The rename itself is durable once the directory is.
            if let Ok(dir) = std::fs::File::open(&dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
        Ok(())
    }
}

/// A checkpoint read from its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint in a signed note's text, without verifying a signature.
    pub fn of_note(signed: &str) -> Result<Checkpoint, String> {
        let parsed = note::parse(signed.as_bytes()).map_err(|e| e.to_string())?;
        Checkpoint::of_text(&parsed.text)
    }

    fn of_text(text: &str) -> Result<Checkpoint, String> {
        let (origin, size, root) =
            merkle::parse_checkpoint_note(text).map_err(|e| e.to_string())?;
        Ok(Checkpoint { origin, size, root })
    }

    /// `size N, root B64`.
    pub fn describe(&self) -> String {
        let root = merkle::checkpoint_note(&self.origin, self.size, &self.root);
        let b64 = root.lines().nth(2).unwrap_or_default().to_owned();
        format!("size {}, root {b64}", self.size)
    }
}

/// What the server presented in one run.
#[derive(Debug, Clone)]
pub struct Presented {
    /// The signed note.
    pub signed_note: String,
    /// The checkpoint's proto fields, which must agree with the note.
    pub tree_size: i64,
    /// The root the proto carries.
    pub root_hash: Vec<u8>,
}

/// The decision on a presented checkpoint against what was seen before: Ok with the verified
/// checkpoint, or the refusal's reason (one line, no checkpoints: the caller prints them).
/// `proof` fetches a consistency proof `(first, second)` and the root it was made against; it
/// is called only when the log grew.
pub async fn judge<F, Fut>(
    seen: Option<&Checkpoint>,
    presented: &Presented,
    trusted: &[VerifierKey],
    proof: F,
) -> Result<(Checkpoint, Judgement), Judged>
where
    F: FnOnce(u64, u64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Vec<Vec<u8>>, Vec<u8>)>>,
{
    let opened = note::open(presented.signed_note.as_bytes(), trusted).map_err(|e| {
        Judged::Refused(match e {
            NoteError::Untrusted { signers } => format!(
                "no pinned key signed it (it names {}): either the installation rotated its log key \
                 — check the new key out of band and pass it with --key — or someone else is \
                 signing for this log",
                if signers.is_empty() {
                    "no signer".to_owned()
                } else {
                    signers.join(", ")
                }
            ),
            NoteError::BadSignature { name, key_id } => format!(
                "its signature by the pinned key {name}+{key_id:08x} does not verify: the checkpoint \
                 was altered or forged"
            ),
            other => format!("it is not a valid signed note: {other}"),
        })
    })?;
    let now = Checkpoint::of_text(&opened.text)
        .map_err(|e| Judged::Refused(format!("its signed text is not a checkpoint: {e}")))?;
    if presented.tree_size != now.size as i64 || presented.root_hash != now.root {
        return Err(Judged::Refused(
            "the checkpoint's fields (tree_size, root_hash) disagree with its signed note".into(),
        ));
    }
    let Some(seen) = seen else {
        return Ok((now, Judgement::First));
    };
    if now.origin != seen.origin {
        return Err(Judged::Refused(format!(
            "it is a checkpoint of the log {}, not of {}",
            now.origin, seen.origin
        )));
    }
    if now.size < seen.size {
        return Err(Judged::Fork(format!(
            "the log shrank: it presents {} entries after this witness saw {}; signed entries \
             were removed (a restored backup or a rewritten database)",
            now.size, seen.size
        )));
    }
    if now.size == seen.size {
        return if now.root == seen.root {
            Ok((now, Judgement::Unchanged))
        } else {
            Err(Judged::Fork(format!(
                "two different trees of {} entries were signed: the log was rewritten",
                now.size
            )))
        };
    }
    let (hashes, proved_root) = proof(seen.size, now.size)
        .await
        .map_err(|e| Judged::Error(e.context("could not get a consistency proof")))?;
    if proved_root != now.root {
        return Err(Judged::Fork(format!(
            "the consistency proof to size {} was made against another root than the checkpoint's",
            now.size
        )));
    }
    let hashes: Vec<Hash> = hashes
        .into_iter()
        .map(|h| Hash::try_from(h.as_slice()))
        .collect::<Result<_, _>>()
        .map_err(|_| {
            Judged::Fork("the consistency proof holds a hash that is not 32 bytes".into())
        })?;
    merkle::verify_consistency(seen.size, now.size, &seen.root, &now.root, &hashes).map_err(
        |e| {
            Judged::Fork(format!(
                "the tree of {} entries is not an extension of the tree of {} this witness saw \
                 (the consistency proof fails: {e}): the log was rewritten",
                now.size, seen.size
            ))
        },
    )?;
    Ok((now, Judgement::Extended { from: seen.size }))
}

/// How an accepted checkpoint relates to the one seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// The first checkpoint of this log the witness sees.
    First,
    /// The same checkpoint as last time.
    Unchanged,
    /// A larger tree proved to extend the one seen at `from` entries.
    Extended {
        /// The earlier size.
        from: u64,
    },
}

/// Why a presented checkpoint was not accepted.
#[derive(Debug)]
pub enum Judged {
    /// The log forked or shrank.
    Fork(String),
    /// The checkpoint is not one to believe (signature, form).
    Refused(String),
    /// The witness could not check it.
    Error(anyhow::Error),
}

/// The trusted keys of `origin`: the pinned ones, `--key`s, and the `--keys` set's keys named by
/// the origin; without any, None.
fn trusted_keys(
    args: &WitnessArgs,
    origin: &str,
    pinned: &[String],
) -> anyhow::Result<Vec<VerifierKey>> {
    let mut keys: Vec<VerifierKey> = Vec::new();
    let mut add = |key: VerifierKey| {
        if !keys.contains(&key) {
            keys.push(key);
        }
    };
    for text in pinned {
        add(VerifierKey::parse(text).with_context(|| format!("the state's pinned key {text:?}"))?);
    }
    for text in &args.key {
        let key = VerifierKey::parse(text.trim()).with_context(|| format!("--key {text:?}"))?;
        if key.name() != origin {
            eprintln!(
                "warning: --key {} names the log {}, but the server's log is {origin}",
                key,
                key.name()
            );
        }
        add(key);
    }
    if let Some(path) = &args.keys {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --keys {}", path.display()))?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|_| anyhow!("--keys {} is not JSON (a JWKS document)", path.display()))?;
        let set = tica_credential::key_set_from_jwks(&json)
            .map_err(|e| anyhow!("--keys {}: {e}", path.display()))?;
        for published in set.keys.values() {
            add(VerifierKey::ed25519(origin, &published.key)?);
        }
        // An installation that signs with SM2 too signs its checkpoints with it as well.
        for published in set.sm2.values() {
            add(VerifierKey::sm2(origin, &published.key)?);
        }
    }
    Ok(keys)
}

/// The keys the server lists (ListSigningKeys), as verifier keys of `origin`.
async fn listed_keys(
    client: &mut tica_client::Certificate,
    origin: &str,
) -> anyhow::Result<Vec<VerifierKey>> {
    let listed = client
        .list_signing_keys(pb::ListSigningKeysRequest {})
        .await
        .map_err(|s| anyhow!("ListSigningKeys failed: {}", s.message()))?
        .into_inner();
    listed
        .signing_keys
        .iter()
        .map(|k| {
            if k.algorithm == tica_credential::gm::ALGORITHM {
                let public = tica_credential::gm::Sm2PublicKey::from_sec1(&k.public_key)
                    .ok_or_else(|| anyhow!("the server lists key {} with no SM2 key", k.key_id))?;
                return Ok(VerifierKey::sm2(origin, &public)?);
            }
            let public = <[u8; 32]>::try_from(k.public_key.as_slice())
                .ok()
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| anyhow!("the server lists key {} with no Ed25519 key", k.key_id))?;
            Ok(VerifierKey::ed25519(origin, &public)?)
        })
        .collect()
}

/// The loud message of a refusal: what, where, both checkpoints, and that the state is kept.
fn refusal(
    headline: &str,
    why: &str,
    server: &str,
    state_path: &Path,
    seen: Option<(&Witnessed, &Checkpoint)>,
    presented: &str,
    presented_checkpoint: Option<&Checkpoint>,
) -> String {
    let mut out = format!(
        "\n!!! {headline} !!!\n\
         log server:      {server}\n\
         why:             {why}\n"
    );
    if let Some((w, c)) = seen {
        out.push_str(&format!(
            "seen before:     {} {} (accepted {} from {})\n",
            c.origin,
            c.describe(),
            w.witnessed_at,
            w.server
        ));
    }
    match presented_checkpoint {
        Some(c) => out.push_str(&format!("presented now:   {} {}\n", c.origin, c.describe())),
        None => out.push_str("presented now:   (not a readable checkpoint)\n"),
    }
    out.push_str(&format!(
        "The witness state {} is unchanged. Keep both signed checkpoints below as evidence and \
         report them to the office that runs the installation and to the province.\n",
        state_path.display()
    ));
    if let Some((w, _)) = seen {
        out.push_str("--- seen before (signed note) ---\n");
        out.push_str(&w.checkpoint);
    }
    out.push_str("--- presented now (signed note) ---\n");
    out.push_str(presented);
    if !presented.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("---");
    out
}

/// A channel to `--server`: plaintext for `http://`, TLS verified against `--tls-ca` for
/// `https://`.
async fn connect(args: &WitnessArgs) -> anyhow::Result<tonic::transport::Channel> {
    if !args.server.starts_with("https://") {
        return crate::cli::Connection {
            server: args.server.clone(),
            token: None,
        }
        .channel()
        .await;
    }
    let ca = match &args.tls_ca {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("cannot read --tls-ca {}", path.display()))?,
        ),
        None => None,
    };
    let endpoint = tica_server::tls::Tls::from_pem(None, None, ca)?
        .endpoint(&args.server)?
        .connect_timeout(std::time::Duration::from_secs(5));
    endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach {}", args.server))
}

/// One witness run: the line to print, or why not.
pub async fn witness(args: &WitnessArgs) -> Result<String, Failure> {
    let mut state = State::read(&args.state)?;
    let channel = connect(args).await?;
    // Public methods only: no token.
    let mut client = tica_client::certificate(channel, "");

    let served_by_this_server = state
        .logs
        .iter()
        .find(|(_, w)| w.server == args.server)
        .map(|(origin, w)| (origin.clone(), w.clone()));
    let checkpoint = match client
        .get_log_checkpoint(pb::GetLogCheckpointRequest { tree_size: 0 })
        .await
    {
        Ok(answer) => answer.into_inner(),
        Err(status) if status.code() == tonic::Code::FailedPrecondition => {
            return match served_by_this_server {
                Some((origin, w)) => {
                    let seen = Checkpoint::of_note(&w.checkpoint).map_err(|e| {
                        anyhow!("the state's checkpoint of {origin} does not read: {e}")
                    })?;
                    Err(Failure::Refused(refusal(
                        "FORK: THE LOG WAS EMPTIED",
                        &format!(
                            "the server says its log is empty ({}), after this witness saw {} entries",
                            status.message(),
                            seen.size
                        ),
                        &args.server,
                        &args.state,
                        Some((&w, &seen)),
                        "(none: the log is empty)",
                        None,
                    )))
                }
                None => Ok(format!(
                    "{}: the log is empty; nothing to witness yet (state not written)",
                    args.server
                )),
            };
        }
        Err(status) => {
            return Err(anyhow!(
                "GetLogCheckpoint at {} failed: {} [{}]",
                args.server,
                status.message(),
                tica_server::http_errors::code_name(status.code())
            )
            .into());
        }
    };
    if checkpoint.signed_note.is_empty() {
        return Err(anyhow!(
            "{} serves no signed note with its checkpoint (a TICA from before signed notes, or \
             a checkpoint whose key is no longer published)",
            args.server
        )
        .into());
    }
    let presented = Presented {
        signed_note: checkpoint.signed_note.clone(),
        tree_size: checkpoint.tree_size,
        root_hash: checkpoint.root_hash.clone(),
    };
    // The origin, read before any signature is checked, only chooses which keys must have signed.
    let claimed = match Checkpoint::of_note(&presented.signed_note) {
        Ok(c) => c,
        Err(e) => {
            return Err(Failure::Refused(refusal(
                "REFUSED: NOT A CHECKPOINT",
                &format!("the server's signed note does not read: {e}"),
                &args.server,
                &args.state,
                None,
                &presented.signed_note,
                None,
            )));
        }
    };
    let origin = claimed.origin.clone();
    if let Some((other, w)) = &served_by_this_server
        && other != &origin
    {
        let seen = Checkpoint::of_note(&w.checkpoint).ok();
        return Err(Failure::Refused(refusal(
            "REFUSED: THE SERVER SWITCHED LOGS",
            &format!(
                "{} was witnessed serving the log {other}; it now presents the log {origin}",
                args.server
            ),
            &args.server,
            &args.state,
            seen.as_ref().map(|c| (w, c)),
            &presented.signed_note,
            Some(&claimed),
        )));
    }
    let previous = state.logs.get(&origin).cloned();
    let seen = match &previous {
        Some(w) => Some(Checkpoint::of_note(&w.checkpoint).map_err(|e| {
            anyhow!(
                "the state's checkpoint of {origin} in {} does not read: {e}",
                args.state.display()
            )
        })?),
        None => None,
    };
    let pinned = previous
        .as_ref()
        .map(|w| w.keys.clone())
        .unwrap_or_default();
    let mut trusted = trusted_keys(args, &origin, &pinned)?;
    let mut pinned_now = Vec::new();
    if trusted.is_empty() {
        trusted = listed_keys(&mut client, &origin).await?;
        pinned_now = trusted.clone();
        eprintln!(
            "\n*** FIRST WITNESS OF {origin}: NO KEY WAS GIVEN ***\n\
             Pinning the {} key(s) the server itself lists (ListSigningKeys):",
            trusted.len()
        );
        for key in &trusted {
            eprintln!("  {key}");
        }
        eprintln!(
            "This run proves nothing about them: compare them NOW with the installation's \
             published keys (https://<its verification host>/log/key, fetched from elsewhere, or \
             asked of its office). From now on a checkpoint no pinned key signed is refused.\n"
        );
    }

    let server = args.server.clone();
    let judged = judge(seen.as_ref(), &presented, &trusted, |first, second| {
        let mut client = client.clone();
        async move {
            let proof = client
                .get_consistency_proof(pb::GetConsistencyProofRequest {
                    first_tree_size: first as i64,
                    second_tree_size: second as i64,
                })
                .await
                .map_err(|s| {
                    anyhow!(
                        "GetConsistencyProof({first} → {second}) at {server} failed: {} [{}]",
                        s.message(),
                        tica_server::http_errors::code_name(s.code())
                    )
                })?
                .into_inner();
            let root = proof
                .checkpoint
                .map(|c| c.root_hash)
                .filter(|_| proof.first_tree_size == first as i64)
                .filter(|_| proof.second_tree_size == second as i64)
                .unwrap_or_default();
            Ok((proof.hashes, root))
        }
    })
    .await;
    let (now, judgement) = match judged {
        Ok(accepted) => accepted,
        Err(Judged::Error(e)) => return Err(Failure::Error(e)),
        Err(Judged::Fork(why)) => {
            return Err(Failure::Refused(refusal(
                "FORK DETECTED",
                &why,
                &args.server,
                &args.state,
                previous.as_ref().zip(seen.as_ref()),
                &presented.signed_note,
                Some(&claimed),
            )));
        }
        Err(Judged::Refused(why)) => {
            return Err(Failure::Refused(refusal(
                "REFUSED: CHECKPOINT NOT SIGNED BY A PINNED KEY",
                &why,
                &args.server,
                &args.state,
                previous.as_ref().zip(seen.as_ref()),
                &presented.signed_note,
                Some(&claimed),
            )));
        }
    };

    // Pin what was trusted for this log: the earlier pins, the keys given, the keys listed.
    let mut keys: Vec<String> = trusted
        .iter()
        .filter(|k| k.name() == origin)
        .map(|k| k.to_string())
        .collect();
    keys.dedup();
    let added = keys.iter().filter(|k| !pinned.contains(k)).count();
    state.logs.insert(
        origin.clone(),
        Witnessed {
            server: args.server.clone(),
            keys,
            checkpoint: presented.signed_note.clone(),
            witnessed_at: tica_credential::micros_rfc3339(tica_storage::now_micros()),
        },
    );
    state.write(&args.state)?;
    let how = match judgement {
        Judgement::First => format!(
            "first checkpoint of this log; {} key(s) pinned{}",
            added,
            if pinned_now.is_empty() {
                ""
            } else {
                " from the server's own list (compare them, see above)"
            }
        ),
        Judgement::Unchanged => "unchanged since the last run".to_owned(),
        Judgement::Extended { from } => format!("consistent with the {from} entries seen before"),
    };
    Ok(format!("witnessed {origin}: {}; {how}", now.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    const ORIGIN: &str = "verify.example.gov.cn/certificates";

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    fn signed(key: &SigningKey, size: u64, root: &Hash) -> Presented {
        let text = merkle::checkpoint_note(ORIGIN, size, root);
        let name = ORIGIN;
        let signature = note::NoteSignature {
            name: name.to_owned(),
            key_id: note::key_id(name, &key.verifying_key()),
            signature: key.sign(text.as_bytes()).to_bytes().to_vec(),
        };
        Presented {
            signed_note: note::encode(&text, &[signature]),
            tree_size: size as i64,
            root_hash: root.to_vec(),
        }
    }

    fn verifier(key: &SigningKey) -> VerifierKey {
        VerifierKey::ed25519(ORIGIN, &key.verifying_key()).unwrap()
    }

    async fn judge_tree(
        seen: Option<&Checkpoint>,
        presented: &Presented,
        trusted: &[VerifierKey],
        tree: &[Hash],
    ) -> Result<(Checkpoint, Judgement), Judged> {
        let tree = tree.to_vec();
        judge(seen, presented, trusted, |first, second| async move {
            let log = merkle::MerkleLog::from_leaves(tree);
            let proof = log.consistency_proof(first, second)?;
            Ok((
                proof.iter().map(|h| h.to_vec()).collect(),
                log.root_at(second)?.to_vec(),
            ))
        })
        .await
    }

    #[tokio::test]
    async fn a_grown_log_is_accepted_and_every_kind_of_fork_is_caught() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let trusted = [verifier(&key)];
        let honest = leaves(10);
        let root = |leaves: &[Hash]| merkle::root(leaves);
        let seen = Checkpoint {
            origin: ORIGIN.into(),
            size: 6,
            root: root(&honest[..6]),
        };

        let (now, how) = judge_tree(
            Some(&seen),
            &signed(&key, 10, &root(&honest)),
            &trusted,
            &honest,
        )
        .await
        .unwrap();
        assert_eq!((now.size, how), (10, Judgement::Extended { from: 6 }));
        let (_, how) = judge_tree(
            Some(&seen),
            &signed(&key, 6, &root(&honest[..6])),
            &trusted,
            &honest,
        )
        .await
        .unwrap();
        assert_eq!(how, Judgement::Unchanged);

        // The attacker's tree shares the first 4 entries, then differs.
        let mut forked = honest.clone();
        forked[4] = merkle::leaf_hash(b"another entry");
        let fork = |r: Result<_, Judged>| match r {
            Err(Judged::Fork(why)) => why,
            other => panic!("not a fork: {other:?}"),
        };
        let why = fork(
            judge_tree(
                Some(&seen),
                &signed(&key, 10, &root(&forked)),
                &trusted,
                &forked,
            )
            .await,
        );
        assert!(why.contains("not an extension"), "{why}");
        let why = fork(
            judge_tree(
                Some(&seen),
                &signed(&key, 6, &root(&forked[..6])),
                &trusted,
                &forked,
            )
            .await,
        );
        assert!(why.contains("two different trees of 6 entries"), "{why}");
        let why = fork(
            judge_tree(
                Some(&seen),
                &signed(&key, 5, &root(&honest[..5])),
                &trusted,
                &honest,
            )
            .await,
        );
        assert!(why.contains("shrank"), "{why}");
        // A proof the server made against another root than its checkpoint's.
        let why = fork(
            judge_tree(
                Some(&seen),
                &signed(&key, 10, &root(&honest)),
                &trusted,
                &forked,
            )
            .await,
        );
        assert!(why.contains("another root"), "{why}");
    }

    #[tokio::test]
    async fn a_checkpoint_no_pinned_key_signed_or_altered_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let tree = leaves(3);
        let good = signed(&key, 3, &merkle::root(&tree));
        let refused = |r: Result<_, Judged>| match r {
            Err(Judged::Refused(why)) => why,
            other => panic!("not refused: {other:?}"),
        };
        let why = refused(judge_tree(None, &good, &[verifier(&other)], &tree).await);
        assert!(why.contains("no pinned key signed it"), "{why}");
        // The signature altered (one base64 character of the signature changed).
        let mut bad = good.clone();
        let at = bad.signed_note.len() - 10;
        let flipped = if &bad.signed_note[at..at + 1] == "A" {
            "B"
        } else {
            "A"
        };
        bad.signed_note.replace_range(at..at + 1, flipped);
        let why = refused(judge_tree(None, &bad, &[verifier(&key)], &tree).await);
        assert!(why.contains("does not verify"), "{why}");
        // The proto's fields claiming another size than the signed note.
        let mut lying = good.clone();
        lying.tree_size = 4;
        let why = refused(judge_tree(None, &lying, &[verifier(&key)], &tree).await);
        assert!(why.contains("disagree"), "{why}");
        let (_, how) = judge_tree(None, &good, &[verifier(&key)], &tree)
            .await
            .unwrap();
        assert_eq!(how, Judgement::First);
    }

    /// Issue 18 §2: a key set with an SM2 key pins it too, and a checkpoint signed with both
    /// keys opens with either; a bad SM2 line is caught.
    #[test]
    fn a_key_set_with_an_sm2_key_pins_it_and_a_dual_signed_checkpoint_opens_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let ed = SigningKey::from_bytes(&[3; 32]);
        let sm2 = tica_credential::gm::Sm2Key::from_secret(&[4; 32]).unwrap();
        let x = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ed.verifying_key().as_bytes(),
        );
        let jwks = dir.path().join("jwks.json");
        let set = serde_json::json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x },
            sm2.public().jwk("k1-sm2") ] });
        std::fs::write(&jwks, set.to_string()).unwrap();
        let args = WitnessArgs {
            server: String::new(),
            tls_ca: None,
            state: dir.path().join("state.json"),
            key: Vec::new(),
            keys: Some(jwks),
        };
        let trusted = trusted_keys(&args, ORIGIN, &[]).unwrap();
        assert_eq!(trusted.len(), 2);
        let sm2_only: Vec<VerifierKey> = trusted
            .iter()
            .filter(|k| matches!(k.public_key(), note::NoteKey::Sm2(_)))
            .cloned()
            .collect();
        assert_eq!(sm2_only.len(), 1);
        let presented = signed(&ed, 3, &merkle::root(&leaves(3)));
        let text = note::parse(presented.signed_note.as_bytes()).unwrap().text;
        let ed_line = note::parse(presented.signed_note.as_bytes())
            .unwrap()
            .unverified
            .remove(0);
        let sm2_line = note::sm2_signature(&text, ORIGIN, &sm2);
        let both = note::encode(&text, &[ed_line.clone(), sm2_line.clone()]);
        assert_eq!(
            note::open(both.as_bytes(), &trusted)
                .unwrap()
                .verified
                .len(),
            2
        );
        assert_eq!(
            note::open(both.as_bytes(), &sm2_only)
                .unwrap()
                .verified
                .len(),
            1
        );
        let mut bad = sm2_line;
        bad.signature[0] ^= 1;
        let altered = note::encode(&text, &[ed_line, bad]);
        assert!(note::open(altered.as_bytes(), &trusted).is_err());
    }

    #[test]
    fn the_state_round_trips_and_a_foreign_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(State::read(&path).unwrap(), State::default());
        let mut state = State::default();
        state.logs.insert(
            ORIGIN.into(),
            Witnessed {
                server: "http://127.0.0.1:50051".into(),
                keys: vec!["k".into()],
                checkpoint: "c\n\n— k x\n".into(),
                witnessed_at: "2026-01-01T00:00:00Z".into(),
            },
        );
        state.write(&path).unwrap();
        assert_eq!(State::read(&path).unwrap(), state);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["state.json"], "no temporary file is left");
        std::fs::write(&path, "{\"something\": \"else\"}").unwrap();
        let error = State::read(&path).unwrap_err().to_string();
        assert!(error.contains("not a witness state file"), "{error}");
    }
}
