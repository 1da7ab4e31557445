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
        .arg(data.path())
        .env("TICA_LOG_FORMAT", "json")
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
    let grpc = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("gRPC"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
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
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        rest.push_str(&line);
    }
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}: {rest}");
    assert!(rest.contains("TICA stopped."), "{rest}");
    assert!(
        rest.contains("received SIGTERM"),
        "logs say why it stopped: {rest}"
    );
}

/// `tica serve` speaks no TLS, so it serves on loopback only unless told the network encrypts
/// by itself (issue 17 §1): an address beyond loopback is refused before anything starts.
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
