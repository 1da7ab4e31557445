//! What every service binary shares: the process's own settings ([`ProcessArgs`]), the admin
//! HTTP server (`/metrics`, `/healthz`), and running the servers until SIGTERM or Ctrl-C with a
//! graceful drain ([`Servers`]).
//!
//! A service's `main.rs` parses its arguments (with `#[command(flatten)] ProcessArgs`), opens
//! its database (which applies the migrations; with `--migrate-only` it stops there, see
//! [`with_database`]), builds its service, and hands over:
//!
//! ```ignore
//! Servers::new("roster", grpc, args.listen, TokenVerifier::new(&keys))
//!     .run(&args.process)
//!     .await?;
//! ```
//!
//! On SIGTERM (Kubernetes) or Ctrl-C: health turns NOT_SERVING at once (the whole server, "",
//! and every service), gRPC and the public HTTP front keep serving for `--shutdown-delay` so
//! load balancers stop routing new calls, then both close their listeners (a new connection is
//! refused) and drain: every call already under way runs to its end, for at most
//! `--shutdown-timeout` (20 s; the calls still open then, long streams, are dropped). The admin
//! server answers until the others have drained, then stops too, and [`Servers::run`] returns.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use tica_auth::TokenVerifier;
use tica_storage::Database;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::edge::{Edge, EdgeConfig};
use crate::{GrpcServer, shutdown_signal};

/// The content type `GET /metrics` answers (the Prometheus text exposition format).
pub use crate::metrics::CONTENT_TYPE as METRICS_CONTENT_TYPE;

/// The variable that names the gRPC address in every service binary.
pub const LISTEN_VARIABLE: &str = "TICA_LISTEN";

/// The variable that names the admin server's address.
pub const ADMIN_LISTEN_VARIABLE: &str = "TICA_ADMIN_LISTEN";

/// The settings every service binary shares; flatten them into its arguments with
/// `#[command(flatten)]`.
#[derive(Clone, Debug, clap::Args)]
pub struct ProcessArgs {
    /// Address of the admin HTTP server: `GET /metrics` (Prometheus) and `GET /healthz`
    /// (liveness).
    #[arg(long, env = "TICA_ADMIN_LISTEN", default_value = "0.0.0.0:9090")]
    pub admin_listen: SocketAddr,
    /// Seconds to keep serving after SIGTERM while health reports NOT_SERVING, before the
    /// listeners close and in-flight calls drain (give load balancers time to notice).
    #[arg(
        long,
        env = "TICA_SHUTDOWN_DELAY",
        default_value = "0",
        value_name = "SECONDS",
        value_parser = parse_seconds
    )]
    pub shutdown_delay: Duration,
    /// Seconds the drain after the delay may take: calls still open then (long streams) are
    /// dropped and the process exits. Keep delay + timeout below the pod's
    /// `terminationGracePeriodSeconds`.
    #[arg(
        long,
        env = "TICA_SHUTDOWN_TIMEOUT",
        default_value = "20",
        value_name = "SECONDS",
        value_parser = parse_seconds
    )]
    pub shutdown_timeout: Duration,
    /// Apply the database migrations and exit without serving (a Kubernetes migration Job).
    #[arg(
        long,
        env = "TICA_MIGRATE_ONLY",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub migrate_only: bool,
    /// The public edge: trusted proxies, per-client rate limits, the public HTTP front's
    /// timeouts and caps (`TICA_TRUSTED_PROXIES`, `TICA_PUBLIC_*`).
    #[command(flatten)]
    pub edge: EdgeConfig,
    /// TLS on the gRPC port and the public front, mutual TLS between services
    /// (`TICA_TLS_*`, `TICA_ALLOW_PLAINTEXT`).
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
}

