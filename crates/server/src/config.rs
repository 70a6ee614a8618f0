//! Typed configuration: embedded defaults, an optional TOML file, then `SWITCHBOARD_*` environment
//! overrides. Unknown keys are errors naming the key; every key is documented in switchboard.example.toml.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::webhook::spec::{COMPONENT_EVENTS, USER_EVENTS, parse_spec, user_owner};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The XMPP domain this server hosts.
    pub domain: String,
    /// Where the SQLite database and generated TLS material live.
    pub data_dir: PathBuf,
    /// tracing filter (`info`, `switchboard_server=debug,info`, …).
    pub log: String,
    pub http: HttpConfig,
    pub c2s: C2sConfig,
    pub tls: TlsConfig,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
    pub rest: RestConfig,
    /// Bare JIDs of accounts allowed to run admin commands (XEP-0050, REST admin API).
    pub admins: Vec<String>,
    /// REST components (`[[component]]` tables), each a domain served by an HTTP application.
    pub component: Vec<ComponentConfig>,
    /// Webhook delivery (timeouts, retries, concurrency) and per-user callbacks.
    pub webhook: WebhookConfig,
    /// The message archive (XEP-0313).
    pub mam: MamConfig,
}

/// What the message archive keeps, for how long, and how much one query returns.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MamConfig {
    /// What is archived for accounts that set no preferences: `always`, `roster` (messages
    /// with roster contacts only) or `never`.
    pub default_policy: switchboard_xmpp::mam::Policy,
    /// Days a message stays in the archive; 0 keeps it forever.
    pub retention_days: u32,
    /// Messages in one page of a query, and the page size when the query names none.
    pub max_page_size: usize,
    /// Also archive delivery receipts (XEP-0184) and chat markers (XEP-0333) without a body.
    pub archive_receipts: bool,
    /// Matching messages counted at most for a query's RSM `<count/>` and `<first index/>`;
    /// a larger result is answered without them (counting is a scan). 0 never counts.
    pub count_limit: u64,
}

/// Who may use a REST credential, with the option names of ejabberd's mod_rest.
/// Empty lists allow everything.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// Client addresses or CIDR blocks (`127.0.0.1`, `10.0.0.0/8`, `::1/128`).
    pub allowed_ips: Vec<String>,
    /// JIDs or domains a stanza may be addressed to.
    pub allowed_destinations: Vec<String>,
    /// Stanza kinds that may be sent: `message`, `presence`, `iq`.
    pub allowed_stanza_types: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ComponentType {
    /// Served over HTTP: `/rest` to send, a callback URL to receive.
    #[default]
    Rest,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ComponentConfig {
    /// The component's domain, e.g. "rest.localhost"; it may send as anything@domain/anything.
    pub domain: String,
    #[serde(rename = "type")]
    pub kind: ComponentType,
    /// The full Authorization header value that acts as the component, e.g. "Bearer s3cret".
    pub rest_credentials: Option<String>,
    /// Secret for HTTP Basic `domain:secret` (Prosody's component_secret).
    pub component_secret: Option<String>,
    /// Where stanzas addressed to the component are POSTed.
    pub rest_callback_url: Option<String>,
    /// `application/xmpp+xml` (default) or `application/json` (alias `json`).
    pub rest_callback_content_type: Option<String>,
    /// Stanza kinds POSTed to the callback: `message`, `presence`, `iq` (default all three).
    pub rest_callback_stanzas: Option<Vec<String>>,
    /// Address forms POSTed: `bare`, `full`, `host` (default all three).
    pub rest_callback_events: Option<Vec<String>>,
    /// HMAC key signing each callback request; generated and stored when unset.
    pub rest_callback_secret: Option<String>,
    #[serde(flatten)]
    pub access: AccessConfig,
}

/// How stanzas reach callbacks: the durable outbox's timeouts, retries and concurrency.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Seconds allowed to open a connection to a callback.
    pub connect_timeout_secs: u64,
    /// Seconds allowed for a whole callback request, response body included.
    pub timeout_secs: u64,
    /// Seconds an iq waits for its callback before the sender gets an error.
    pub iq_timeout_secs: u64,
    /// Attempts before a message or presence becomes a dead letter.
    pub max_attempts: u32,
    /// Seconds after which a message or presence that keeps failing becomes a dead letter.
    pub max_age_secs: u64,
    /// First retry delay; it doubles per attempt, with jitter, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Requests in flight to one callback host at a time.
    pub per_host_concurrency: usize,
    /// PEM bundle of extra trust anchors for https callbacks (the system's are always used).
    pub ca_file: Option<PathBuf>,
    /// Callbacks for accounts (`[[webhook.user]]`), used while the account has no session.
    pub user: Vec<UserCallbackConfig>,
}

