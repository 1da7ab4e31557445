//! The public HTTP front: the verification page a phone opens from the QR code (mobile-first,
//! Chinese with English beside), the lookup by printed number, the PDF check, the teachers'
//! search and their downloads, the published keys (JWKS) and the signed revocation list.
//!
//! Routes: `GET /` (what a visitor can do here) · `GET /c/{id}` (and `/C/{ID}`, as the QR code
//! writes it) · `POST /c/{id}/qr` (the page's script checks the fragment it was opened with) ·
//! `POST /c/{id}/pdf` and `POST /verify/pdf` (a PDF: multipart form or raw body) ·
//! `POST /c/{id}/certificate.pdf` (download, with the QR code's signed part as `proof`) ·
//! `GET|POST /certificates` (the teachers' search) · `GET|POST /v` (by number and name or
//! code) · `GET /.well-known/jwks.json` · `GET /revocations` · `GET /log/checkpoint` (the
//! log's latest checkpoint as a C2SP signed note, for witnesses) · `GET /log/key` (the log's
//! verifier keys, one a line, active first) · `GET /.well-known/did.json` (and `/did.json`, for
//! a base URL with a path: the issuer's `did:web` document) · `GET /credentials/status/revocation`
//! (the signed W3C Bitstring Status List credential the Open Badges exports point at).
//!
//! The JSON API ([`rest`], for agencies and pages that cannot speak gRPC; CORS from
//! `TICA_CORS_ALLOWED_ORIGINS`): `POST /api/v1/certificates:verify` ·
//! `POST /api/v1/certificates:batchVerify` · `GET /api/v1/signingKeys` ·
//! `GET /api/v1/log/checkpoint` · `GET /api/openapi.json` (its OpenAPI 3.1 document, generated
//! from the protos: [`openapi`]).
//!
//! What a page claims, it checked: the verification page shows a green 有效 only after its
//! script has compared the QR fragment it was opened with against the registered payload (or
//! found no fragment); without script it says 已登记 and asks the reader to compare the
//! paper. Pages carry a strict Content-Security-Policy: the one inline script and style are
//! allowed by their SHA-256, nothing else runs or loads, and no site may frame them.
//!
//! `GET|POST /code`: HR's check by the verification code a teacher gave them and the teacher's
//! name (`tica certificates codes create`, the gRPC CreateVerificationCode): the certificate's
//! verdict, or one NOT FOUND for a wrong, expired or revoked code and a wrong name.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use sha2::{Digest, Sha256};
use tica_server::edge::ClientAddr;

use crate::error::CertificateError;
use crate::model::*;
use crate::service::{Certificates, Failure, Lookup, QrCheck, Subject, Verdict, Verification, Via};

pub mod openapi;
pub mod rest;

