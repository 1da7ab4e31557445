//! The public HTTP front: the verification page a phone opens from the QR code (mobile-first,
//! Chinese with English beside), the PDF check, the teachers' search and download pages, and the
//! published keys (JWKS) at a stable URL.
//!
//! Routes: `GET /c/{id}` (and `/C/{ID}`, as the QR code writes it) · `POST /c/{id}/pdf` and
//! `POST /verify/pdf` (raw PDF body) · `GET /c/{id}/certificate.pdf` · `GET|POST /certificates`
//! (search by name and ID number, rate-limited) · `GET /.well-known/jwks.json`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::CertificateError;
use crate::model::*;
use crate::service::{Certificates, Subject, Verdict, Verification, Via};

/// The router (state included).
pub fn router(svc: Certificates) -> Router {
    Router::new()
        .route("/c/{id}", get(page))
        .route("/C/{id}", get(page))
        .route("/c/{id}/pdf", post(check_pdf))
        .route("/verify/pdf", post(check_any_pdf))
        .route("/c/{id}/certificate.pdf", get(download))
        .route("/certificates", get(search_form).post(search))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(svc)
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

const STYLE: &str = "body{margin:0;font-family:-apple-system,'PingFang SC','Noto Sans CJK SC','Microsoft YaHei',sans-serif;background:#f4f5f7;color:#1d2129}\
main{max-width:34rem;margin:0 auto;padding:1rem}\
.verdict{border-radius:12px;padding:1.25rem;color:#fff;text-align:center;margin-bottom:1rem}\
.verdict b{display:block;font-size:2.2rem;letter-spacing:.1em}.verdict span{font-size:1rem;opacity:.92}\
.valid{background:#1a7f37}.revoked{background:#b35900}.bad{background:#b42318}\
dl{background:#fff;border-radius:12px;padding:1rem;margin:0 0 1rem;display:grid;grid-template-columns:auto 1fr;gap:.5rem 1rem}\
dt{color:#5c6370;font-size:.9rem}dd{margin:0;font-weight:600;word-break:break-all}\
section{background:#fff;border-radius:12px;padding:1rem;margin-bottom:1rem}\
input,button{font:inherit;padding:.6rem;border-radius:8px;border:1px solid #c9cdd4;width:100%;box-sizing:border-box;margin:.25rem 0}\
button{background:#1d4ed8;color:#fff;border:0}small{color:#5c6370}a{color:#1d4ed8}";

fn shell(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        esc(title)
    ))
}

fn row(label: &str, value: &str) -> String {
    format!("<dt>{label}</dt><dd>{}</dd>", esc(value))
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

/// The verdict banner and what HR needs to see: the verification page's body.
pub fn verdict_html(v: &Verification) -> String {
    let (class, zh, en) = match v.verdict {
        Verdict::Valid => ("valid", "有效", "VALID"),
        Verdict::Revoked => ("revoked", "已撤销", "REVOKED"),
        Verdict::NotGenuine => ("bad", "无法验证", "NOT GENUINE"),
    };
    let mut html =
        format!("<div class=\"verdict {class}\" id=\"verdict\"><b>{zh}</b><span>{en}</span></div>");
    if let Some(f) = v.failure {
        html.push_str(&format!("<section><p>{}</p></section>", esc(f.message())));
    }
    let Some(record) = v
        .record
        .as_ref()
        .filter(|_| v.verdict != Verdict::NotGenuine)
    else {
        return html;
    };
    let f = &record.doc.facts;
    if let Some(r) = &record.doc.revocation {
        html.push_str("<dl>");
        html.push_str(&row("撤销时间 Revoked", &fmt_micros(r.revoke_micros)));
        html.push_str(&row("撤销原因 Reason", &r.explanation));
        html.push_str("</dl>");
    }
    let achievement = match f.kind {
        Kind::MicroCompetency => {
            format!("{} {}", f.micro_competency, f.micro_competency_display_name)
        }
        Kind::Level => "信息技术应用能力等级 ICT competence level".to_owned(),
    };
    html.push_str("<dl>");
    html.push_str(&row("姓名 Name", &f.teacher_display_name));
    html.push_str(&row("身份证号 ID", &f.teacher_id_number_masked));
    html.push_str(&row("学校 School", &f.school_display_name));
    html.push_str(&row("微能力 Competency", &achievement));
    html.push_str(&row("等级 Grade", f.grade.zh()));
    html.push_str(&row("发证机关 Issuer", &f.issuing_authority));
    html.push_str(&row("发证日期 Issued", &f.issue_date));
    html.push_str(&row("证书编号 Number", &f.number));
    html.push_str(&row("签发日志 Log index", &record.log_index.to_string()));
    if v.pdf_matches {
        html.push_str(&row(
            "文件 File",
            "与签发文件完全一致 exactly the PDF issued",
        ));
    }
    html.push_str("</dl>");
    html
}

fn upload_form(action: &str) -> String {
    format!(
        "<section><p>核对证书文件 Check a certificate PDF<br><small>上传PDF，检验是否为签发的原始文件 \
         Upload a PDF to learn whether that exact file was issued or has been altered.</small></p>\
         <input type=\"file\" id=\"pdf\" accept=\"application/pdf\"><button id=\"check\">核对 Check</button>\
         <div id=\"result\"></div></section>\
         <script>document.getElementById('check').onclick=async()=>{{const f=document.getElementById('pdf').files[0];\
         if(!f)return;const r=await fetch('{action}',{{method:'POST',headers:{{'Content-Type':'application/pdf'}},body:f}});\
         document.getElementById('result').innerHTML=await r.text();}};</script>"
    )
}

fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        shell(
            "TICA",
            &format!("<section><p>{}</p></section>", esc(message)),
        ),
    )
        .into_response()
}

