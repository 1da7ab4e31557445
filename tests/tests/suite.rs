//! The whole suite in one process, as `tica serve` runs it.

use tica_auth::Role;
use tica_e2e::{Cluster, Transport, client_tls};
use tica_proto::tica::roster::v1 as pb;
use tica_storage::Backend;
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

tica_testkit::backend_tests!(
    a_stranger_can_discover_every_service_by_reflection,
    health_reports_all_four_services_serving,
    every_service_answers_through_the_suite,
    over_tls_the_suite_answers_and_a_plaintext_client_is_refused,
    under_mutual_tls_only_a_client_with_a_certificate_of_the_ca_is_served,
);

async fn a_stranger_can_discover_every_service_by_reflection(backend: Backend) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let mut client = ServerReflectionClient::new(cluster.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("{response:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "tica.roster.v1.RosterService",
        "tica.assessment.v1.AssessmentService",
        "tica.sampling.v1.SamplingService",
        "tica.certificate.v1.CertificateService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    // And can fetch a service's schema.
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "tica.roster.v1.RosterService".into(),
        )),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    assert!(
        matches!(response.message_response, Some(MessageResponse::FileDescriptorResponse(f)) if !f.file_descriptor_proto.is_empty())
    );
    cluster.stop().await;
}

async fn health_reports_all_four_services_serving(backend: Backend) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let mut health = HealthClient::new(cluster.channel.clone());
    let status = |service: &str| HealthCheckRequest {
        service: service.into(),
    };
    let roster = health
        .check(status("tica.roster.v1.RosterService"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(roster.status, ServingStatus::Serving as i32);
    let assessment = health
        .check(status("tica.assessment.v1.AssessmentService"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assessment.status, ServingStatus::Serving as i32);
    let sampling = health
        .check(status("tica.sampling.v1.SamplingService"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sampling.status, ServingStatus::Serving as i32);
    let certificate = health
        .check(status("tica.certificate.v1.CertificateService"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(certificate.status, ServingStatus::Serving as i32);
    let body = tica_e2e::http_request(&cluster.http(), "GET", "/healthz", "text/plain", b"").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    let jwks = tica_e2e::http_request(
        &cluster.http(),
        "GET",
        "/.well-known/jwks.json",
        "text/plain",
        b"",
    )
    .await;
    assert!(jwks.contains("\"crv\": \"Ed25519\""), "{jwks}");
    cluster.stop().await;
}

async fn every_service_answers_through_the_suite(backend: Backend) {
    let Some(cluster) = Cluster::start(backend).await else {
        return;
    };
    let mut roster = cluster.roster(Role::ProvinceOffice, "340000");
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
    let listed = roster
        .list_jurisdictions(pb::ListJurisdictionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.jurisdictions[0].display_name, "安徽省");
    let token = cluster.token(Role::ProvinceOffice, "340000", None);
    let mut assessment = tica_client::assessment(cluster.channel.clone(), &token);
    let catalogue = assessment
        .list_micro_competencies(
            tica_proto::tica::assessment::v1::ListMicroCompetenciesRequest::default(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(catalogue.micro_competencies.len(), 30);
    let mut sampling = tica_client::sampling(cluster.channel.clone(), &token);
    let rounds = sampling
        .list_review_rounds(tica_proto::tica::sampling::v1::ListReviewRoundsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        rounds.total_size, 0,
        "the sampling service answers: no rounds yet"
    );
    let mut certificate = tica_client::certificate(cluster.channel.clone(), &token);
    let listed = certificate
        .list_certificates(tica_proto::tica::certificate::v1::ListCertificatesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0, "no certificates issued yet");
    cluster.stop().await;
}

/// `grpc.health.v1.Health/Check` of the whole server over `channel`, or why not.
async fn health(channel: tonic::transport::Channel) -> Result<(), String> {
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map_err(|status| format!("{status:?}"))?
        .into_inner();
    assert_eq!(answer.status, ServingStatus::Serving as i32);
    Ok(())
}

/// A lazily connected channel to `url` made by `tls` (plaintext for `http://`).
fn channel(tls: &tica_server::tls::Tls, url: &str) -> tonic::transport::Channel {
    tls.channel(url).expect("a channel")
}

/// A batch opened in a county of one school and one teacher: the assessment service reads the
/// schools and teachers from the roster through the suite's own gRPC port, so this goes through
/// the services' internal channel (over TLS, with the process's own certificate, when the suite
/// serves TLS).
async fn a_batch_opens_through_the_internal_channel(cluster: &Cluster) {
    cluster
        .register_jurisdictions(&[
            ("340000", "安徽省", ""),
            ("341300", "宿州市", "340000"),
            ("341324", "泗县", "341300"),
        ])
        .await;
    cluster
        .register_school("341324", "3413240001", "泗县示例小学")
        .await;
    cluster
        .register_teacher(
            "341324",
            "3413240001",
            "李四",
            "数学",
            time::macros::date!(1985 - 03 - 07),
            1,
        )
        .await;
    let batch = cluster.open_batch("341324", 2026, "泗县 2026").await;
    assert_eq!(batch.participant_count, 1, "{batch:?}");
    assert_eq!(batch.schools_total, 1, "{batch:?}");
}

/// `tica serve` with a certificate (issue 17 §1): the gRPC port and the public pages speak TLS,
/// the services reach each other over it, and a plaintext client gets nothing.
async fn over_tls_the_suite_answers_and_a_plaintext_client_is_refused(backend: Backend) {
    let Some(cluster) = Cluster::start_with(backend, Transport::Tls).await else {
        return;
    };
    let suite = cluster.suite.as_ref().unwrap();
    assert!(suite.serves_tls);
    assert!(
        suite.verify_base_url.starts_with("https://"),
        "QR codes point at the TLS pages: {}",
        suite.verify_base_url
    );
    assert!(cluster.http().starts_with("https://"));
    health(cluster.channel.clone()).await.unwrap();
    // Without a client certificate too: the port asks for none without a client CA.
    health(channel(&client_tls(None), &cluster.grpc_url()))
        .await
        .unwrap();
    a_batch_opens_through_the_internal_channel(&cluster).await;

    let plaintext = format!("http://{}", suite.grpc_addr);
    let refused = health(channel(&client_tls(None), &plaintext)).await;
    assert!(refused.is_err(), "a plaintext gRPC client is served");
    // The public pages: a plaintext request gets no HTTP answer.
    let plain_http = format!("http://{}", suite.http_addr);
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tica_e2e::http_request(&plain_http, "GET", "/healthz", "text/plain", b""),
    )
    .await
    .expect("the TLS front closes a plaintext connection");
    assert!(!answer.contains("HTTP/1.1 200"), "{answer}");
    cluster.stop().await;
}

/// `tica serve` with a client CA: the gRPC port serves only clients presenting a certificate
/// of that CA (the gateway's, the services' own), not a client without one, nor one of another
/// CA, nor plaintext; the services inside still reach each other.
async fn under_mutual_tls_only_a_client_with_a_certificate_of_the_ca_is_served(backend: Backend) {
    let Some(cluster) = Cluster::start_tls(backend).await else {
        return;
    };
    assert_eq!(cluster.transport(), Transport::MutualTls);
    let url = cluster.grpc_url();
    health(channel(&client_tls(Some("client")), &url))
        .await
        .unwrap();
    for (who, tls) in [
        ("a client without a certificate", client_tls(None)),
        ("a client of another CA", client_tls(Some("stranger"))),
    ] {
        let refused = health(channel(&tls, &url)).await;
        assert!(refused.is_err(), "{who} is served");
    }
    let plaintext = format!("http://{}", cluster.suite.as_ref().unwrap().grpc_addr);
    assert!(
        health(channel(&client_tls(None), &plaintext))
            .await
            .is_err(),
        "a plaintext client is served"
    );
    a_batch_opens_through_the_internal_channel(&cluster).await;
    cluster.stop().await;
}
