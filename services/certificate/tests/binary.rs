//! The `tica-certificate` binary as Kubernetes runs it: configured by environment variables
//! alone, answering health checks, the admin port and its public pages, finishing a gRPC call
//! and a page request under way when SIGTERM arrives, migrating and exiting for the migration
//! Job, refusing to start without its keys. On SQLite, and on PostgreSQL with `DATABASE_URL`.
//! The scenarios are `tica_testkit::process::BinaryUnderTest`'s; the pages are the
//! certificate service's own.

use std::path::Path;

use tica_storage::Backend;
use tica_testkit::process::{
    BinaryUnderTest, ServiceProcess, TOKEN_PUBLIC_KEYS_VARIABLE, http_get, read_http_answer,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The variable of the public pages' address.
const HTTP_LISTEN: &str = "TICA_HTTP_LISTEN";

const CERTIFICATE: BinaryUnderTest = BinaryUnderTest {
    binary: env!("CARGO_BIN_EXE_tica-certificate"),
    database: "certificate",
    service: "tica.certificate.v1.CertificateService",
    migrations: tica_certificate::startup::MIGRATIONS,
    more_listen: &[HTTP_LISTEN],
    env: certificate_env,
};

/// A signing key, a search secret and archive directory, the pages' base URL, and the upstream
/// services at an address where nothing listens (channels connect on first use).
fn certificate_env(dir: &Path) -> Vec<(&'static str, String)> {
    let path = |name: &str| dir.join(name).display().to_string();
    tica_certificate::keys::ensure_dev_key(&dir.join("signing-keys"), "dev-1").unwrap();
    vec![
        ("TICA_CERT_KEYS", path("signing-keys")),
        ("TICA_CERT_SEARCH_SECRET_FILE", path("search-secret")),
        ("TICA_CERT_ARCHIVE_DIR", path("archives")),
        (
            "TICA_VERIFY_BASE_URL",
            "https://verify.example.test".to_owned(),
        ),
        ("TICA_ASSESSMENT_URL", "http://127.0.0.1:1".to_owned()),
        ("TICA_ROSTER_URL", "http://127.0.0.1:1".to_owned()),
    ]
}

tica_testkit::backend_tests!(
    the_certificate_binary_starts_from_environment_variables_alone_and_answers_health_the_admin_port_and_its_pages,
    the_certificate_binary_finishes_an_in_flight_call_and_page_request_after_sigterm_and_exits_cleanly,
    the_certificate_binary_with_migrate_only_applies_its_migrations_and_exits_without_listening,
);

async fn the_certificate_binary_starts_from_environment_variables_alone_and_answers_health_the_admin_port_and_its_pages(
    backend: Backend,
) {
    CERTIFICATE
        .assert_starts_from_environment_alone_checking(backend, async |certificate| {
            let jwks = http_get(certificate.addr(HTTP_LISTEN), "/.well-known/jwks.json")
                .await
                .unwrap();
            assert_eq!(jwks.status, 200, "{}", jwks.body);
            assert!(jwks.body.contains("\"keys\""), "{}", jwks.body);
        })
        .await;
}

/// A PDF check on the public pages whose upload is half sent.
struct HalfSentPdfCheck {
    page: TcpStream,
    tail: Vec<u8>,
}

impl HalfSentPdfCheck {
    /// Sends the request's head and half of its body to `certificate`'s pages.
    async fn start(certificate: &ServiceProcess) -> HalfSentPdfCheck {
        let body = b"%PDF-1.7 this is not a certificate".repeat(64);
        let (head, tail) = body.split_at(body.len() / 2);
        let mut page = TcpStream::connect(certificate.addr(HTTP_LISTEN))
            .await
            .unwrap();
        page.write_all(
            format!(
                "POST /verify/pdf HTTP/1.1\r\nHost: verify.example.test\r\n\
                 Content-Type: application/pdf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        page.write_all(head).await.unwrap();
        HalfSentPdfCheck {
            page,
            tail: tail.to_vec(),
        }
    }

    /// Sends the rest of the body: the answer is a page saying the file is not genuine.
    async fn finish(self) {
        let HalfSentPdfCheck { mut page, tail } = self;
        page.write_all(&tail).await.unwrap();
        let answer = read_http_answer(&mut page).await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains("NOT GENUINE"), "{}", answer.body);
    }
}

async fn the_certificate_binary_finishes_an_in_flight_call_and_page_request_after_sigterm_and_exits_cleanly(
    backend: Backend,
) {
    // Both listeners close; the page request and the call under way are still answered.
    CERTIFICATE
        .assert_in_flight_reflection_call_and_more_survive_sigterm(
            backend,
            HalfSentPdfCheck::start,
            HalfSentPdfCheck::finish,
        )
        .await;
}

async fn the_certificate_binary_with_migrate_only_applies_its_migrations_and_exits_without_listening(
    backend: Backend,
) {
    CERTIFICATE
        .assert_migrate_only_applies_migrations_and_exits(backend)
        .await;
}

#[tokio::test]
async fn the_certificate_binary_without_token_public_keys_exits_with_a_message_naming_the_variable()
{
    CERTIFICATE
        .assert_missing_variable_is_named(TOKEN_PUBLIC_KEYS_VARIABLE)
        .await;
}
