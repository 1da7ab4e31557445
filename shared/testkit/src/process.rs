//! Test support for service binaries: run one as Kubernetes does — configured by environment
//! variables only — and watch it start, answer health checks, and stop on SIGTERM.
//!
//! ```ignore
//! let mut service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_tica-roster"), &envs).await;
//! assert_eq!(service.health("").await.unwrap(), ServingStatus::Serving);
//! service.terminate();
//! assert!(service.wait_exit(Duration::from_secs(5)).await.success());
//! ```
//!
//! The process gets exactly the variables given (plus the listen addresses [`ServiceProcess`]
//! picks): no arguments and nothing inherited, so a test proves the binary needs nothing else.
//! Its standard error goes to a file, shown in every failure message of this module and when a
//! test panics while the process is still held.
//!
//! The scenarios every service binary must pass — starting from its environment alone,
//! finishing a call in flight across SIGTERM, `TICA_MIGRATE_ONLY`, naming a missing variable —
//! are methods of [`BinaryUnderTest`]; a service's `tests/binary.rs` describes its binary and
//! its own variables, and adds its own checks:
//!
//! ```ignore
//! const ASSESSMENT: BinaryUnderTest = BinaryUnderTest {
//!     binary: env!("CARGO_BIN_EXE_tica-assessment"),
//!     database: "assessment",
//!     service: "tica.assessment.v1.AssessmentService",
//!     migrations: tica_assessment::startup::MIGRATIONS,
//!     more_listen: &[],
//!     env: |dir| vec![("TICA_EVIDENCE_STORE", dir.join("evidence").display().to_string())],
//! };
//!
//! async fn the_assessment_binary_with_migrate_only_applies_its_migrations_and_exits_without_listening(
//!     backend: Backend,
//! ) {
//!     ASSESSMENT.assert_migrate_only_applies_migrations_and_exits(backend).await;
//! }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
pub use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1 as reflection;

use crate::database::TestDatabase;
use tica_storage::{Backend, Migrations};

use tica_server::process::{ADMIN_LISTEN_VARIABLE, LISTEN_VARIABLE, METRICS_CONTENT_TYPE};

/// How long [`ServiceProcess::spawn`] waits for the first SERVING answer.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How often a spawn whose port was taken between choosing it and binding it is retried.
const SPAWN_ATTEMPTS: usize = 3;

/// A service binary running as a child process; killed when dropped.
#[derive(Debug)]
pub struct ServiceProcess {
    name: String,
    child: Child,
    stderr: PathBuf,
    listen: Vec<(String, SocketAddr)>,
    exit: Option<ExitStatus>,
}

impl ServiceProcess {
    /// Starts `binary` with exactly `envs` plus free loopback ports in `TICA_LISTEN` and
    /// `TICA_ADMIN_LISTEN`, and waits until gRPC health answers SERVING for the whole server
    /// (""); panics with the process's standard error if it exits first or does not answer
    /// within [`STARTUP_TIMEOUT`].
    pub async fn spawn(binary: impl AsRef<Path>, envs: &[(&str, String)]) -> ServiceProcess {
        Self::spawn_listening(binary, envs, &[]).await
    }