/// The whole `main` of a service binary: telemetry first (named `binary`), the arguments
/// ([`parse_args`]), `run`, then the exit code ([`exit_code`]) once telemetry has flushed.
pub async fn main<A, E>(binary: &'static str, run: impl AsyncFnOnce(A) -> Result<(), E>) -> ExitCode
where
    A: clap::Parser,
    E: std::fmt::Display,
{
    let telemetry = tica_telemetry::init(binary, tica_telemetry::LogFormat::from_env());
    let args: A = parse_args();
    let code = exit_code(run(args).await);
    telemetry.shutdown();
    code
}

/// Parses a binary's arguments as `A::parse()` does, exiting on an error — but an error about
/// an argument that an environment variable sets also names the variable (clap names only the
/// flag), since operators configure the services by environment.
pub fn parse_args<A: clap::Parser>() -> A {
    A::try_parse().unwrap_or_else(|error| name_variables(error, &A::command()).exit())
}

/// Adds a tip per argument `error` is about that `command` reads from a variable.
fn name_variables(mut error: clap::Error, command: &clap::Command) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let args = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => vec![arg.clone()],
        Some(ContextValue::Strings(args)) => args.clone(),
        _ => return error,
    };
    let mut tips = match error.get(ContextKind::Suggested) {
        Some(ContextValue::StyledStrs(tips)) => tips.clone(),
        _ => Vec::new(),
    };
    for shown in args {
        // Shown as `--token-public-keys <TOKEN_PUBLIC_KEYS>`.
        let flag = shown.split_whitespace().next().unwrap_or_default();
        let Some(long) = flag.strip_prefix("--") else {
            continue;
        };
        let variable = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_env());
        if let Some(variable) = variable {
            tips.push(
                format!(
                    "{flag} is set by the environment variable {}",
                    variable.to_string_lossy()
                )
                .into(),
            );
        }
    }
    if !tips.is_empty() {
        error.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    }
    error
}

/// Parses a non-negative number of seconds (`5`, `0.5`).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("{text:?}: expected a non-negative number of seconds, e.g. 5"))
}

/// Why the servers could not start or stopped on their own.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A listener could not be bound.
    #[error("binding {addr} ({variable}): {}", describe_bind_error(error))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The variable that set it, so the operator knows what to change.
        variable: &'static str,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The gRPC server failed while serving.
    #[error("the gRPC server failed")]
    Grpc(#[source] tonic::transport::Error),
    /// TLS is misconfigured, or a listener would serve plaintext beyond loopback.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

fn describe_bind_error(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::AddrInUse => "address in use".to_owned(),
        ErrorKind::AddrNotAvailable => "address not available on this host".to_owned(),
        ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    }
}

async fn bind(addr: SocketAddr, variable: &'static str) -> Result<TcpListener, ProcessError> {
    let bind_error = |error| ProcessError::Bind {
        addr,
        variable,
        error,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    // Resolving the address (port 0) is part of binding as far as the operator is concerned.
    listener.local_addr().map_err(bind_error)?;
    Ok(listener)
}

/// The admin server's routes: `GET /metrics` (Prometheus text) and `GET /healthz` (`ok` while
/// the process runs: liveness). Readiness is gRPC health, which turns NOT_SERVING on SIGTERM,
/// and `GET /readyz` on the service binaries ([`admin_router_ready_until`]).
pub fn admin_router() -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
                    crate::metrics::render(),
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
}

/// [`admin_router`] with `GET /readyz`: 200 while serving, 503 from the shutdown signal on
/// (when gRPC health turns NOT_SERVING). The kubelet's gRPC probe cannot speak TLS, so under
/// TLS the readiness probe reads this instead of gRPC health.
pub fn admin_router_ready_until(stopping: watch::Receiver<bool>) -> Router {
    admin_router().route(
        "/readyz",
        get(move || {
            let draining = *stopping.borrow();
            async move {
                if draining {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "draining")
                } else {
                    (axum::http::StatusCode::OK, "serving")
                }
            }
        }),
    )
}

/// A public HTTP front served beside gRPC on its own listener.
#[derive(Debug)]
struct PublicHttp {
    router: Router,
    listen: SocketAddr,
    variable: &'static str,
}

/// A service binary's servers: gRPC, the admin server, and optionally a public HTTP front (the
/// certificate service's pages), run together until a shutdown signal.
#[derive(Debug)]
pub struct Servers {
    service: &'static str,
    grpc: GrpcServer,
    listen: SocketAddr,
    verifier: TokenVerifier,
    public: Option<PublicHttp>,
}

impl Servers {
    /// `grpc` to be served on `listen` (set by `TICA_LISTEN`) with bearer tokens checked by
    /// `verifier`; `service` names it in logs ("roster").
    pub fn new(
        service: &'static str,
        grpc: GrpcServer,
        listen: SocketAddr,
        verifier: TokenVerifier,
    ) -> Servers {
        Servers {
            service,
            grpc,
            listen,
            verifier,
            public: None,
        }
    }

