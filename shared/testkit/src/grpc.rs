//! A registered [`GrpcServer`] served in the background on a free port of 127.0.0.1, and a
//! channel connected to it.

use tica_auth::TokenVerifier;
use tica_server::{GrpcServer, RunningServer};
use tonic::transport::Channel;

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