/// A bot account whose stanzas go to an HTTP callback while it has no live session.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UserCallbackConfig {
    /// The account, `bot@domain`.
    pub jid: String,
    /// Callback URL, templated like `rest_callback_url`.
    pub url: String,
    /// Body format, as `rest_callback_content_type`.
    pub content_type: Option<String>,
    /// Stanza kinds POSTed (default `message`, `presence`, `iq`).
    pub stanzas: Option<Vec<String>>,
    /// Address forms POSTed: `bare`, `full` (default both).
    pub events: Option<Vec<String>>,
    /// Signing key; generated and stored when unset.
    pub secret: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Serve plain `http://`/`ws://` on a non-loopback address (behind a TLS-terminating proxy).
    pub allow_plaintext: bool,
    /// Seconds a client has to send a request's headers, from its first byte (or from connect).
    pub header_read_timeout_secs: u64,
    /// Seconds a keep-alive connection may stay idle between requests.
    pub keepalive_timeout_secs: u64,
    /// Seconds a request may take to be answered, not counting the wait of an iq sent over
    /// `/rest` (bounded by `rest.iq_max_timeout_secs`).
    pub request_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    pub body_timeout_secs: u64,
    /// Concurrent HTTP connections (WebSocket sessions count under `limits.max_connections`).
    pub max_connections: usize,
    /// Concurrent HTTP connections from one client address (`rest.trusted_proxies` are exempt).
    pub max_connections_per_ip: usize,
    /// Requests handled at once; beyond, 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Origins allowed to call `/rest` and `/msg` from a browser (CORS); `"*"` for any.
    pub cors_origins: Vec<String>,
    /// Client addresses or CIDR blocks that may read `/metrics`; empty allows every address.
    pub metrics_allowed_ips: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct C2sConfig {
    /// STARTTLS listener (RFC 6120).
    pub addr: SocketAddr,
    /// Optional direct-TLS listener (XEP-0368), e.g. "127.0.0.1:5223".
    pub direct_tls_addr: Option<SocketAddr>,
    /// Allow streams and SASL without TLS on a non-loopback address.
    pub allow_plaintext: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key` unset both are generated (self-signed) in data_dir/tls.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_stanza_bytes: usize,
    pub max_depth: usize,
    /// Queued stanzas per session before senders see back-pressure.
    pub mailbox_size: usize,
    /// Seconds a stream may stay silent before it is closed.
    pub idle_timeout_secs: u64,
    /// Seconds allowed for stream negotiation (TLS + SASL + bind).
    pub negotiation_timeout_secs: u64,
    /// Concurrent c2s connections (TCP and WebSocket together).
    pub max_connections: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// PBKDF2 iterations for new SCRAM credentials (RFC 7677 asks for at least 4096).
    pub scram_iterations: u32,
    /// Failed SASL attempts allowed on one stream before it is closed.
    pub max_attempts: u32,
    /// Delay added after each failure, multiplied by the number of failures so far.
    pub failure_delay_ms: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Largest request body accepted by `/rest` (bytes).
    pub max_body_bytes: usize,
    /// Seconds an iq sent over `/rest` waits for its reply.
    pub iq_timeout_secs: u64,
    /// Upper bound for the `Prosody-Rest-Timeout` request header.
    pub iq_max_timeout_secs: u64,
    /// Accepted HTTP auth schemes (`Basic`, `Bearer`).
    pub auth_mechanisms: Vec<String>,
    /// Sustained requests per second per credential (0 disables the limit).
    pub rate_per_second: f64,
    /// Requests a credential may burst above the sustained rate.
    pub rate_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR blocks).
    pub trusted_proxies: Vec<String>,
    /// Access rules for account credentials (Basic/Bearer on the main domain).
    #[serde(flatten)]
    pub access: AccessConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: "localhost".into(),
            data_dir: PathBuf::from("./data"),
            log: "info".into(),
            http: HttpConfig::default(),
            c2s: C2sConfig::default(),
            tls: TlsConfig::default(),
            limits: LimitsConfig::default(),
            auth: AuthConfig::default(),
            rest: RestConfig::default(),
            admins: Vec::new(),
            component: Vec::new(),
            webhook: WebhookConfig::default(),
            mam: MamConfig::default(),
        }
    }
}

impl Default for MamConfig {
    fn default() -> Self {
        MamConfig {
            default_policy: switchboard_xmpp::mam::Policy::Always,
            retention_days: 0,
            max_page_size: 100,
            archive_receipts: true,
            count_limit: 10_000,
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            connect_timeout_secs: 5,
            timeout_secs: 30,
            iq_timeout_secs: 60,
            max_attempts: 50,
            max_age_secs: 24 * 3600,
            backoff_base_ms: 1000,
            backoff_max_ms: 300_000,
            per_host_concurrency: 8,
            ca_file: None,
            user: Vec::new(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 5280)),
            allow_plaintext: false,
            header_read_timeout_secs: 10,
            keepalive_timeout_secs: 60,
            request_timeout_secs: 30,
            body_timeout_secs: 30,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            max_concurrent_requests: 1024,
            cors_origins: vec!["*".into()],
            metrics_allowed_ips: vec!["127.0.0.0/8".into(), "::1".into()],
        }
    }
}

impl Default for C2sConfig {
    fn default() -> Self {
        C2sConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 5222)),
            direct_tls_addr: None,
            allow_plaintext: false,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_stanza_bytes: 256 * 1024,
            max_depth: 32,
            mailbox_size: 1024,
            idle_timeout_secs: 600,
            negotiation_timeout_secs: 60,
            max_connections: 100_000,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            scram_iterations: 4096,
            max_attempts: 5,
            failure_delay_ms: 500,
        }
    }
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            max_body_bytes: 192 * 1024,
            iq_timeout_secs: 120,
            iq_max_timeout_secs: 300,
            auth_mechanisms: vec!["Basic".into(), "Bearer".into()],
            rate_per_second: 500.0,
            rate_burst: 1000,
            trusted_proxies: Vec::new(),
            access: AccessConfig::default(),
        }
    }
}

/// Upper bound of `mam.max_page_size`: an HTTP request collecting a query's results holds the
/// whole page and its iq result.
const MAX_PAGE_SIZE: usize = 1000;
const _: () = assert!(MAX_PAGE_SIZE < crate::waiters::CAPACITY);

/// Environment variables and the key each overrides. A test checks that every key of the
/// example config appears here.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("SWITCHBOARD_DOMAIN", "domain"),
    ("SWITCHBOARD_DATA_DIR", "data_dir"),
    ("SWITCHBOARD_LOG", "log"),
    ("SWITCHBOARD_HTTP_ADDR", "http.addr"),
    ("SWITCHBOARD_HTTP_ALLOW_PLAINTEXT", "http.allow_plaintext"),
    (
        "SWITCHBOARD_HTTP_HEADER_READ_TIMEOUT_SECS",
        "http.header_read_timeout_secs",
    ),
    (
        "SWITCHBOARD_HTTP_KEEPALIVE_TIMEOUT_SECS",
        "http.keepalive_timeout_secs",
    ),
    (
        "SWITCHBOARD_HTTP_REQUEST_TIMEOUT_SECS",
        "http.request_timeout_secs",
    ),
    (
        "SWITCHBOARD_HTTP_BODY_TIMEOUT_SECS",
        "http.body_timeout_secs",
    ),
    ("SWITCHBOARD_HTTP_MAX_CONNECTIONS", "http.max_connections"),
    (
        "SWITCHBOARD_HTTP_MAX_CONNECTIONS_PER_IP",
        "http.max_connections_per_ip",
    ),
    (
        "SWITCHBOARD_HTTP_MAX_CONCURRENT_REQUESTS",
        "http.max_concurrent_requests",
    ),
    ("SWITCHBOARD_HTTP_CORS_ORIGINS", "http.cors_origins"),
    (
        "SWITCHBOARD_HTTP_METRICS_ALLOWED_IPS",
        "http.metrics_allowed_ips",
    ),
    ("SWITCHBOARD_C2S_ADDR", "c2s.addr"),
    ("SWITCHBOARD_C2S_DIRECT_TLS_ADDR", "c2s.direct_tls_addr"),
    ("SWITCHBOARD_C2S_ALLOW_PLAINTEXT", "c2s.allow_plaintext"),
    ("SWITCHBOARD_TLS_CERT", "tls.cert"),
    ("SWITCHBOARD_TLS_KEY", "tls.key"),
    (
        "SWITCHBOARD_LIMITS_MAX_STANZA_BYTES",
        "limits.max_stanza_bytes",
    ),
    ("SWITCHBOARD_LIMITS_MAX_DEPTH", "limits.max_depth"),
    ("SWITCHBOARD_LIMITS_MAILBOX_SIZE", "limits.mailbox_size"),
    (
        "SWITCHBOARD_LIMITS_IDLE_TIMEOUT_SECS",
        "limits.idle_timeout_secs",
    ),
    (
        "SWITCHBOARD_LIMITS_NEGOTIATION_TIMEOUT_SECS",
        "limits.negotiation_timeout_secs",
    ),
    (
        "SWITCHBOARD_LIMITS_MAX_CONNECTIONS",
        "limits.max_connections",
    ),
    ("SWITCHBOARD_AUTH_SCRAM_ITERATIONS", "auth.scram_iterations"),
    ("SWITCHBOARD_AUTH_MAX_ATTEMPTS", "auth.max_attempts"),
    ("SWITCHBOARD_AUTH_FAILURE_DELAY_MS", "auth.failure_delay_ms"),
    ("SWITCHBOARD_REST_MAX_BODY_BYTES", "rest.max_body_bytes"),
    ("SWITCHBOARD_REST_IQ_TIMEOUT_SECS", "rest.iq_timeout_secs"),
    (
        "SWITCHBOARD_REST_IQ_MAX_TIMEOUT_SECS",
        "rest.iq_max_timeout_secs",
    ),
    ("SWITCHBOARD_REST_AUTH_MECHANISMS", "rest.auth_mechanisms"),
    ("SWITCHBOARD_REST_RATE_PER_SECOND", "rest.rate_per_second"),
    ("SWITCHBOARD_REST_RATE_BURST", "rest.rate_burst"),
    ("SWITCHBOARD_REST_TRUSTED_PROXIES", "rest.trusted_proxies"),
    ("SWITCHBOARD_REST_ALLOWED_IPS", "rest.allowed_ips"),
    (
        "SWITCHBOARD_REST_ALLOWED_DESTINATIONS",
        "rest.allowed_destinations",
    ),
    (
        "SWITCHBOARD_REST_ALLOWED_STANZA_TYPES",
        "rest.allowed_stanza_types",
    ),
    ("SWITCHBOARD_ADMINS", "admins"),
    ("SWITCHBOARD_COMPONENT", "component"),
    (
        "SWITCHBOARD_WEBHOOK_CONNECT_TIMEOUT_SECS",
        "webhook.connect_timeout_secs",
    ),
    ("SWITCHBOARD_WEBHOOK_TIMEOUT_SECS", "webhook.timeout_secs"),
    (
        "SWITCHBOARD_WEBHOOK_IQ_TIMEOUT_SECS",
        "webhook.iq_timeout_secs",
    ),
    ("SWITCHBOARD_WEBHOOK_MAX_ATTEMPTS", "webhook.max_attempts"),
    ("SWITCHBOARD_WEBHOOK_MAX_AGE_SECS", "webhook.max_age_secs"),
    (
        "SWITCHBOARD_WEBHOOK_BACKOFF_BASE_MS",
        "webhook.backoff_base_ms",
    ),
    (
        "SWITCHBOARD_WEBHOOK_BACKOFF_MAX_MS",
        "webhook.backoff_max_ms",
    ),
    (
        "SWITCHBOARD_WEBHOOK_PER_HOST_CONCURRENCY",
        "webhook.per_host_concurrency",
    ),
    ("SWITCHBOARD_WEBHOOK_CA_FILE", "webhook.ca_file"),
    ("SWITCHBOARD_WEBHOOK_USER", "webhook.user"),
    ("SWITCHBOARD_MAM_DEFAULT_POLICY", "mam.default_policy"),
    ("SWITCHBOARD_MAM_RETENTION_DAYS", "mam.retention_days"),
    ("SWITCHBOARD_MAM_MAX_PAGE_SIZE", "mam.max_page_size"),
    ("SWITCHBOARD_MAM_ARCHIVE_RECEIPTS", "mam.archive_receipts"),
    ("SWITCHBOARD_MAM_COUNT_LIMIT", "mam.count_limit"),
];

impl Config {
    /// Loads `file` (or `./switchboard.toml` when present), then applies the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let default_file = Path::new("switchboard.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        let text = match file {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?,
            None => String::new(),
        };
        Config::from_sources(&text, std::env::vars())
    }

    /// Builds a config from TOML text and environment pairs (pure, for tests).
    pub fn from_sources(
        toml_text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = toml_text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        for (var, value) in env {
            let Some((_, key)) = ENV_KEYS.iter().find(|(name, _)| *name == var) else {
                continue;
            };
            set_path(&mut table, key, env_value(&value)).map_err(|reason| ConfigError::Env {
                var: var.clone(),
                reason,
            })?;
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_owned()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        jid::BareJid::new(&self.domain)
            .ok()
            .filter(|j| j.node().is_none())
            .ok_or_else(|| {
                ConfigError::Invalid(format!("domain '{}' is not a valid domain", self.domain))
            })?;
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::Invalid(
                "tls.cert and tls.key must be set together".into(),
            ));
        }
        if self.limits.max_stanza_bytes < 4096 {
            return Err(ConfigError::Invalid(
                "limits.max_stanza_bytes must be at least 4096".into(),
            ));
        }
        if self.auth.scram_iterations < 4096 {
            return Err(ConfigError::Invalid(
                "auth.scram_iterations must be at least 4096".into(),
            ));
        }
        for admin in &self.admins {
            let is_account = jid::BareJid::new(admin).is_ok_and(|j| j.node().is_some());
            if !is_account {
                return Err(ConfigError::Invalid(format!(
                    "admins: '{admin}' is not an account JID"
                )));
            }
        }
        let mut domains = std::collections::HashSet::new();
        for component in &self.component {
            let valid = jid::BareJid::new(&component.domain).is_ok_and(|j| j.node().is_none());
            if !valid || component.domain == self.domain {
                return Err(ConfigError::Invalid(format!(
                    "component domain '{}' must be a domain other than the server's",
                    component.domain
                )));
            }
            if !domains.insert(component.domain.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "component domain '{}' is configured twice",
                    component.domain
                )));
            }
            if component.rest_credentials.is_none() && component.component_secret.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "component '{}' needs rest_credentials or component_secret",
                    component.domain
                )));
            }
        }
        check_webhooks(self).map_err(ConfigError::Invalid)?;
        if !(1..=MAX_PAGE_SIZE).contains(&self.mam.max_page_size) {
            return Err(ConfigError::Invalid(format!(
                "mam.max_page_size must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        if self.limits.mailbox_size == 0 || self.limits.max_depth == 0 {
            return Err(ConfigError::Invalid(
                "limits.mailbox_size and limits.max_depth must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Checks the webhook settings and every callback of `config`; the error names the culprit.
fn check_webhooks(config: &Config) -> Result<(), String> {
    let w = &config.webhook;
    if w.connect_timeout_secs == 0 || w.timeout_secs == 0 || w.iq_timeout_secs == 0 {
        return Err("webhook timeouts must be positive".into());
    }
    if w.max_attempts == 0 || w.per_host_concurrency == 0 || w.backoff_base_ms == 0 {
        return Err(
            "webhook.max_attempts, per_host_concurrency and backoff_base_ms must be positive"
                .into(),
        );
    }
    if w.backoff_max_ms < w.backoff_base_ms {
        return Err("webhook.backoff_max_ms must not be below backoff_base_ms".into());
    }
    for c in &config.component {
        let context = |e: String| format!("component '{}': {e}", c.domain);
        match &c.rest_callback_url {
            Some(url) => {
                parse_spec(
                    url,
                    c.rest_callback_content_type.as_deref(),
                    c.rest_callback_stanzas.as_deref(),
                    c.rest_callback_events.as_deref(),
                    &COMPONENT_EVENTS,
                )
                .map_err(context)?;
            }
            None if c.rest_callback_content_type.is_some()
                || c.rest_callback_stanzas.is_some()
                || c.rest_callback_events.is_some()
                || c.rest_callback_secret.is_some() =>
            {
                return Err(context(
                    "rest_callback_* options need rest_callback_url".into(),
                ));
            }
            None => {}
        }
    }
    let mut seen = HashSet::new();
    for u in &w.user {
        let owner = user_owner(&config.domain, &u.jid).ok_or_else(|| {
            format!(
                "webhook.user '{}' is not an account of {}",
                u.jid, config.domain
            )
        })?;
        if !seen.insert(owner) {
            return Err(format!("webhook.user '{}' is configured twice", u.jid));
        }
        parse_spec(
            &u.url,
            u.content_type.as_deref(),
            u.stanzas.as_deref(),
            u.events.as_deref(),
            &USER_EVENTS,
        )
        .map_err(|e| format!("webhook.user '{}': {e}", u.jid))?;
    }
    Ok(())
}

/// Environment values are TOML values when they parse as one other than a string (numbers,
/// booleans, arrays such as `["a@localhost"]` or `[{domain = "rest.localhost"}]`), else strings.
fn env_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match wrapped.parse::<toml::Table>() {
        Ok(mut t) => match t.remove("v") {
            Some(toml::Value::String(_)) | None => toml::Value::String(raw.to_owned()),
            Some(v) => v,
        },
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().ok_or("empty key")?;
    let mut cur = table;
    for part in parts {
        cur = cur
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("'{part}' is not a table in the config file"))?;
    }
    cur.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::from_sources("", no_env()).unwrap();
        assert_eq!(c.domain, "localhost");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.http.addr.to_string(), "127.0.0.1:5280");
        assert_eq!(c.c2s.addr.to_string(), "127.0.0.1:5222");
        assert_eq!(c.limits.max_stanza_bytes, 262_144);
        assert_eq!(c.limits.max_depth, 32);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_sources("domian = 'x'", no_env()).unwrap_err();
        assert!(err.to_string().contains("domian"), "{err}");
        let err = Config::from_sources("[http]\nadress = '1.2.3.4:1'", no_env()).unwrap_err();
        assert!(err.to_string().contains("adress"), "{err}");
    }

    #[test]
    fn env_overrides_file() {
        let env = vec![
            ("SWITCHBOARD_DOMAIN".to_string(), "example.org".to_string()),
            (
                "SWITCHBOARD_HTTP_ADDR".to_string(),
                "127.0.0.1:9".to_string(),
            ),
            ("SWITCHBOARD_LIMITS_MAX_DEPTH".to_string(), "10".to_string()),
            (
                "SWITCHBOARD_C2S_ALLOW_PLAINTEXT".to_string(),
                "true".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let c =
            Config::from_sources("domain = 'file.org'\n[http]\naddr='127.0.0.1:1'", env).unwrap();
        assert_eq!(c.domain, "example.org");
        assert_eq!(c.http.addr.to_string(), "127.0.0.1:9");
        assert_eq!(c.limits.max_depth, 10);
        assert!(c.c2s.allow_plaintext);
    }

    #[test]
    fn bad_env_value_is_reported() {
        let env = vec![("SWITCHBOARD_C2S_ADDR".to_string(), "nowhere".to_string())];
        assert!(Config::from_sources("", env).is_err());
    }

    #[test]
    fn components_and_admins_from_file_and_env() {
        let file = "admins = ['boss@localhost']\n[[component]]\ndomain = 'rest.localhost'\ntype = 'rest'\nrest_credentials = 'Bearer x'\nallowed_stanza_types = ['message']\n";
        let c = Config::from_sources(file, no_env()).unwrap();
        assert_eq!(c.admins, vec!["boss@localhost"]);
        assert_eq!(c.component[0].domain, "rest.localhost");
        assert_eq!(c.component[0].access.allowed_stanza_types, vec!["message"]);
        let env = vec![(
            "SWITCHBOARD_COMPONENT".to_string(),
            "[{domain = 'bot.localhost', component_secret = 's'}]".to_string(),
        )];
        let c = Config::from_sources(file, env).unwrap();
        assert_eq!(c.component.len(), 1);
        assert_eq!(c.component[0].domain, "bot.localhost");
        assert!(Config::from_sources("[[component]]\ndomain = 'x.localhost'\n", no_env()).is_err());
        assert!(Config::from_sources("admins = ['localhost']", no_env()).is_err());
    }

    #[test]
    fn invalid_domain_is_refused() {
        assert!(Config::from_sources("domain = 'a@b'", no_env()).is_err());
    }

    fn leaf_paths(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in table {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => leaf_paths(&path, t, out),
                _ => out.push(path),
            }
        }
    }

    /// `key = value` with a lower-case key: a commented-out setting, not prose.
    fn is_key_line(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
    }

    #[test]
    fn example_config_documents_every_key_and_parses() {
        let example = include_str!("../../../switchboard.example.toml");
        // Optional keys are shown commented out in the example; uncomment them for the check.
        let uncommented: String = example
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| r.starts_with('[') || is_key_line(r))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let table: toml::Table = uncommented.parse().unwrap();
        let mut paths = Vec::new();
        leaf_paths("", &table, &mut paths);
        let env_paths: Vec<&str> = ENV_KEYS.iter().map(|(_, p)| *p).collect();
        for p in &paths {
            assert!(
                env_paths.contains(&p.as_str()),
                "{p} has no environment variable"
            );
        }
        for p in &env_paths {
            assert!(
                paths.iter().any(|x| x == p),
                "{p} is not documented in the example"
            );
        }
        Config::from_sources(&uncommented, no_env()).unwrap();
    }

    #[test]
    fn config_is_checked() {
        let mut config = Config::default();
        assert!(check_webhooks(&config).is_ok());
        config.component.push(ComponentConfig {
            domain: "rest.localhost".into(),
            component_secret: Some("x".into()),
            rest_callback_stanzas: Some(vec!["message".into()]),
            ..ComponentConfig::default()
        });
        assert!(
            check_webhooks(&config)
                .unwrap_err()
                .contains("rest_callback_url")
        );
        config.component[0].rest_callback_url = Some("http://127.0.0.1:9/{kind}".into());
        assert!(check_webhooks(&config).is_ok());
        config.component[0].rest_callback_content_type = Some("text/html".into());
        assert!(check_webhooks(&config).is_err());
        config.component.clear();

        config.webhook.user.push(UserCallbackConfig {
            jid: "bot@localhost".into(),
            url: "http://127.0.0.1:9/".into(),
            ..UserCallbackConfig::default()
        });
        assert!(check_webhooks(&config).is_ok());
        config.webhook.user.push(config.webhook.user[0].clone());
        assert!(check_webhooks(&config).unwrap_err().contains("twice"));
        config.webhook.user.truncate(1);
        config.webhook.user[0].jid = "bot@elsewhere".into();
        assert!(check_webhooks(&config).is_err());
        config.webhook.user.clear();
        config.webhook.backoff_max_ms = 10;
        assert!(check_webhooks(&config).is_err());
    }
}
