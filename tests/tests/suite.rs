//! The whole suite in one process, as `tica serve` runs it.

use tica_auth::Role;
use tica_e2e::Cluster;
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