/// The router (state included): the pages, and the JSON API answering CORS for `origins` (the
/// process's `EdgeConfig::cors_allowed_origins`, `TICA_CORS_ALLOWED_ORIGINS`, as for gRPC-Web).
pub fn router(svc: Certificates, origins: &tica_server::edge::CorsOrigins) -> Router {
    let api = rest::router(svc.clone(), origins);
    Router::new()
        .route("/", get(landing))
        .route("/code", get(code_form).post(code_lookup))
        .route("/c/{id}", get(page))
        .route("/C/{id}", get(page))
        .route("/c/{id}/qr", post(check_qr))
        .route("/c/{id}/pdf", post(check_pdf))
        .route("/verify/pdf", post(check_any_pdf))
        .route(
            "/c/{id}/certificate.pdf",
            get(download_needs_proof).post(download),
        )
        .route("/certificates", get(search_form).post(search))
        .route("/v", get(lookup_form).post(lookup))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/revocations", get(revocations))
        .route("/.well-known/did.json", get(did_document))
        .route("/did.json", get(did_document))
        .route(crate::service::STATUS_LIST_PATH, get(status_list))
        .route("/log/checkpoint", get(log_checkpoint))
        .route("/log/key", get(log_key))
        .with_state(svc)
        .merge(api)
}

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;font-family:-apple-system,'PingFang SC','Noto Sans CJK SC','Microsoft YaHei',sans-serif;background:#f4f5f7;color:#1d2129;line-height:1.5}\
main{max-width:34rem;margin:0 auto;padding:1rem}h1{font-size:1.15rem;margin:.5rem 0 1rem}h2{font-size:1rem;margin:0 0 .5rem}\
.verdict{border-radius:12px;padding:1.1rem;color:#fff;text-align:center;margin-bottom:1rem}\
.verdict b{display:block;font-size:2.1rem;letter-spacing:.1em}.verdict span{font-size:1rem;opacity:.95}\
.valid{background:#1a7f37}.revoked{background:#b35900}.bad{background:#b42318}.warn{background:#b35900}\
.registered{background:#3b5b8c}.unknown{background:#5c6370}\
dl{background:#fff;border-radius:12px;padding:1rem;margin:0 0 1rem;display:grid;grid-template-columns:auto 1fr;gap:.5rem 1rem}\
dt{color:#5c6370;font-size:.9rem}dd{margin:0;font-weight:600;overflow-wrap:break-word;min-width:0}\
section{background:#fff;border-radius:12px;padding:1rem;margin-bottom:1rem}\
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.35rem;border-bottom:1px solid #e5e6eb;overflow-wrap:break-word}\
label{display:block;margin:.4rem 0}input,button{font:inherit;padding:.6rem;border-radius:8px;border:1px solid #c9cdd4;width:100%;box-sizing:border-box;margin:.25rem 0}\
button{background:#1d4ed8;color:#fff;border:0}small,.meta{color:#5c6370;font-size:.85rem}a{color:#1d4ed8}\
.tag{display:inline-block;border-radius:6px;padding:0 .4rem;color:#fff;font-size:.85rem}.tag.valid{background:#1a7f37}.tag.revoked{background:#b35900}";

/// The one script: on the verification page, check the QR fragment the page was opened with.
/// No fragment: the registered certificate's own verdict replaces the banner. A fragment:
/// posted to `/c/{id}/qr`, whose answer replaces the whole result (the fragment never reaches a
/// server otherwise).
const SCRIPT: &str = "(function(){var r=document.getElementById('result');if(!r||!r.dataset.check)return;\
function show(n){var t=document.getElementById(n),v=document.getElementById('verdict');if(t&&v)v.replaceWith(t.content.cloneNode(true));}\
var f=location.hash.slice(1);if(!f){if(r.dataset.plain)show('plain');return;}show('checking');\
fetch(r.dataset.check,{method:'POST',headers:{'Content-Type':'text/plain;charset=utf-8'},body:f})\
.then(function(x){return x.text();}).then(function(h){r.innerHTML=h;})\
.catch(function(){show('failed');});})();";

fn sha256_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// Every page's Content-Security-Policy: only the inline style and script above, by hash.
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let policy = format!(
        "default-src 'none'; style-src {}; script-src {}; connect-src 'self'; img-src 'self'; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        sha256_source(STYLE),
        sha256_source(SCRIPT)
    );
    HeaderValue::from_str(&policy).expect("the policy is ASCII")
});

/// A whole page: no caching, the strict policy, no referrer.
fn page_response(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main><script>{SCRIPT}</script></body></html>",
        esc(title)
    );
    with_page_headers(status, Html(html).into_response())
}

/// A piece of a page (the QR check's answer, swapped in by the script).
fn fragment_response(status: StatusCode, html: String) -> Response {
    with_page_headers(status, Html(html).into_response())
}

fn with_page_headers(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn row(label: &str, value: &str) -> String {
    let mut html = String::with_capacity(label.len() + value.len() + 20);
    html.push_str("<dt>");
    html.push_str(label);
    html.push_str("</dt><dd>");
    html.push_str(&esc(value));
    html.push_str("</dd>");
    html
}

fn fmt_micros(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(micros / 1_000_000)
        .map(|t| {
            let t = t.to_offset(tica_domain::time_zone::CHINA_OFFSET);
            format!(
                "{}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

fn now_text() -> String {
    format!("{} (UTC+8)", fmt_micros(tica_storage::now_micros()))
}

fn hours_text(centihours: i64) -> String {
    let whole = centihours / 100;
    match centihours % 100 {
        0 => whole.to_string(),
        part => format!("{whole}.{part:02}")
            .trim_end_matches('0')
            .to_owned(),
    }
}

/// A verdict banner.
fn banner(class: &str, zh: &str, en: &str) -> String {
    format!(
        "<div class=\"verdict {class}\" id=\"verdict\"><b>{}</b><span>{}</span></div>",
        esc(zh),
        esc(en)
    )
}

fn verdict_banner(v: &Verification) -> String {
    match (v.verdict, v.failure) {
        (Verdict::Valid, _) => banner("valid", "有效", "VALID"),
        (Verdict::Revoked, _) => banner("revoked", "已撤销", "REVOKED"),
        (Verdict::NotGenuine, Some(Failure::UnknownId)) => banner("unknown", "未找到", "NOT FOUND"),
        (Verdict::NotGenuine, _) => banner("bad", "无法验证", "NOT GENUINE"),
    }
}

fn failure_note(v: &Verification) -> String {
    match v.failure {
        Some(Failure::UnknownId) => "<section><p>没有这个编号的证书。请核对网址或证书编号。\
            No certificate has this id: check the address or the certificate number.</p>\
            <p><a href=\"/v\">按证书编号查验 Look up by number</a></p></section>"
            .to_owned(),
        Some(f) => format!("<section><p>{}</p></section>", esc(f.message())),
        None => String::new(),
    }
}

/// What HR needs to see of a registered certificate.
fn facts_html(record: &CertificateRecord) -> String {
    let f = &record.doc.facts;
    let mut html = String::new();
    if let Some(r) = &record.doc.revocation {
        html.push_str("<dl>");
        html.push_str(&row("撤销时间 Revoked", &fmt_micros(r.revoke_micros)));
        html.push_str(&row("撤销原因 Reason", &r.explanation));
        html.push_str("</dl>");
    }
    let (label, what) = match f.kind {
        Kind::MicroCompetency => (
            "微能力 Micro-competency",
            format!("{} {}", f.micro_competency, f.micro_competency_display_name),
        ),
        Kind::Level => (
            "证书 Certificate",
            "信息技术应用能力等级 ICT competence level".to_owned(),
        ),
    };
    html.push_str("<dl>");
    html.push_str(&row("姓名 Name", &f.teacher_display_name));
    html.push_str(&row("身份证号 ID", &f.teacher_id_number_masked));
    html.push_str(&row("学校 School", &f.school_display_name));
    html.push_str(&row(
        "项目 Project",
        "中小学教师信息技术应用能力提升工程2.0 Teacher ICT Competence Project 2.0",
    ));
    html.push_str(&row("年度 Year", &f.year.to_string()));
    html.push_str(&row(label, &what));
    html.push_str(&row("等级 Grade", f.grade.zh()));
    if f.credits > 0 {
        html.push_str(&row("学分 Credits", &f.credits.to_string()));
    }
    if f.counted_centihours > 0 {
        html.push_str(&row("学时 Hours", &hours_text(f.counted_centihours)));
    }
    html.push_str(&row("发证机关 Issuer", &f.issuing_authority));
    html.push_str(&row("发证日期 Issued", f.printed_date()));
    if f.printed_date() != f.issue_date {
        html.push_str(&row("签发日期 Signed", &f.issue_date));
    }
    html.push_str(&row("证书编号 Number", &f.number));
    html.push_str(&row("签发日志 Log index", &record.log_index.to_string()));
    html.push_str("</dl>");
    html
}

fn meta_line() -> String {
    format!(
        "<p class=\"meta\">核验时间 Verified at {} · <a href=\"/\">首页 Home</a></p>",
        now_text()
    )
}

fn back_link(href: &str, zh: &str, en: &str) -> String {
    format!(
        "<p><a href=\"{}\">← {} {}</a></p>",
        esc(href),
        esc(zh),
        esc(en)
    )
}

fn upload_form(action: &str) -> String {
    format!(
        "<section><h2>核对证书文件 Check a certificate PDF</h2>\
         <small>上传PDF，检验是否为签发的原始文件 Upload a PDF to learn whether that exact file was issued or has been altered.</small>\
         <form method=\"post\" action=\"{}\" enctype=\"multipart/form-data\">\
         <input type=\"file\" name=\"pdf\" accept=\"application/pdf\" required>\
         <button type=\"submit\">核对 Check</button></form></section>",
        esc(action)
    )
}

fn download_form(id: &str, proof: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/c/{id}/certificate.pdf\">\
         <input type=\"hidden\" name=\"proof\" value=\"{}\">\
         <button type=\"submit\">下载证书PDF Download the PDF</button></form>",
        esc(proof)
    )
}

/// An error page: what happened, in Chinese with English beside, and the way back.
fn error_page(status: StatusCode, message: &str, back: (&str, &str, &str)) -> Response {
    let (href, zh, en) = back;
    page_response(
        status,
        "TICA",
        &format!(
            "<section><p>{}</p></section>{}",
            esc(message),
            back_link(href, zh, en)
        ),
    )
}

/// The answer to a failed call, with `back` as the way back to the form.
fn failed(error: CertificateError, back: (&str, &str, &str)) -> Response {
    match error {
        CertificateError::ResourceExhausted(m) => {
            let mut response = error_page(StatusCode::TOO_MANY_REQUESTS, &m, back);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            response
        }
        CertificateError::Invalid(problems) => error_page(
            StatusCode::BAD_REQUEST,
            &problems
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("；"),
            back,
        ),
        CertificateError::NotFound(_) => {
            error_page(StatusCode::NOT_FOUND, "未找到 Not found", back)
        }
        CertificateError::PermissionDenied(m) => error_page(StatusCode::FORBIDDEN, &m, back),
        CertificateError::FailedPrecondition(m) => error_page(StatusCode::GONE, &m, back),
        CertificateError::Refused(refusal) => error_page(StatusCode::GONE, refusal.message(), back),
        other => {
            tracing::error!(error = %other, "a public page failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "暂时无法处理，请稍后再试 Unavailable just now: try again later",
                back,
            )
        }
    }
}

const HOME: (&str, &str, &str) = ("/", "返回首页", "Back to the home page");

/// The client's address (as the edge resolved it behind a trusted proxy), for per-client
/// limits.
fn client_of(addr: &ClientAddr) -> String {
    addr.0.to_string()
}

async fn landing() -> Response {
    page_response(
        StatusCode::OK,
        "证书查验 Certificate verification",
        &format!(
            "<h1>中小学教师信息技术应用能力提升工程2.0 证书查验<br><small>Teacher ICT Competence Project 2.0 — certificate verification</small></h1>\
             <section><h2>扫码查验 Scan the QR code</h2><p>用手机相机扫描证书左下角的二维码，即可打开该证书的查验页。\
             Scan the QR code at the lower left of the certificate with a phone camera: it opens the certificate's verification page.</p></section>\
             {}\
             <section><h2>我的证书 My certificates</h2><p>教师凭姓名和身份证号查询、下载本人证书。\
             Teachers find and download their own certificates with their name and ID number.</p>\
             <p><a href=\"/certificates\">查询我的证书 Find my certificates</a></p></section>\
             <section><h2>验证码查验 Check a verification code</h2><p>教师提供的12位验证码加持证人姓名即可查验证书。\
             With the 12-character code a teacher gave you and the teacher's name.</p>\
             <p><a href=\"/code\">用验证码查验 Check a code</a></p></section>\
             {}\
             <section><h2>机构接入 For agencies</h2><p><small>签名公钥 Signing keys: <a href=\"/.well-known/jwks.json\">/.well-known/jwks.json</a> · \
             撤销列表 Revocation list: <a href=\"/revocations\">/revocations</a> · \
             gRPC: tica.certificate.v1.CertificateService/Verify, BatchVerify</small></p></section>",
            lookup_section(),
            upload_form("/verify/pdf")
        ),
    )
}

fn lookup_section() -> String {
    "<section><h2>按证书编号查验 Look up by certificate number</h2>\
     <small>二维码无法扫描时，输入证书上印的编号，以及持证人姓名或证书上的验证码。\
     When the QR code cannot be scanned: the number printed on the certificate, and the holder's name or the printed code.</small>\
     <form method=\"post\" action=\"/v\">\
     <label>证书编号 Certificate number<input name=\"number\" required maxlength=\"32\" placeholder=\"341324-2022-000123\" autocomplete=\"off\"></label>\
     <label>持证人姓名 Holder's name<input name=\"name\" maxlength=\"64\" autocomplete=\"off\"></label>\
     <label>或 验证码 or the code<input name=\"code\" maxlength=\"16\" placeholder=\"7K3MQ-X9PDA\" autocomplete=\"off\"></label>\
     <button type=\"submit\">查验 Verify</button></form></section>"
        .to_owned()
}

/// The verification page. Its body, for a registered valid certificate, starts as 已登记 (no
/// script: the reader compares the paper); the script turns it into the checked verdict.
async fn page(State(svc): State<Certificates>, Path(id): Path<String>) -> Response {
    let id = id.to_lowercase();
    let v = match svc.verify(Subject::Id(id.clone())).await {
        Ok(v) => v,
        Err(e) => return failed(e, HOME),
    };
    v.count(Via::Page);
    let mut body = String::from("<h1>证书查验 Certificate verification</h1>");
    match (&v.verdict, v.record.as_ref()) {
        (Verdict::Valid, Some(record)) => {
            body.push_str(&format!(
                "<div id=\"result\" data-check=\"/c/{id}/qr\" data-plain=\"valid\">{}{}</div>",
                banner(
                    "registered",
                    "已登记",
                    "REGISTERED — 请逐项核对纸质证书与下列登记信息一致 compare every detail of the paper with this record"
                ),
                facts_html(record)
            ));
            body.push_str(&TEMPLATES);
            body.push_str(
                "<noscript><section><p>浏览器未启用脚本，本页无法核对二维码中的签名内容；请逐项核对纸质证书与上列登记信息。\
                 Script is off: this page cannot check the signed content of the QR code. Compare every detail of the paper with the record above.</p></section></noscript>",
            );
            body.push_str(&upload_form(&format!("/c/{id}/pdf")));
        }
        (Verdict::Revoked, Some(record)) => {
            body.push_str(&format!(
                "<div id=\"result\" data-check=\"/c/{id}/qr\">{}{}</div>",
                verdict_banner(&v),
                facts_html(record)
            ));
            body.push_str(&TEMPLATES);
        }
        _ => {
            body.push_str(&verdict_banner(&v));
            body.push_str(&failure_note(&v));
        }
    }
    body.push_str(&meta_line());
    let status = match v.failure {
        Some(Failure::UnknownId) => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    };
    page_response(status, "证书查验 Certificate verification", &body)
}

/// The banners the script puts in place of the served one: the registered certificate's own
/// verdict (no fragment to check), while it checks, and when it cannot.
static TEMPLATES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "<template id=\"plain\">{}</template><template id=\"checking\">{}</template><template id=\"failed\">{}<section><p>请检查网络后刷新本页 Check the connection and reload this page.</p></section></template>",
        banner("valid", "有效", "VALID"),
        banner("registered", "核对中", "Checking the QR code…"),
        banner("unknown", "无法核对", "The QR code could not be checked")
    )
});

/// The largest QR fragment checked (a version-40 code holds under 3 KB).
const MAX_FRAGMENT: usize = 4096;

async fn check_qr(
    State(svc): State<Certificates>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let id = id.to_lowercase();
    let fragment = match std::str::from_utf8(&body) {
        Ok(text) if text.len() <= MAX_FRAGMENT => text.trim().to_owned(),
        _ => {
            return fragment_response(
                StatusCode::BAD_REQUEST,
                banner("bad", "无法验证", "NOT GENUINE — not a certificate QR code"),
            );
        }
    };
    match svc.check_qr(&id, &fragment).await {
        Ok(check) => {
            check.verification.count(Via::Page);
            fragment_response(StatusCode::OK, qr_check_html(&id, &fragment, &check))
        }
        Err(CertificateError::ResourceExhausted(m)) => fragment_response(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{}<section><p>{}</p></section>",
                banner("unknown", "请稍后再试", "Try again shortly"),
                esc(&m)
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "the QR check failed");
            fragment_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                banner(
                    "unknown",
                    "暂时无法核对",
                    "Cannot check just now: try again later",
                ),
            )
        }
    }
}

/// The QR check's answer: the verdict on exactly the code scanned.
fn qr_check_html(id: &str, fragment: &str, check: &QrCheck) -> String {
    let v = &check.verification;
    let mut html = verdict_banner(v);
    match (v.verdict, v.record.as_ref()) {
        (Verdict::Valid, Some(record)) => {
            html.push_str(
                "<section><p>二维码内容与登记的证书完全一致 The QR code is exactly the certificate on record.</p>",
            );
            html.push_str(&download_form(id, fragment));
            html.push_str("</section>");
            html.push_str(&facts_html(record));
        }
        (Verdict::Revoked, Some(record)) => html.push_str(&facts_html(record)),
        _ => {
            html.push_str(&failure_note(v));
            if !check.differences.is_empty() {
                html.push_str(
                    "<section><h2>与登记不一致之处 What differs from the record</h2><table>\
                     <tr><th>项目 Item</th><th>二维码 QR code</th><th>登记 On record</th></tr>",
                );
                for d in &check.differences {
                    html.push_str(&format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(d.label),
                        esc(&d.scanned),
                        esc(&d.registered)
                    ));
                }
                html.push_str("</table></section>");
            }
        }
    }
    html
}

/// A PDF from a multipart form (the first file field) or a raw body.
async fn pdf_body(request: Request) -> Result<Vec<u8>, Response> {
    let back = HOME;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let too_big = || {
        error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "文件过大：证书PDF约20KB，最大1MB The file is too large: a certificate is about 20 KB, at most 1 MB",
            back,
        )
    };
    let limit = crate::service::MAX_PDF_BYTES;
    if !is_multipart {
        let bytes = Bytes::from_request(request, &())
            .await
            .map_err(|_| too_big())?;
        return if bytes.len() > limit {
            Err(too_big())
        } else {
            Ok(bytes.to_vec())
        };
    }
    let mut form = Multipart::from_request(request, &()).await.map_err(|_| {
        error_page(
            StatusCode::BAD_REQUEST,
            "无法读取上传的表单 The uploaded form could not be read",
            back,
        )
    })?;
    while let Ok(Some(field)) = form.next_field().await {
        if field.file_name().is_none() && field.name() != Some("pdf") {
            continue;
        }
        let bytes = field.bytes().await.map_err(|_| too_big())?;
        if bytes.len() > limit {
            return Err(too_big());
        }
        return Ok(bytes.to_vec());
    }
    Err(error_page(
        StatusCode::BAD_REQUEST,
        "请选择要核对的PDF文件 Choose the PDF file to check",
        back,
    ))
}

/// The PDF check's page. On a certificate's page, a PDF of another certificate is a warning,
/// not that certificate's verdict.
fn pdf_answer(expected: Option<&str>, v: &Verification) -> Response {
    let mut body = String::from("<h1>核对证书文件 Certificate PDF check</h1>");
    let other = match (expected, v.record.as_ref()) {
        (Some(id), Some(record)) => !record.id.eq_ignore_ascii_case(id),
        _ => false,
    };
    if other && v.verdict != Verdict::NotGenuine {
        body.push_str(&banner(
            "warn",
            "另一份证书",
            "ANOTHER CERTIFICATE — 该文件不是本页的证书 this file is not the certificate of this page",
        ));
        if let Some(record) = &v.record {
            body.push_str(&format!(
                "<section><p>该文件是证书 {} ({})，不是您正在查验的证书。\
                 This file is certificate {}, not the one this page verifies.</p></section>",
                esc(&record.number),
                esc(match v.verdict {
                    Verdict::Valid => "有效 valid",
                    _ => "已撤销 revoked",
                }),
                esc(&record.number)
            ));
        }
    } else {
        body.push_str(&verdict_banner(v));
        match v.verdict {
            Verdict::NotGenuine => body.push_str(&failure_note(v)),
            _ => {
                if v.pdf_matches {
                    body.push_str(
                        "<section><p>文件与签发文件完全一致 This is exactly the PDF issued.</p></section>",
                    );
                }
                if let Some(record) = &v.record {
                    body.push_str(&facts_html(record));
                }
            }
        }
    }
    let back = expected.map_or("/".to_owned(), |id| format!("/c/{id}"));
    body.push_str(&back_link(&back, "返回", "Back"));
    body.push_str(&meta_line());
    page_response(StatusCode::OK, "核对证书文件 Certificate PDF check", &body)
}

async fn check_pdf(
    State(svc): State<Certificates>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let bytes = match pdf_body(request).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    match svc.verify(Subject::Pdf(bytes)).await {
        Ok(v) => {
            v.count(Via::PdfUpload);
            pdf_answer(Some(&id.to_lowercase()), &v)
        }
        Err(e) => failed(e, HOME),
    }
}

async fn check_any_pdf(State(svc): State<Certificates>, request: Request) -> Response {
    let bytes = match pdf_body(request).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    match svc.verify(Subject::Pdf(bytes)).await {
        Ok(v) => {
            v.count(Via::PdfUpload);
            pdf_answer(None, &v)
        }
        Err(e) => failed(e, HOME),
    }
}

async fn download_needs_proof() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "下载证书需要证书二维码：请扫描证书上的二维码，或在“我的证书”中凭姓名和身份证号查询后下载。\
         Downloading a certificate needs its QR code: scan it, or find it under My certificates with your name and ID number.",
        ("/certificates", "我的证书", "My certificates"),
    )
}

/// The download form's fields.
#[derive(Debug, serde::Deserialize)]
struct DownloadForm {
    #[serde(default)]
    proof: String,
}

async fn download(
    State(svc): State<Certificates>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<DownloadForm>,
) -> Response {
    match svc.pdf_for_holder(&id, &form.proof).await {
        Ok((record, pdf)) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"{}.pdf\"", record.number))
            {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            (headers, pdf).into_response()
        }
        Err(e) => failed(e, ("/certificates", "我的证书", "My certificates")),
    }
}

