//! `tica roster api-clients …`: the machines of other agencies that fetch their own tokens
//! (OAuth 2.0 client credentials, RFC 6749 §4.4). An office registers one, hands its secret to
//! the agency, and revokes it when the contract ends or the secret leaks.
//!
//! The secret is printed once, to stdout, and nowhere else: no log line, span or error carries
//! it.

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use tica_client::{Paged, Refusal, all_pages};
use tica_domain::names::{ApiClientName, JurisdictionName};
use tica_proto::tica::roster::v1 as pb;

use super::{Connection, table};
use crate::certificate::timestamp;

/// API client commands.
#[derive(Debug, Subcommand)]
pub enum ApiClientsCommand {
    /// Register a client; prints its id and its secret, once.
    #[command(
        after_help = "Example (a county office registers the HR bureau's system):
  export TICA_TOKEN=$(tica token mint --role county_office --jurisdiction 341324)
  tica roster api-clients create --jurisdiction 341324 --role county_office \\
      --display-name \"泗县人社局职称评审系统\" --http https://verify.ahedu.gov.cn

The secret is shown only in this answer: hand it to the agency over a secure channel. Its
machine then trades the id and secret for a token (valid --token-ttl seconds):
  curl -u CLIENT_ID:SECRET -d grant_type=client_credentials https://verify.ahedu.gov.cn/oauth/token"
    )]
    Create(CreateArgs),
    /// List the clients acting in a jurisdiction's subtree, newest first (every page).
    #[command(after_help = "Example:
  tica roster api-clients list --jurisdiction 341324 --state active
  tica roster api-clients list --json | jq -r 'select(.state == \"API_CLIENT_STATE_REVOKED\") | .clientId'")]
    List(ListArgs),
    /// Show one client (never its secret).
    #[command(after_help = "Example:
  tica roster api-clients show 0f3c9a2e7d5b4c1a9e8f6d4b2a1c3e5f
  tica roster api-clients show apiClients/0f3c9a2e7d5b4c1a9e8f6d4b2a1c3e5f --json")]
    Show {
        /// The client id, or `apiClients/{id}`.
        client: String,
        /// Print the client as JSON (proto3 JSON mapping).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Revoke a client for good: the token endpoint refuses it from now on, and the tokens it
    /// holds die within their lifetime (at most an hour).
    #[command(after_help = "Example:
  tica roster api-clients revoke 0f3c9a2e7d5b4c1a9e8f6d4b2a1c3e5f --reason \"密钥泄露\"")]
    Revoke {
        /// The client id, or `apiClients/{id}`.
        client: String,
        /// Why, for the audit trail, e.g. 密钥泄露 or 合同终止 (at most 200 characters).
        #[arg(long)]
        reason: String,
        /// Print the revoked client as JSON (proto3 JSON mapping).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: Connection,
    },
}

/// The roles a client's tokens may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ClientRole {
    /// The office of a county (the jurisdiction must be a county).
    CountyOffice,
    /// The office of a city.
    CityOffice,
    /// The office of a province.
    ProvinceOffice,
    /// A training provider that pushes hours (needs --provider-id).
    TrainingProvider,
}

impl ClientRole {
    fn as_str(self) -> &'static str {
        match self {
            ClientRole::CountyOffice => "county_office",
            ClientRole::CityOffice => "city_office",
            ClientRole::ProvinceOffice => "province_office",
            ClientRole::TrainingProvider => "training_provider",
        }
    }
}

/// A state filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientState {
    /// Gets tokens.
    Active,
    /// Revoked.
    Revoked,
}

