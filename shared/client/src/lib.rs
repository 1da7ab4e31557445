//! Typed clients of the four TICA services, for the services that call each other, the `tica`
//! CLI, the demo and the tests.
//!
//! - [`roster`], [`assessment`], [`sampling`], [`certificate`]: a client on a channel that
//!   carries the caller's bearer token and the current trace context on every call, with the
//!   message limits the APIs need. A service calling another forwards its own caller's token:
//!   the callee decides what that caller may see, so no call reaches further than its caller.
//! - [`paging`]: every page of a list, refusing a page token the server gave twice.
//! - [`status`]: what an upstream refusal means ([`UpstreamError`]); the services map it to
//!   their own error once (`tica_server::ServiceError: From<UpstreamError>`).
//! - [`files`]: streaming a roster import up and an export down.

#![deny(missing_docs)]

pub mod files;
pub mod paging;
pub mod status;

use tica_auth::Bearer;
use tica_proto::tica::assessment::v1::assessment_service_client::AssessmentServiceClient;
use tica_proto::tica::certificate::v1::certificate_service_client::CertificateServiceClient;
use tica_proto::tica::roster::v1::roster_service_client::RosterServiceClient;
use tica_proto::tica::sampling::v1::sampling_service_client::SamplingServiceClient;
use tica_telemetry::{TracedChannel, traced};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use paging::{Paged, all_pages, every};
pub use status::{Refusal, Upstream, UpstreamError};

/// The channel every client sends on: the caller's token and trace context added to each call.
pub type Authed = InterceptedService<TracedChannel, Bearer>;

/// A roster client.
pub type Roster = RosterServiceClient<Authed>;
/// An assessment client.
pub type Assessment = AssessmentServiceClient<Authed>;
/// A sampling client.
pub type Sampling = SamplingServiceClient<Authed>;
/// A certificate client.
pub type Certificate = CertificateServiceClient<Authed>;

/// The largest answer a client accepts (a county's lists and exports, page by page).
pub const MAX_DECODING: usize = 64 << 20;
/// The largest request a client sends (an import arrives in 1 MiB chunks).
pub const MAX_ENCODING: usize = 4 << 20;

fn authed(channel: Channel, token: &str) -> Authed {
    InterceptedService::new(traced(channel), Bearer::new(token))
}

/// A roster client on `channel` calling with `token`.
pub fn roster(channel: Channel, token: &str) -> Roster {
    RosterServiceClient::new(authed(channel, token))
        .max_decoding_message_size(MAX_DECODING)
        .max_encoding_message_size(MAX_ENCODING)
}

/// An assessment client on `channel` calling with `token`.
pub fn assessment(channel: Channel, token: &str) -> Assessment {
    AssessmentServiceClient::new(authed(channel, token))
        .max_decoding_message_size(MAX_DECODING)
        .max_encoding_message_size(MAX_ENCODING)
}

/// A sampling client on `channel` calling with `token`.
pub fn sampling(channel: Channel, token: &str) -> Sampling {
    SamplingServiceClient::new(authed(channel, token))
        .max_decoding_message_size(MAX_DECODING)
        .max_encoding_message_size(MAX_ENCODING)
}

/// A certificate client on `channel` calling with `token`; an empty token calls anonymously
/// (the public methods: verification, the teachers' search, the public log).
pub fn certificate(channel: Channel, token: &str) -> Certificate {
    CertificateServiceClient::new(authed(channel, token))
        .max_decoding_message_size(MAX_DECODING)
        .max_encoding_message_size(MAX_ENCODING)
}

/// The channels a service keeps to the assessment service and the roster, and clients on them
/// that carry one caller's token (the upstream of the sampling and certificate services).
#[derive(Clone, Debug)]
pub struct Peers {
    assessment: Channel,
    roster: Channel,
}

impl Peers {
    /// Peers at `assessment` and `roster` (channels connect lazily).
    pub fn new(assessment: Channel, roster: Channel) -> Peers {
        Peers { assessment, roster }
    }

    /// An assessment client calling with `token`.
    pub fn assessment(&self, token: &str) -> Assessment {
        assessment(self.assessment.clone(), token)
    }

    /// A roster client calling with `token`.
    pub fn roster(&self, token: &str) -> Roster {
        roster(self.roster.clone(), token)
    }
}