const SEARCH_FORM: &str = "<h1>我的证书 My certificates</h1>\
    <section><form method=\"post\" action=\"/certificates\">\
    <label>姓名 Name<input name=\"name\" autocomplete=\"name\" required maxlength=\"64\"></label>\
    <label>身份证号 ID number<input name=\"id_number\" required minlength=\"18\" maxlength=\"18\" autocomplete=\"off\"></label>\
    <button type=\"submit\">查询 Search</button></form>\
    <small>连续输错将暂时锁定查询，锁定时间逐次加倍；如被锁定，请联系学校管理员下载。\
    Repeated wrong entries lock the search for a while, longer each time; if locked, ask your school office.</small></section>";

const SEARCH_BACK: (&str, &str, &str) = ("/certificates", "返回查询", "Back to the search");

async fn search_form() -> Response {
    page_response(StatusCode::OK, "我的证书 My certificates", SEARCH_FORM)
}

/// The search form's fields.
#[derive(Debug, serde::Deserialize)]
struct SearchForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_number: String,
}

async fn search(
    State(svc): State<Certificates>,
    addr: ClientAddr,
    axum::Form(form): axum::Form<SearchForm>,
) -> Response {
    let rows = match svc
        .search(&client_of(&addr), &form.name, &form.id_number)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return failed(e, SEARCH_BACK),
    };
    let mut body = String::from("<h1>我的证书 My certificates</h1><section>");
    if rows.is_empty() {
        body.push_str(
            "<p>未找到证书。请核对姓名与身份证号。No certificates found: check the name and ID number.</p>",
        );
    }
    for r in &rows {
        let f = &r.doc.facts;
        let what = match f.kind {
            Kind::MicroCompetency => {
                format!("{} {}", f.micro_competency, f.micro_competency_display_name)
            }
            Kind::Level => "能力等级证书 ICT competence level".to_owned(),
        };
        let fragment = r.doc.qr_text.split_once('#').map_or("", |(_, f)| f);
        body.push_str(&format!(
            "<div><p><b>{}</b> · {} · {}<br><small>{} · {} · {}</small></p>",
            esc(&what),
            esc(f.grade.zh()),
            match r.status {
                Status::Active => "<span class=\"tag valid\">有效 valid</span>",
                Status::Revoked => "<span class=\"tag revoked\">已撤销 revoked</span>",
            },
            esc(&f.number),
            esc(f.printed_date()),
            esc(&f.issuing_authority),
        ));
        match (&r.status, &r.doc.revocation) {
            (Status::Active, _) => {
                body.push_str(&download_form(&r.id, fragment));
                body.push_str(&format!(
                    "<p><small><a href=\"/c/{}#{}\">查验页 Verification page</a></small></p>",
                    r.id,
                    esc(fragment)
                ));
            }
            (Status::Revoked, revocation) => body.push_str(&format!(
                "<p><small>该证书已撤销，不提供下载 Revoked: not offered for download{}</small></p>",
                revocation
                    .as_ref()
                    .map(|r| format!(" — {}", esc(&r.explanation)))
                    .unwrap_or_default()
            )),
        }
        body.push_str("</div>");
    }
    body.push_str("</section>");
    body.push_str(&back_link("/certificates", "重新查询", "Search again"));
    page_response(StatusCode::OK, "我的证书 My certificates", &body)
}

