//! The public edge's settings, from flags or environment variables.

use std::time::Duration;

use super::TrustedProxies;

/// The public edge's settings (flatten into a binary's arguments with `#[command(flatten)]`;
/// every service binary has them through [`crate::process::ProcessArgs`], `tica serve` too).
///
/// Defaults, and why:
/// - 120 requests a minute per client with a burst of 60, on the public HTTP front and,
///   separately, on the public gRPC methods. An HR office behind one NAT checks a handful of
///   certificates in a sitting (each a page, a PDF check, perhaps a download: 3–5 requests),
///   several clerks at once; 60 at once and one every half second after that serves such an
///   office without a wait, while a scraper from one address gets 2 a second — 7,200 an hour
///   instead of as many as the server can answer. Operators of a province whose offices sit
///   behind one carrier-grade NAT raise it.
/// - Headers within 10 s (a phone on a bad connection sends its few hundred bytes of headers in
///   well under a second; a slowloris holds a connection by never finishing them). The same
///   timeout closes an idle keep-alive connection; connections from trusted proxies get at least
///   75 s, longer than ingress-nginx keeps idle upstream connections (60 s), so the proxy never
///   sends a request on a connection we are closing (their visitors' headers are read by the
///   proxy, which has its own timeout).
/// - A whole request, body included, within 60 s: a 1 MiB PDF over a slow mobile link
///   (~200 kbit/s) takes ~45 s.
/// - At most 32 connections per client address (browsers open 6 per host; 32 covers five
///   people at once behind one NAT) and 4,096 in all; trusted proxies are held only to the
///   total (they carry everyone).
/// - Bodies of at most 2 MiB: the largest legitimate one is a PDF upload of at most 1 MiB plus
///   multipart overhead.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct EdgeConfig {
    /// Proxies whose X-Forwarded-For is believed (the Kubernetes Ingress controller):
    /// comma-separated IPs or CIDRs, e.g. `10.0.0.0/8,127.0.0.1`; empty trusts nobody.
    #[arg(
        long = "trusted-proxies",
        env = "TICA_TRUSTED_PROXIES",
        default_value = "",
        value_name = "IPS_OR_CIDRS",
        hide_default_value = true
    )]
    pub trusted_proxies: TrustedProxies,
    /// Requests a minute per client on the public HTTP front and on the public gRPC methods
    /// (each its own budget); 0 turns the limit off.
    #[arg(
        long = "public-rate-per-minute",
        env = "TICA_PUBLIC_RATE_PER_MINUTE",
        default_value_t = 120
    )]
    pub rate_per_minute: u32,
    /// Requests a client may make at once before the per-minute rate applies.
    #[arg(
        long = "public-burst",
        env = "TICA_PUBLIC_BURST",
        default_value_t = 60,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub burst: u32,
    /// Seconds a connection has to send a request's complete headers (and the longest a
    /// keep-alive connection stays idle) before it is closed.
    #[arg(
        long = "public-header-timeout",
        env = "TICA_PUBLIC_HEADER_TIMEOUT",
        default_value = "10",
        value_name = "SECONDS",
        value_parser = super::parse_positive_seconds
    )]
    pub header_timeout: Duration,
    /// Seconds a request has, body included, before it is answered 408.
    #[arg(
        long = "public-request-timeout",
        env = "TICA_PUBLIC_REQUEST_TIMEOUT",
        default_value = "60",
        value_name = "SECONDS",
        value_parser = super::parse_positive_seconds
    )]
    pub request_timeout: Duration,
    /// Open connections per client address (an IPv6 /64 counts as one; trusted proxies
    /// excepted); more are closed at once.
    #[arg(
        long = "public-max-connections-per-client",
        env = "TICA_PUBLIC_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 32
    )]
    pub max_connections_per_client: usize,
    /// Open connections in all; more are closed at once.
    #[arg(
        long = "public-max-connections",
        env = "TICA_PUBLIC_MAX_CONNECTIONS",
        default_value_t = 4096
    )]
    pub max_connections: usize,
    /// The largest request body accepted; a larger `Content-Length` is answered 413 before any
    /// of the body is read.
    #[arg(
        long = "public-max-body-bytes",
        env = "TICA_PUBLIC_MAX_BODY_BYTES",
        default_value_t = 2 << 20
    )]
    pub max_body_bytes: usize,
    /// Origins whose pages may call the gRPC port over gRPC-Web (CORS): `*` for any (the
    /// default: calls carry no cookies, a bearer token only when the page sends one), or
    /// comma-separated origins, e.g. `https://hr.example.gov.cn,https://dash.example.gov.cn`.
    #[arg(
        long = "cors-allowed-origins",
        env = "TICA_CORS_ALLOWED_ORIGINS",
        default_value = "*",
        value_name = "ORIGINS"
    )]
    pub cors_allowed_origins: CorsOrigins,
}

/// The origins allowed to call over gRPC-Web.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin.
    #[default]
    Any,
    /// Exactly these (`scheme://host[:port]`).
    List(Vec<http::HeaderValue>),
}

impl std::str::FromStr for CorsOrigins {
    type Err = String;

    fn from_str(text: &str) -> Result<CorsOrigins, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(CorsOrigins::Any);
        }
        let origins = text
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|origin| {
                let scheme = origin.split_once("://").map(|(s, _)| s);
                let ok = matches!(scheme, Some("http" | "https"))
                    && !origin.trim_end_matches('/').contains(['?', '#'])
                    && origin.matches('/').count() == 2;
                if !ok {
                    return Err(format!(
                        "{origin:?} is not an origin (scheme://host[:port], no path)"
                    ));
                }
                http::HeaderValue::from_str(origin).map_err(|e| format!("{origin:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if origins.is_empty() {
            return Err("no origin: `*` for any, or a comma-separated list".into());
        }
        Ok(CorsOrigins::List(origins))
    }
}

impl Default for EdgeConfig {
    fn default() -> EdgeConfig {
        EdgeConfig {
            trusted_proxies: TrustedProxies::none(),
            rate_per_minute: 120,
            burst: 60,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_connections_per_client: 32,
            max_connections: 4096,
            max_body_bytes: 2 << 20,
            cors_allowed_origins: CorsOrigins::Any,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Args {
        #[command(flatten)]
        edge: EdgeConfig,
    }

    #[test]
    fn the_flags_defaults_are_the_documented_defaults() {
        assert_eq!(
            Args::try_parse_from(["test"]).unwrap().edge,
            EdgeConfig::default()
        );
    }

    #[test]
    fn settings_read_as_operators_write_them() {
        let args = Args::try_parse_from([
            "test",
            "--trusted-proxies",
            "10.0.0.0/8, 127.0.0.1",
            "--public-rate-per-minute",
            "0",
            "--public-header-timeout",
            "0.5",
        ])
        .unwrap()
        .edge;
        assert_eq!(args.trusted_proxies.to_string(), "10.0.0.0/8,127.0.0.1/32");
        assert_eq!(args.rate_per_minute, 0);
        assert_eq!(args.header_timeout, Duration::from_millis(500));
        assert!(Args::try_parse_from(["test", "--trusted-proxies", "ingress"]).is_err());
        assert!(Args::try_parse_from(["test", "--public-burst", "0"]).is_err());
        assert!(Args::try_parse_from(["test", "--public-header-timeout", "0"]).is_err());
    }
}
