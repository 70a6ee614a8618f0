//! Typed configuration: embedded defaults, an optional TOML file, then `SWITCHBOARD_*` environment
//! overrides; every key is documented in switchboard.example.toml and read by [`load`].

mod error;
pub mod load;
mod path;
mod secret;
pub mod show;
mod types;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, Diagnostic, Diagnostics, Excerpt, Origin};
pub use path::{KeyPath, Step};
pub use secret::{REDACTED, Secret};
pub use types::{AccountJid, InvalidValue, normalize_domain};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The XMPP domain this server hosts (normalised).
    #[serde(deserialize_with = "types::domain")]
    pub domain: String,
    /// Where the SQLite database and generated TLS material live.
    pub data_dir: PathBuf,
    /// tracing filter (`info`, `switchboard_server=debug,info`, …).
    pub log: String,
    /// Log lines as plain text or as JSON objects (one per line).
    pub log_format: LogFormat,
    pub http: HttpConfig,
    pub c2s: C2sConfig,
    pub tls: TlsConfig,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
    pub rest: RestConfig,
    /// Accounts allowed to run admin commands (XEP-0050, REST admin API).
    pub admins: Vec<AccountJid>,
    /// REST components (`[[component]]` tables), each a domain served by an HTTP application.
    pub component: Vec<ComponentConfig>,
    /// Webhook delivery (timeouts, retries, concurrency) and per-user callbacks.
    pub webhook: WebhookConfig,
    /// The message archive (XEP-0313).
    pub mam: MamConfig,
    /// Personal eventing (XEP-0163), vCards (XEP-0054) and private XML (XEP-0049).
    pub pep: PepConfig,
    /// HTTP File Upload (XEP-0363) on the HTTP listener.
    pub upload: UploadConfig,
    /// Push notifications (XEP-0357) to the app servers clients register.
    pub push: PushConfig,
    /// The client API (`/api`, MongooseIM's shapes, SSE) and the admin API (`/api/admin`).
    pub api: ApiConfig,
    /// Group chat (XEP-0045) rooms at `conference.<domain>`.
    pub muc: MucConfig,
}

/// The client REST API's limits and its event streams (SSE).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Seconds between heartbeat comments on an idle event stream (at least 1).
    pub sse_heartbeat_secs: u64,
    /// Seconds an event stream may go without an event before the server ends it; 0 never.
    pub sse_idle_timeout_secs: u64,
    /// Stanzas waiting for a slow event-stream reader; beyond, they are refused to the sender.
    pub sse_mailbox_size: usize,
    /// Messages one history request may return (`limit` above it is refused with 400).
    pub max_history_limit: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            sse_heartbeat_secs: 15,
            sse_idle_timeout_secs: 3600,
            sse_mailbox_size: 256,
            max_history_limit: 500,
        }
    }
}

/// Group chat (XEP-0045): where the room service lives, who may create rooms, and its limits.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MucConfig {
    /// Serve the room service.
    pub enabled: bool,
    /// The service's domain; unset: `conference.<domain>`.
    pub domain: Option<String>,
    /// Who may create rooms: `false` (anyone who can reach the service), `"local"` (accounts of
    /// this server) or `"admins"` (accounts listed in `admins`).
    pub restrict_room_creation: RoomCreation,
    /// Occupants (nicknames) one room may hold; a room's `maxusers` may only lower it.
    pub max_occupants: usize,
    /// Rooms one account may own.
    pub max_rooms_per_user: usize,
    /// Rooms the service holds at most (persistent and temporary).
    pub max_rooms: usize,
    /// Groupchat messages per second one occupant may send, on average…
    pub messages_per_second: u32,
    /// …and in a burst.
    pub message_burst: u32,
    /// Messages of history sent on join when the client asks for none in particular.
    pub history_default: usize,
    /// Messages of history sent on join at most, whatever the client asks.
    pub history_max: usize,
    /// Stanzas waiting for a room's delivery task; beyond, senders to that room wait.
    pub room_queue: usize,
    /// Accounts that may post to any room without joining (bots over `POST /rest`), their
    /// messages shown from the nickname of their localpart.
    pub service_accounts: Vec<AccountJid>,
}

/// Who may create rooms (`muc.restrict_room_creation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "CreationSetting", into = "CreationSetting")]
pub enum RoomCreation {
    /// Anyone who can reach the service.
    Anyone,
    /// Accounts of the served domain.
    Local,
    /// Accounts listed in `admins`.
    Admins,
}