async fn lookup_form() -> Response {
    page_response(
        StatusCode::OK,
        "按编号查验 Look up by number",
        &format!(
            "<h1>证书查验 Certificate verification</h1>{}",
            lookup_section()
        ),
    )
}

/// The lookup form's fields.
#[derive(Debug, serde::Deserialize)]
struct LookupForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
}

async fn lookup(
    State(svc): State<Certificates>,
    addr: ClientAddr,
    axum::Form(form): axum::Form<LookupForm>,
) -> Response {
    let back = ("/v", "返回查验", "Back to the lookup");
    let found = match svc
        .lookup(&client_of(&addr), &form.number, &form.name, &form.code)
        .await
    {
        Ok(found) => found,
        Err(e) => return failed(e, back),
    };
    let mut body = String::from("<h1>证书查验 Certificate verification</h1>");
    let status = match found {
        Lookup::Found(v) => {
            v.count(Via::Page);
            body.push_str(&verdict_banner(&v));
            if let Some(record) = &v.record {
                body.push_str(&facts_html(record));
            }
            StatusCode::OK
        }
        Lookup::NotFound => {
            body.push_str(&banner("unknown", "未找到", "NOT FOUND"));
            body.push_str(
                "<section><p>没有与该编号和姓名（或验证码）相符的证书。请核对后重试。\
                 No certificate has this number with this name (or code): check them and try again.</p></section>",
            );
            StatusCode::NOT_FOUND
        }
    };
    body.push_str(&back_link(back.0, back.1, back.2));
    body.push_str(&meta_line());
    page_response(status, "证书查验 Certificate verification", &body)
}

