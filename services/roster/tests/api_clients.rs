//! Machine clients and the token endpoint (issue 17 §2): an office registers a client over gRPC,
//! the client trades its secret for a token at `POST /oauth/token` (RFC 6749 §4.4) through the
//! real public edge, and the token works where the services check tokens. Then the same
//! endpoint as an attacker meets it: wrong and unknown secrets, revoked clients, malformed and
//! oversized requests, and guessing fast.

mod support;

use std::net::SocketAddr;

use base64::Engine;
use support::TestApp;
use tica_auth::Role;
use tica_proto::tica::roster::v1 as pb;
use tica_server::edge::{Edge, EdgeConfig};
use tica_server::errors::field_violations;
use tica_storage::Backend;
use tica_testkit::errors::reason_of;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

tica_testkit::backend_tests!(
    an_office_registers_a_client_whose_secret_buys_a_token_the_services_accept,
    the_secret_is_shown_once_and_stored_only_as_a_hash,
    an_office_registers_clients_only_for_its_own_subtree_and_never_a_persons_role,
    a_training_provider_client_gets_tokens_in_its_providers_name,
    a_revoked_client_gets_no_more_tokens_and_cannot_be_revoked_twice,
    clients_are_listed_newest_first_page_by_page_within_the_callers_subtree,
    the_token_endpoint_tells_a_stranger_nothing_and_refuses_malformed_requests,
    one_address_guessing_secrets_is_slowed_by_the_public_edge,
);

const PROVINCE: &str = "340000";
const CITY: &str = "341300";
const COUNTY: &str = "341324";
const OTHER_COUNTY: &str = "341302";

/// A roster with Anhui, Suzhou and two of its counties, and its token endpoint behind the
/// public edge (with `edge`'s limits).
struct Setup {
    app: TestApp,
    http: SocketAddr,
}

async fn setup_with(backend: Backend, edge: EdgeConfig) -> Option<Setup> {
    let app = TestApp::spawn(backend).await?;
    let mut province = app.office(PROVINCE);
    tica_testkit::fixtures::register_jurisdictions(
        &mut province,
        &[
            (PROVINCE, "安徽省", ""),
            (CITY, "宿州市", PROVINCE),
            (COUNTY, "泗县", CITY),
            (OTHER_COUNTY, "埇桥区", CITY),
        ],
    )
    .await;
    let router = tica_roster::http::router(
        tica_roster::service::Roster::new(app.db.clone()),
        app.keys.signer().clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    tokio::spawn(async move {
        Edge::new(edge)
            .serve_http(listener, router, std::future::pending())
            .await
    });
    Some(Setup { app, http })
}

async fn setup(backend: Backend) -> Option<Setup> {
    setup_with(backend, EdgeConfig::default()).await
}

fn new_client(role: &str, jurisdiction: &str, provider: &str) -> pb::CreateApiClientRequest {
    pb::CreateApiClientRequest {
        api_client: Some(pb::ApiClient {
            display_name: "省人社厅职称评审系统".into(),
            jurisdiction: format!("jurisdictions/{jurisdiction}"),
            role: role.into(),
            provider_id: provider.into(),
            ..Default::default()
        }),
    }
}

/// An answer of the token endpoint.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: serde_json::Value,
    raw_body: String,
}