/// `restrict_room_creation` as written: `false` or a name.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum CreationSetting {
    Flag(bool),
    Named(String),
}

impl TryFrom<CreationSetting> for RoomCreation {
    type Error = String;

    fn try_from(setting: CreationSetting) -> Result<RoomCreation, String> {
        match setting {
            CreationSetting::Flag(false) => Ok(RoomCreation::Anyone),
            CreationSetting::Named(n) if n == "local" => Ok(RoomCreation::Local),
            CreationSetting::Named(n) if n == "admins" => Ok(RoomCreation::Admins),
            _ => Err("expected false, \"local\" or \"admins\"".into()),
        }
    }
}

impl From<RoomCreation> for CreationSetting {
    fn from(creation: RoomCreation) -> CreationSetting {
        match creation {
            RoomCreation::Anyone => CreationSetting::Flag(false),
            RoomCreation::Local => CreationSetting::Named("local".into()),
            RoomCreation::Admins => CreationSetting::Named("admins".into()),
        }
    }
}

impl Default for MucConfig {
    fn default() -> Self {
        MucConfig {
            enabled: true,
            domain: None,
            restrict_room_creation: RoomCreation::Local,
            max_occupants: 1000,
            max_rooms_per_user: 100,
            max_rooms: 10_000,
            messages_per_second: 5,
            message_burst: 20,
            history_default: 20,
            history_max: 100,
            room_queue: 1024,
            service_accounts: Vec::new(),
        }
    }
}

impl MucConfig {
    /// The room service's domain for a server serving `domain`.
    pub fn domain_for(&self, domain: &str) -> String {
        self.domain
            .clone()
            .unwrap_or_else(|| format!("conference.{domain}"))
    }
}

/// How much each account may keep in PEP, vCard-temp and private XML storage, and the cache of
/// clients' entity capabilities that decides who is notified.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PepConfig {
    /// Bytes of XML one published item may hold.
    pub max_item_bytes: usize,
    /// Items one node may keep (`pubsub#max_items`, and what `max` means).
    pub max_items: u32,
    /// Nodes one account may have.
    pub max_nodes: usize,
    /// Verified XEP-0115 `ver` strings whose features are kept in memory.
    pub caps_cache_size: usize,
    /// Seconds to wait for a client's answer to the disco#info query about its capabilities.
    pub caps_timeout_secs: u64,
    /// Accounts whose current avatar id is kept in memory for the XEP-0153 presence hash.
    pub avatar_cache_size: usize,
    /// Bytes of XML one account's vCard may hold.
    pub max_vcard_bytes: usize,
    /// Bytes of XML one private XML document (one namespace) may hold.
    pub max_private_bytes: usize,
}

/// HTTP File Upload (XEP-0363): the `upload.<domain>` service hands out slots, and the HTTP
/// listener takes and serves the files under `/upload/`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UploadConfig {
    /// Serve the upload service and its HTTP routes.
    pub enabled: bool,
    /// The service's domain; unset: `upload.<domain>`.
    pub domain: Option<String>,
    /// The base of slot URLs as clients reach the HTTP listener (behind a proxy, its public
    /// `https://…` address); unset: the listener's own address.
    pub public_url: Option<String>,
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Bytes of files (and open slots) one account may have stored.
    pub quota_bytes: u64,
    /// Days a file is kept; 0 keeps files until `switchboard upload purge` removes them.
    pub expire_after_days: u32,
    /// Seconds a slot's PUT URL stays valid.
    pub slot_timeout_secs: u64,
    /// Seconds one PUT or GET of a file may take in all (instead of `http.request_timeout_secs`).
    pub transfer_timeout_secs: u64,
}

/// Push notifications (XEP-0357): what a notification tells the app server.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// Accept push registrations and send notifications.
    pub enabled: bool,
    /// Put the sender's JID in the summary (`last-message-sender`).
    pub include_sender: bool,
    /// Put the message body in the summary (`last-message-body`).
    pub include_body: bool,
    /// App server registrations one account may have.
    pub max_registrations: usize,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            enabled: true,
            domain: None,
            public_url: None,
            max_file_bytes: 100 * 1024 * 1024,
            quota_bytes: 1024 * 1024 * 1024,
            expire_after_days: 0,
            slot_timeout_secs: 300,
            transfer_timeout_secs: 3600,
        }
    }
}

