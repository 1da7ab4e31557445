//! A visitor with no token against every public endpoint of a county that ran its year (the
//! demo's, at a small size): the log walked by index, verification by guessed ids, a thousand
//! at once, the teachers' search and the number lookup guessed, downloads without the QR code,
//! every page and published file. Everything answered is kept and searched afterwards: no
//! certificate id, no teacher's name the visitor did not type itself, no masked ID number and no
//! PDF may be in it (issue 15).

use tica::demo::{Certificates, Options, Policy, run_year};
use tica_auth::Role;
use tica_e2e::{Cluster, http_request};
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::certificate::v1::certificate_service_client::CertificateServiceClient;
use tica_storage::Backend;

tica_testkit::backend_tests!(a_visitor_without_a_token_harvests_no_certificate_id_name_or_pdf,);

const TEACHERS: usize = 80;
const COUNTY: &str = "341324";

/// Common Chinese names a harvester would try.
const NAMES: [&str; 12] = [
    "王芳", "李强", "张伟", "王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰",
];

/// 26 characters of Crockford base32, as certificate ids look.
fn random_id(n: u64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
    (0..26)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % 32) as usize] as char
        })
        .collect()
}

/// What the visitor saw, and what it typed.
#[derive(Default)]
struct Seen {
    answers: Vec<(String, String)>,
    typed_names: Vec<String>,
    refused: usize,
    hits: usize,
}

impl Seen {
    fn keep(&mut self, what: impl Into<String>, answer: impl Into<String>) {
        self.answers.push((what.into(), answer.into()));
    }
}