const CODE_FORM: &str = "<h1>验证码查验 Check a verification code</h1>\
    <section><small>输入教师提供的12位验证码和持证人姓名。验证码由教师本人生成，有效期30至180天，可随时撤销。\
    The 12-character code the teacher gave you and the teacher's name. Teachers make their own codes, valid 30 to 180 days and revocable at any time.</small>\
    <form method=\"post\" action=\"/code\">\
    <label>验证码 Code<input name=\"code\" required maxlength=\"20\" placeholder=\"7KQM-X9PD-A2CE\" autocomplete=\"off\"></label>\
    <label>持证人姓名 Holder's name<input name=\"name\" required maxlength=\"64\" autocomplete=\"off\"></label>\
    <button type=\"submit\">查验 Verify</button></form>\
    <small>连续输错将暂时锁定该验证码，锁定时间逐次加倍。\
    Repeated wrong entries lock the code for a while, longer each time.</small></section>";

async fn code_form() -> Response {
    page_response(StatusCode::OK, "验证码查验 Check a code", CODE_FORM)
}

/// The code form's fields.
#[derive(Debug, serde::Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
}

/// HR's check by a verification code and the holder's name: the verdict and the facts, or one
/// NOT FOUND for every kind of miss.
async fn code_lookup(
    State(svc): State<Certificates>,
    addr: ClientAddr,
    axum::Form(form): axum::Form<CodeForm>,
) -> Response {
    let back = ("/code", "返回查验", "Back to the code check");
    let found = match svc
        .lookup_code(&client_of(&addr), &form.code, &form.name)
        .await
    {
        Ok(found) => found,
        Err(e) => return failed(e, back),
    };
    let mut body = String::from("<h1>验证码查验 Check a verification code</h1>");
    let status = match found {
        Lookup::Found(v) => {
            v.count(Via::Page);
            body.push_str(&verdict_banner(&v));
            if let Some(record) = &v.record {
                body.push_str(&facts_html(record));
            }
            StatusCode::OK
        }
        Lookup::NotFound => {
            body.push_str(&banner("unknown", "未找到", "NOT FOUND"));
            body.push_str(
                "<section><p>没有与该验证码和姓名相符的有效验证码。验证码可能有误、已过期或已被撤销；请向教师核实。\
                 No valid code matches this code and name: it may be mistyped, expired or revoked. Ask the teacher.</p></section>",
            );
            StatusCode::NOT_FOUND
        }
    };
    body.push_str(&back_link(back.0, back.1, back.2));
    body.push_str(&meta_line());
    page_response(status, "验证码查验 Check a code", &body)
}

