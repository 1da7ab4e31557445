//! The public pages as HR clerks, teachers and hostile visitors meet them, through the HTTP
//! router on both databases: what the verification page shows, the PDF check (raw and as a
//! multipart form, another certificate's file), the number lookup, errors in Chinese first with
//! English beside and a way back, the landing page, and the headers every page carries.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use support::{Offline as Pages, certified_event};
use tica_certificate::model::CertificateRecord;
use tica_certificate::service::Numbers;
use tica_proto::tica::assessment::v1 as apb;
use tica_storage::Backend;
use tower::ServiceExt;

tica_testkit::backend_tests!(
    the_verification_page_shows_what_hr_needs_and_names_a_level_certificate_as_such,
    a_pdf_check_takes_a_multipart_form_or_a_raw_body_and_warns_about_another_certificate,
    every_error_a_visitor_meets_is_chinese_first_with_english_and_a_way_back,
    an_unknown_id_or_number_is_not_found_rather_than_not_genuine,
    the_landing_page_is_bilingual_and_every_page_is_locked_down,
);

impl Pages {
    /// A fresh service that has issued three micro-competency certificates and a Ningxia-style
    /// level certificate.
    async fn issued(backend: Backend) -> Option<Pages> {
        let pages = Pages::open(backend).await?;
        let mut events: Vec<_> = (0..3).map(certified_event).collect();
        events.push(apb::CertifiedResult {
            sequence: 4,
            result_key: "341324-2022/T0000009/level".into(),
            teacher: "teachers/T0000009".into(),
            certificate_mode: apb::CertificateMode::Level as i32,
            micro_competency: String::new(),
            micro_competency_display_name: String::new(),
            credits: 0,
            counted_centihours: 5000,
            issuing_authority: "宁夏回族自治区教育厅能力提升2.0办公室".into(),
            certificate_title: "信息技术应用能力提升工程2.0 能力等级证书".into(),
            ..certified_event(27)
        });
        let keys: HashMap<String, String> = ["T0000000", "T0000009"]
            .iter()
            .map(|t| ((*t).to_owned(), format!("key-{t}")))
            .collect();
        let mut run = support::stored_run(&pages.db, 1, 0).await.unwrap();
        pages
            .svc
            .process(&mut run, events, &keys, &mut Numbers::new())
            .await
            .unwrap();
        Some(pages)
    }

    async fn all(&self) -> Vec<CertificateRecord> {
        support::all_certificates(&self.db).await
    }

