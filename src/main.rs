//! The `switchboard` binary: `serve`, account, token, certificate and webhook administration,
//! backup and restore, configuration checks. Everything here is wiring; the system itself lives
//! in `switchboard-server`.

mod cli;
mod password;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{CommandFactory, FromArgMatches};
use switchboard_server::auth::{AccountError, Accounts};
use switchboard_server::backup;
use switchboard_server::config::load::{self, Loaded};
use switchboard_server::config::{
    AccountJid, Config, ConfigError, Diagnostics, KeyPath, LogFormat,
};
use switchboard_server::http::tls as https;
use switchboard_server::pidfile::{self, PidFile};
use switchboard_server::portable;
use switchboard_server::server;
use switchboard_server::storage::{OutboxStore, TokenScope};
use switchboard_server::tls;
use switchboard_server::uploads;
use switchboard_server::webhook;
use switchboard_xmpp::pie::PieLimits;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

use cli::{
    CertCommand, Cli, Command, ConfigCommand, ExportCommand, ImportCommand, JwtCommand,
    TokenCommand, UploadCommand, UserCommand, WebhookCommand,
};

/// sysexits' EX_CONFIG: lets a service manager tell a bad configuration from a crash.
const EXIT_CONFIG: u8 = 78;

/// Errors are printed as one line (with their causes), never with a backtrace: they are the
/// user's to fix, not the program's.
fn main() -> ExitCode {
    let matches = Cli::command()
        .after_help(cli::short_epilogue())
        .after_long_help(cli::long_epilogue())
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let loaded = match configure(&cli) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(run(cli.command, loaded)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: many messages already quote theirs
/// (`cannot listen on …: Address already in use`).
fn report(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Loads the configuration and sets up logging as it asks.
fn configure(cli: &Cli) -> Result<Loaded, ConfigError> {
    let loaded = load::load(cli.config.as_deref())?;
    let filter = EnvFilter::try_new(&loaded.config.log).map_err(|e| {
        let message = format!(
            "expected a tracing filter like \"info\" or \"switchboard_server=debug,info\" ({e})"
        );
        ConfigError::Invalid(Diagnostics(vec![
            loaded.diagnostic(&KeyPath::dotted("log"), message),
        ]))
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match loaded.config.log_format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(loaded)
}

async fn run(command: Command, loaded: Loaded) -> Result<()> {
    match command {
        Command::Serve => serve(loaded).await,
        Command::Reload => {
            let pid = pidfile::signal_reload(&loaded.config.data_dir)?;
            println!(
                "asked the server (pid {pid}) to reload its configuration; its log reports \
                 what changed"
            );
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            print!("{}", toml::to_string_pretty(&loaded.config)?);
            let overrides = loaded.env_overrides().count();
            match &loaded.file {
                Some(file) => eprintln!(
                    "configuration is valid ({}, {overrides} environment override(s))",
                    file.display()
                ),
                None => eprintln!(
                    "configuration is valid (no file, {overrides} environment override(s))"
                ),
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => {
            print!("{}", loaded.show()?);
            Ok(())
        }
        Command::User(cmd) => user(cmd, &loaded.config).await,
        Command::Token(cmd) => token(cmd, &loaded.config).await,
        Command::Jwt(JwtCommand::Create { jid, ttl }) => {
            let account = account(&jid, &loaded.config.domain)?;
            let user = account.as_bare().node().map(|n| n.to_string());
            let user = user.ok_or_else(|| anyhow!("'{jid}' names no account"))?;
            let token = switchboard_server::auth::jwt::sign(
                &loaded.config.auth.jwt,
                &user,
                std::time::Duration::from_secs(ttl),
            )?;
            println!("{token}");
            Ok(())
        }
        Command::Cert(cmd) => cert(cmd, &loaded),
        Command::Webhook(cmd) => webhook(cmd, &loaded.config).await,
        Command::Upload(UploadCommand::Purge { older_than }) => {
            purge_uploads(&loaded.config, older_than).await
        }
        Command::Backup { file } => {
            let schema = backup::backup(&loaded.config.data_dir, &file).await?;
            println!(
                "backed up {} account(s), schema version {}, to {}",
                schema.accounts,
                schema.version,
                file.display()
            );
            Ok(())
        }
        Command::Export(cmd) => export(cmd, &loaded.config).await,
        Command::Import(cmd) => import(cmd, &loaded.config).await,
        Command::Restore { file } => {
            let restored = backup::restore(&loaded.config.data_dir, &file).await?;
            println!(
                "restored {} account(s), schema version {}, from {}",
                restored.schema.accounts,
                restored.schema.version,
                file.display()
            );
            if let Some(kept) = restored.kept {
                eprintln!("the replaced database was kept as {}", kept.display());
            }
            Ok(())
        }
    }
}

async fn export(cmd: ExportCommand, config: &Config) -> Result<()> {
    let ExportCommand::Xep227 { dest } = cmd;
    let file = export_file(&dest, &config.domain)?;
    let store = server::open_store(&config.data_dir).await?;
    let summary = portable::export(&store, &config.domain, &file).await?;
    println!("{summary} to {}", file.display());
    Ok(())
}

/// Where `export xep227 DEST` writes: DEST itself when it names an `.xml` file, else
/// `<domain>.xml` in the directory DEST (created when missing), which `import xep227 DEST`
/// reads back.
fn export_file(dest: &std::path::Path, domain: &str) -> Result<std::path::PathBuf> {
    let names_a_file = dest
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("xml"));
    if names_a_file && !dest.is_dir() {
        return Ok(dest.to_owned());
    }
    std::fs::create_dir_all(dest)
        .with_context(|| format!("cannot create the directory {}", dest.display()))?;
    Ok(dest.join(format!("{domain}.xml")))
}

async fn import(cmd: ImportCommand, config: &Config) -> Result<()> {
    let ImportCommand::Xep227 { source, replace } = cmd;
    let options = portable::ImportOptions {
        replace,
        limits: PieLimits {
            max_user_bytes: config.limits.import_max_account_bytes,
            // A stored stanza may nest as deep as one on a stream, under <user> and
            // <offline-messages>.
            max_depth: config.limits.max_depth + 2,
        },
        pep: config.pep.clone(),
    };
    let summary = portable::import(
        &config.data_dir,
        &config.domain,
        config.auth.scram_iterations,
        &source,
        options,
    )
    .await?;
    for refused in &summary.refused {
        eprintln!("refused: {refused}");
    }
    for warning in summary.warnings() {
        eprintln!("WARN {warning}");
    }
    println!("{summary}");
    if summary.refused.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "{} account(s) were not imported (see above)",
            summary.refused.len()
        ))
    }
}

async fn serve(loaded: Loaded) -> Result<()> {
    // Before the store opens: a second server on the same data is refused.
    std::fs::create_dir_all(&loaded.config.data_dir)
        .with_context(|| format!("creating {}", loaded.config.data_dir.display()))?;
    let _pid = PidFile::create(&loaded.config.data_dir)?;
    let running = server::start(loaded.config.clone()).await?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => break r?,
            _ = term.recv() => break,
            _ = hup.recv() => reload(&running, loaded.file.as_deref()).await,
        }
    }
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Reads the configuration file and the environment again and puts the result in force; what
/// is wrong with it, or what waits for a restart, is logged.
async fn reload(running: &server::RunningServer, file: Option<&std::path::Path>) {
    tracing::info!("SIGHUP: reloading the configuration");
    let config = match load::load(file) {
        Ok(loaded) => loaded.config,
        Err(e) => {
            running.reload_failed();
            tracing::error!("configuration not reloaded, the running one stays: {e}");
            return;
        }
    };
    match running.reload(config).await {
        Ok(pending) if pending.is_empty() => tracing::info!("configuration reloaded"),
        Ok(pending) => tracing::warn!(
            keys = pending.join(", "),
            "configuration reloaded; these changes need a restart and are not applied yet"
        ),
        Err(e) => tracing::error!("configuration not reloaded, the running one stays: {e}"),
    }
}

async fn accounts(config: &Config) -> Result<Accounts> {
    let store = server::open_store(&config.data_dir).await?;
    Ok(Accounts::new(
        Arc::new(store),
        &config.domain,
        config.auth.scram_iterations,
    ))
}

/// The account named on the command line: `alice` or `alice@<domain>`, without a resource.
fn account(input: &str, domain: &str) -> Result<AccountJid> {
    if let Some((bare, resource)) = input.split_once('/') {
        bail!(
            "'{input}' has a resource (/{resource}); name the account without it: {bare}{}",
            if bare.contains('@') {
                String::new()
            } else {
                format!("@{domain}")
            }
        );
    }
    let jid = if input.contains('@') {
        input.to_owned()
    } else {
        format!("{input}@{domain}")
    };
    let account: AccountJid = jid
        .parse()
        .map_err(|e| anyhow!("'{input}' is not an account name: {e}"))?;
    if account.domain() != domain {
        bail!(
            "'{input}' is on {}, but this server's domain is {domain}: its accounts are \
             name@{domain}",
            account.domain()
        );
    }
    Ok(account)
}

async fn exists(accounts: &Accounts, account: &AccountJid) -> Result<bool> {
    let Some(name) = account.as_bare().node() else {
        return Ok(false);
    };
    Ok(accounts.store().credentials(name.as_str()).await?.is_some())
}

/// An account error in words that name the account.
fn named(error: AccountError, account: &AccountJid) -> anyhow::Error {
    match error {
        AccountError::Exists => anyhow!("account '{account}' already exists"),
        AccountError::NoSuchUser => anyhow!("account '{account}' does not exist"),
        other => anyhow!("account '{account}': {other}"),
    }
}

async fn user(cmd: UserCommand, config: &Config) -> Result<()> {
    let accounts = accounts(config).await?;
    match cmd {
        UserCommand::Add { jid, password: p } => {
            let account = account(&jid, &config.domain)?;
            // Refused before a password is asked for in vain.
            if exists(&accounts, &account).await? {
                return Err(named(AccountError::Exists, &account));
            }
            let password = password::obtain(p, &account)?;
            accounts
                .add_user(&account.to_string(), &password)
                .await
                .map_err(|e| named(e, &account))?;
            println!("created {account}");
        }
        UserCommand::Del { jid } => {
            let account = account(&jid, &config.domain)?;
            accounts
                .delete_user(&account.to_string())
                .await
                .map_err(|e| named(e, &account))?;
            println!("deleted {account}");
        }
        UserCommand::List => {
            let users = accounts.list_users().await?;
            if users.is_empty() {
                eprintln!("no accounts yet (create one with `switchboard user add NAME`)");
            }
            for user in users {
                println!("{user}@{}", config.domain);
            }
        }
        UserCommand::Passwd { jid, password: p } => {
            let account = account(&jid, &config.domain)?;
            if !exists(&accounts, &account).await? {
                return Err(named(AccountError::NoSuchUser, &account));
            }
            let password = password::obtain(p, &account)?;
            accounts
                .set_password(&account.to_string(), &password)
                .await
                .map_err(|e| named(e, &account))?;
            println!("password changed for {account}");
        }
    }
    Ok(())
}

async fn token(cmd: TokenCommand, config: &Config) -> Result<()> {
    let accounts = accounts(config).await?;
    match cmd {
        TokenCommand::Create { jid, scope } => {
            let account = account(&jid, &config.domain)?;
            let scope = TokenScope::parse(&scope).context("scope must be user or admin")?;
            let token = accounts
                .create_token(&account.to_string(), scope)
                .await
                .map_err(|e| named(e, &account))?;
            println!("{token}");
        }
        TokenCommand::Revoke { token } => {
            if !accounts.revoke_token(&token).await? {
                // The token is a secret: it is not repeated.
                bail!("no such token (it was revoked already, or never issued by this server)");
            }
            println!("revoked");
        }
    }
    Ok(())
}

fn cert(cmd: CertCommand, loaded: &Loaded) -> Result<()> {
    let config = &loaded.config;
    match cmd {
        CertCommand::Import { dir } => {
            let imported = tls::import_certbot(&dir, &config.domain, &config.data_dir)?;
            println!(
                "installed the certificate for {} (valid until {}) from {} as {} and {}",
                config.domain,
                imported.info.not_after_text(),
                imported.source.display(),
                imported.cert.display(),
                imported.key.display()
            );
            if let Some(warning) = &imported.warning {
                eprintln!("warning: this certificate {warning}");
            }
            for component in &config.component {
                let domain = &component.domain;
                if let Some(hosted) = https::import_hosted(&dir, domain, &config.data_dir)? {
                    println!(
                        "installed the HTTPS certificate for {domain} (valid until {}) from {} \
                         as {} and {}",
                        hosted.info.not_after_text(),
                        hosted.source.display(),
                        hosted.cert.display(),
                        hosted.key.display()
                    );
                    if let Some(warning) = &hosted.warning {
                        eprintln!("warning: the certificate for {domain} {warning}");
                    }
                }
            }
            if config.tls.cert.is_some() {
                eprintln!(
                    "warning: tls.cert and tls.key are set ({}), so the server uses those files, \
                     not the imported pair; remove them to use it",
                    loaded.origin(&KeyPath::dotted("tls.cert"))
                );
            } else {
                eprintln!("restart `switchboard serve` to use it");
            }
        }
    }
    Ok(())
}

/// `upload purge`: files older than `older_than` days (or `upload.expire_after_days`) and
/// abandoned slots.
async fn purge_uploads(config: &Config, older_than: Option<u32>) -> Result<()> {
    let store = server::open_store(&config.data_dir).await?;
    let now = now_ms();
    let cutoff = match older_than {
        Some(days) => Some(now - i64::from(days) * 86_400_000),
        None => uploads::expiry_cutoff(config.upload.expire_after_days, now),
    };
    let purged = uploads::purge(&store, &config.data_dir, cutoff, now).await?;
    println!("{purged} uploads deleted");
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn webhook(cmd: WebhookCommand, config: &Config) -> Result<()> {
    let store = server::open_store(&config.data_dir).await?;
    match cmd {
        WebhookCommand::DeadLetters => {
            let letters = store
                .outbox_dead_letters(switchboard_server::http::webhooks::DEAD_LETTER_PAGE)
                .await?;
            if letters.is_empty() {
                eprintln!("no dead letters");
            }
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