/// Arguments of `tica roster api-clients create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The jurisdiction its tokens act for (`341324` or `jurisdictions/341324`), inside yours.
    #[arg(long)]
    jurisdiction: String,
    /// The role its tokens carry: the office of the jurisdiction's level, or a training provider.
    #[arg(long, value_enum)]
    role: ClientRole,
    /// Who runs it, for the offices' lists (at most 100 characters).
    #[arg(long)]
    display_name: String,
    /// The provider's id, as its hours records name it (training_provider only).
    #[arg(long)]
    provider_id: Option<String>,
    /// Each token's lifetime in seconds, 60–3600 [default: 600].
    #[arg(long, value_parser = clap::value_parser!(i32).range(60..=3600))]
    token_ttl: Option<i32>,
    /// Where agencies reach the token endpoint (`/oauth/token`): the public host, the same as the
    /// verification pages' (`tica serve`: its --http address), for the example request printed.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    http: String,
    /// Print the created client as one JSON object (proto3 JSON mapping, the secret included).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Arguments of `tica roster api-clients list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only clients acting in this jurisdiction's subtree (`341324` or
    /// `jurisdictions/341324`); default: yours.
    #[arg(long)]
    jurisdiction: Option<String>,
    /// Only clients in this state.
    #[arg(long, value_enum)]
    state: Option<ClientState>,
    /// One JSON object a line (proto3 JSON mapping) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: Connection,
}

/// A page of ListApiClients, for [`all_pages`].
struct Page(pb::ListApiClientsResponse);

impl Paged for Page {
    fn next_page_token(&self) -> &str {
        &self.0.next_page_token
    }
}