    /// One request through the public router, from 192.0.2.7.
    async fn call(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let router =
            tica_certificate::http::router(self.svc.clone(), &tica_server::edge::CorsOrigins::Any)
                .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
        let response = router.oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 4 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        self.call(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, String) {
        let (status, _, text) = self
            .call(
                Request::post(path)
                    .header(header::CONTENT_TYPE, content_type)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        (status, text)
    }
}

/// A multipart form with one file field, as `curl -F pdf=@cert.pdf` sends it.
fn multipart(pdf: &[u8]) -> (String, Vec<u8>) {
    let boundary = "------------------------tica0123456789";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"pdf\"; filename=\"cert.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn the_verification_page_shows_what_hr_needs_and_names_a_level_certificate_as_such(
    backend: Backend,
) {
    let Some(pages) = Pages::issued(backend).await else {
        return;
    };
    let all = pages.all().await;
    let micro = all
        .iter()
        .find(|c| c.doc.facts.micro_competency == "A1")
        .unwrap();
    let (status, _, page) = pages.get(&format!("/c/{}", micro.id)).await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "学时 Hours",
        "50",
        "年度 Year",
        "2022",
        "项目 Project",
        "信息技术应用能力提升工程2.0",
        "核验时间 Verified at",
        "微能力 Micro-competency",
        "A1 技术支持的学情分析",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let level = all
        .iter()
        .find(|c| c.doc.facts.kind == tica_certificate::model::Kind::Level)
        .unwrap();
    let (_, _, page) = pages.get(&format!("/C/{}", level.id.to_uppercase())).await;
    assert!(!page.contains("微能力 Micro-competency"), "{page}");
    assert!(
        page.contains(
            "<dt>证书 Certificate</dt><dd>信息技术应用能力等级 ICT competence level</dd>"
        ),
        "{page}"
    );
    // Words wrap between words, never inside them ("ICT c/ompetence").
    assert!(!page.contains("break-all"));
    pages.db.close().await;
}

async fn a_pdf_check_takes_a_multipart_form_or_a_raw_body_and_warns_about_another_certificate(
    backend: Backend,
) {
    let Some(pages) = Pages::issued(backend).await else {
        return;
    };
    let all = pages.all().await;
    let (one, other) = (&all[0], &all[1]);
    let pdf = pages.svc.pdf_of(&one.id).await.unwrap();
    let (content_type, form) = multipart(&pdf);
    let (status, page) = pages.post("/verify/pdf", &content_type, form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("有效") && page.contains("与签发文件完全一致"),
        "{page}"
    );
    let (_, raw) = pages
        .post("/verify/pdf", "application/pdf", pdf.clone())
        .await;
    assert!(raw.contains("与签发文件完全一致"), "{raw}");
    // Uploaded on the page of another certificate: an amber warning, not its green verdict.
    let (content_type, form) = multipart(&pdf);
    let (status, page) = pages
        .post(&format!("/c/{}/pdf", other.id), &content_type, form)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("verdict warn") && page.contains("另一份证书"),
        "{page}"
    );
    assert!(!page.contains("verdict valid"), "{page}");
    assert!(page.contains(&one.number), "{page}");
    // A form without a file, and a file far too big.
    let (status, page) = pages
        .post(
            "/verify/pdf",
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--x--\r\n".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        page.contains("请选择要核对的PDF文件 Choose the PDF file"),
        "{page}"
    );
    let (status, _) = pages
        .post("/verify/pdf", "application/pdf", vec![b'%'; 1_100_000])
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    pages.db.close().await;
}

async fn every_error_a_visitor_meets_is_chinese_first_with_english_and_a_way_back(
    backend: Backend,
) {
    let Some(pages) = Pages::issued(backend).await else {
        return;
    };
    let form = "application/x-www-form-urlencoded";
    // Eighteen characters with a wrong check character: not "18 characters".
    let id = tica_domain::ResidentId::generate(
        "341324",
        time::Date::from_calendar_date(1985, time::Month::March, 2).unwrap(),
        9,
    );
    let mut typo = id.as_str().to_owned();
    let last = typo.pop().unwrap();
    typo.push(if last == '3' { '4' } else { '3' });
    let (status, page) = pages
        .post(
            "/certificates",
            form,
            format!("name=%E7%8E%8B%E8%8A%B3&id_number={typo}").into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("身份证号校验位不符") && page.contains("check character"),
        "{page}"
    );
    assert!(
        !page.contains("18位") && !page.contains("18 characters"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/certificates\""),
        "a way back: {page}"
    );
    // Too many searches from one address: 429, Retry-After, in both languages, a way back.
    let mut last = (StatusCode::OK, String::new());
    for n in 0..25u16 {
        let id = tica_domain::ResidentId::generate(
            "341324",
            time::Date::from_calendar_date(1986, time::Month::May, 5).unwrap(),
            n + 1,
        );
        last = pages
            .post(
                "/certificates",
                form,
                format!("name=%E6%9D%8E%E5%9B%9B&id_number={}", id.as_str()).into_bytes(),
            )
            .await;
    }
    assert_eq!(last.0, StatusCode::TOO_MANY_REQUESTS, "{}", last.1);
    assert!(
        last.1.contains("查询过于频繁") && last.1.contains("Too many"),
        "{}",
        last.1
    );
    assert!(last.1.contains("href=\"/certificates\""), "{}", last.1);
    // Downloading without the QR code says what is needed and where to go.
    let id = &pages.all().await[0].id;
    let (status, _, page) = pages.get(&format!("/c/{id}/certificate.pdf")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("二维码") && page.contains("QR code") && page.contains("/certificates"));
    pages.db.close().await;
}

async fn an_unknown_id_or_number_is_not_found_rather_than_not_genuine(backend: Backend) {
    let Some(pages) = Pages::issued(backend).await else {
        return;
    };
    let (status, _, page) = pages.get("/c/0000000000000000000000000z").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        page.contains("未找到") && page.contains("NOT FOUND"),
        "{page}"
    );
    assert!(!page.contains("无法验证"), "{page}");
    let (status, page) = pages
        .post(
            "/v",
            "application/x-www-form-urlencoded",
            b"number=341324-2022-999999&name=%E7%8E%8B%E8%8A%B3".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        page.contains("未找到 NOT FOUND") || page.contains("<b>未找到</b>"),
        "{page}"
    );
    assert!(!page.contains("无法验证"), "{page}");
    // The right number and name: the certificate, without the QR code.
    let cert = &pages.all().await[0];
    let (status, page) = pages
        .post(
            "/v",
            "application/x-www-form-urlencoded",
            format!(
                "number={}&code={}",
                cert.number,
                tica_certificate::service::verification_code(&cert.id)
            )
            .into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("verdict valid") && page.contains(&cert.number),
        "{page}"
    );
    assert!(
        !page.contains(&cert.id),
        "the lookup does not hand out the id: {page}"
    );
    pages.db.close().await;
}

async fn the_landing_page_is_bilingual_and_every_page_is_locked_down(backend: Backend) {
    let Some(pages) = Pages::issued(backend).await else {
        return;
    };
    let (status, headers, page) = pages.get("/").await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "证书查验",
        "Certificate verification",
        "action=\"/v\"",
        "href=\"/certificates\"",
        "action=\"/verify/pdf\"",
        "/.well-known/jwks.json",
        "/revocations",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let id = &pages.all().await[0].id;
    for path in [
        "/".to_owned(),
        format!("/c/{id}"),
        "/certificates".into(),
        "/v".into(),
    ] {
        let (_, headers, page) = pages.get(&path).await;
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'sha256-") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{path}");
        // No inline style attribute or handler the policy would block.
        assert!(
            !page.contains(" style=\"") && !page.contains(" onclick="),
            "{path}"
        );
    }
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    // The published documents: each its media type, and cacheable for five minutes.
    for (path, media) in [
        ("/.well-known/jwks.json", "application/jwk-set+json"),
        ("/revocations", "application/jwt"),
        ("/.well-known/did.json", "application/did+json"),
        ("/credentials/status/revocation", "application/vc+ld+json"),
    ] {
        let (status, headers, _) = pages.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], media, "{path}");
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=300",
            "{path}"
        );
    }
    pages.db.close().await;
}