async fn jwks(State(svc): State<Certificates>) -> Response {
    published("application/jwk-set+json", svc.jwks_json())
}

async fn revocations(State(svc): State<Certificates>) -> Response {
    match svc.revocation_list().await {
        Ok(list) => published("application/jwt", list.token),
        Err(e) => failed(e, HOME),
    }
}

/// The issuer's `did:web` document: the Ed25519 keys as Multikeys (issue 18 §1).
async fn did_document(State(svc): State<Certificates>) -> Response {
    let body = serde_json::to_string_pretty(&svc.did_document()).expect("JSON serialises");
    published("application/did+json", body)
}

/// The signed Bitstring Status List credential (revocation) of the Open Badges exports.
async fn status_list(State(svc): State<Certificates>) -> Response {
    match svc.status_list_credential().await {
        Ok(body) => published("application/vc+ld+json", body),
        Err(e) => failed(e, HOME),
    }
}

/// A published document (keys, revocations) that caches may keep for five minutes.
fn published(content_type: &'static str, body: String) -> Response {
    cacheable(content_type, "public, max-age=300", body)
}

/// `body` as `content_type` with the `Cache-Control` `max_age`.
fn cacheable(content_type: &'static str, max_age: &'static str, body: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    (headers, body).into_response()
}

/// Plain UTF-8 text that may be cached briefly, as tlog servers serve checkpoints and keys.
fn plain_text(body: String, max_age: &'static str) -> Response {
    cacheable("text/plain; charset=utf-8", max_age, body)
}