/// Runs an API client command.
pub async fn run(command: ApiClientsCommand) -> anyhow::Result<()> {
    match command {
        ApiClientsCommand::Create(args) => create(args).await,
        ApiClientsCommand::List(args) => list(args).await,
        ApiClientsCommand::Show {
            client,
            json,
            connection,
        } => {
            let name = client_name(&client)?;
            let mut roster = connection.client().await?;
            let c = roster
                .get_api_client(pb::GetApiClientRequest { name: name.clone() })
                .await
                .map_err(|s| refused(&format!("show {name}"), s))?
                .into_inner();
            if json {
                println!("{}", to_json(&c));
            } else {
                print_client(&c);
            }
            Ok(())
        }
        ApiClientsCommand::Revoke {
            client,
            reason,
            json,
            connection,
        } => {
            let name = client_name(&client)?;
            if reason.trim().is_empty() {
                bail!("--reason is kept in the audit trail: say why the client is revoked");
            }
            let mut roster = connection.client().await?;
            let c = roster
                .revoke_api_client(pb::RevokeApiClientRequest {
                    name: name.clone(),
                    reason,
                })
                .await
                .map_err(|s| refused(&format!("revoke {name}"), s))?
                .into_inner();
            if json {
                println!("{}", to_json(&c));
            } else {
                println!(
                    "revoked {} ({}) at {}: the token endpoint refuses it from now on; tokens it already holds expire within {} s",
                    c.name,
                    c.display_name,
                    timestamp(c.revoke_time.as_ref()),
                    c.token_ttl_seconds
                );
            }
            Ok(())
        }
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let jurisdiction = jurisdiction_name(&args.jurisdiction)?;
    if args.display_name.trim().is_empty() {
        bail!(
            "--display-name says who runs the client, for the offices' lists: it must not be empty"
        );
    }
    let http = args.http.trim().trim_end_matches('/').to_owned();
    let mut roster = args.connection.client().await?;
    let c = roster
        .create_api_client(pb::CreateApiClientRequest {
            api_client: Some(pb::ApiClient {
                display_name: args.display_name,
                jurisdiction,
                role: args.role.as_str().to_owned(),
                provider_id: args.provider_id.unwrap_or_default(),
                token_ttl_seconds: args.token_ttl.unwrap_or(0),
                ..Default::default()
            }),
        })
        .await
        .map_err(|s| refused("register the API client", s))?
        .into_inner();
    if args.json {
        println!("{}", to_json(&c));
        return Ok(());
    }
    println!(
        "registered {} ({}): {} for {}, tokens valid {} s",
        c.name, c.display_name, c.role, c.jurisdiction, c.token_ttl_seconds
    );
    println!();
    println!("  client_id:     {}", c.client_id);
    println!("  client_secret: {}", c.client_secret);
    println!();
    println!(
        "WARNING: the secret cannot be shown again; hand it to the agency now over a secure channel (lost, revoke the client and register a new one)."
    );
    println!();
    println!("The agency's machine gets a token with:");
    println!(
        "  curl -u {}:{} -d grant_type=client_credentials {http}/oauth/token",
        c.client_id, c.client_secret
    );
    Ok(())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let parent = match &args.jurisdiction {
        Some(j) => jurisdiction_name(j)?,
        None => String::new(),
    };
    let state = match args.state {
        None => pb::ApiClientState::Unspecified,
        Some(ClientState::Active) => pb::ApiClientState::Active,
        Some(ClientState::Revoked) => pb::ApiClientState::Revoked,
    } as i32;
    let roster = args.connection.client().await?;
    let pages = all_pages("ListApiClients", |page_token| {
        let mut roster = roster.clone();
        let request = pb::ListApiClientsRequest {
            parent: parent.clone(),
            page_size: 1000,
            page_token,
            state,
        };
        async move {
            roster
                .list_api_clients(request)
                .await
                .map(|r| Page(r.into_inner()))
                .map_err(|s| refused("list API clients", s))
        }
    })
    .await?;
    let total = pages.first().map_or(0, |p| p.0.total_size);
    let clients = pages.into_iter().flat_map(|p| p.0.api_clients);
    if args.json {
        for c in clients {
            println!("{}", to_json(&c));
        }
        return Ok(());
    }
    let mut table = table(&[
        "client id",
        "名称 name",
        "角色 role",
        "辖区 jurisdiction",
        "状态 state",
        "登记 created",
        "撤销 revoked",
    ]);
    for c in clients {
        table.add_row(vec![
            c.client_id.clone(),
            c.display_name.clone(),
            c.role.clone(),
            c.jurisdiction
                .trim_start_matches("jurisdictions/")
                .to_owned(),
            state_label(c.state).to_owned(),
            timestamp(c.create_time.as_ref()),
            timestamp(c.revoke_time.as_ref()),
        ]);
    }
    println!("{table}");
    println!("{} of {total} API clients", table.row_count());
    Ok(())
}

fn print_client(c: &pb::ApiClient) {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    let rows = [
        ("client id", c.client_id.clone()),
        ("名称 name", c.display_name.clone()),
        ("角色 role", c.role.clone()),
        ("辖区 jurisdiction", c.jurisdiction.clone()),
        ("provider id", c.provider_id.clone()),
        ("token lifetime", format!("{} s", c.token_ttl_seconds)),
        ("状态 state", state_label(c.state).to_owned()),
        ("登记人 created by", c.created_by.clone()),
        ("登记 created", timestamp(c.create_time.as_ref())),
        ("撤销 revoked", timestamp(c.revoke_time.as_ref())),
        ("撤销原因 reason", c.revoke_reason.clone()),
    ];
    for (label, value) in rows {
        if !value.is_empty() {
            table.add_row(vec![label.to_owned(), value]);
        }
    }
    println!("{}", c.name);
    println!("{table}");
}

fn state_label(state: i32) -> &'static str {
    match pb::ApiClientState::try_from(state) {
        Ok(pb::ApiClientState::Active) => "有效 active",
        Ok(pb::ApiClientState::Revoked) => "已撤销 revoked",
        _ => "",
    }
}

