//! A registered [`GrpcServer`] served in the background on a free port of 127.0.0.1, a channel
//! connected to it, and token-bearing clients of it ([`Callers`]).

use tica_auth::{Role, TokenVerifier};
use tica_client::{Assessment, Roster};
use tica_server::{GrpcServer, RunningServer};
use tonic::transport::Channel;

use crate::Keys;

/// Serves `server` (its services already registered) on `127.0.0.1:0` behind `verifier`; the
/// running server and a channel connected to it.
///
/// # Panics
/// If the port cannot be bound or the channel cannot connect.
pub async fn serve(server: GrpcServer, verifier: TokenVerifier) -> (RunningServer, Channel) {
    let running = server
        .spawn("127.0.0.1:0".parse().expect("an address"), verifier)
        .await
        .expect("the server binds a free port");
    let channel = connect(running.url()).await;
    (running, channel)
}

/// A channel connected to `url` (`http://host:port`).
///
/// # Panics
/// If nothing accepts the connection.
pub async fn connect(url: String) -> Channel {
    Channel::from_shared(url)
        .expect("a valid URL")
        .connect()
        .await
        .expect("the client connects")
}

/// Token-bearing typed clients of a test's roster and assessment servers (one channel twice
/// when one server hosts both), every token signed with [`Keys`]. A harness holds one and
/// derefs to it, so its tests call `roster(…)`, `assessment(…)` and `token_as(…)` on it.
#[derive(Clone, Debug)]
pub struct Callers {
    /// The key every token is signed with (the servers' verifier trusts it).
    pub keys: Keys,
    roster: Channel,
    assessment: Channel,
    office: &'static str,
}

impl Callers {
    /// Clients over `roster` and `assessment`; an office's tokens ([`Callers::token`],
    /// [`Callers::roster`]) are for subject `office`.
    pub fn new(keys: Keys, roster: Channel, assessment: Channel, office: &'static str) -> Callers {
        Callers {
            keys,
            roster,
            assessment,
            office,
        }
    }

    /// An office's token: `role` acting for `jurisdiction` (and `school`).
    pub fn token(&self, role: Role, jurisdiction: &str, school: Option<&str>) -> String {
        self.token_as(self.office, role, jurisdiction, school)
    }

    /// A token for `subject` (a teacher number, an assessor id, a provider id) as `role`.
    pub fn token_as(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> String {
        self.keys.mint(subject, role, jurisdiction, school)
    }

    /// A roster client for an office: `role` acting for `jurisdiction`.
    pub fn roster(&self, role: Role, jurisdiction: &str) -> Roster {
        tica_client::roster(self.roster.clone(), &self.token(role, jurisdiction, None))
    }

    /// An assessment client for `subject` as `role` acting for `jurisdiction` (and `school`).
    pub fn assessment(
        &self,
        subject: &str,
        role: Role,
        jurisdiction: &str,
        school: Option<&str>,
    ) -> Assessment {
        tica_client::assessment(
            self.assessment.clone(),
            &self.token_as(subject, role, jurisdiction, school),
        )
    }
}
