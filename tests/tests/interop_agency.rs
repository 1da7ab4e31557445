//! Issue 17's "done when": an agency's integration driven from another language, over TLS.
//!
//! The suite plays a county's year (the demo's, at [`TEACHERS`] teachers: a certified batch and
//! its certificates), is restarted under mutual TLS with the committed test PKI
//! (`shared/testkit/tls/`), and a province office withdraws one certified result.
//! Then `tests/interop/agency.py` — a client generated from `proto/` at run time by Python's
//! grpc_tools — connects with the test client's certificate and does what an agency does:
//! pushes hours for 300 teachers and re-pushes them (nothing changes), verifies 1,000
//! certificates by id and by QR text, pages through the county's teachers and exports its
//! progress, starts an issuance run and follows it to its end (it revokes the certificate of
//! the withdrawn result), and revokes a certificate with a reason — decoding the
//! `google.rpc.Status` details of every refusal it provokes on purpose. Its JSON summary is
//! checked here.
//!
//! Tokens: the offices register the agency's two machines (a training provider, the county's
//! dashboard) as API clients over gRPC, and the script gets its tokens with their secrets by the
//! OAuth 2.0 client-credentials grant at `{http}/oauth/token` (it also takes ready tokens, for a
//! hand run against a suite without registered clients).
//!
//! The script runs on `$TICA_PYTHON` (or `python3`) with `tests/interop/requirements.txt`
//! installed; without them the test says why and passes, unless `TICA_REQUIRE_INTEROP=1` (CI).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tica::demo::{Certificates, Options, Policy, YEAR, run_year};
use tica_auth::Role;
use tica_e2e::{Cluster, Transport, test_pki};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::roster::v1 as rpb;
use tica_storage::Backend;

tica_testkit::backend_tests!(an_agency_does_its_five_tasks_from_python_over_mutual_tls);

/// Teachers in the county: at least 300 to push hours for, and enough passing teachers for
/// at least 1,000 certificates (three micro-competencies each under Sixian's preset).
const TEACHERS: usize = 300;

/// The training provider the script pushes hours as (its token's subject).
const PROVIDER: &str = "interop-provider";

/// The Python that runs the agency's client (`tests/interop/agency.py`); None: skip.
fn python() -> Option<PathBuf> {
    tica_e2e::interop::python(
        "agency.py",
        "grpc, grpc_tools.protoc, google.protobuf, google.rpc.error_details_pb2",
    )
}