/// The latest checkpoint as a C2SP signed note (`text/plain`): what `tica log witness` and
/// other tlog tools verify. 404 while the log is empty.
async fn log_checkpoint(State(svc): State<Certificates>) -> Response {
    let checkpoint = match svc.log_checkpoint(0).await {
        Ok(c) => c,
        Err(CertificateError::FailedPrecondition(_)) => {
            return (StatusCode::NOT_FOUND, "the log is empty\n").into_response();
        }
        Err(e) => return failed(e, HOME),
    };
    match svc.signed_checkpoint(&checkpoint) {
        Some(note) => plain_text(note, "no-cache"),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the key that signed the latest checkpoint is no longer published\n",
        )
            .into_response(),
    }
}

/// The log's C2SP verifier keys, one a line, active first: `{origin}+{key id}+{key}`.
async fn log_key(State(svc): State<Certificates>) -> Response {
    let keys: String = svc
        .log_verifier_keys()
        .iter()
        .map(|k| format!("{k}\n"))
        .collect();
    plain_text(keys, "public, max-age=300")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_before_it_reaches_the_page() {
        assert_eq!(
            esc("<b>\"张&三'</b>"),
            "&lt;b&gt;&quot;张&amp;三&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn the_policy_allows_exactly_the_pages_own_script_and_style() {
        let csp = CSP.to_str().unwrap();
        assert!(csp.contains(&sha256_source(SCRIPT)), "{csp}");
        assert!(csp.contains(&sha256_source(STYLE)), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
    }
}
