//! `tica`: run the suite on one machine, mint development tokens, and operate the services.

use clap::{Parser, Subcommand};
use tica::{certificate, cli, credential, demo, report, sampling, serve, token};

/// TICA — the Teacher ICT Application Competence Project 2.0, as gRPC services.
#[derive(Debug, Parser)]
#[command(name = "tica", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every service in one process on the embedded default (SQLite under ./data).
    Serve(Box<serve::ServeArgs>),
    /// Play a county's whole year through the suite's APIs and leave the outputs behind
    /// (certificates, verification URLs, sampling files, workbooks, the summary PDF).
    Demo(demo::DemoArgs),
    /// Load a running suite for a while (verifications, searches, hours pushes, gradings) and
    /// report throughput, p99 latency and the services' memory every interval; optionally
    /// restart the database mid-run and check that no write was lost or applied twice.
    Soak(Box<demo::soak::SoakArgs>),
    /// Development tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Operate the roster service over gRPC.
    #[command(subcommand)]
    Roster(cli::RosterCommand),
    /// Operate the certificate service over gRPC: issue, list, revoke, download, verify.
    Certificates(certificate::CertificatesCommand),
    /// Offline sampling tools: re-run a review draw from its population and seed.
    #[command(subcommand)]
    Sampling(sampling::SamplingCommand),
    /// Offline credential tools: verify a W3C Verifiable Credential (eddsa-jcs-2022).
    #[command(subcommand)]
    Credential(credential::CredentialCommand),
    /// Verify a certificate's QR code offline against the published keys.
    Verify(credential::VerifyArgs),
    /// Reports an office hands upward: the county summary PDF, progress workbooks.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// The certificate transparency log, from outside: `tica log witness` checks an
    /// installation's log never forks (public methods only; any office can run it).
    #[command(subcommand)]
    Log(cli::log::LogCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Soak(args) => demo::soak::run(*args).await,
        Command::Token(command) => token::run(command),
        Command::Roster(command) => cli::run(command).await,
        Command::Certificates(command) => certificate::run(command).await,
        Command::Sampling(command) => sampling::run(command),
        Command::Credential(command) => return credential::run(command).exit_code(),
        Command::Verify(args) => return credential::run_verify(args).exit_code(),
        Command::Report(command) => report::run(command).await,
        Command::Log(command) => return cli::log::run(command).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", tica::refusal::explain(&error));
            std::process::ExitCode::FAILURE
        }
    }
}