    /// [`ServiceProcess::spawn`], also choosing free ports for the listen addresses named by
    /// `more_listen` (e.g. `TICA_HTTP_LISTEN`); read them back with [`ServiceProcess::addr`].
    ///
    /// Ports are found by binding port 0 and releasing it; should another process take one
    /// before the service binds it (the service then exits with "address in use"), the spawn
    /// is retried with new ports.
    pub async fn spawn_listening(
        binary: impl AsRef<Path>,
        envs: &[(&str, String)],
        more_listen: &[&str],
    ) -> ServiceProcess {
        let binary = binary.as_ref();
        let variables: Vec<&str> = [LISTEN_VARIABLE, ADMIN_LISTEN_VARIABLE]
            .into_iter()
            .chain(more_listen.iter().copied())
            .collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let listen: Vec<(String, SocketAddr)> = variables
                .iter()
                .map(|v| v.to_string())
                .zip(free_ports(variables.len()))
                .collect();
            let mut all = envs.to_vec();
            all.extend(
                listen
                    .iter()
                    .map(|(v, addr)| (v.as_str(), addr.to_string())),
            );
            let mut process = ServiceProcess::start(binary, &all);
            process.listen = listen;
            match process.wait_serving(STARTUP_TIMEOUT).await {
                Ok(()) => return process,
                Err(_) if attempt < SPAWN_ATTEMPTS && process.lost_a_port_race() => continue,
                Err(why) => panic!("{}", process.failure(&why)),
            }
        }
    }

    /// Starts `binary` with exactly `envs` (and no arguments) and returns at once: for runs
    /// that should exit by themselves (`TICA_MIGRATE_ONLY`, a missing variable).
    pub fn start(binary: impl AsRef<Path>, envs: &[(&str, String)]) -> ServiceProcess {
        let binary = binary.as_ref();
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| binary.display().to_string());
        let stderr =
            std::env::temp_dir().join(format!("{name}-{}.stderr", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&stderr)
            .unwrap_or_else(|e| panic!("creating {}: {e}", stderr.display()));
        let child = Command::new(binary)
            .env_clear()
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        ServiceProcess {
            name,
            child,
            stderr,
            listen: Vec::new(),
            exit: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The address [`ServiceProcess::spawn`] chose for `variable` (`TICA_LISTEN`, …).
    pub fn addr(&self, variable: &str) -> SocketAddr {
        self.listen
            .iter()
            .find(|(v, _)| v == variable)
            .map(|(_, addr)| *addr)
            .unwrap_or_else(|| panic!("{variable} was not chosen by ServiceProcess::spawn"))
    }

    /// The gRPC address (`TICA_LISTEN`).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.addr(LISTEN_VARIABLE)
    }

    /// The admin server's address (`TICA_ADMIN_LISTEN`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.addr(ADMIN_LISTEN_VARIABLE)
    }

    /// `http://{grpc address}`.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr())
    }

    /// A new connection to the gRPC address (its own TCP connection, not shared with earlier
    /// channels).
    pub async fn connect(&self) -> Result<Channel, tonic::transport::Error> {
        Endpoint::from_shared(self.grpc_url())
            .expect("an http URL")
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
    }

    /// Asks gRPC health about `service` ("" for the whole server) over a new connection.
    pub async fn health(&self, service: &str) -> Result<ServingStatus, String> {
        let channel = self
            .connect()
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let answer = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .map_err(|status| format!("health check: {status}"))?;
        Ok(answer.into_inner().status())
    }

    /// Waits until health answers SERVING for the whole server, or fails with why not (the
    /// process exited, or `timeout` passed).
    pub async fn wait_serving(&mut self, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.try_exit() {
                return Err(format!("exited with {status} before serving"));
            }
            let last = match self.health("").await {
                Ok(ServingStatus::Serving) => return Ok(()),
                Ok(other) => format!("health answered {other:?}"),
                Err(why) => why,
            };
            if started.elapsed() > timeout {
                return Err(format!(
                    "no SERVING answer within {timeout:?} (last: {last})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM, as Kubernetes does to stop a pod.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("polling the child");
        }
        self.exit
    }

    /// Waits for the process to exit; panics with its standard error after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            if started.elapsed() > timeout {
                panic!(
                    "{}",
                    self.failure(&format!("still running after {timeout:?}"))
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Everything the process wrote to standard error so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr).unwrap_or_default()).into_owned()
    }

    /// `why`, with the process's name and standard error, for a panic message.
    pub fn failure(&self, why: &str) -> String {
        format!(
            "{}: {why}\n--- its standard error ---\n{}",
            self.name,
            self.stderr()
        )
    }

    /// Polls health for `service` ("" for the whole server) over new connections until it
    /// answers NOT_SERVING, and returns how long that took; panics after `timeout`.
    pub async fn wait_not_serving(&self, service: &str, timeout: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let last = self.health(service).await;
            if last == Ok(ServingStatus::NotServing) {
                return started.elapsed();
            }
            if started.elapsed() > timeout {
                panic!(
                    "{}",
                    self.failure(&format!(
                        "health for {service:?} not NOT_SERVING within {timeout:?} (last: {last:?})"
                    ))
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Tries new TCP connections to `addr` until one is refused (the listener is closed), and
    /// returns how long that took; panics after `timeout`.
    pub async fn wait_refused(&self, addr: SocketAddr, timeout: Duration) -> Duration {
        let started = Instant::now();
        loop {
            match tokio::net::TcpStream::connect(addr).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return started.elapsed();
                }
                // A connection accepted by the kernel just before the listener closed is reset
                // (tokio reports it from `connect`): try again.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                    ) && started.elapsed() <= timeout => {}
                Err(e) => panic!("{}", self.failure(&format!("connecting to {addr}: {e}"))),
                Ok(_) if started.elapsed() > timeout => panic!(
                    "{}",
                    self.failure(&format!("{addr} still accepts after {timeout:?}"))
                ),
                Ok(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM while the test holds a call open, and checks the drain as a load balancer
    /// sees it: health turns NOT_SERVING at once for the whole server and for each of
    /// `services`; every listen address but the admin one keeps accepting new connections for
    /// `delay` (`TICA_SHUTDOWN_DELAY`) and refuses them after; the admin server still answers
    /// `/healthz`; the process is still running (the held call is not finished). The caller
    /// then finishes its call and waits for the exit.
    pub async fn terminate_and_wait_for_drain(
        &mut self,
        services: &[&str],
        delay: Duration,
    ) -> Drain {
        let signalled = Instant::now();
        self.terminate();
        let not_serving = self.wait_not_serving("", delay).await;
        for service in services {
            assert_eq!(
                self.health(service).await,
                Ok(ServingStatus::NotServing),
                "{}",
                self.failure(&format!("health for {service} after SIGTERM"))
            );
        }
        let served: Vec<SocketAddr> = self
            .listen
            .iter()
            .filter(|(variable, _)| variable != ADMIN_LISTEN_VARIABLE)
            .map(|(_, addr)| *addr)
            .collect();
        for addr in served {
            self.wait_refused(addr, delay + Duration::from_secs(10))
                .await;
        }
        let refused = signalled.elapsed();
        assert!(
            refused >= delay.mul_f64(0.9),
            "{}",
            self.failure(&format!(
                "new connections must be served for the whole delay ({delay:?}); refused after {refused:?}"
            ))
        );
        let healthz = http_get(self.admin_addr(), "/healthz").await;
        assert!(
            matches!(&healthz, Ok(answer) if answer.status == 200),
            "{}",
            self.failure(&format!(
                "the admin server answers while draining: {healthz:?}"
            ))
        );
        assert_eq!(
            self.try_exit(),
            None,
            "{}",
            self.failure("exited while a call was in flight")
        );
        Drain {
            not_serving,
            refused,
        }
    }

    fn lost_a_port_race(&mut self) -> bool {
        self.try_exit().is_some() && self.stderr().contains("address in use")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- {} (pid {}) standard error ---\n{}",
                self.name,
                self.child.id(),
                self.stderr()
            );
        }
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// A fresh Ed25519 token key pair written to `dir` (`token.pem` and `token.pub.pem`): point
/// `TICA_TOKEN_PUBLIC_KEYS` at `dir`, and mint tokens with `tica_auth::TokenSigner::new`.
pub fn token_keys(dir: &Path) -> tica_auth::KeyPair {
    let pair = tica_auth::KeyPair::generate();
    tica_auth::write_key_pair(dir, "token", &pair)
        .unwrap_or_else(|e| panic!("writing a token key pair to {}: {e}", dir.display()));
    pair
}

/// The database variables for `service` on `db`: `TICA_DATABASE_URL`, and on PostgreSQL
/// `TICA_DATABASE_SCHEMA` (the test's own schema, as [`TestDatabase::config`] names it).
///
/// [`TestDatabase::config`]: crate::database::TestDatabase::config
pub fn database_env(
    db: &crate::database::TestDatabase,
    service: &str,
) -> Vec<(&'static str, String)> {
    let config = db.config(service);
    let mut envs = vec![("TICA_DATABASE_URL", config.url)];
    if let Some(schema) = config.schema {
        envs.push(("TICA_DATABASE_SCHEMA", schema));
    }
    envs
}

/// `TICA_SHUTDOWN_DELAY` in the scenarios of [`BinaryUnderTest`].
pub const SHUTDOWN_DELAY: Duration = Duration::from_secs(1);

/// The variable naming the directory of token public keys, which every service binary reads
/// (an [`Environment`] points it at a fresh key).
pub const TOKEN_PUBLIC_KEYS_VARIABLE: &str = "TICA_TOKEN_PUBLIC_KEYS";

/// A service binary as its process-level tests see it, with the scenarios every TICA service
/// binary must pass as Kubernetes runs it (methods `assert_…`). Each scenario that takes a
/// [`Backend`] runs in a fresh [`Environment`] on it, and passes (skips) when that backend is
/// not configured.
#[derive(Clone, Copy, Debug)]
pub struct BinaryUnderTest {
    /// The executable: `env!("CARGO_BIN_EXE_tica-…")`.
    pub binary: &'static str,
    /// The service's database name (`roster`): for `TICA_DATABASE_*` and the migrations.
    pub database: &'static str,
    /// The gRPC service the binary hosts (`tica.roster.v1.RosterService`).
    pub service: &'static str,
    /// The migrations a `TICA_MIGRATE_ONLY` run must apply.
    pub migrations: Migrations,
    /// The listen variables beyond `TICA_LISTEN` and `TICA_ADMIN_LISTEN` (`TICA_HTTP_LISTEN`).
    pub more_listen: &'static [&'static str],
    /// The service's own variables (keys, stores, upstream URLs), given a fresh directory for
    /// whatever files they name. [`BinaryUnderTest::environment`] adds the ones every binary
    /// takes: the database, the token public keys, the shutdown delay and the log format.
    pub env: fn(&Path) -> Vec<(&'static str, String)>,
}

/// What a binary is started with: a fresh database, token key pair and directory, and the
/// variables that point the binary at them. The directory is removed when this is dropped
/// (and the database by [`TestDatabase`]), so hold it for as long as the process runs.
#[derive(Debug)]
pub struct Environment {
    /// The database the variables name.
    pub db: TestDatabase,
    /// The token key whose public half `TICA_TOKEN_PUBLIC_KEYS` holds: mint tokens with
    /// `tica_auth::TokenSigner::new`.
    pub token_keys: tica_auth::KeyPair,
    /// The variables: the process gets these and nothing else.
    pub envs: Vec<(&'static str, String)>,
    dir: PathBuf,
}

impl Environment {
    /// The directory the service's own files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The variables without `variable` (which must be among them).
    pub fn without(&self, variable: &str) -> Vec<(&'static str, String)> {
        assert!(
            self.envs.iter().any(|(name, _)| *name == variable),
            "{variable} is not in the environment"
        );
        self.envs
            .iter()
            .filter(|(name, _)| *name != variable)
            .cloned()
            .collect()
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl BinaryUnderTest {
    /// A fresh [`Environment`] on `backend`, or `None` when that backend is not configured
    /// (see [`TestDatabase::new`]).
    pub fn environment(&self, backend: Backend) -> Option<Environment> {
        let db = TestDatabase::new(backend)?;
        let dir = std::env::temp_dir().join(format!(
            "tica-{}-binary-{}",
            self.database,
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let token_dir = dir.join("token-keys");
        let token_keys = token_keys(&token_dir);
        let mut envs = database_env(&db, self.database);
        envs.push((TOKEN_PUBLIC_KEYS_VARIABLE, token_dir.display().to_string()));
        envs.extend((self.env)(&dir));
        envs.extend([
            ("TICA_SHUTDOWN_DELAY", SHUTDOWN_DELAY.as_secs().to_string()),
            ("TICA_LOG_FORMAT", "json".to_owned()),
        ]);
        Some(Environment {
            db,
            token_keys,
            envs,
            dir,
        })
    }

    /// The binary started in `env` and serving, on free ports ([`ServiceProcess::spawn_listening`]).
    pub async fn spawn(&self, env: &Environment) -> ServiceProcess {
        ServiceProcess::spawn_listening(self.binary, &env.envs, self.more_listen).await
    }

    /// Started with nothing but its environment, the binary answers health SERVING for the
    /// whole server and for its service, `/healthz` and `/metrics` on the admin port, and
    /// exits successfully on SIGTERM.
    pub async fn assert_starts_from_environment_alone(&self, backend: Backend) {
        self.assert_starts_from_environment_alone_checking(backend, async |_| {})
            .await;
    }

    /// [`BinaryUnderTest::assert_starts_from_environment_alone`], running `more_checks` on
    /// the serving process before SIGTERM.
    pub async fn assert_starts_from_environment_alone_checking(
        &self,
        backend: Backend,
        more_checks: impl AsyncFnOnce(&ServiceProcess),
    ) {
        let Some(env) = self.environment(backend) else {
            return;
        };
        let mut process = self.spawn(&env).await;
        assert_eq!(process.health("").await, Ok(ServingStatus::Serving));
        assert_eq!(
            process.health(self.service).await,
            Ok(ServingStatus::Serving)
        );

        let healthz = http_get(process.admin_addr(), "/healthz").await.unwrap();
        assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok"));
        let metrics = http_get(process.admin_addr(), "/metrics").await.unwrap();
        assert_eq!(metrics.status, 200, "{}", metrics.body);
        assert_eq!(metrics.header("content-type"), Some(METRICS_CONTENT_TYPE));
        more_checks(&process).await;

        process.terminate();
        let status = process
            .wait_exit(SHUTDOWN_DELAY + Duration::from_secs(5))
            .await;
        assert!(status.success(), "{}", process.failure(&status.to_string()));
    }

    /// A bidirectional reflection call held open across SIGTERM keeps being answered after the
    /// drain ([`ServiceProcess::terminate_and_wait_for_drain`]) closed the listeners, ends
    /// cleanly, and the binary then exits successfully and promptly.
    pub async fn assert_in_flight_reflection_call_survives_sigterm(&self, backend: Backend) {
        self.assert_in_flight_reflection_call_and_more_survive_sigterm(
            backend,
            async |_| {},
            async |()| {},
        )
        .await;
    }

    /// [`BinaryUnderTest::assert_in_flight_reflection_call_survives_sigterm`] with more work in
    /// flight beside the call: `start_more` begins it once the call is open, and `finish_more`
    /// completes and checks it after the drain, before the call is used again.
    pub async fn assert_in_flight_reflection_call_and_more_survive_sigterm<M>(
        &self,
        backend: Backend,
        start_more: impl AsyncFnOnce(&ServiceProcess) -> M,
        finish_more: impl AsyncFnOnce(M),
    ) {
        let service = self.service;
        self.assert_work_in_flight_survives_sigterm(
            backend,
            async move |_, process| {
                // A bidirectional reflection call, open across the shutdown.
                let mut call = OpenReflectionCall::open(process.connect().await.unwrap())
                    .await
                    .unwrap();
                assert!(
                    call.list_services()
                        .await
                        .unwrap()
                        .iter()
                        .any(|s| s == service)
                );
                let more = start_more(process).await;
                (call, more)
            },
            async move |(mut call, more)| {
                finish_more(more).await;
                let services = call.list_services().await.unwrap();
                assert!(services.iter().any(|s| s == service), "{services:?}");
                call.finish().await.unwrap();
            },
            "the call ended",
        )
        .await;
    }

    /// Work `start` puts in flight on the serving binary survives SIGTERM: health turns
    /// NOT_SERVING, new connections are served for [`SHUTDOWN_DELAY`] and refused after, the
    /// process waits ([`ServiceProcess::terminate_and_wait_for_drain`]); then `finish`
    /// completes and checks the work, and the binary exits successfully within 3 seconds of
    /// it. Prints the timings, naming the work's end `ended` ("the call ended"). Returns the
    /// environment and the exited process for more checks, or `None` when `backend` is not
    /// configured.
    pub async fn assert_work_in_flight_survives_sigterm<W>(
        &self,
        backend: Backend,
        start: impl AsyncFnOnce(&Environment, &ServiceProcess) -> W,
        finish: impl AsyncFnOnce(W),
        ended: &str,
    ) -> Option<(Environment, ServiceProcess)> {
        let env = self.environment(backend)?;
        let mut process = self.spawn(&env).await;
        let work = start(&env, &process).await;

        // Load balancers are told at once; new connections are served until the delay has
        // passed, then refused; the process waits for the work in flight.
        let drain = process
            .terminate_and_wait_for_drain(&[self.service], SHUTDOWN_DELAY)
            .await;

        // The listeners are closed; the work under way is still answered, and ends cleanly.
        finish(work).await;
        let finished = Instant::now();

        let status = process.wait_exit(Duration::from_secs(5)).await;
        let exited = finished.elapsed();
        assert!(status.success(), "{}", process.failure(&status.to_string()));
        assert!(
            exited < Duration::from_secs(3),
            "exits promptly once the last call is answered: {exited:?}"
        );
        eprintln!(
            "shutdown timings ({backend:?}): NOT_SERVING {:?} after SIGTERM, new connections \
             refused after {:?}, exit {exited:?} after {ended}",
            drain.not_serving, drain.refused
        );
        Some((env, process))
    }

    /// With `TICA_MIGRATE_ONLY` (the migration Job), the binary applies all its migrations and
    /// exits successfully without listening: its ports are taken, so a binary that tried to
    /// listen would fail with "address in use".
    pub async fn assert_migrate_only_applies_migrations_and_exits(&self, backend: Backend) {
        let Some(env) = self.environment(backend) else {
            return;
        };
        let taken: Vec<(&'static str, std::net::TcpListener)> =
            [LISTEN_VARIABLE, ADMIN_LISTEN_VARIABLE]
                .into_iter()
                .chain(self.more_listen.iter().copied())
                .map(|variable| {
                    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    (variable, listener)
                })
                .collect();
        let mut envs = env.envs.clone();
        envs.push(("TICA_MIGRATE_ONLY", "true".to_owned()));
        envs.extend(
            taken.iter().map(|(variable, listener)| {
                (*variable, listener.local_addr().unwrap().to_string())
            }),
        );
        let mut job = ServiceProcess::start(self.binary, &envs);
        let status = job.wait_exit(Duration::from_secs(20)).await;
        assert!(status.success(), "{}", job.failure(&status.to_string()));
        assert!(
            job.stderr().contains("migrations applied"),
            "{}",
            job.stderr()
        );
        let expected = match backend {
            Backend::Sqlite => self.migrations.sqlite.iter().count(),
            Backend::Postgres => self.migrations.postgres.iter().count(),
        };
        let applied = applied_migrations(&env.db.config(self.database))
            .await
            .unwrap();
        assert!(expected > 0);
        assert_eq!(applied, expected as i64);
    }

    /// Started without `variable` (on SQLite), the binary exits unsuccessfully with a message
    /// that names it.
    pub async fn assert_missing_variable_is_named(&self, variable: &str) {
        let env = self
            .environment(Backend::Sqlite)
            .expect("SQLite is always there");
        let mut process = ServiceProcess::start(self.binary, &env.without(variable));
        let status = process.wait_exit(Duration::from_secs(10)).await;
        assert!(!status.success());
        assert!(process.stderr().contains(variable), "{}", process.stderr());
    }
}

/// A `grpc.reflection.v1.ServerReflection/ServerReflectionInfo` call — bidirectional, and
/// hosted by every TICA server — held open under the test's control: a call in flight.
#[derive(Debug)]
pub struct OpenReflectionCall {
    requests: tokio::sync::mpsc::Sender<reflection::ServerReflectionRequest>,
    responses: tonic::Streaming<reflection::ServerReflectionResponse>,
}

impl OpenReflectionCall {
    /// Opens the call on `channel`.
    pub async fn open(channel: Channel) -> Result<OpenReflectionCall, tonic::Status> {
        let (requests, receiver) = tokio::sync::mpsc::channel(4);
        let responses = reflection::server_reflection_client::ServerReflectionClient::new(channel)
            .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await?
            .into_inner();
        Ok(OpenReflectionCall {
            requests,
            responses,
        })
    }

    /// Asks which services the server hosts, on the open call, and waits for the answer.
    pub async fn list_services(&mut self) -> Result<Vec<String>, tonic::Status> {
        use reflection::server_reflection_request::MessageRequest;
        use reflection::server_reflection_response::MessageResponse;
        self.requests
            .send(reflection::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            })
            .await
            .map_err(|_| tonic::Status::unavailable("the call's request stream is closed"))?;
        match self.responses.message().await? {
            Some(reflection::ServerReflectionResponse {
                message_response: Some(MessageResponse::ListServicesResponse(list)),
                ..
            }) => Ok(list.service.into_iter().map(|s| s.name).collect()),
            other => Err(tonic::Status::internal(format!(
                "expected a list of services, got {other:?}"
            ))),
        }
    }

    /// Ends the call as a client does: closes the request stream, then waits for the server
    /// to end its response stream with OK.
    pub async fn finish(self) -> Result<(), tonic::Status> {
        let OpenReflectionCall {
            requests,
            mut responses,
        } = self;
        drop(requests);
        match responses.message().await? {
            None => Ok(()),
            Some(extra) => Err(tonic::Status::internal(format!(
                "an answer nobody asked for: {extra:?}"
            ))),
        }
    }
}

/// What [`ServiceProcess::terminate_and_wait_for_drain`] measured, from SIGTERM.
#[derive(Clone, Copy, Debug)]
pub struct Drain {
    /// Until health answered NOT_SERVING.
    pub not_serving: Duration,
    /// Until every served address refused new connections.
    pub refused: Duration,
}

/// `n` distinct free loopback ports (each bound to port 0, all released together).
fn free_ports(n: usize) -> Vec<SocketAddr> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("a bound address"))
        .collect()
}

/// An HTTP/1.1 answer read by [`read_http_answer`] (and [`http_get`]).
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl HttpAnswer {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `addr` over a fresh connection (`Connection: close`).
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<HttpAnswer> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    read_http_answer(&mut stream).await
}

/// Reads an HTTP/1.1 answer from `stream` until the server closes it (send requests with
/// `Connection: close`). Chunked bodies are decoded.
pub async fn read_http_answer(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
) -> std::io::Result<HttpAnswer> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_http_answer(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not an HTTP answer: {:?}",
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            ),
        )
    })
}

fn parse_http_answer(raw: &[u8]) -> Option<HttpAnswer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let mut decoded = Vec::new();
    if chunked {
        loop {
            let line_end = body.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            body = &body[line_end + 2..];
            if size == 0 {
                break;
            }
            decoded.extend_from_slice(body.get(..size)?);
            body = body.get(size + 2..)?;
        }
    } else {
        decoded.extend_from_slice(body);
    }
    Some(HttpAnswer {
        status,
        headers,
        body: String::from_utf8_lossy(&decoded).into_owned(),
    })
}

/// How many migrations are recorded as applied in the database `config` names (0 when it has
/// none yet), read without running any: to check what a `TICA_MIGRATE_ONLY` run did.
pub async fn applied_migrations(config: &tica_storage::DatabaseConfig) -> Result<i64, sqlx::Error> {
    use sqlx::Connection;
    let url = config.url.trim();
    if let Some(rest) = url.strip_prefix("sqlite:") {
        // As `tica_storage` reads it: a `.db` file, or a directory holding `{service}.db`.
        let path = Path::new(rest.strip_prefix("//").unwrap_or(rest));
        let file = if path.extension().is_some_and(|e| e == "db" || e == "sqlite") {
            path.to_path_buf()
        } else {
            path.join(format!("{}.db", config.service))
        };
        if !file.exists() {
            return Ok(0);
        }
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&mut conn)
        .await?;
        let count = if exists {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut conn)
                .await?
        } else {
            0
        };
        conn.close().await?;
        Ok(count)
    } else {
        let schema = config.schema.as_deref().unwrap_or(&config.service);
        assert!(
            schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{schema:?}: expected a plain schema name"
        );
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = $1 AND table_name = '_sqlx_migrations')",
        )
        .bind(schema)
        .fetch_one(&mut conn)
        .await?;
        let count = if exists {
            // The name was checked above to be a plain identifier.
            let sql = format!("SELECT COUNT(*) FROM {schema}._sqlx_migrations WHERE success");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await?
        } else {
            0
        };
        conn.close().await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_answer_is_decoded() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n";
        let answer = parse_http_answer(raw).unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("Content-Type"), Some("text/plain"));
        assert_eq!(answer.body, "ok!!!");
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports(3);
        assert_eq!(
            ports.iter().collect::<std::collections::HashSet<_>>().len(),
            3
        );
    }
}