    /// Also serves `router` on `listen` (set by `variable`, named in a bind error) behind the
    /// public edge ([`Edge::serve_http`]: rate limits, timeouts, connection caps, body limit,
    /// security headers), with the client's address available to handlers
    /// ([`crate::edge::ClientAddr`], and the TCP peer as `ConnectInfo<SocketAddr>`). It closes
    /// its listener after the same delay as gRPC and finishes the requests under way.
    pub fn with_public_http(
        mut self,
        router: Router,
        listen: SocketAddr,
        variable: &'static str,
    ) -> Servers {
        self.public = Some(PublicHttp {
            router,
            listen,
            variable,
        });
        self
    }

    /// Serves until SIGTERM or Ctrl-C, then drains (see the module's documentation) and
    /// returns. Fails at once, before serving anything, when a listener cannot be bound.
    pub async fn run(self, args: &ProcessArgs) -> Result<(), ProcessError> {
        self.run_until(args, shutdown_signal()).await
    }

    /// [`Servers::run`], stopping when `shutdown` completes instead of on a signal.
    pub async fn run_until(
        self,
        args: &ProcessArgs,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ProcessError> {
        let Servers {
            service,
            mut grpc,
            listen,
            verifier,
            public,
        } = self;
        // Poll the signal once now, which installs the SIGTERM and Ctrl-C handlers before
        // anything is served: a SIGTERM right after the first SERVING answer drains instead of
        // killing the process outright.
        let mut shutdown = Box::pin(shutdown);
        let signalled_early =
            std::future::poll_fn(|cx| Poll::Ready(shutdown.as_mut().poll(cx).is_ready())).await;
        // TLS first: a bad certificate, or plaintext beyond loopback, fails the start.
        let tls = args.tls.load()?;
        tls.check_listen(listen, LISTEN_VARIABLE)?;
        if let Some(http) = &public {
            tls.check_listen(http.listen, http.variable)?;
        }
        // Bind everything before serving anything: a taken port fails the start, not half of it.
        let grpc_listener = bind(listen, LISTEN_VARIABLE).await?;
        let public = match public {
            Some(http) => Some((bind(http.listen, http.variable).await?, http.router)),
            None => None,
        };
        let admin_listener = bind(args.admin_listen, ADMIN_LISTEN_VARIABLE).await?;
        let grpc_addr = local_addr(&grpc_listener);
        let admin_addr = local_addr(&admin_listener);
        let http_addr = public.as_ref().map(|(listener, _)| local_addr(listener));
        let delay = args.shutdown_delay;
        tracing::info!(
            service,
            grpc = %grpc_addr,
            admin = %admin_addr,
            http = http_addr.map(tracing::field::display),
            shutdown_delay_seconds = delay.as_secs_f64(),
            "serving"
        );

        // One stop signal for every server: the shutdown signal, or the gRPC server ending on
        // its own (an error), which takes the public front down with it.
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);

        let (admin_stop, admin_stopped) = oneshot::channel::<()>();
        let admin = tokio::spawn(
            axum::serve(admin_listener, admin_router_ready_until(stopped.clone()))
                .with_graceful_shutdown(async {
                    let _ = admin_stopped.await;
                })
                .into_future(),
        );
        let signal = tokio::spawn({
            let stop = stop.clone();
            async move {
                if !signalled_early {
                    shutdown.await;
                }
                stop.send_replace(true);
            }
        });

        // One edge for both fronts: the same trusted proxies; separate budgets.
        let edge = Edge::new(args.edge.clone()).with_tls(tls.http_acceptor()?);
        grpc.tls(tls.grpc());
        grpc.drain_delay(delay)
            .drain_timeout(Some(args.shutdown_timeout))
            .edge(edge.clone());
        let grpc_run = {
            let stopped = stopped.clone();
            let stop = stop.clone();
            async move {
                let result = grpc
                    .serve(grpc_listener, verifier, wait_until_stopped(stopped))
                    .await;
                stop.send_replace(true);
                result
            }
        };
        let public_run = async move {
            let Some((listener, router)) = public else {
                return Ok(());
            };
            edge.serve_http(listener, router, async move {
                wait_until_stopped(stopped).await;
                // The same delay as gRPC, where health is NOT_SERVING meanwhile.
                tokio::time::sleep(delay).await;
            })
            .await
        };
        let (grpc_result, public_result) = tokio::join!(grpc_run, public_run);
        signal.abort();
        let _ = admin_stop.send(());
        let admin_result = match admin.await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        };
        if let Err(error) = public_result.and(admin_result) {
            // Both servers answer errors per connection; this is not expected, and the calls
            // have been answered by now, so it is worth a log line, not a failed exit.
            tracing::error!(service, %error, "an HTTP server failed");
        }
        grpc_result.map_err(ProcessError::Grpc)?;
        tracing::info!(service, grpc = %grpc_addr, "stopped: every call answered");
        Ok(())
    }
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("bind() checked that the bound address resolves")
}