async fn a_visitor_without_a_token_harvests_no_certificate_id_name_or_pdf(backend: Backend) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let out = cluster.data_dir().join("demo-out");
    std::fs::create_dir_all(&out).unwrap();
    run_year(
        &cluster.target(),
        &Options {
            teachers: TEACHERS,
            seed: 2022,
            policy: Policy::Sixian,
            concurrency: 8,
            out: Some(out),
            certificates: Certificates::Sample,
            quiet: true,
        },
    )
    .await
    .expect("the year runs to its end");

    // What must not leak, as the county office sees it.
    let mut office =
        tica_e2e::certificates::client(&cluster, "county-office", Role::CountyOffice, COUNTY, None);
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut page_token = String::new();
    let mut numbers = Vec::new();
    let mut holder_of = std::collections::HashMap::new();
    loop {
        let page = office
            .list_certificates(cpb::ListCertificatesRequest {
                parent: format!("jurisdictions/{COUNTY}"),
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for c in &page.certificates {
            let id = c.name.trim_start_matches("certificates/").to_owned();
            let facts = c.facts.clone().unwrap();
            secrets.push(("id".into(), id.clone()));
            secrets.push(("id".into(), id.to_uppercase()));
            secrets.push(("name".into(), facts.teacher_display_name.clone()));
            secrets.push(("masked id".into(), facts.teacher_id_number_masked.clone()));
            numbers.push(c.number.clone());
            holder_of.insert(c.number.clone(), facts.teacher_display_name.clone());
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert!(numbers.len() > 100, "{} certificates", numbers.len());

    let mut seen = Seen::default();
    let mut public = CertificateServiceClient::new(cluster.channel.clone());
    let http = cluster.http();

    // The transparency log, every entry by index.
    let checkpoint = public
        .get_log_checkpoint(cpb::GetLogCheckpointRequest { tree_size: 0 })
        .await
        .unwrap()
        .into_inner();
    seen.keep("GetLogCheckpoint", format!("{checkpoint:?}"));
    for index in 0..checkpoint.tree_size {
        match public
            .get_inclusion_proof(cpb::GetInclusionProofRequest {
                entry: Some(cpb::get_inclusion_proof_request::Entry::LogIndex(index)),
                tree_size: 0,
            })
            .await
        {
            Ok(proof) => {
                let proof = proof.into_inner();
                let entry = proof.entry.clone().unwrap_or_default();
                assert!(entry.certificate.is_empty(), "entry {index}: {entry:?}");
                seen.keep(
                    format!("GetInclusionProof {index}"),
                    format!("{proof:?} {}", String::from_utf8_lossy(&entry.entry)),
                );
            }
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
                seen.refused += 1;
            }
        }
    }
    if let Ok(c) = public
        .get_consistency_proof(cpb::GetConsistencyProofRequest {
            first_tree_size: 1,
            second_tree_size: 0,
        })
        .await
    {
        seen.keep("GetConsistencyProof", format!("{:?}", c.into_inner()));
    }
    for call in ["keys", "revocations"] {
        let answer = match call {
            "keys" => public
                .list_signing_keys(cpb::ListSigningKeysRequest {})
                .await
                .map(|r| format!("{:?}", r.into_inner())),
            _ => public
                .get_revocation_list(cpb::GetRevocationListRequest {})
                .await
                .map(|r| format!("{:?}", r.into_inner())),
        };
        match answer {
            Ok(text) => seen.keep(call, text),
            Err(_) => seen.refused += 1,
        }
    }

    // Verification by guessed ids, one by one and a thousand at once, and by forged QR texts.
    for n in 0..200 {
        match public
            .verify(cpb::VerifyRequest {
                subject: Some(cpb::verify_request::Subject::Certificate(random_id(n))),
            })
            .await
        {
            Ok(v) => {
                let v = v.into_inner();
                assert_eq!(v.verdict, cpb::Verdict::NotGenuine as i32);
                seen.keep("Verify", format!("{v:?}"));
            }
            Err(_) => seen.refused += 1,
        }
    }
    let batch = cpb::BatchVerifyRequest {
        requests: (1000..2000)
            .map(|n| cpb::VerifyRequest {
                subject: Some(cpb::verify_request::Subject::Certificate(random_id(n))),
            })
            .collect(),
    };
    match public.batch_verify(batch).await {
        Ok(answer) => seen.keep("BatchVerify", format!("{:?}", answer.into_inner())),
        Err(_) => seen.refused += 1,
    }
    let base = http.replace("http://", "HTTP://");
    for n in 0..20 {
        let text = format!(
            "{base}/C/{}#{}",
            random_id(n).to_uppercase(),
            "1".repeat(300)
        );
        if let Ok(v) = public
            .verify(cpb::VerifyRequest {
                subject: Some(cpb::verify_request::Subject::QrText(text)),
            })
            .await
        {
            seen.keep("Verify QR", format!("{:?}", v.into_inner()));
        }
    }

    // The teachers' search, guessed: common names with ID numbers of the county.
    for (n, name) in NAMES.iter().cycle().take(60).enumerate() {
        seen.typed_names.push((*name).to_owned());
        let id = tica_domain::ResidentId::generate(
            COUNTY,
            time::Date::from_calendar_date(1980 + (n % 20) as i32, time::Month::March, 2).unwrap(),
            n as u16 + 1,
        );
        match public
            .search_certificates(cpb::SearchCertificatesRequest {
                teacher_display_name: (*name).to_owned(),
                id_number: id.as_str().to_owned(),
            })
            .await
        {
            Ok(found) => {
                let found = found.into_inner();
                assert!(found.certificates.is_empty(), "a guess found {found:?}");
                seen.keep("SearchCertificates", format!("{found:?}"));
            }
            Err(_) => seen.refused += 1,
        }
        let page = http_request(
            &http,
            "POST",
            "/certificates",
            "application/x-www-form-urlencoded",
            format!("name={name}&id_number={}", id.as_str()).as_bytes(),
        )
        .await;
        seen.keep("POST /certificates", page);
    }

    // The number lookup: every printed number (they are sequential) with common names.
    for (n, number) in numbers.iter().take(60).enumerate() {
        let name = NAMES[n % NAMES.len()];
        seen.typed_names.push(name.to_owned());
        let page = http_request(
            &http,
            "POST",
            "/v",
            "application/x-www-form-urlencoded",
            format!("number={number}&name={name}").as_bytes(),
        )
        .await;
        if page.starts_with("HTTP/1.1 429") {
            seen.refused += 1;
        }
        if page.starts_with("HTTP/1.1 200") {
            // Found: only because the guess was the holder's name — what HR holding the paper
            // types. That is the lookup's purpose, not a harvest.
            assert_eq!(holder_of[number], name, "{page}");
            seen.hits += 1;
        } else {
            seen.keep(format!("POST /v {number}"), page);
        }
        let page = http_request(
            &http,
            "POST",
            "/v",
            "application/x-www-form-urlencoded",
            format!("number={number}&code=ABCDE-{:05}", n).as_bytes(),
        )
        .await;
        seen.keep(format!("POST /v {number} code"), page);
    }

    // Pages, downloads and checks with guessed ids; every published file.
    for n in 0..40 {
        let id = random_id(10_000 + n);
        for (method, path, body) in [
            ("GET", format!("/c/{id}"), String::new()),
            ("GET", format!("/C/{}", id.to_uppercase()), String::new()),
            ("GET", format!("/c/{id}/certificate.pdf"), String::new()),
            (
                "POST",
                format!("/c/{id}/certificate.pdf"),
                format!("proof={}", "7".repeat(200)),
            ),
            ("POST", format!("/c/{id}/qr"), "1".repeat(300)),
        ] {
            let answer = http_request(
                &http,
                method,
                &path,
                "application/x-www-form-urlencoded",
                body.as_bytes(),
            )
            .await;
            assert!(
                !answer.contains("%PDF"),
                "{path}: a PDF without the QR code"
            );
            seen.keep(format!("{method} {path}"), answer);
        }
    }
    for path in [
        "/",
        "/certificates",
        "/v",
        "/.well-known/jwks.json",
        "/revocations",
        "/metrics",
    ] {
        let answer = http_request(&http, "GET", path, "text/plain", b"").await;
        seen.keep(format!("GET {path}"), answer);
    }
    let answer = http_request(
        &http,
        "POST",
        "/verify/pdf",
        "application/pdf",
        b"%PDF-1.7 not a certificate",
    )
    .await;
    seen.keep("POST /verify/pdf", answer);

    // Nothing that identifies a certificate or a person, and no PDF, in anything answered.
    let mut leaks = Vec::new();
    for (what, answer) in &seen.answers {
        for (kind, secret) in &secrets {
            if kind == "name" && seen.typed_names.contains(secret) {
                continue;
            }
            if answer.contains(secret.as_str()) {
                leaks.push(format!("{what}: a {kind} ({secret})"));
            }
        }
        if answer.contains("%PDF") {
            leaks.push(format!("{what}: a PDF"));
        }
    }
    assert!(
        leaks.is_empty(),
        "the visitor harvested:\n{}",
        leaks.join("\n")
    );
    eprintln!(
        "{} answers searched for {} secrets of {} certificates; {} calls refused by limits; {} lookups named the holder right",
        seen.answers.len(),
        secrets.len(),
        numbers.len(),
        seen.refused,
        seen.hits
    );
    cluster.stop().await;
}
