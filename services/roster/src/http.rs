//! The token endpoint: `POST /oauth/token`, the OAuth 2.0 client-credentials grant
//! (RFC 6749 §4.4) for the clients offices register ([`crate::service::api_clients`]).
//!
//! A request is `application/x-www-form-urlencoded` with `grant_type=client_credentials` and an
//! optional `scope`; the client authenticates with HTTP Basic (`client_id:client_secret`, each
//! form-urlencoded first, §2.3.1) or with `client_id` and `client_secret` in the body — one of
//! the two, never both (§2.3). Success is `200 {"access_token", "token_type": "Bearer",
//! "expires_in", "scope"}` (§5.1); a refusal is `400`/`401 {"error", "error_description"}`
//! (§5.2), and `401` carries `WWW-Authenticate: Basic`. Every answer says `Cache-Control:
//! no-store`. The endpoint sits behind the public edge like every page (per-client rate limits,
//! timeouts, connection caps), and reads at most [`MAX_BODY_BYTES`] of a body.
//!
//! Hostile callers learn nothing: an unknown client, a wrong secret and a revoked client get the
//! same `invalid_client`; the secret is never logged.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use tica_auth::TokenSigner;

use crate::service::Roster;
use crate::service::api_clients::GrantError;

/// The most a token request's body may hold: three short fields fit in far less.
pub const MAX_BODY_BYTES: usize = 4096;

/// The path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth/token";

#[derive(Clone)]
struct Grant {
    roster: Roster,
    signer: TokenSigner,
}

/// The token endpoint, signing with `signer` (whose public key every service must trust).
pub fn router(roster: Roster, signer: TokenSigner) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .with_state(Grant { roster, signer })
}

/// A §5.2 refusal.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Basic was offered: a 401 then names the scheme (§5.2, `invalid_client`).
    basic: bool,
}

impl Refusal {
    fn request(description: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
            basic: false,
        }
    }

    fn client(basic: bool) -> Refusal {
        Refusal {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description:
                "client authentication failed: unknown client, wrong secret, or a revoked client"
                    .into(),
            basic,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, no_store(), axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(if self.basic {
                    "Basic realm=\"tica\""
                } else {
                    "Basic realm=\"tica\", error=\"invalid_client\""
                }),
            );
        }
        response
    }
}

fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// The form, each parameter at most once (§3.2), unknown ones ignored (§3.2).
#[derive(Debug, Default, PartialEq)]
struct Form {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn parse_form(body: &[u8]) -> Result<Form, Refusal> {
    let mut form = Form::default();
    for (key, value) in form_urlencoded::parse(body) {
        let slot = match key.as_ref() {
            "grant_type" => &mut form.grant_type,
            "scope" => &mut form.scope,
            "client_id" => &mut form.client_id,
            "client_secret" => &mut form.client_secret,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(Refusal::request(format!(
                "the parameter {key} is sent more than once"
            )));
        }
    }
    Ok(form)
}

/// `client_id` and `client_secret` from `Authorization: Basic …`; `Ok(None)` without one.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| Refusal::client(true))?;
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Err(Refusal::client(true));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Refusal::request(
            "authenticate the client with HTTP Basic or client_id and client_secret in the form",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Refusal::client(true))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| Refusal::client(true))?;
    Ok(Some((form_decoded(id), form_decoded(secret))))
}

/// Undoes the form-urlencoding §2.3.1 asks of Basic's user and password.
fn form_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

async fn token(State(grant): State<Grant>, request: Request) -> Response {
    match answer(&grant, request).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

async fn answer(grant: &Grant, request: Request) -> Result<Response, Refusal> {
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return Err(Refusal::request("POST the token request"));
    }
    let form_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(Refusal::request(
            "the body must be application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
        ));
    }
    let body = read_body(body).await?;
    let form = parse_form(&body)?;
    let basic = basic_credentials(&parts.headers)?;
    let via_basic = basic.is_some();
    let (client_id, secret) = match (basic, form.client_id, form.client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(Refusal::request(
                "authenticate the client one way: HTTP Basic or the form's client_id and client_secret, not both",
            ));
        }
        (Some(credentials), None, None) => credentials,
        (None, Some(id), Some(secret)) => (id, secret),
        (None, _, _) => return Err(Refusal::client(false)),
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(Refusal {
                error: "unsupported_grant_type",
                ..Refusal::request("this endpoint grants client_credentials only")
            });
        }
        None => return Err(Refusal::request("grant_type is required")),
    }
    let issued = grant
        .roster
        .issue_token(&grant.signer, &client_id, &secret, form.scope.as_deref())
        .await;
    match issued {
        Ok(token) => {
            let body = serde_json::json!({
                "access_token": token.access_token,
                "token_type": "Bearer",
                "expires_in": token.expires_in,
                "scope": token.scope,
            });
            Ok((StatusCode::OK, no_store(), axum::Json(body)).into_response())
        }
        Err(GrantError::InvalidClient) => Err(Refusal::client(via_basic)),
        Err(GrantError::InvalidScope(why)) => Err(Refusal {
            error: "invalid_scope",
            ..Refusal::request(why)
        }),
        Err(GrantError::Internal(error)) => {
            tracing::error!(%error, "the token endpoint failed");
            Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                no_store(),
                axum::Json(serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": "the token endpoint cannot answer now; retry shortly",
                })),
            )
                .into_response())
        }
    }
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, Refusal> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..Refusal::request(format!(
                "a token request's body holds at most {MAX_BODY_BYTES} bytes"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_sent_twice_is_refused() {
        let refused = parse_form(b"grant_type=client_credentials&grant_type=password").unwrap_err();
        assert_eq!(refused.error, "invalid_request");
        assert!(refused.description.contains("grant_type"));
    }

    #[test]
    fn unknown_parameters_are_ignored_and_values_decoded() {
        let form = parse_form(b"grant_type=client_credentials&x=1&scope=county%5Foffice").unwrap();
        assert_eq!(form.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(form.scope.as_deref(), Some("county_office"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let raw = base64::engine::general_purpose::STANDARD.encode("id%3A1:s+e%2Bc");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers).unwrap(),
            Some(("id:1".to_owned(), "s e+c".to_owned()))
        );
    }

    #[test]
    fn a_bearer_header_is_not_client_authentication() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(
            basic_credentials(&headers).unwrap_err().error,
            "invalid_request"
        );
    }
}