async fn wait_until_stopped(mut stopped: watch::Receiver<bool>) {
    // An error means every sender is gone, which is also a reason to stop.
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// What a service binary does with its opened database: with `--migrate-only` (opening it
/// applied the migrations) log that and stop; otherwise `serve` with it. Either way the
/// database is closed before this returns.
pub async fn with_database<E>(
    service: &'static str,
    db: Database,
    process: &ProcessArgs,
    serve: impl AsyncFnOnce(&Database) -> Result<(), E>,
) -> Result<(), E> {
    let outcome = if process.migrate_only {
        tracing::info!(
            service,
            database = db.location(),
            "migrations applied; exiting without serving (TICA_MIGRATE_ONLY)"
        );
        Ok(())
    } else {
        serve(&db).await
    };
    db.close().await;
    outcome
}

/// The process's exit code for the outcome of a binary's `run`: success, or failure with the
/// error and its causes logged (and printed, in case logging is filtered out).
pub fn exit_code<E: std::fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = format!("{error:#}");
            tracing::error!(error = %message, "exiting on error");
            eprintln!("error: {message}");
            ExitCode::FAILURE
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
        process: ProcessArgs,
    }

    #[test]
    fn the_defaults_serve_admin_on_9090_with_no_delay() {
        let args = Args::try_parse_from(["test"]).unwrap().process;
        assert_eq!(args.admin_listen, "0.0.0.0:9090".parse().unwrap());
        assert_eq!(args.shutdown_delay, Duration::ZERO);
        assert!(!args.migrate_only);
    }

    #[test]
    fn the_delay_is_in_seconds_and_may_be_fractional() {
        let parse = |text: &str| {
            Args::try_parse_from(["test", "--shutdown-delay", text]).map(|a| a.process)
        };
        assert_eq!(parse("5").unwrap().shutdown_delay, Duration::from_secs(5));
        assert_eq!(
            parse("0.25").unwrap().shutdown_delay,
            Duration::from_millis(250)
        );
        assert!(parse("-1").is_err());
        assert!(parse("5s").is_err());
    }

    #[derive(Debug, Parser)]
    struct Required {
        #[arg(long, env = "TICA_TEST_SURELY_UNSET_KEYS")]
        keys: String,
        #[arg(
            long,
            env = "TICA_TEST_SURELY_UNSET_LISTEN",
            default_value = "0.0.0.0:1"
        )]
        listen: SocketAddr,
    }

    #[test]
    fn a_missing_or_bad_setting_is_reported_with_its_variable() {
        use clap::CommandFactory;
        let error = Required::try_parse_from(["test"]).unwrap_err();
        let shown = name_variables(error, &Required::command()).to_string();
        assert!(
            shown.contains("--keys is set by the environment variable TICA_TEST_SURELY_UNSET_KEYS"),
            "{shown}"
        );
        let error =
            Required::try_parse_from(["test", "--keys", "k", "--listen", "nowhere"]).unwrap_err();
        let shown = name_variables(error, &Required::command()).to_string();
        assert!(shown.contains("TICA_TEST_SURELY_UNSET_LISTEN"), "{shown}");
    }

    #[tokio::test]
    async fn a_taken_port_is_refused_naming_the_address_and_its_variable() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let args = Args::try_parse_from(["test", "--admin-listen", &addr.to_string()])
            .unwrap()
            .process;
        let servers = Servers::new(
            "test",
            GrpcServer::new(),
            "127.0.0.1:0".parse().unwrap(),
            TokenVerifier::new(&Default::default()),
        );
        let error = servers
            .run_until(&args, std::future::ready(()))
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("binding {addr} (TICA_ADMIN_LISTEN): address in use")
        );
    }
}