impl Answer {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

/// Sends one HTTP/1.1 request as a client would, headers as given.
async fn send(to: SocketAddr, method: &str, headers: &[(&str, String)], body: &[u8]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(to).await.unwrap();
    let mut head = format!(
        "{method} /oauth/token HTTP/1.1\r\nHost: {to}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, raw_body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: serde_json::from_str(raw_body).unwrap_or(serde_json::Value::Null),
        raw_body: raw_body.to_owned(),
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

/// A hostile request: what it is, its headers and body, and the status and `error` it gets.
type Case = (
    &'static str,
    Vec<(&'static str, String)>,
    Vec<u8>,
    u16,
    &'static str,
);

fn basic(id: &str, secret: &str) -> (&'static str, String) {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    ("Authorization", format!("Basic {pair}"))
}

/// The client-credentials grant with HTTP Basic.
async fn grant(to: SocketAddr, id: &str, secret: &str) -> Answer {
    send(
        to,
        "POST",
        &[("Content-Type", FORM.into()), basic(id, secret)],
        b"grant_type=client_credentials",
    )
    .await
}

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn an_office_registers_a_client_whose_secret_buys_a_token_the_services_accept(
    backend: Backend,
) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let mut county = s.app.office(COUNTY);
    let client = county
        .create_api_client(new_client("county_office", COUNTY, ""))
        .await
        .expect("a county office registers a client of its own")
        .into_inner();
    assert_eq!(client.name, format!("apiClients/{}", client.client_id));
    assert_eq!(client.state(), pb::ApiClientState::Active);
    assert_eq!(client.token_ttl_seconds, 600);
    assert_eq!(client.created_by, "test-user");

    let answer = grant(s.http, &client.client_id, &client.client_secret).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.head.contains("cache-control: no-store"),
        "{}",
        answer.head
    );
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 600);
    assert_eq!(answer.body["scope"], "county_office");
    let token = answer.body["access_token"].as_str().unwrap();
    let claims = claims_of(token);
    assert_eq!(claims["role"], "county_office");
    assert_eq!(claims["jur"], COUNTY);
    assert_eq!(claims["client_id"], client.client_id.as_str());
    assert_eq!(claims["sub"], client.name.as_str());

    // The token works where tokens are checked: the roster's own gRPC port.
    let mut agency = s.app.client_with_token(token);
    let county = agency
        .get_jurisdiction(pb::GetJurisdictionRequest {
            name: format!("jurisdictions/{COUNTY}"),
        })
        .await
        .expect("the client's token reads its county")
        .into_inner();
    assert_eq!(county.display_name, "泗县");
    let beyond = agency
        .get_jurisdiction(pb::GetJurisdictionRequest {
            name: format!("jurisdictions/{OTHER_COUNTY}"),
        })
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), Code::PermissionDenied, "{beyond:?}");

    // The form's client_id and client_secret work as well as Basic (RFC 6749 §2.3.1).
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=county_office",
        client.client_id, client.client_secret
    );
    let answer = send(
        s.http,
        "POST",
        &[("Content-Type", FORM.into())],
        body.as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

async fn the_secret_is_shown_once_and_stored_only_as_a_hash(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let mut city = s.app.office(CITY);
    let created = city
        .create_api_client(new_client("county_office", COUNTY, ""))
        .await
        .unwrap()
        .into_inner();
    assert!(created.client_secret.starts_with("tica_cs_"));
    let read = city
        .get_api_client(pb::GetApiClientRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.client_secret, "");
    assert_eq!(
        pb::ApiClient {
            client_secret: String::new(),
            ..created.clone()
        },
        read
    );
    let listed = city
        .list_api_clients(pb::ListApiClientsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed
            .api_clients
            .iter()
            .all(|c| c.client_secret.is_empty())
    );

    let stored = tica_roster::store::api_clients::get(&s.app.db, &created.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.secret_sha256,
        tica_roster::service::api_clients::secret_hash(&created.client_secret)
    );
    assert!(!format!("{stored:?}").contains(&created.client_secret));
}

async fn an_office_registers_clients_only_for_its_own_subtree_and_never_a_persons_role(
    backend: Backend,
) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let mut county = s.app.office(COUNTY);
    let refusals = [
        // Above itself: a province's role for the province.
        (
            new_client("province_office", PROVINCE, ""),
            Code::PermissionDenied,
        ),
        // A role above the jurisdiction's level, in its own county.
        (
            new_client("province_office", COUNTY, ""),
            Code::InvalidArgument,
        ),
        // Beside itself.
        (
            new_client("county_office", OTHER_COUNTY, ""),
            Code::PermissionDenied,
        ),
        // People's roles.
        (new_client("teacher", COUNTY, ""), Code::InvalidArgument),
        (
            new_client("school_admin", COUNTY, ""),
            Code::InvalidArgument,
        ),
        // A provider without its id, an office with one, a made-up role.
        (
            new_client("training_provider", COUNTY, ""),
            Code::InvalidArgument,
        ),
        (
            new_client("county_office", COUNTY, "p-1"),
            Code::InvalidArgument,
        ),
        (new_client("root", COUNTY, ""), Code::InvalidArgument),
        // A jurisdiction that is not registered.
        (
            new_client("training_provider", "341399", "p-1"),
            Code::PermissionDenied,
        ),
    ];
    for (request, code) in refusals {
        let what = format!("{:?}", request.api_client);
        let status = county.create_api_client(request).await.unwrap_err();
        assert_eq!(status.code(), code, "{what}: {status:?}");
        if code == Code::InvalidArgument {
            assert!(
                field_violations(&status)
                    .iter()
                    .any(|(field, _)| field.starts_with("api_client.")),
                "{what}: {status:?}"
            );
        }
    }
    let lifetime = pb::CreateApiClientRequest {
        api_client: Some(pb::ApiClient {
            token_ttl_seconds: 86_400,
            ..new_client("county_office", COUNTY, "").api_client.unwrap()
        }),
    };
    let status = county.create_api_client(lifetime).await.unwrap_err();
    assert_eq!(
        field_violations(&status)[0].0,
        "api_client.token_ttl_seconds"
    );
    // A school's administrator and a teacher may not register machines at all.
    let mut school = s.app.client(Role::SchoolAdmin, COUNTY, Some("3413240001"));
    let status = school
        .create_api_client(new_client("training_provider", COUNTY, "p-1"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason_of(&status), "ROLE_NOT_ALLOWED");
    // Nothing of the refused calls was stored.
    let listed = s
        .app
        .office(PROVINCE)
        .list_api_clients(pb::ListApiClientsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0, "{listed:?}");
}

async fn a_training_provider_client_gets_tokens_in_its_providers_name(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let created = s
        .app
        .office(CITY)
        .create_api_client(pb::CreateApiClientRequest {
            api_client: Some(pb::ApiClient {
                token_ttl_seconds: 120,
                ..new_client("training_provider", CITY, "ahjy-2026")
                    .api_client
                    .unwrap()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let answer = grant(s.http, &created.client_id, &created.client_secret).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["expires_in"], 120);
    let claims = claims_of(answer.body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "ahjy-2026");
    assert_eq!(claims["role"], "training_provider");
    assert_eq!(claims["jur"], CITY);
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 120);
    // It asks for more than it was given: invalid_scope, no token.
    let body = "grant_type=client_credentials&scope=training_provider%20city_office";
    let answer = send(
        s.http,
        "POST",
        &[
            ("Content-Type", FORM.into()),
            basic(&created.client_id, &created.client_secret),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!((answer.status, answer.error()), (400, "invalid_scope"));
    assert!(answer.body.get("access_token").is_none());
}

async fn a_revoked_client_gets_no_more_tokens_and_cannot_be_revoked_twice(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let mut county = s.app.office(COUNTY);
    let created = county
        .create_api_client(new_client("county_office", COUNTY, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        grant(s.http, &created.client_id, &created.client_secret)
            .await
            .status,
        200
    );
    let status = county
        .revoke_api_client(pb::RevokeApiClientRequest {
            name: created.name.clone(),
            reason: "  ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status)[0].0, "reason");
    // Another county cannot see it, let alone revoke it.
    let status = s
        .app
        .office(OTHER_COUNTY)
        .revoke_api_client(pb::RevokeApiClientRequest {
            name: created.name.clone(),
            reason: "not mine".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let revoked = county
        .revoke_api_client(pb::RevokeApiClientRequest {
            name: created.name.clone(),
            reason: "密钥泄露".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.state(), pb::ApiClientState::Revoked);
    assert_eq!(revoked.revoke_reason, "密钥泄露");
    assert!(revoked.revoke_time.is_some());

    let answer = grant(s.http, &created.client_id, &created.client_secret).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_client"));
    let again = county
        .revoke_api_client(pb::RevokeApiClientRequest {
            name: created.name.clone(),
            reason: "again".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&again), "API_CLIENT_REVOKED");
    // Both writes are in the audit trail, the reason with the revocation.
    let events = county
        .list_audit_events(pb::ListAuditEventsRequest {
            resource: created.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_events;
    let methods: Vec<&str> = events.iter().map(|e| e.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "tica.roster.v1.RosterService/RevokeApiClient",
            "tica.roster.v1.RosterService/CreateApiClient"
        ]
    );
}

async fn clients_are_listed_newest_first_page_by_page_within_the_callers_subtree(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let mut city = s.app.office(CITY);
    let mut names = Vec::new();
    for (role, at, provider) in [
        ("county_office", COUNTY, ""),
        ("training_provider", COUNTY, "p-1"),
        ("county_office", OTHER_COUNTY, ""),
        ("city_office", CITY, ""),
    ] {
        let c = city
            .create_api_client(new_client(role, at, provider))
            .await
            .unwrap()
            .into_inner();
        names.push(c.name);
    }
    city.revoke_api_client(pb::RevokeApiClientRequest {
        name: names[1].clone(),
        reason: "合同终止".into(),
    })
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = city
            .list_api_clients(pb::ListApiClientsRequest {
                page_size: 3,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 4);
        seen.extend(page.api_clients.into_iter().map(|c| c.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let newest_first: Vec<String> = names.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let in_county = s
        .app
        .office(COUNTY)
        .list_api_clients(pb::ListApiClientsRequest {
            state: pb::ApiClientState::Active as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        in_county
            .api_clients
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        [names[0].as_str()]
    );
    let status = s
        .app
        .office(COUNTY)
        .list_api_clients(pb::ListApiClientsRequest {
            parent: format!("jurisdictions/{CITY}"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

async fn the_token_endpoint_tells_a_stranger_nothing_and_refuses_malformed_requests(
    backend: Backend,
) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let created = s
        .app
        .office(COUNTY)
        .create_api_client(new_client("county_office", COUNTY, ""))
        .await
        .unwrap()
        .into_inner();
    let (id, secret) = (created.client_id.as_str(), created.client_secret.as_str());

    // A wrong secret, an unknown client and a malformed id get the very same answer.
    let wrong = grant(s.http, id, &format!("{secret}x")).await;
    assert_eq!((wrong.status, wrong.error()), (401, "invalid_client"));
    assert!(
        wrong.head.contains("www-authenticate: basic"),
        "{}",
        wrong.head
    );
    let unknown = grant(s.http, &"0".repeat(32), secret).await;
    let malformed = grant(s.http, "../../etc/passwd", secret).await;
    assert_eq!(unknown.raw_body, wrong.raw_body);
    assert_eq!(malformed.raw_body, wrong.raw_body);
    assert!(!wrong.raw_body.contains(id));

    let form = ("Content-Type", FORM.to_owned());
    let cases: Vec<Case> = vec![
        (
            "another grant",
            vec![form.clone(), basic(id, secret)],
            b"grant_type=password&username=a&password=b".to_vec(),
            400,
            "unsupported_grant_type",
        ),
        (
            "no grant type",
            vec![form.clone(), basic(id, secret)],
            b"scope=county_office".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "a parameter twice",
            vec![form.clone(), basic(id, secret)],
            b"grant_type=client_credentials&grant_type=client_credentials".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "JSON instead of a form",
            vec![
                ("Content-Type", "application/json".into()),
                basic(id, secret),
            ],
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            400,
            "invalid_request",
        ),
        (
            "two ways of authenticating",
            vec![form.clone(), basic(id, secret)],
            format!("grant_type=client_credentials&client_id={id}&client_secret={secret}")
                .into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "no credentials",
            vec![form.clone()],
            b"grant_type=client_credentials".to_vec(),
            401,
            "invalid_client",
        ),
        (
            "a secret without its id",
            vec![form.clone()],
            format!("grant_type=client_credentials&client_secret={secret}").into_bytes(),
            401,
            "invalid_client",
        ),
        (
            "Basic that is not base64",
            vec![form.clone(), ("Authorization", "Basic !!!".into())],
            b"grant_type=client_credentials".to_vec(),
            401,
            "invalid_client",
        ),
        (
            "a bearer token instead of client credentials",
            vec![form.clone(), ("Authorization", "Bearer abc".into())],
            b"grant_type=client_credentials".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "a body larger than a token request",
            vec![form.clone(), basic(id, secret)],
            format!("grant_type=client_credentials&pad={}", "x".repeat(8192)).into_bytes(),
            413,
            "invalid_request",
        ),
    ];
    for (what, headers, body, status, error) in cases {
        let answer = send(s.http, "POST", &headers, &body).await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, error),
            "{what}: {answer:?}"
        );
        assert!(answer.head.contains("cache-control: no-store"), "{what}");
        assert!(answer.body.get("access_token").is_none(), "{what}");
    }
    let get = send(s.http, "GET", &[basic(id, secret)], b"").await;
    assert_eq!(get.status, 405, "{get:?}");
}

async fn one_address_guessing_secrets_is_slowed_by_the_public_edge(backend: Backend) {
    let edge = EdgeConfig {
        rate_per_minute: 6,
        burst: 3,
        ..EdgeConfig::default()
    };
    let Some(s) = setup_with(backend, edge).await else {
        return;
    };
    let mut statuses = Vec::new();
    for guess in 0..6 {
        let answer = grant(s.http, &"a".repeat(32), &format!("tica_cs_{guess}")).await;
        statuses.push(answer.status);
    }
    assert_eq!(&statuses[..3], [401, 401, 401]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
}