/// A client as the proto3 JSON mapping writes it (unset optional fields left out).
pub fn to_json(c: &pb::ApiClient) -> Value {
    let mut object = json!({
        "name": c.name,
        "clientId": c.client_id,
        "displayName": c.display_name,
        "jurisdiction": c.jurisdiction,
        "role": c.role,
        "tokenTtlSeconds": c.token_ttl_seconds,
        "state": pb::ApiClientState::try_from(c.state)
            .unwrap_or(pb::ApiClientState::Unspecified)
            .as_str_name(),
        "createdBy": c.created_by,
    });
    let map = object.as_object_mut().expect("an object");
    let mut put = |key: &str, value: &str| {
        if !value.is_empty() {
            map.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    };
    put("providerId", &c.provider_id);
    put("clientSecret", &c.client_secret);
    put(
        "createTime",
        &c.create_time.map(|t| t.to_string()).unwrap_or_default(),
    );
    put(
        "revokeTime",
        &c.revoke_time.map(|t| t.to_string()).unwrap_or_default(),
    );
    put("revokeReason", &c.revoke_reason);
    object
}

/// `apiClients/{id}` from a bare id or the name itself.
pub fn client_name(client: &str) -> anyhow::Result<String> {
    let client = client.trim();
    let id = ApiClientName::id_of(client).unwrap_or(client);
    if id.is_empty() || id.contains('/') || id.contains(char::is_whitespace) {
        bail!("{client:?} is not an API client: give its client id or apiClients/{{client id}}");
    }
    Ok(ApiClientName::of(id))
}

/// `jurisdictions/{code}` from a bare code or the name itself.
fn jurisdiction_name(jurisdiction: &str) -> anyhow::Result<String> {
    let j = jurisdiction.trim();
    let code = JurisdictionName::id_of(j).unwrap_or(j);
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "--jurisdiction must be a 6-digit division code such as 341324 (got {jurisdiction:?})"
        );
    }
    Ok(format!("jurisdictions/{code}"))
}

/// A refusal as a sentence an operator can act on: what was refused, why in words, and the
/// server's own message and code for the record.
pub fn refused(action: &str, status: tonic::Status) -> anyhow::Error {
    let message = status.message();
    let code = tica_server::http_errors::code_name(status.code());
    let why = match (status.code(), Refusal::of(status.code())) {
        (tonic::Code::Unauthenticated, _) => format!(
            "the token was not accepted ({message}); mint a fresh one (`tica token mint`) or check TICA_TOKEN"
        ),
        (_, Refusal::PermissionDenied) => format!(
            "your token may not do this: only a county, city or province office registers, lists and revokes API clients, inside its own jurisdiction ({message})"
        ),
        (_, Refusal::NotFound) => format!("no such API client in your jurisdiction ({message})"),
        (_, Refusal::Unavailable) => {
            format!("the roster service is out of reach or busy; try again in a moment ({message})")
        }
        _ => message.to_owned(),
    };
    anyhow::anyhow!("the roster service refused to {action}: {why} [{code}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_named_by_its_id_or_its_resource_name() {
        assert_eq!(client_name("abc123").unwrap(), "apiClients/abc123");
        assert_eq!(
            client_name(" apiClients/abc123 ").unwrap(),
            "apiClients/abc123"
        );
        assert!(client_name("").is_err());
        assert!(client_name("apiClients/").is_err());
        assert!(client_name("schools/3413240001").is_err());
    }

    #[test]
    fn a_jurisdiction_is_a_code_or_its_name() {
        assert_eq!(jurisdiction_name("341324").unwrap(), "jurisdictions/341324");
        assert_eq!(
            jurisdiction_name("jurisdictions/341324").unwrap(),
            "jurisdictions/341324"
        );
        assert!(jurisdiction_name("泗县").is_err());
    }

    #[test]
    fn refusals_read_as_sentences() {
        let error = refused(
            "register the API client",
            tonic::Status::permission_denied("teacher may not call CreateApiClient"),
        );
        let text = error.to_string();
        assert!(
            text.starts_with(
                "the roster service refused to register the API client: your token may not do this"
            ),
            "{text}"
        );
        assert!(text.ends_with("[PERMISSION_DENIED]"), "{text}");
    }

    #[test]
    fn the_json_leaves_unset_fields_out_and_names_the_state() {
        let value = to_json(&pb::ApiClient {
            name: "apiClients/x".into(),
            client_id: "x".into(),
            state: pb::ApiClientState::Active as i32,
            ..Default::default()
        });
        assert_eq!(value["state"], "API_CLIENT_STATE_ACTIVE");
        assert!(value.get("clientSecret").is_none());
        assert!(value.get("revokeTime").is_none());
    }
}