impl UploadConfig {
    /// The upload service's domain for a server serving `domain`.
    pub fn domain_for(&self, domain: &str) -> String {
        self.domain
            .clone()
            .unwrap_or_else(|| format!("upload.{domain}"))
    }
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            enabled: true,
            include_sender: false,
            include_body: false,
            max_registrations: 32,
        }
    }
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

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
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
    #[serde(deserialize_with = "types::domain")]
    pub domain: String,
    #[serde(rename = "type")]
    pub kind: ComponentType,
    /// The full Authorization header value that acts as the component, e.g. "Bearer s3cret".
    pub rest_credentials: Option<Secret>,
    /// Secret for HTTP Basic `domain:secret` (Prosody's component_secret).
    pub component_secret: Option<Secret>,
    /// Where stanzas addressed to the component are POSTed.
    pub rest_callback_url: Option<String>,
    /// `application/xmpp+xml` (default) or `application/json` (alias `json`).
    pub rest_callback_content_type: Option<String>,
    /// Stanza kinds POSTed to the callback: `message`, `presence`, `iq` (default all three).
    pub rest_callback_stanzas: Option<Vec<String>>,
    /// Address forms POSTed: `bare`, `full`, `host` (default all three).
    pub rest_callback_events: Option<Vec<String>>,
    /// HMAC key signing each callback request; generated and stored when unset.
    pub rest_callback_secret: Option<Secret>,
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
    /// Lets callbacks point at loopback, private, link-local and other non-public addresses
    /// (tests, local development); off, they are refused when set and when connecting.
    pub allow_private_targets: bool,
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
    pub secret: Option<Secret>,
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
    /// Serve HTTPS (and `wss://`) on `addr` with the `[tls]` certificates. Unset: HTTPS off
    /// loopback unless `allow_plaintext`, plain HTTP on loopback.
    pub tls: Option<bool>,
    /// An extra HTTPS listener (the same routes), e.g. "0.0.0.0:5281", whatever `tls` says.
    pub https_addr: Option<SocketAddr>,
    /// Origins (`scheme://host[:port]`) whose pages may open `/xmpp-websocket` with the login
    /// cookie; empty: only the request's own origin.
    pub websocket_origins: Vec<String>,
    /// A directory served at `/` (an app sharing the WebSocket's origin); unset: nothing.
    pub static_dir: Option<PathBuf>,
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
    /// Seconds a stream-management session stays resumable after its link drops (XEP-0198);
    /// 0 offers no resumption.
    pub resumption_timeout_secs: u64,
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
    /// Milliseconds an HTTP or webhook sender waits for room in a full mailbox before its
    /// stanza is refused with resource-constraint (c2s senders never wait).
    pub mailbox_wait_ms: u64,
    /// Seconds a stream may stay silent before it is closed.
    pub idle_timeout_secs: u64,
    /// Seconds allowed for stream negotiation (TLS + SASL + bind).
    pub negotiation_timeout_secs: u64,
    /// Concurrent c2s connections (TCP and WebSocket together).
    pub max_connections: usize,
    /// JIDs one account may block (XEP-0191).
    pub max_blocklist_items: usize,
    /// Accounts whose blocklists are kept in memory for the blocking filter.
    pub blocklist_cache_size: usize,
    /// Messages stored for one account while it has no available resource (XEP-0160).
    pub offline_max_messages: u64,
    /// Bytes of stored messages for one account.
    pub offline_max_bytes: u64,
    /// Entities one session's directed presence is remembered for, to tell them when it goes
    /// unavailable (RFC 6121 §4.6).
    pub max_directed_presence: usize,
    /// Sustained stanzas per second one c2s stream may send (0 disables the limit).
    pub c2s_rate_per_second: u32,
    /// Stanzas a c2s stream may send in a burst above the sustained rate.
    pub c2s_rate_burst: u32,
    /// Bytes of one account (`<user>` element) in a XEP-0227 file `import xep227` reads.
    pub import_max_account_bytes: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// PBKDF2 iterations for new SCRAM credentials (RFC 7677 asks for at least 4096).
    pub scram_iterations: u32,
    /// Failed logins allowed from one client address (an IPv6 /64) within
    /// `failure_window_secs`, over every surface; also failed SASL attempts on one stream
    /// before it is closed.
    pub max_attempts: u32,
    /// Delay added after each failure, multiplied by the number of failures so far.
    pub failure_delay_ms: u64,
    /// Seconds over which an address's failed logins are counted; 0 turns the per-address
    /// throttle off.
    pub failure_window_secs: u64,
    /// Client addresses whose failures are remembered at once; beyond, the oldest are dropped.
    pub max_tracked_addresses: usize,
    /// Verified bearer tokens and passwords kept in memory, each (0 turns the cache off).
    pub credential_cache_size: usize,
    /// Seconds a verified password is believed before PBKDF2 runs for it again.
    pub credential_cache_ttl_secs: u64,
    /// How often the store's credential version is read, so that tokens revoked, passwords
    /// changed and accounts deleted by another process (the CLI) end cached credentials.
    pub credential_poll_ms: u64,
    /// In-band registration (XEP-0077) of new accounts on the c2s stream, before login.
    pub allow_registration: bool,
    /// Seconds between two registrations from one client address (0: no limit).
    pub registration_interval_secs: u64,
    /// Logged-in users may change their password with XEP-0077.
    pub allow_password_change: bool,
    /// Logged-in users may delete their account with XEP-0077 `<remove/>`.
    pub allow_account_removal: bool,
    /// Logins with a JSON Web Token issued by an application (cookie, OAUTHBEARER, PLAIN).
    pub jwt: JwtConfig,
}

