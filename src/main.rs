//! The `switchboard` binary: `serve`, account and token administration, configuration checks.
//! Everything here is wiring; the system itself lives in `switchboard-server`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use switchboard_server::auth::Accounts;
use switchboard_server::config::Config;
use switchboard_server::server;
use switchboard_server::storage::OutboxStore;
use switchboard_server::webhook;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "An XMPP server whose first interface is HTTP"
)]
struct Cli {
    /// TOML configuration file (default: ./switchboard.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server until SIGINT or SIGTERM.
    Serve,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage bearer tokens for the HTTP API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Webhook outbox: dead letters, re-drive, signing keys.
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// List the stanzas given up on, oldest first: id, callback, to, kind, attempts, time, error.
    DeadLetters,
    /// Put a dead letter back in line for delivery (a running server picks it up within 1 s).
    Redrive { id: String },
    /// Print the signing key of a component domain or account that has a callback.
    Secret { jid: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (`alice` or `alice@domain`); the password is read from stdin unless given.
    Add {
        jid: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Delete an account with its roster, tokens and stored messages.
    Del { jid: String },
    /// List accounts.
    List,
    /// Change an account's password (read from stdin unless given).
    Passwd {
        jid: String,
        #[arg(long)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new bearer token for an account.
    Create { jid: String },
    /// Revoke a token.
    Revoke { token: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it with defaults and environment applied.
    Check,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref()).context("loading configuration")?;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).context("invalid log filter")?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(cli.command, config))
}

async fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Config(ConfigCommand::Check) => {
            print!("{}", toml::to_string_pretty(&config)?);
            Ok(())
        }
        Command::User(cmd) => user(cmd, &config).await,
        Command::Token(cmd) => token(cmd, &config).await,
        Command::Webhook(cmd) => webhook(cmd, &config).await,
    }
}

async fn serve(config: Config) -> Result<()> {
    let running = server::start(config).await?;
    wait_for_signal().await?;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

async fn accounts(config: &Config) -> Result<Accounts> {
    let store = server::open_store(&config.data_dir).await?;
    Ok(Accounts::new(
        Arc::new(store),
        &config.domain,
        config.auth.scram_iterations,
    ))
}

/// The password from `--password`, or one line of stdin (prompting when it is a terminal).
fn password(given: Option<String>) -> Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password given (use --password or pass it on stdin)");
    }
    Ok(password)
}

async fn user(cmd: UserCommand, config: &Config) -> Result<()> {
    let accounts = accounts(config).await?;
    match cmd {
        UserCommand::Add { jid, password: p } => {
            let user = accounts.add_user(&jid, &password(p)?).await?;
            println!("created {user}@{}", config.domain);
        }
        UserCommand::Del { jid } => {
            accounts.delete_user(&jid).await?;
            println!("deleted {jid}");
        }
        UserCommand::List => {
            for user in accounts.list_users().await? {
                println!("{user}@{}", config.domain);
            }
        }
        UserCommand::Passwd { jid, password: p } => {
            accounts.set_password(&jid, &password(p)?).await?;
            println!("password changed for {jid}");
        }
    }
    Ok(())
}

async fn token(cmd: TokenCommand, config: &Config) -> Result<()> {
    let accounts = accounts(config).await?;
    match cmd {
        TokenCommand::Create { jid } => println!("{}", accounts.create_token(&jid).await?),
        TokenCommand::Revoke { token } => {
            if !accounts.revoke_token(&token).await? {
                bail!("no such token");
            }
            println!("revoked");
        }
    }
    Ok(())
}

async fn webhook(cmd: WebhookCommand, config: &Config) -> Result<()> {
    let store = server::open_store(&config.data_dir).await?;
    match cmd {
        WebhookCommand::DeadLetters => {
            let letters = store
                .outbox_dead_letters(switchboard_server::http::webhooks::DEAD_LETTER_PAGE)
                .await?;
            for l in letters {
                let dead_at = l.dead_at.and_then(webhook::rfc3339).unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    l.delivery_id,
                    l.owner,
                    l.destination,
                    l.kind,
                    l.attempts,
                    dead_at,
                    l.last_error.unwrap_or_default()
                );
            }
        }
        WebhookCommand::Redrive { id } => {
            if !webhook::redrive(&store, &id).await? {
                bail!("no dead letter with id {id}");
            }
            println!("redriven {id}");
        }
        WebhookCommand::Secret { jid } => match webhook::secret_of(config, &store, &jid).await? {
            Some(secret) => println!("{secret}"),
            None => bail!("{jid} has no webhook callback"),
        },
    }
    Ok(())
}
