//! The `tica` binary as an operator runs it: start, mint a token, call, stop with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tica_proto::tica::roster::v1 as pb;

fn tica() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tica"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tica_serve_says_where_everything_is_serves_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let served = Served::start_with(data.path(), &[("TICA_LOG_FORMAT", "json")]);
    let grpc = served.address("gRPC");
    let banner = served.banner.clone();
    for expected in [
        "HTTP",
        "data",
        "token mint",
        "roster, assessment, sampling, certificate: serving",
        "sampling.db",
        "certificate.db",
        "/.well-known/jwks.json",
        "QR codes point at http://127.0.0.1:",
        "evidence",
        "reflection",
        "/metrics",
        "trusted proxies: none",
    ] {
        assert!(
            banner.contains(expected),
            "the banner says {expected}: {banner}"
        );
    }

    // Mint a token with the key `tica serve` created, and use it.
    let minted = tica()
        .args([
            "token",
            "mint",
            "--role",
            "province_office",
            "--jurisdiction",
            "340000",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let token = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut roster = tica_client::roster(channel, &token);
    roster
        .create_jurisdiction(pb::CreateJurisdictionRequest {
            jurisdiction: Some(pb::Jurisdiction {
                name: "jurisdictions/340000".into(),
                display_name: "安徽省".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    // The CLI client reads the same server.
    let listed = tica()
        .args([
            "roster",
            "jurisdictions",
            "list",
            "--server",
            &format!("http://{grpc}"),
            "--token",
            &token,
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("安徽省"),
        "{listed:?}"
    );

    // SIGTERM: drain and exit 0.
    let rest = served.stop();
    assert!(rest.contains("TICA stopped."), "{rest}");
    assert!(
        rest.contains("received SIGTERM"),
        "logs say why it stopped: {rest}"
    );
}

/// Without a TLS certificate `tica serve` serves plaintext on loopback only, unless told the
/// network encrypts by itself (issue 17 §1): an address beyond loopback is refused before
/// anything starts.
#[test]
fn tica_serve_refuses_to_serve_plaintext_beyond_loopback() {
    let data = tempfile::tempdir().unwrap();
    let out = tica()
        .args(["serve", "--grpc", "0.0.0.0:0", "--data-dir"])
        .arg(data.path())
        .env_remove("TICA_ALLOW_PLAINTEXT")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TICA_GRPC_ADDR=0.0.0.0:0 is not a loopback address"),
        "{stderr}"
    );
}

#[test]
fn minting_without_a_server_key_says_what_to_do() {
    let data = tempfile::tempdir().unwrap();
    let out = tica()
        .args([
            "token",
            "mint",
            "--role",
            "county_office",
            "--jurisdiction",
            "341324",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `tica serve` once"));
}

#[test]
fn a_token_for_a_role_at_the_wrong_level_is_refused() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("keys")).unwrap();
    tica_auth::write_key_pair(
        &data.path().join("keys"),
        "token-signing",
        &tica_auth::KeyPair::generate(),
    )
    .unwrap();
    let out = tica()
        .args([
            "token",
            "mint",
            "--role",
            "county_office",
            "--jurisdiction",
            "340000",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("county-level"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tica serve` as a child, killed if the test fails before it stops it.
struct Served {
    child: std::process::Child,
    stderr: BufReader<std::process::ChildStderr>,
    banner: String,
}

impl Served {
    fn start(data: &std::path::Path) -> Served {
        Served::start_with(data, &[])
    }

    /// `tica serve` on free loopback ports over `data`, with `envs` set; once its banner is out.
    fn start_with(data: &std::path::Path, envs: &[(&str, &str)]) -> Served {
        let mut child = tica()
            .args([
                "serve",
                "--grpc",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--admin",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data)
            .envs(envs.iter().copied())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut banner = String::new();
        let started = Instant::now();
        while !banner.contains("Stop with Ctrl-C.") {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no banner: {banner}"
            );
            if stderr.read_line(&mut banner).unwrap() == 0 {
                panic!("tica serve exited early: {banner}");
            }
        }
        Served {
            child,
            stderr,
            banner,
        }
    }

    /// The address after `label` in the banner, e.g. `gRPC` or `HTTP`.
    fn address(&self, label: &str) -> String {
        self.banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .to_owned()
    }

    /// SIGTERM, then everything it logged after the banner.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut rest = String::new();
        loop {
            let mut line = String::new();
            if self.stderr.read_line(&mut line).unwrap() == 0 {
                break;
            }
            rest.push_str(&line);
        }
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "{exit:?}: {rest}");
        rest
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn mint(data: &std::path::Path, role: &str, jurisdiction: &str, school: Option<&str>) -> String {
    let mut command = tica();
    command.args([
        "token",
        "mint",
        "--role",
        role,
        "--jurisdiction",
        jurisdiction,
    ]);
    if let Some(school) = school {
        command.args(["--school", school]);
    }
    let minted = command.arg("--data-dir").arg(data).output().unwrap();
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    String::from_utf8(minted.stdout).unwrap().trim().to_owned()
}

/// Runs `tica roster …` against `grpc` with `token`; (success, stdout, stderr).
fn roster_cli(grpc: &str, token: &str, args: &[&str]) -> (bool, String, String) {
    let out = tica()
        .arg("roster")
        .args(args)
        .args(["--server", &format!("http://{grpc}"), "--token", token])
        .env_remove("TICA_TOKEN")
        .env_remove("TICA_SERVER")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `POST {http}/oauth/token` with HTTP Basic, as `curl -u ID:SECRET -d
/// grant_type=client_credentials` sends it; (status, body).
fn token_request(http: &str, client_id: &str, secret: &str) -> (u16, String) {
    use base64::Engine;
    use std::io::{Read, Write};
    let address = http.strip_prefix("http://").expect("plain HTTP");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    let body = "grant_type=client_credentials";
    write!(
        stream,
        "POST /oauth/token HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Issue 17 §2: an office registers an API client with the CLI, the agency's machine trades the
/// printed id and secret for a token at `POST /oauth/token`, the office lists and revokes it, and
/// the endpoint then refuses it; a person's token cannot register one and is told so.
#[test]
fn an_office_registers_lists_and_revokes_an_api_client_with_the_cli() {
    let data = tempfile::tempdir().unwrap();
    let served = Served::start(data.path());
    let grpc = served.address("gRPC");
    let http = served.address("HTTP");
    assert!(http.starts_with("http://"), "{http}");

    let province = mint(data.path(), "province_office", "340000", None);
    for args in [
        &["340000", "安徽省"][..],
        &["341300", "宿州市", "--parent", "340000"],
        &["341324", "泗县", "--parent", "341300"],
    ] {
        let mut full = vec!["jurisdictions", "create"];
        full.extend_from_slice(args);
        let (ok, out, err) = roster_cli(&grpc, &province, &full);
        assert!(ok, "{out}{err}");
    }
    let county = mint(data.path(), "county_office", "341324", None);

    // Register: the id and the secret, labelled, once; a warning; a ready token request.
    let (ok, out, err) = roster_cli(
        &grpc,
        &county,
        &[
            "api-clients",
            "create",
            "--jurisdiction",
            "341324",
            "--role",
            "county_office",
            "--display-name",
            "泗县人社局职称评审系统",
            "--token-ttl",
            "300",
            "--http",
            &http,
        ],
    );
    assert!(ok, "{out}{err}");
    let field = |label: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {label} in {out}"))
    };
    let client_id = field("client_id:");
    let secret = field("client_secret:");
    assert!(secret.starts_with("tica_cs_"), "{out}");
    assert!(out.contains("cannot be shown again"), "{out}");
    assert!(
        out.contains(&format!(
            "curl -u {client_id}:{secret} -d grant_type=client_credentials {http}/oauth/token"
        )),
        "{out}"
    );

    // The agency's machine gets a token, and it works: the client is a county office.
    let (status, body) = token_request(&http, &client_id, &secret);
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["expires_in"], 300, "{body}");
    let machine = answer["access_token"].as_str().unwrap().to_owned();

    // Listed, as a table and (with the machine's own token) as JSON lines without the secret.
    let (ok, out, err) = roster_cli(&grpc, &county, &["api-clients", "list"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&client_id) && out.contains("泗县人社局职称评审系统"),
        "{out}"
    );
    assert!(out.contains("1 of 1 API clients"), "{out}");
    let (ok, out, err) = roster_cli(
        &grpc,
        &machine,
        &["api-clients", "list", "--jurisdiction", "341324", "--json"],
    );
    assert!(ok, "{out}{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["clientId"], client_id.as_str());
    assert_eq!(lines[0]["state"], "API_CLIENT_STATE_ACTIVE");
    assert!(!out.contains(&secret), "a list never shows the secret");

    // Shown by its resource name.
    let (ok, out, err) = roster_cli(
        &grpc,
        &county,
        &["api-clients", "show", &format!("apiClients/{client_id}")],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("county_office") && out.contains("300 s"),
        "{out}"
    );

    // Revoked by its bare id: listed as revoked, no longer active, and refused at the endpoint.
    let (ok, out, err) = roster_cli(
        &grpc,
        &county,
        &["api-clients", "revoke", &client_id, "--reason", "合同终止"],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("revoked apiClients/"), "{out}");
    let (ok, out, err) = roster_cli(
        &grpc,
        &county,
        &["api-clients", "list", "--state", "revoked", "--json"],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&client_id) && out.contains("合同终止"),
        "{out}"
    );
    let (ok, out, err) = roster_cli(
        &grpc,
        &county,
        &["api-clients", "list", "--state", "active"],
    );
    assert!(ok, "{out}{err}");
    assert!(!out.contains(&client_id), "{out}");
    let (status, body) = token_request(&http, &client_id, &secret);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_client"), "{body}");

    // Revoking again, and a person's token: a sentence and a non-zero exit, not a raw status.
    let (ok, _, err) = roster_cli(
        &grpc,
        &county,
        &["api-clients", "revoke", &client_id, "--reason", "again"],
    );
    assert!(!ok);
    assert!(
        err.contains("revoked already") && !err.contains("Status {"),
        "{err}"
    );
    let teacher = mint(data.path(), "teacher", "341324", Some("3413240001"));
    let (ok, out, err) = roster_cli(
        &grpc,
        &teacher,
        &[
            "api-clients",
            "create",
            "--jurisdiction",
            "341324",
            "--role",
            "county_office",
            "--display-name",
            "not mine to register",
        ],
    );
    assert!(!ok, "{out}");
    assert!(
        err.contains(
            "the roster service refused to register the API client: your token may not do this"
        ),
        "{err}"
    );
    assert!(!err.contains("Status {"), "{err}");

    let logged = served.stop();
    assert!(!logged.contains(&secret), "the secret is never logged");
}

/// `GET {http}{path}` over plain HTTP/1.1; (status, content type, body).
fn http_get(http: &str, path: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let address = http.strip_prefix("http://").expect("plain HTTP");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// `tica log witness --server grpc --state state …`; (exit code, stdout, stderr).
fn witness(grpc: &str, state: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = tica()
        .args([
            "log",
            "witness",
            "--server",
            &format!("http://{grpc}"),
            "--state",
        ])
        .arg(state)
        .args(args)
        .env_remove("TICA_SERVER")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The suite's certificate database and its WAL files, copied from `data` to `to`.
fn copy_certificate_db(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let name = format!("certificate.db{suffix}");
        let _ = std::fs::remove_file(to.join(&name));
        if from.join(&name).exists() {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
    }
}

/// Revokes the `n`th of `names`; the log grows by one entry.
async fn revoke(grpc: &str, token: &str, name: &str) {
    use tica_proto::tica::certificate::v1 as cpb;
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    tica_client::certificate(channel, token)
        .revoke_certificate(cpb::RevokeCertificateRequest {
            name: name.to_owned(),
            reason: cpb::RevocationReason::IssuedInError as i32,
            explanation: "测试：见证".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();
}

const WITNESSED_ORIGIN: &str = "verify.witness.example/certificates";

/// Issue 18 §5: an office witnesses an installation's log with `tica log witness`. The log
/// grows and the witness follows; then the installation's database is restored from a copy
/// taken after the first run and written on differently, and the witness catches each fork
/// — the log shrunk, the same size with another root, a larger tree that does not extend what
/// it saw — and, when the server signs with a key the witness never pinned, refuses that too:
/// exit status 3, both checkpoints named, and the state file exactly as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_witness_follows_a_growing_log_and_catches_every_fork_with_its_state_kept() {
    use tica_proto::tica::certificate::v1 as cpb;
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let played = tica()
        .args([
            "demo",
            "--teachers",
            "60",
            "--grpc",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--out",
        ])
        .arg(&demo)
        .env_remove("TICA_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        played.status.success(),
        "{}",
        String::from_utf8_lossy(&played.stderr)
    );
    let data = demo.join("data");
    let env = [("TICA_VERIFY_BASE_URL", "https://verify.witness.example")];
    let served = Served::start_with(&data, &env);
    let (grpc, http) = (served.address("gRPC"), served.address("HTTP"));
    let province = mint(&data, "province_office", "340000", None);
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let listed = tica_client::certificate(channel, &province)
        .list_certificates(cpb::ListCertificatesRequest {
            parent: "jurisdictions/340000".into(),
            page_size: 10,
            status: cpb::CertificateStatus::Active as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = listed.certificates.iter().map(|c| c.name.clone()).collect();
    assert!(names.len() >= 6, "{names:?}");
    // A checkpoint under this installation's origin.
    revoke(&grpc, &province, &names[0]).await;

    // The log's key and latest checkpoint, as tlog servers publish them.
    let (status, content_type, key) = http_get(&http, "/log/key");
    assert_eq!(status, 200, "{key}");
    assert_eq!(content_type, "text/plain; charset=utf-8");
    let key = key.lines().next().unwrap().to_owned();
    assert!(key.starts_with(&format!("{WITNESSED_ORIGIN}+")), "{key}");
    let (status, content_type, note) = http_get(&http, "/log/checkpoint");
    assert_eq!(status, 200, "{note}");
    assert_eq!(content_type, "text/plain; charset=utf-8");
    assert!(
        note.starts_with(&format!("{WITNESSED_ORIGIN}\n")) && note.contains("\n\n— "),
        "{note}"
    );
    let verifier = tica_credential::note::VerifierKey::parse(&key).unwrap();
    let opened = tica_credential::note::open(note.as_bytes(), &[verifier]).unwrap();
    let size: u64 = opened.text.lines().nth(1).unwrap().parse().unwrap();

    // First run with the published key: accepted, one line; again: unchanged.
    let state = dir.path().join("witness/state.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    let (code, out, err) = witness(&grpc, &state, &["--key", &key]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!("witnessed {WITNESSED_ORIGIN}: size {size}, root "))
            && out.contains("first checkpoint of this log; 1 key(s) pinned"),
        "{out}"
    );
    let (code, out, err) = witness(&grpc, &state, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unchanged since the last run"), "{out}");
    // The published key set serves as well: its key, named after the log, is pinned.
    let (status, _, jwks) = http_get(&http, "/.well-known/jwks.json");
    assert_eq!(status, 200, "{jwks}");
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks).unwrap();
    let by_jwks = dir.path().join("witness/by-jwks.json");
    let (code, out, err) = witness(&grpc, &by_jwks, &["--keys", jwks_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let pinned: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&by_jwks).unwrap()).unwrap();
    assert_eq!(
        pinned["logs"][WITNESSED_ORIGIN]["keys"],
        serde_json::json!([key])
    );
    // Without a key the first run pins the server's own keys, and says so loudly.
    let trusting = dir.path().join("witness/trusting.json");
    let (code, out, err) = witness(&grpc, &trusting, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!(
            "FIRST WITNESS OF {WITNESSED_ORIGIN}: NO KEY WAS GIVEN"
        )) && err.contains(&key)
            && out.contains("from the server's own list"),
        "{err}{out}"
    );
    // A key that is not the log's: refused, and nothing is written.
    let stranger = tica_credential::note::VerifierKey::ed25519(
        WITNESSED_ORIGIN,
        &ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key(),
    )
    .unwrap()
    .to_string();
    let elsewhere = dir.path().join("witness/elsewhere.json");
    let (code, out, err) = witness(&grpc, &elsewhere, &["--key", &stranger]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("no pinned key signed it"), "{err}");
    assert!(!elsewhere.exists());

    // The attacker keeps a copy of the database; the log grows and the witness follows.
    served.stop();
    copy_certificate_db(&data, &dir.path().join("copy"));
    let served = Served::start_with(&data, &env);
    let grpc = served.address("gRPC");
    revoke(&grpc, &province, &names[1]).await;
    let (code, out, err) = witness(&grpc, &state, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("size {}", size + 1))
            && out.contains(&format!("consistent with the {size} entries seen before")),
        "{out}"
    );
    let kept = std::fs::read(&state).unwrap();
    let witnessed = String::from_utf8(kept.clone()).unwrap();

    // The copy is restored: the log presents fewer entries than the witness saw.
    served.stop();
    copy_certificate_db(&dir.path().join("copy"), &data);
    let served = Served::start_with(&data, &env);
    let grpc = served.address("gRPC");
    let refused = |code: i32, out: &str, err: &str, why: &str| {
        assert_eq!(code, 3, "{out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("FORK DETECTED") && err.contains(why), "{err}");
        assert!(
            err.contains(&format!(
                "seen before:     {WITNESSED_ORIGIN} size {}",
                size + 1
            )),
            "{err}"
        );
        assert!(err.contains("is unchanged"), "{err}");
        assert_eq!(std::fs::read(&state).unwrap(), kept, "the state is kept");
    };
    let (code, out, err) = witness(&grpc, &state, &[]);
    refused(code, &out, &err, "the log shrank");
    assert!(
        err.contains(&format!("presented now:   {WITNESSED_ORIGIN} size {size}")),
        "{err}"
    );

    // Written on differently: the same size with another root...
    revoke(&grpc, &province, &names[2]).await;
    let (code, out, err) = witness(&grpc, &state, &[]);
    refused(
        code,
        &out,
        &err,
        &format!("two different trees of {} entries", size + 1),
    );
    // ...and a larger tree that does not extend the one witnessed; both signed notes printed.
    revoke(&grpc, &province, &names[3]).await;
    let (code, out, err) = witness(&grpc, &state, &[]);
    refused(code, &out, &err, "is not an extension of the tree of");
    let (_, _, presented) = http_get(&served.address("HTTP"), "/log/checkpoint");
    let seen_note = serde_json::from_str::<serde_json::Value>(&witnessed).unwrap()["logs"]
        [WITNESSED_ORIGIN]["checkpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        err.contains(&seen_note) && err.contains(&presented),
        "{err}"
    );

    // Someone with the database but not the key signs with a key of their own: refused.
    served.stop();
    let impostor = dir.path().join("impostor-keys");
    tica_certificate::keys::ensure_dev_key(&impostor, "impostor-1").unwrap();
    let impostor_dir = impostor.to_str().unwrap();
    let served = Served::start_with(&data, &[env[0], ("TICA_CERT_KEYS", impostor_dir)]);
    let grpc = served.address("gRPC");
    revoke(&grpc, &province, &names[4]).await;
    let (code, out, err) = witness(&grpc, &state, &[]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("REFUSED: CHECKPOINT NOT SIGNED BY A PINNED KEY")
            && err.contains("no pinned key signed it"),
        "{err}"
    );
    assert_eq!(std::fs::read(&state).unwrap(), kept, "the state is kept");
    served.stop();
}
