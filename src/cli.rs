//! The command line: every command and argument with its help, and the `--help` epilogue that
//! lists the configuration lookup order and every `SWITCHBOARD_*` environment variable.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use switchboard_server::config::ENV_KEYS;
use switchboard_server::config::load::{DEFAULT_FILE, ENV_PREFIX};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "An XMPP server whose first interface is HTTP",
    long_about = "An XMPP server whose first interface is HTTP: Prosody mod_rest compatible /rest, \
                  webhooks, XMPP over WebSocket (RFC 7395) and TCP.\n\n\
                  Commands other than `serve`, `restore` and `import` work on the same data \
                  directory as the server and may run while it serves."
)]
pub struct Cli {
    /// Configuration file (TOML); without it ./switchboard.toml is read when present.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server until SIGINT or SIGTERM; SIGHUP reloads the configuration.
    Serve,
    /// Make the running server re-read its configuration and certificates (sends it SIGHUP,
    /// found through DATA_DIR/switchboard.pid).
    Reload,
    /// Create, delete, list accounts and change passwords.
    #[command(subcommand)]
    User(UserCommand),
    /// Create and revoke bearer tokens for the HTTP API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// JSON Web Tokens for app logins ([auth.jwt]), for development and tests.
    #[command(subcommand)]
    Jwt(JwtCommand),
    /// Check the configuration or show where each value comes from.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Install TLS certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Webhook outbox: dead letters, re-drive, signing keys.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// HTTP File Upload (XEP-0363): delete old files.
    #[command(subcommand)]
    Upload(UploadCommand),
    /// Write a consistent copy of the database (accounts, rosters, offline messages, archive,
    /// tokens, webhook outbox) to FILE, also while the server runs.
    Backup {
        /// The copy to write; it must not exist yet.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Replace the database with a copy made by `backup`, after checking it. Refused while a
    /// server runs on the data directory; the replaced database is kept as
    /// switchboard.db.pre-restore.
    Restore {
        /// A file written by `switchboard backup`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Write the accounts in a portable format other servers read.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Read accounts written by another server (Prosody, ejabberd) or by `export`.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Write every account with its SCRAM-SHA-1 and SCRAM-SHA-256 credentials (never a
    /// password), roster, pending subscription requests and offline messages to DEST
    /// (XEP-0227), also while the server runs.
    Xep227 {
        /// A directory (created if missing; the export is `<domain>.xml` in it) or a file
        /// ending in `.xml`; the file written must not exist yet.
        #[arg(value_name = "DIR_OR_FILE")]
        dest: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import accounts (credentials, rosters, pending subscription requests, offline messages)
    /// from a XEP-0227 file, or a directory of them: Prosody's prosody-migrator output (one file
    /// per account), ejabberd's `export_piefxis` directory (xi:include is followed). Each
    /// account is written whole or not at all; data this server does not keep (vCards, private
    /// XML, PEP) is reported, not imported. Refused while a server runs on the data directory.
    Xep227 {
        /// A XEP-0227 file, or a directory of *.xml files.
        #[arg(value_name = "FILE_OR_DIR")]
        source: PathBuf,
        /// Overwrite accounts that exist already, with all their data; without it they are
        /// refused and the others imported.
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Add {
        #[arg(value_name = "JID", help = JID_HELP)]
        jid: String,
        #[arg(long, value_name = "PASSWORD", help = PASSWORD_HELP)]
        password: Option<String>,
    },
    /// Delete an account with its roster, tokens and stored messages.
    Del {
        #[arg(value_name = "JID", help = JID_HELP)]
        jid: String,
    },
    /// List the accounts, one JID per line.
    List,
    /// Change an account's password.
    Passwd {
        #[arg(value_name = "JID", help = JID_HELP)]
        jid: String,
        #[arg(long, value_name = "PASSWORD", help = PASSWORD_HELP)]
        password: Option<String>,
    },
}

const JID_HELP: &str = "The account: its name (alice) or its bare JID on this server's domain \
                        (alice@localhost), without a /resource";

const PASSWORD_HELP: &str = "The new password. Without it, it is asked for twice without echo on a \
                             terminal, or read as one line from standard input. A password given \
                             here is visible to other local users while the command runs";

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print a new bearer token for an account (shown once; only its digest is stored).
    Create {
        #[arg(value_name = "JID", help = JID_HELP)]
        jid: String,
        /// `user` (the client APIs) or `admin` (also the admin APIs, for accounts in `admins`).
        #[arg(long, default_value = "user", value_parser = ["user", "admin"])]
        scope: String,
    },
    /// Revoke a token.
    Revoke {
        /// The token, as `token create` printed it.
        #[arg(value_name = "TOKEN")]
        token: String,
    },
}

#[derive(Subcommand)]
pub enum JwtCommand {
    /// Print a JWT for an account, signed with auth.jwt's HMAC secret (secret or secret_file)
    /// and the first HS algorithm of auth.jwt.algorithms; refused when only public keys are
    /// configured (the app's backend holds the private key then).
    Create {
        #[arg(value_name = "JID", help = JID_HELP)]
        jid: String,
        /// Seconds until the token expires.
        #[arg(long, value_name = "SECS", default_value_t = 3600)]
        ttl: u64,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it (TOML, defaults and environment applied, secrets
    /// redacted), or list every problem with its file, line, key and value.
    Check,
    /// Print the effective configuration with the source of each value: default, file:line or
    /// env VARIABLE (secrets redacted).
    Show,
}

#[derive(Subcommand)]
pub enum CertCommand {
    /// Install the certificate and key for the configured domain from a certbot-style directory
    /// into DATA_DIR/tls/ (cert.pem, key.pem), where `serve` reads them at its next start; and
    /// those of component domains found in DIR/live/<domain>/ or DIR/<domain>/ into
    /// DATA_DIR/tls/<domain>/, served to HTTPS clients asking for that name.
    Import {
        /// Looked in, in order: DIR/live/<domain>/, DIR/<domain>/ and DIR itself, each with
        /// fullchain.pem and privkey.pem (for example /etc/letsencrypt)
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// List the stanzas given up on, oldest first: id, callback, to, kind, attempts, time, error.
    DeadLetters,
    /// Put a dead letter back in line for delivery (a running server picks it up within 1 s).
    Redrive {
        /// The dead letter's id, as `webhook dead-letters` prints it.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Print the signing key of a callback (X-Switchboard-Signature).
    Secret {
        /// A component domain (rest.localhost) or an account (bot@localhost) with a callback.
        #[arg(value_name = "JID")]
        jid: String,
    },
}

#[derive(Subcommand)]
pub enum UploadCommand {
    /// Delete uploaded files older than DAYS (default: upload.expire_after_days, when set), and
    /// the slots handed out but never used. Safe while the server runs.
    Purge {
        /// Delete files uploaded more than DAYS days ago; 0 deletes every file.
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u32>,
    },
}

/// Shown after `-h`.
pub fn short_epilogue() -> String {
    "Run `switchboard --help` for the configuration lookup order and the environment variables."
        .to_owned()
}

/// Shown after `--help`: where the configuration comes from and every variable.
pub fn long_epilogue() -> String {
    let width = ENV_KEYS.iter().map(|(var, _)| var.len()).max().unwrap_or(0);
    let variables: Vec<String> = ENV_KEYS
        .iter()
        .map(|(var, key)| format!("  {var:<width$}  {key}"))
        .collect();
    format!(
        "Configuration, first found wins:\n  \
         1. --config FILE (an error if it cannot be read)\n  \
         2. ./{DEFAULT_FILE} in the working directory, if it exists\n  \
         3. built-in defaults only\n\
         Environment variables then override single keys of it. Every key is documented in \
         switchboard.example.toml; `switchboard config show` prints where each value came from.\n\n\
         Environment variables ({ENV_PREFIX}* names not listed here are an error; values are TOML \
         when they parse as a number, boolean or array, else plain strings):\n{}\n\n\
         Exit status: 0 on success, 1 on an error, 2 on a usage error, 78 when the configuration \
         is invalid.",
        variables.join("\n")
    )
}