/// JWT logins (`[auth.jwt]`): on as soon as a key source is set. Keys from every source set
/// are tried, each only for the algorithms of its kind.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// HMAC secret for HS256/384/512.
    pub secret: Option<Secret>,
    /// A file holding an HMAC secret (trailing newline ignored), read at start and again when a
    /// reload changes `[auth.jwt]`.
    pub secret_file: Option<PathBuf>,
    /// PEM public key (RSA, EC P-256/P-384 or Ed25519) for RS*/PS*/ES*/EdDSA.
    pub public_key_file: Option<PathBuf>,
    /// JWKS file (RFC 7517) of public keys, chosen by `kid`; re-read when it changes.
    pub jwks_file: Option<PathBuf>,
    /// Accepted `alg` values; `none` is never accepted.
    pub algorithms: Vec<String>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud` (one of the token's), when set.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway_secs: u64,
    /// The claim naming the account: a localpart or a bare JID on this domain.
    pub jid_claim: String,
    /// Create the account (without a password) at its first valid login.
    pub provision: bool,
    /// The cookie read at the WebSocket upgrade.
    pub cookie_name: String,
    /// SASL PLAIN's password may be a JWT (for clients that only know PLAIN).
    pub accept_as_password: bool,
    /// Close a session logged in with a token when the token expires.
    pub end_session_at_expiry: bool,
    /// Development only: `POST /dev/login` issues a token for any account (loopback only).
    pub dev_login: bool,
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
            log_format: LogFormat::Text,
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
            pep: PepConfig::default(),
            upload: UploadConfig::default(),
            push: PushConfig::default(),
            api: ApiConfig::default(),
            muc: MucConfig::default(),
        }
    }
}

impl Default for PepConfig {
    fn default() -> Self {
        PepConfig {
            max_item_bytes: 128 * 1024,
            max_items: 256,
            max_nodes: 256,
            caps_cache_size: 4096,
            caps_timeout_secs: 10,
            avatar_cache_size: 10_000,
            max_vcard_bytes: 128 * 1024,
            max_private_bytes: 64 * 1024,
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
            allow_private_targets: false,
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
            tls: None,
            https_addr: None,
            websocket_origins: Vec::new(),
            static_dir: None,
        }
    }
}

impl Default for C2sConfig {
    fn default() -> Self {
        C2sConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 5222)),
            direct_tls_addr: None,
            allow_plaintext: false,
            resumption_timeout_secs: 300,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_stanza_bytes: 256 * 1024,
            max_depth: 32,
            mailbox_size: 1024,
            mailbox_wait_ms: 2000,
            idle_timeout_secs: 600,
            negotiation_timeout_secs: 60,
            max_connections: 10_000,
            max_blocklist_items: 1000,
            blocklist_cache_size: 10_000,
            offline_max_messages: 10_000,
            offline_max_bytes: 50 * 1024 * 1024,
            max_directed_presence: 1000,
            c2s_rate_per_second: 200,
            c2s_rate_burst: 1000,
            import_max_account_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            scram_iterations: 4096,
            max_attempts: 5,
            failure_delay_ms: 500,
            failure_window_secs: 300,
            max_tracked_addresses: 100_000,
            credential_cache_size: 10_000,
            credential_cache_ttl_secs: 60,
            credential_poll_ms: 1000,
            allow_registration: false,
            registration_interval_secs: 300,
            allow_password_change: true,
            allow_account_removal: true,
            jwt: JwtConfig::default(),
        }
    }
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            secret: None,
            secret_file: None,
            public_key_file: None,
            jwks_file: None,
            algorithms: vec!["HS256".into()],
            issuer: None,
            audience: None,
            leeway_secs: 30,
            jid_claim: "sub".into(),
            provision: true,
            cookie_name: "auth_token".into(),
            accept_as_password: true,
            end_session_at_expiry: false,
            dev_login: false,
        }
    }
}

impl JwtConfig {
    /// JWT logins are on once a key source is configured.
    pub fn enabled(&self) -> bool {
        self.secret.is_some()
            || self.secret_file.is_some()
            || self.public_key_file.is_some()
            || self.jwks_file.is_some()
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
pub const MAX_PAGE_SIZE: usize = 1000;
const _: () = assert!(MAX_PAGE_SIZE < crate::waiters::CAPACITY);

/// Environment variables and the key each overrides. A test checks that every key of the
/// example config appears here; any other `SWITCHBOARD_*` variable is an error.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("SWITCHBOARD_DOMAIN", "domain"),
    ("SWITCHBOARD_DATA_DIR", "data_dir"),
    ("SWITCHBOARD_LOG", "log"),
    ("SWITCHBOARD_LOG_FORMAT", "log_format"),
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
    ("SWITCHBOARD_HTTP_TLS", "http.tls"),
    ("SWITCHBOARD_HTTP_HTTPS_ADDR", "http.https_addr"),
    (
        "SWITCHBOARD_HTTP_WEBSOCKET_ORIGINS",
        "http.websocket_origins",
    ),
    ("SWITCHBOARD_HTTP_STATIC_DIR", "http.static_dir"),
    ("SWITCHBOARD_C2S_ADDR", "c2s.addr"),
    ("SWITCHBOARD_C2S_DIRECT_TLS_ADDR", "c2s.direct_tls_addr"),
    ("SWITCHBOARD_C2S_ALLOW_PLAINTEXT", "c2s.allow_plaintext"),
    (
        "SWITCHBOARD_C2S_RESUMPTION_TIMEOUT_SECS",
        "c2s.resumption_timeout_secs",
    ),
    ("SWITCHBOARD_TLS_CERT", "tls.cert"),
    ("SWITCHBOARD_TLS_KEY", "tls.key"),
    (
        "SWITCHBOARD_LIMITS_MAX_STANZA_BYTES",
        "limits.max_stanza_bytes",
    ),
    ("SWITCHBOARD_LIMITS_MAX_DEPTH", "limits.max_depth"),
    ("SWITCHBOARD_LIMITS_MAILBOX_SIZE", "limits.mailbox_size"),
    (
        "SWITCHBOARD_LIMITS_MAILBOX_WAIT_MS",
        "limits.mailbox_wait_ms",
    ),
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
    (
        "SWITCHBOARD_LIMITS_MAX_BLOCKLIST_ITEMS",
        "limits.max_blocklist_items",
    ),
    (
        "SWITCHBOARD_LIMITS_BLOCKLIST_CACHE_SIZE",
        "limits.blocklist_cache_size",
    ),
    (
        "SWITCHBOARD_LIMITS_OFFLINE_MAX_MESSAGES",
        "limits.offline_max_messages",
    ),
    (
        "SWITCHBOARD_LIMITS_OFFLINE_MAX_BYTES",
        "limits.offline_max_bytes",
    ),
    (
        "SWITCHBOARD_LIMITS_MAX_DIRECTED_PRESENCE",
        "limits.max_directed_presence",
    ),
    (
        "SWITCHBOARD_LIMITS_C2S_RATE_PER_SECOND",
        "limits.c2s_rate_per_second",
    ),
    ("SWITCHBOARD_LIMITS_C2S_RATE_BURST", "limits.c2s_rate_burst"),
    (
        "SWITCHBOARD_LIMITS_IMPORT_MAX_ACCOUNT_BYTES",
        "limits.import_max_account_bytes",
    ),
    ("SWITCHBOARD_AUTH_SCRAM_ITERATIONS", "auth.scram_iterations"),
    ("SWITCHBOARD_AUTH_MAX_ATTEMPTS", "auth.max_attempts"),
    ("SWITCHBOARD_AUTH_FAILURE_DELAY_MS", "auth.failure_delay_ms"),
    (
        "SWITCHBOARD_AUTH_FAILURE_WINDOW_SECS",
        "auth.failure_window_secs",
    ),
    (
        "SWITCHBOARD_AUTH_MAX_TRACKED_ADDRESSES",
        "auth.max_tracked_addresses",
    ),
    (
        "SWITCHBOARD_AUTH_CREDENTIAL_CACHE_SIZE",
        "auth.credential_cache_size",
    ),
    (
        "SWITCHBOARD_AUTH_CREDENTIAL_CACHE_TTL_SECS",
        "auth.credential_cache_ttl_secs",
    ),
    (
        "SWITCHBOARD_AUTH_CREDENTIAL_POLL_MS",
        "auth.credential_poll_ms",
    ),
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
    (
        "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS",
        "webhook.allow_private_targets",
    ),
    ("SWITCHBOARD_WEBHOOK_USER", "webhook.user"),
    (
        "SWITCHBOARD_API_SSE_HEARTBEAT_SECS",
        "api.sse_heartbeat_secs",
    ),
    (
        "SWITCHBOARD_API_SSE_IDLE_TIMEOUT_SECS",
        "api.sse_idle_timeout_secs",
    ),
    ("SWITCHBOARD_API_SSE_MAILBOX_SIZE", "api.sse_mailbox_size"),
    ("SWITCHBOARD_API_MAX_HISTORY_LIMIT", "api.max_history_limit"),
    ("SWITCHBOARD_MAM_DEFAULT_POLICY", "mam.default_policy"),
    ("SWITCHBOARD_MAM_RETENTION_DAYS", "mam.retention_days"),
    ("SWITCHBOARD_MAM_MAX_PAGE_SIZE", "mam.max_page_size"),
    ("SWITCHBOARD_MAM_ARCHIVE_RECEIPTS", "mam.archive_receipts"),
    ("SWITCHBOARD_MAM_COUNT_LIMIT", "mam.count_limit"),
    ("SWITCHBOARD_PEP_MAX_ITEM_BYTES", "pep.max_item_bytes"),
    ("SWITCHBOARD_PEP_MAX_ITEMS", "pep.max_items"),
    ("SWITCHBOARD_PEP_MAX_NODES", "pep.max_nodes"),
    ("SWITCHBOARD_PEP_CAPS_CACHE_SIZE", "pep.caps_cache_size"),
    ("SWITCHBOARD_PEP_CAPS_TIMEOUT_SECS", "pep.caps_timeout_secs"),
    ("SWITCHBOARD_PEP_AVATAR_CACHE_SIZE", "pep.avatar_cache_size"),
    ("SWITCHBOARD_PEP_MAX_VCARD_BYTES", "pep.max_vcard_bytes"),
    ("SWITCHBOARD_PEP_MAX_PRIVATE_BYTES", "pep.max_private_bytes"),
    (
        "SWITCHBOARD_AUTH_ALLOW_REGISTRATION",
        "auth.allow_registration",
    ),
    (
        "SWITCHBOARD_AUTH_REGISTRATION_INTERVAL_SECS",
        "auth.registration_interval_secs",
    ),
    (
        "SWITCHBOARD_AUTH_ALLOW_PASSWORD_CHANGE",
        "auth.allow_password_change",
    ),
    (
        "SWITCHBOARD_AUTH_ALLOW_ACCOUNT_REMOVAL",
        "auth.allow_account_removal",
    ),
    ("SWITCHBOARD_AUTH_JWT_SECRET", "auth.jwt.secret"),
    ("SWITCHBOARD_AUTH_JWT_SECRET_FILE", "auth.jwt.secret_file"),
    (
        "SWITCHBOARD_AUTH_JWT_PUBLIC_KEY_FILE",
        "auth.jwt.public_key_file",
    ),
    ("SWITCHBOARD_AUTH_JWT_JWKS_FILE", "auth.jwt.jwks_file"),
    ("SWITCHBOARD_AUTH_JWT_ALGORITHMS", "auth.jwt.algorithms"),
    ("SWITCHBOARD_AUTH_JWT_ISSUER", "auth.jwt.issuer"),
    ("SWITCHBOARD_AUTH_JWT_AUDIENCE", "auth.jwt.audience"),
    ("SWITCHBOARD_AUTH_JWT_LEEWAY_SECS", "auth.jwt.leeway_secs"),
    ("SWITCHBOARD_AUTH_JWT_JID_CLAIM", "auth.jwt.jid_claim"),
    ("SWITCHBOARD_AUTH_JWT_PROVISION", "auth.jwt.provision"),
    ("SWITCHBOARD_AUTH_JWT_COOKIE_NAME", "auth.jwt.cookie_name"),
    (
        "SWITCHBOARD_AUTH_JWT_ACCEPT_AS_PASSWORD",
        "auth.jwt.accept_as_password",
    ),
    (
        "SWITCHBOARD_AUTH_JWT_END_SESSION_AT_EXPIRY",
        "auth.jwt.end_session_at_expiry",
    ),
    ("SWITCHBOARD_AUTH_JWT_DEV_LOGIN", "auth.jwt.dev_login"),
    ("SWITCHBOARD_UPLOAD_ENABLED", "upload.enabled"),
    ("SWITCHBOARD_UPLOAD_DOMAIN", "upload.domain"),
    ("SWITCHBOARD_UPLOAD_PUBLIC_URL", "upload.public_url"),
    ("SWITCHBOARD_UPLOAD_MAX_FILE_BYTES", "upload.max_file_bytes"),
    ("SWITCHBOARD_UPLOAD_QUOTA_BYTES", "upload.quota_bytes"),
    (
        "SWITCHBOARD_UPLOAD_EXPIRE_AFTER_DAYS",
        "upload.expire_after_days",
    ),
    (
        "SWITCHBOARD_UPLOAD_SLOT_TIMEOUT_SECS",
        "upload.slot_timeout_secs",
    ),
    (
        "SWITCHBOARD_UPLOAD_TRANSFER_TIMEOUT_SECS",
        "upload.transfer_timeout_secs",
    ),
    ("SWITCHBOARD_PUSH_ENABLED", "push.enabled"),
    ("SWITCHBOARD_PUSH_INCLUDE_SENDER", "push.include_sender"),
    ("SWITCHBOARD_PUSH_INCLUDE_BODY", "push.include_body"),
    (
        "SWITCHBOARD_PUSH_MAX_REGISTRATIONS",
        "push.max_registrations",
    ),
    ("SWITCHBOARD_MUC_ENABLED", "muc.enabled"),
    ("SWITCHBOARD_MUC_DOMAIN", "muc.domain"),
    (
        "SWITCHBOARD_MUC_RESTRICT_ROOM_CREATION",
        "muc.restrict_room_creation",
    ),
    ("SWITCHBOARD_MUC_MAX_OCCUPANTS", "muc.max_occupants"),
    (
        "SWITCHBOARD_MUC_MAX_ROOMS_PER_USER",
        "muc.max_rooms_per_user",
    ),
    ("SWITCHBOARD_MUC_MAX_ROOMS", "muc.max_rooms"),
    (
        "SWITCHBOARD_MUC_MESSAGES_PER_SECOND",
        "muc.messages_per_second",
    ),
    ("SWITCHBOARD_MUC_MESSAGE_BURST", "muc.message_burst"),
    ("SWITCHBOARD_MUC_HISTORY_DEFAULT", "muc.history_default"),
    ("SWITCHBOARD_MUC_HISTORY_MAX", "muc.history_max"),
    ("SWITCHBOARD_MUC_ROOM_QUEUE", "muc.room_queue"),
    ("SWITCHBOARD_MUC_SERVICE_ACCOUNTS", "muc.service_accounts"),
];

/// Keys holding a [`Secret`] (generic paths: `[]` stands for every element). Problems with them
/// are reported without their value; a test checks the list against the types.
pub const SECRET_KEYS: &[&str] = &[
    "component[].rest_credentials",
    "component[].component_secret",
    "component[].rest_callback_secret",
    "webhook.user[].secret",
    "auth.jwt.secret",
];