/// Runs the script with `args`; its exit status, summary (the last line of its standard
/// output, JSON) and standard error. Gives up after ten minutes.
fn agency(python: PathBuf, args: Vec<String>) -> (std::process::ExitStatus, Value, String) {
    let mut child = Command::new(python)
        .arg(tica_e2e::interop::script("agency.py"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the script starts");
    let deadline = Instant::now() + Duration::from_secs(600);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tests/interop/agency.py ran for ten minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let summary = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON summary ({:?}): {stdout}\n{stderr}", output.status));
    (output.status, summary, stderr)
}

/// Registers an API client as `office` would; `CLIENT_ID:SECRET`, as the script takes it.
async fn register_client(
    mut office: tica_client::Roster,
    role: &str,
    jurisdiction: &str,
    provider_id: &str,
) -> String {
    let client = office
        .create_api_client(rpb::CreateApiClientRequest {
            api_client: Some(rpb::ApiClient {
                display_name: format!("interop {role}"),
                jurisdiction: format!("jurisdictions/{jurisdiction}"),
                role: role.into(),
                provider_id: provider_id.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("the office registers the agency's client")
        .into_inner();
    format!("{}:{}", client.client_id, client.client_secret)
}

async fn an_agency_does_its_five_tasks_from_python_over_mutual_tls(backend: Backend) {
    let Some(python) = python() else {
        return;
    };
    let Some(mut cluster) = Cluster::start(backend).await else {
        return;
    };
    let started = Instant::now();
    // The demo's year: a county of TEACHERS teachers, its batch certified and its certificates
    // issued (one revoked), every step an RPC. It reads one verification page over plaintext
    // HTTP, so it runs before TLS is turned on.
    let outcome = run_year(
        &cluster.target(),
        &Options {
            teachers: TEACHERS,
            seed: 2022,
            policy: Policy::Sixian,
            concurrency: 4,
            out: None,
            certificates: Certificates::Sample,
            quiet: true,
        },
    )
    .await
    .expect("the year runs to its end");
    let seeded = started.elapsed();
    assert!(
        outcome.certificates_issued >= 1000,
        "{} certificates: not enough to verify 1,000",
        outcome.certificates_issued
    );
    let batch = outcome.batch.clone();
    let county = batch
        .trim_start_matches("batches/")
        .split('-')
        .next()
        .unwrap()
        .to_owned();

    cluster.restart(Transport::MutualTls).await;
    assert!(cluster.suite.as_ref().unwrap().serves_tls);

    // A province office withdraws one teacher's certified result of a micro-competency: the run
    // the agency starts must revoke its certificate.
    let mut office =
        tica_e2e::certificates::client(&cluster, "e2e", Role::CountyOffice, &county, None);
    let first = office
        .list_certificates(cpb::ListCertificatesRequest {
            parent: format!("jurisdictions/{county}"),
            page_size: 1,
            status: cpb::CertificateStatus::Active as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .certificates
        .remove(0);
    // Its micro-competency: the result key is `{batch_id}/{teacher_number}/{code}`.
    let code = first.result_key.rsplit('/').next().unwrap().to_owned();
    let teacher_number = first.teacher.trim_start_matches("teachers/");
    cluster
        .assessment("e2e", Role::ProvinceOffice, "340000", None)
        .withdraw_certified_result(pb::WithdrawCertifiedResultRequest {
            participant: format!("{batch}/participants/{teacher_number}"),
            micro_competency: code,
            reason: "复核发现材料非本人所作 (interop)".into(),
        })
        .await
        .expect("the province withdraws the teacher's result");
    let withdrawn = 1;

    let suite = cluster.suite.as_ref().unwrap();
    // The agency's two machines are registered by the offices, over gRPC, as API clients; the
    // script fetches its own tokens with their secrets (OAuth 2.0 client credentials).
    let provider_client = register_client(
        cluster.roster(Role::ProvinceOffice, "340000"),
        "training_provider",
        "340000",
        PROVIDER,
    )
    .await;
    let office_client = register_client(
        cluster.roster(Role::CountyOffice, &county),
        "county_office",
        &county,
        "",
    )
    .await;
    let pki = |name: &str| test_pki(name).display().to_string();
    let args = vec![
        "--grpc".into(),
        suite.grpc_addr.to_string(),
        "--http".into(),
        cluster.http(),
        "--ca".into(),
        pki("ca.pem"),
        "--client-cert".into(),
        pki("client.pem"),
        "--client-key".into(),
        pki("client.key"),
        "--provider-client".into(),
        provider_client,
        "--office-client".into(),
        office_client,
        "--county".into(),
        county.clone(),
        "--batch".into(),
        batch.clone(),
        "--year".into(),
        YEAR.to_string(),
        "--expect-teachers".into(),
        outcome.teachers.to_string(),
        "--expect-run-revoked".into(),
        withdrawn.to_string(),
    ];
    let script_started = Instant::now();
    let (status, summary, stderr) = tokio::task::spawn_blocking(move || agency(python, args))
        .await
        .unwrap();
    let script = script_started.elapsed();
    assert!(status.success(), "{status:?}: {stderr}\n{summary:#}");
    assert_eq!(summary["ok"], true, "{summary:#}");
    assert_eq!(summary["tls"]["mutual"], true);
    assert_eq!(
        summary["tokens"],
        serde_json::json!({"provider": "client_credentials", "office": "client_credentials"})
    );
    assert!(summary["jwks_keys"].as_u64().unwrap() >= 1);

    // 1. hours for 300 teachers, pushed twice: created, then unchanged.
    assert_eq!(summary["hours"]["created"], 300, "{summary:#}");
    assert_eq!(summary["hours"]["repushed_unchanged"], 300);
    assert_eq!(summary["hours"]["stored"], 300);
    // 2. 1,000 certificates by id and by QR text, the same verdicts both ways.
    let by_id = &summary["verified"]["by_id"];
    assert_eq!(by_id, &summary["verified"]["by_qr_text"]);
    let verified: u64 = by_id
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(verified, 1000, "{summary:#}");
    assert!(by_id["VERDICT_VALID"].as_u64().unwrap() >= 998, "{by_id}");
    // 3. every teacher of the county, over several pages; the progress exported.
    assert_eq!(
        summary["teachers"]["listed"].as_u64().unwrap() as usize,
        outcome.teachers
    );
    assert!(summary["teachers"]["pages"].as_u64().unwrap() > 1);
    assert!(summary["progress_export"]["row_count"].as_u64().unwrap() >= 1);
    // 4. the run followed to its end, revoking the withdrawn result's certificate.
    assert_eq!(summary["issuance"]["end"], "ISSUANCE_RUN_STATE_SUCCEEDED");
    assert_eq!(summary["issuance"]["certificates_revoked"], withdrawn);
    // 5. revoked with a reason, and verified as revoked.
    assert_eq!(summary["revoked"]["verify_says"], "REVOKED");
    // Every refusal provoked, decoded to a reason of errors.proto.
    let reasons: Vec<&str> = summary["refusal_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for expected in [
        "TOKEN_MISSING",
        "TOKEN_INVALID",
        "ROLE_NOT_ALLOWED",
        "OUTSIDE_SCOPE",
        "INVALID_FIELDS",
        "REQUEST_TOO_LARGE",
        "RUN_ENDED",
        "CERTIFICATE_ALREADY_REVOKED",
        "RATE_LIMITED",
        "invalid_client",
    ] {
        assert!(reasons.contains(&expected), "{expected} not in {reasons:?}");
    }
    eprintln!("the agency's summary: {summary}");
    eprintln!(
        "seeded in {:.1} s ({} teachers, {} certificates); the agency's script ran {:.1} s; \
         {} refusals decoded",
        seeded.as_secs_f64(),
        outcome.teachers,
        outcome.certificates_issued,
        script.as_secs_f64(),
        summary["refusals"].as_array().unwrap().len()
    );
    cluster.stop().await;
}