fn failed(error: CertificateError) -> Response {
    match error {
        CertificateError::ResourceExhausted(m) => error_page(StatusCode::TOO_MANY_REQUESTS, &m),
        CertificateError::Invalid(problems) => error_page(
            StatusCode::BAD_REQUEST,
            &problems
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        CertificateError::NotFound(_) => error_page(StatusCode::NOT_FOUND, "未找到 Not found"),
        other => {
            tracing::error!(error = %other, "the verification page failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "暂时无法验证，请稍后再试 Verification is unavailable; try again later",
            )
        }
    }
}

async fn page(State(svc): State<Certificates>, Path(id): Path<String>) -> Response {
    let id = id.to_lowercase();
    match svc.verify(Subject::Id(id.clone())).await {
        Ok(v) => {
            v.count(Via::Page);
            let mut body = format!(
                "<h1 style=\"font-size:1.1rem\">证书验证 Certificate verification</h1>{}",
                verdict_html(&v)
            );
            if v.verdict != Verdict::NotGenuine {
                body.push_str(&upload_form(&format!("/c/{id}/pdf")));
            }
            let mut response = shell("证书验证 Certificate verification", &body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => failed(e),
    }
}

async fn check_pdf(
    State(svc): State<Certificates>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match svc.verify(Subject::Pdf(body.to_vec())).await {
        Ok(v) => {
            v.count(Via::PdfUpload);
            let other = v
                .record
                .as_ref()
                .is_some_and(|r| !r.id.eq_ignore_ascii_case(&id));
            let mut html = verdict_html(&v);
            if other {
                html.push_str("<section><p>注意：该文件属于另一份证书 This file is another certificate</p></section>");
            }
            Html(html).into_response()
        }
        Err(e) => failed(e),
    }
}

async fn check_any_pdf(State(svc): State<Certificates>, body: Bytes) -> Response {
    match svc.verify(Subject::Pdf(body.to_vec())).await {
        Ok(v) => {
            v.count(Via::PdfUpload);
            Html(verdict_html(&v)).into_response()
        }
        Err(e) => failed(e),
    }
}

async fn download(State(svc): State<Certificates>, Path(id): Path<String>) -> Response {
    let id = id.to_lowercase();
    if !crate::service::is_certificate_id(&id) {
        return error_page(StatusCode::NOT_FOUND, "未找到 Not found");
    }
    match svc.pdf_of(&id).await {
        Ok(pdf) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.pdf\"")) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            (headers, pdf).into_response()
        }
        Err(e) => failed(e),
    }
}

const SEARCH_FORM: &str = "<h1 style=\"font-size:1.1rem\">我的证书 My certificates</h1>\
    <section><form method=\"post\" action=\"/certificates\">\
    <label>姓名 Name<input name=\"name\" autocomplete=\"name\" required maxlength=\"64\"></label>\
    <label>身份证号 ID number<input name=\"id_number\" required minlength=\"18\" maxlength=\"18\" autocomplete=\"off\"></label>\
    <button type=\"submit\">查询 Search</button></form>\
    <small>每个身份证号每10分钟最多查询10次 At most 10 searches per ID number per 10 minutes.</small></section>";

async fn search_form() -> Html<String> {
    shell("我的证书 My certificates", SEARCH_FORM)
}

/// The search form's fields.
#[derive(Debug, serde::Deserialize)]
struct SearchForm {
    name: String,
    id_number: String,
}

async fn search(
    State(svc): State<Certificates>,
    addr: tica_server::edge::ClientAddr,
    Form(form): Form<SearchForm>,
) -> Response {
    match svc
        .search(&addr.ip().to_string(), &form.name, &form.id_number)
        .await
    {
        Ok(rows) => {
            let mut body = SEARCH_FORM.to_owned();
            body.push_str("<section>");
            if rows.is_empty() {
                body.push_str("<p>未找到证书。请核对姓名与身份证号。No certificates found: check the name and ID number.</p>");
            }
            for r in &rows {
                let f = &r.doc.facts;
                let what = match f.kind {
                    Kind::MicroCompetency => {
                        format!("{} {}", f.micro_competency, f.micro_competency_display_name)
                    }
                    Kind::Level => "能力等级 Level".to_owned(),
                };
                let status = match r.status {
                    Status::Active => "有效 valid",
                    Status::Revoked => "已撤销 revoked",
                };
                body.push_str(&format!(
                    "<p><b>{}</b> · {} · {}<br><small>{} · {}</small><br>\
                     <a href=\"/c/{id}/certificate.pdf\">下载PDF Download</a> · <a href=\"/c/{id}\">验证 Verify</a></p>",
                    esc(&what),
                    esc(f.grade.zh()),
                    esc(status),
                    esc(&f.number),
                    esc(&f.issue_date),
                    id = r.id
                ));
            }
            body.push_str("</section>");
            shell("我的证书 My certificates", &body).into_response()
        }
        Err(e) => failed(e),
    }
}

async fn jwks(State(svc): State<Certificates>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    (headers, svc.jwks_json()).into_response()
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
}
