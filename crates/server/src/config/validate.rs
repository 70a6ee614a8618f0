//! Rules that a value's type cannot express (bounds, values that go together, lists of names,
//! addresses and URLs): each broken rule is an [`Issue`] on the key, which the loader locates.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use switchboard_xmpp::rest_codec::MediaType;
use switchboard_xmpp::stanza::StanzaKind;

use super::path::KeyPath;
use super::{AccessConfig, Config, MAX_PAGE_SIZE};
use crate::egress as target;

/// A broken rule. Messages never quote the value: the report shows it, redacted when secret.
#[derive(Debug)]
pub struct Issue {
    pub path: KeyPath,
    pub message: String,
}

const COMPONENT_EVENTS: &[&str] = &["bare", "full", "host"];
const USER_EVENTS: &[&str] = &["bare", "full"];

pub fn validate(config: &Config) -> Vec<Issue> {
    let mut issues = Issues(Vec::new());
    issues.tls(config);
    issues.limits(config);
    issues.admins(config);
    issues.rest(config);
    issues.components(config);
    issues.webhook(config);
    issues.mam(config);
    issues.pep(config);
    issues.upload(config);
    issues.push_limit(config);
    issues.api(config);
    issues.jwt(config);
    issues.websocket_origins(config);
    issues.muc(config);
    issues.0
}

impl Config {
    /// The rules of [`super::load`] that types cannot express, for a configuration built in code (as
    /// tests and embedders do) that never went through the loader: every broken rule, one per line.
    pub fn check(&self) -> Result<(), String> {
        let issues = validate(self);
        if issues.is_empty() {
            return Ok(());
        }
        Err(issues
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

struct Issues(Vec<Issue>);

impl Issues {
    fn push(&mut self, path: KeyPath, message: impl Into<String>) {
        self.0.push(Issue {
            path,
            message: message.into(),
        });
    }

    fn at_least(&mut self, path: &str, value: u64, min: u64) {
        if value < min {
            self.push(KeyPath::dotted(path), format!("must be at least {min}"));
        }
    }

    fn mam(&mut self, config: &Config) {
        if !(1..=MAX_PAGE_SIZE).contains(&config.mam.max_page_size) {
            self.push(
                KeyPath::dotted("mam.max_page_size"),
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            );
        }
    }

    fn api(&mut self, config: &Config) {
        let api = &config.api;
        self.at_least("api.sse_heartbeat_secs", api.sse_heartbeat_secs, 1);
        self.at_least("api.sse_mailbox_size", api.sse_mailbox_size as u64, 1);
        self.at_least("api.max_history_limit", api.max_history_limit as u64, 1);
    }

    fn pep(&mut self, config: &Config) {
        let pep = &config.pep;
        self.at_least("pep.max_items", u64::from(pep.max_items), 1);
        self.at_least("pep.max_nodes", pep.max_nodes as u64, 1);
        self.at_least("pep.caps_cache_size", pep.caps_cache_size as u64, 1);
        self.at_least("pep.caps_timeout_secs", pep.caps_timeout_secs, 1);
        self.at_least("pep.avatar_cache_size", pep.avatar_cache_size as u64, 1);
        self.at_least("pep.max_item_bytes", pep.max_item_bytes as u64, 1024);
    }

    fn upload(&mut self, config: &Config) {
        let upload = &config.upload;
        if let Some(domain) = &upload.domain {
            match super::normalize_domain(domain) {
                Ok(d) if d == config.domain => self.push(
                    KeyPath::dotted("upload.domain"),
                    "must differ from the server's domain",
                ),
                Ok(d) if &d != domain => self.push(
                    KeyPath::dotted("upload.domain"),
                    format!("write it normalised: \"{d}\""),
                ),
                Ok(_) => {}
                Err(e) => self.push(KeyPath::dotted("upload.domain"), e.to_string()),
            }
        }
        if let Some(url) = &upload.public_url {
            let uri = url.parse::<axum::http::Uri>().ok();
            let fits = uri.is_some_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https"))
                    && u.authority().is_some()
                    && u.query().is_none()
            });
            if !fits {
                self.push(
                    KeyPath::dotted("upload.public_url"),
                    "expected an http:// or https:// URL without a query",
                );
            }
        }
        self.at_least("upload.max_file_bytes", upload.max_file_bytes, 1);
        self.at_least("upload.slot_timeout_secs", upload.slot_timeout_secs, 1);
        self.at_least(
            "upload.transfer_timeout_secs",
            upload.transfer_timeout_secs,
            1,
        );
    }

    fn jwt(&mut self, config: &Config) {
        let jwt = &config.auth.jwt;
        let at = |key: &str| KeyPath::dotted("auth.jwt").key(key);
        if jwt.algorithms.is_empty() {
            self.push(at("algorithms"), "name at least one algorithm");
        }
        for (i, name) in jwt.algorithms.iter().enumerate() {
            if name.parse::<jsonwebtoken::Algorithm>().is_err() {
                self.push(
                    at("algorithms").index(i),
                    "expected one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 \
                     ES256 ES384 EdDSA (\"none\" is never accepted)",
                );
            }
        }
        if jwt.secret.as_ref().is_some_and(|s| s.expose().len() < 32) {
            self.push(at("secret"), "must be at least 32 bytes long");
        }
        if jwt.leeway_secs > 3600 {
            self.push(at("leeway_secs"), "must be at most 3600");
        }
        if jwt.jid_claim.is_empty() {
            self.push(at("jid_claim"), "name the claim that holds the account");
        }
        let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if jwt.cookie_name.is_empty() || !jwt.cookie_name.chars().all(token_char) {
            self.push(at("cookie_name"), "expected a cookie name (RFC 6265 token)");
        }
        if jwt.dev_login {
            if jwt.secret.is_none() && jwt.secret_file.is_none() {
                self.push(
                    at("dev_login"),
                    "needs auth.jwt.secret or secret_file to sign its tokens",
                );
            }
            let off_loopback = !config.http.addr.ip().is_loopback()
                || config
                    .http
                    .https_addr
                    .is_some_and(|a| !a.ip().is_loopback());
            if off_loopback {
                self.push(
                    at("dev_login"),
                    "is for development only: every HTTP listener must be on loopback",
                );
            }
        }
    }

    fn websocket_origins(&mut self, config: &Config) {
        for (i, origin) in config.http.websocket_origins.iter().enumerate() {
            let uri = origin.parse::<axum::http::Uri>().ok();
            let fits = uri.is_some_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https"))
                    && u.authority().is_some()
                    && u.path_and_query().is_none_or(|p| p.as_str() == "/")
                    && !origin.ends_with('/')
            });
            if !fits {
                self.push(
                    KeyPath::dotted("http.websocket_origins").index(i),
                    "expected an origin: scheme://host[:port], without a path",
                );
            }
        }
    }

    fn muc(&mut self, config: &Config) {
        let muc = &config.muc;
        if let Some(domain) = &muc.domain {
            let upload = config.upload.domain_for(&config.domain);
            match super::normalize_domain(domain) {
                Ok(d) if config.upload.enabled && d == upload => self.push(
                    KeyPath::dotted("muc.domain"),
                    "must differ from the upload service's domain",
                ),
                Ok(d) if config.component.iter().any(|c| c.domain == d) => self.push(
                    KeyPath::dotted("muc.domain"),
                    "must differ from the components' domains",
                ),
                Ok(d) if &d != domain => self.push(
                    KeyPath::dotted("muc.domain"),
                    format!("write it normalised: \"{d}\""),
                ),
                Ok(_) => {}
                Err(e) => self.push(KeyPath::dotted("muc.domain"), e.to_string()),
            }
        }
        self.at_least("muc.max_occupants", muc.max_occupants as u64, 1);
        self.at_least("muc.max_rooms", muc.max_rooms as u64, 1);
        self.at_least(
            "muc.messages_per_second",
            u64::from(muc.messages_per_second),
            1,
        );
        self.at_least("muc.message_burst", u64::from(muc.message_burst), 1);
        self.at_least("muc.room_queue", muc.room_queue as u64, 1);
    }

    fn push_limit(&mut self, config: &Config) {
        self.at_least(
            "push.max_registrations",
            config.push.max_registrations as u64,
            1,
        );
    }

    fn tls(&mut self, config: &Config) {
        match (&config.tls.cert, &config.tls.key) {
            (Some(_), None) => self.push(
                KeyPath::dotted("tls.cert"),
                "needs tls.key too (the certificate's private key)",
            ),
            (None, Some(_)) => self.push(
                KeyPath::dotted("tls.key"),
                "needs tls.cert too (the certificate chain)",
            ),
            _ => {}
        }
    }

    fn limits(&mut self, config: &Config) {
        let l = &config.limits;
        self.at_least("limits.max_stanza_bytes", l.max_stanza_bytes as u64, 4096);
        self.at_least("limits.max_depth", l.max_depth as u64, 1);
        self.at_least("limits.mailbox_size", l.mailbox_size as u64, 1);
        // RFC 7677 §4.
        self.at_least(
            "auth.scram_iterations",
            u64::from(config.auth.scram_iterations),
            4096,
        );
        self.at_least("auth.max_attempts", u64::from(config.auth.max_attempts), 1);
        self.at_least(
            "auth.max_tracked_addresses",
            config.auth.max_tracked_addresses as u64,
            1,
        );
    }

    fn admins(&mut self, config: &Config) {
        for (i, admin) in config.admins.iter().enumerate() {
            if admin.domain() != config.domain {
                self.push(
                    KeyPath::dotted("admins").index(i),
                    format!(
                        "not an account of this server: accounts are user@{}",
                        config.domain
                    ),
                );
            }
        }
    }

    fn rest(&mut self, config: &Config) {
        let rest = &config.rest;
        for (i, m) in rest.auth_mechanisms.iter().enumerate() {
            if !m.eq_ignore_ascii_case("basic") && !m.eq_ignore_ascii_case("bearer") {
                self.push(
                    KeyPath::dotted("rest.auth_mechanisms").index(i),
                    "expected \"Basic\" or \"Bearer\"",
                );
            }
        }
        if !(rest.rate_per_second >= 0.0 && rest.rate_per_second.is_finite()) {
            self.push(
                KeyPath::dotted("rest.rate_per_second"),
                "expected 0 (no limit) or a positive number",
            );
        }
        self.networks(
            &KeyPath::dotted("rest.trusted_proxies"),
            &rest.trusted_proxies,
        );
        self.access(&KeyPath::dotted("rest"), &rest.access);
    }

    fn networks(&mut self, path: &KeyPath, list: &[String]) {
        for (i, net) in list.iter().enumerate() {
            if net.parse::<IpNet>().is_err() && net.parse::<IpAddr>().is_err() {
                self.push(
                    path.index(i),
                    "expected an IP address or CIDR block like 10.0.0.0/8",
                );
            }
        }
    }

    fn access(&mut self, table: &KeyPath, access: &AccessConfig) {
        self.networks(&table.key("allowed_ips"), &access.allowed_ips);
        for (i, d) in access.allowed_destinations.iter().enumerate() {
            if jid::Jid::new(d).is_err() {
                self.push(
                    table.key("allowed_destinations").index(i),
                    "expected a JID or domain like bob@localhost or localhost",
                );
            }
        }
        self.stanza_kinds(
            &table.key("allowed_stanza_types"),
            &access.allowed_stanza_types,
        );
    }

    fn stanza_kinds(&mut self, path: &KeyPath, kinds: &[String]) {
        for (i, kind) in kinds.iter().enumerate() {
            if StanzaKind::from_name(kind).is_none() {
                self.push(
                    path.index(i),
                    "expected \"message\", \"presence\" or \"iq\"",
                );
            }
        }
    }

    fn components(&mut self, config: &Config) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, c) in config.component.iter().enumerate() {
            let table = KeyPath::dotted("component").index(i);
            if c.domain == config.domain {
                self.push(
                    table.key("domain"),
                    format!(
                        "is the server's own domain; a component needs one of its own, like rest.{}",
                        config.domain
                    ),
                );
            }
            if let Some(first) = seen.insert(c.domain.as_str(), i) {
                self.push(
                    table.key("domain"),
                    format!("is configured twice (also component[{first}])"),
                );
            }
            match &c.rest_credentials {
                None if c.component_secret.is_none() => self.push(
                    table.clone(),
                    "a component needs rest_credentials or component_secret, or both",
                ),
                Some(credentials) if !is_authorization_value(credentials.expose()) => self.push(
                    table.key("rest_credentials"),
                    "expected a whole Authorization header value, like \"Bearer <token>\"",
                ),
                _ => {}
            }
            match &c.rest_callback_url {
                Some(url) => self.callback(
                    &table,
                    Callback {
                        url: ("rest_callback_url", url),
                        content_type: (
                            "rest_callback_content_type",
                            c.rest_callback_content_type.as_deref(),
                        ),
                        stanzas: ("rest_callback_stanzas", c.rest_callback_stanzas.as_deref()),
                        events: ("rest_callback_events", c.rest_callback_events.as_deref()),
                        allowed_events: COMPONENT_EVENTS,
                        allow_private: config.webhook.allow_private_targets,
                    },
                ),
                None => {
                    let set = [
                        (
                            "rest_callback_content_type",
                            c.rest_callback_content_type.is_some(),
                        ),
                        ("rest_callback_stanzas", c.rest_callback_stanzas.is_some()),
                        ("rest_callback_events", c.rest_callback_events.is_some()),
                        ("rest_callback_secret", c.rest_callback_secret.is_some()),
                    ];
                    for (key, _) in set.iter().filter(|(_, is_set)| *is_set) {
                        self.push(table.key(key), "has no effect without rest_callback_url");
                    }
                }
            }
            self.access(&table, &c.access);
        }
    }

    fn webhook(&mut self, config: &Config) {
        let w = &config.webhook;
        for (key, value) in [
            ("webhook.connect_timeout_secs", w.connect_timeout_secs),
            ("webhook.timeout_secs", w.timeout_secs),
            ("webhook.iq_timeout_secs", w.iq_timeout_secs),
            ("webhook.max_attempts", u64::from(w.max_attempts)),
            (
                "webhook.per_host_concurrency",
                w.per_host_concurrency as u64,
            ),
            ("webhook.backoff_base_ms", w.backoff_base_ms),
        ] {
            self.at_least(key, value, 1);
        }
        if w.backoff_max_ms < w.backoff_base_ms {
            self.push(
                KeyPath::dotted("webhook.backoff_max_ms"),
                "must not be below webhook.backoff_base_ms",
            );
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, u) in w.user.iter().enumerate() {
            let table = KeyPath::dotted("webhook.user").index(i);
            match account_of(&config.domain, &u.jid) {
                None => self.push(
                    table.key("jid"),
                    format!(
                        "expected an account of this server, like bot@{}",
                        config.domain
                    ),
                ),
                Some(owner) => {
                    if let Some(first) = seen.insert(owner, i) {
                        self.push(
                            table.key("jid"),
                            format!("is configured twice (also webhook.user[{first}])"),
                        );
                    }
                }
            }
            self.callback(
                &table,
                Callback {
                    url: ("url", &u.url),
                    content_type: ("content_type", u.content_type.as_deref()),
                    stanzas: ("stanzas", u.stanzas.as_deref()),
                    events: ("events", u.events.as_deref()),
                    allowed_events: USER_EVENTS,
                    allow_private: config.webhook.allow_private_targets,
                },
            );
        }
    }

    fn callback(&mut self, table: &KeyPath, callback: Callback<'_>) {
        let (key, url) = callback.url;
        match callback_url(url) {
            None => self.push(
                table.key(key),
                "expected an http:// or https:// URL (it may contain {kind}, {type}, {to} and {from})",
            ),
            Some(url) => {
                if let Err(e) = target::check_url(&url, callback.allow_private) {
                    self.push(table.key(key), e.to_string());
                }
            }
        }
        if let (key, Some(content_type)) = callback.content_type {
            let media = match content_type {
                // mod_rest's alias.
                "json" => Some(MediaType::Json),
                other => MediaType::from_content_type(other),
            };
            if media.is_none_or(|m| m == MediaType::Text) {
                self.push(
                    table.key(key),
                    "expected a stanza format: \"application/xmpp+xml\", \"application/json\" \
                     (or \"json\"), \"application/x-www-form-urlencoded\" or \"application/cbor\"",
                );
            }
        }
        let (key, kinds) = callback.stanzas;
        self.stanza_kinds(&table.key(key), kinds.unwrap_or_default());
        let (key, events) = callback.events;
        for (i, e) in events.unwrap_or_default().iter().enumerate() {
            if !callback.allowed_events.contains(&e.as_str()) {
                self.push(
                    table.key(key).index(i),
                    format!("expected one of: {}", callback.allowed_events.join(", ")),
                );
            }
        }
    }
}

/// A callback's settings, each with the key it is configured under.
struct Callback<'a> {
    url: (&'a str, &'a str),
    content_type: (&'a str, Option<&'a str>),
    stanzas: (&'a str, Option<&'a [String]>),
    events: (&'a str, Option<&'a [String]>),
    allowed_events: &'a [&'a str],
    /// `webhook.allow_private_targets`.
    allow_private: bool,
}

/// `Scheme credentials`, as the whole header value compares.
fn is_authorization_value(value: &str) -> bool {
    value
        .trim()
        .split_once(char::is_whitespace)
        .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.trim().is_empty())
}

/// Whether a callback template gives an http(s) URL with a host, whatever its placeholders hold.
fn callback_url(template: &str) -> Option<reqwest::Url> {
    let sample = ["{kind}", "{type}", "{to}", "{from}"]
        .iter()
        .fold(template.to_owned(), |url, p| url.replace(p, "x"));
    reqwest::Url::parse(&sample)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
}

/// `user@domain` for `user` or `user@domain` on this server's domain.
fn account_of(domain: &str, input: &str) -> Option<String> {
    let input = if input.contains('@') {
        input.to_owned()
    } else {
        format!("{input}@{domain}")
    };
    let jid = jid::BareJid::new(&input).ok()?;
    (jid.domain().as_str() == domain && jid.node().is_some()).then(|| jid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ComponentConfig, UserCallbackConfig};

    fn paths(config: &Config) -> Vec<String> {
        validate(config)
            .into_iter()
            .map(|i| i.path.to_string())
            .collect()
    }

    #[test]
    fn defaults_pass() {
        assert!(paths(&Config::default()).is_empty());
    }

    #[test]
    fn components_and_callbacks() {
        let mut config = Config::default();
        config.component.push(ComponentConfig {
            domain: "rest.localhost".into(),
            component_secret: Some("x".into()),
            rest_callback_stanzas: Some(vec!["message".into()]),
            ..ComponentConfig::default()
        });
        assert_eq!(paths(&config), ["component[0].rest_callback_stanzas"]);
        config.component[0].rest_callback_url = Some("http://hooks.example.com:9/{kind}".into());
        assert!(paths(&config).is_empty());
        config.component[0].rest_callback_content_type = Some("text/plain".into());
        config.component[0].rest_callback_events = Some(vec!["host".into(), "nope".into()]);
        assert_eq!(
            paths(&config),
            [
                "component[0].rest_callback_content_type",
                "component[0].rest_callback_events[1]"
            ]
        );
        config.component[0].rest_callback_content_type = None;
        config.component[0].rest_callback_events = None;
        config.component[0].rest_credentials = Some("justatoken".into());
        config.component.push(config.component[0].clone());
        config.component[1].rest_credentials = None;
        config.component[1].component_secret = None;
        assert_eq!(
            paths(&config),
            [
                "component[0].rest_credentials",
                "component[1].domain",
                "component[1]"
            ]
        );
    }

    #[test]
    fn webhook_users_and_bounds() {
        let mut config = Config::default();
        config.webhook.user.push(UserCallbackConfig {
            jid: "bot".into(),
            url: "http://hooks.example.com:9/".into(),
            ..UserCallbackConfig::default()
        });
        assert!(paths(&config).is_empty());
        config.webhook.user.push(config.webhook.user[0].clone());
        config.webhook.user[1].jid = "Bot@localhost".into();
        config.webhook.user.push(UserCallbackConfig {
            jid: "bot@elsewhere".into(),
            url: "ftp://x/".into(),
            events: Some(vec!["host".into()]),
            ..UserCallbackConfig::default()
        });
        config.webhook.backoff_max_ms = 10;
        config.webhook.timeout_secs = 0;
        assert_eq!(
            paths(&config),
            [
                "webhook.timeout_secs",
                "webhook.backoff_max_ms",
                "webhook.user[1].jid",
                "webhook.user[2].jid",
                "webhook.user[2].url",
                "webhook.user[2].events[0]"
            ]
        );
    }

    #[test]
    fn private_callback_targets_are_refused_unless_allowed() {
        let mut config = Config::default();
        config.webhook.user.push(UserCallbackConfig {
            jid: "bot".into(),
            url: "http://127.0.0.1:9/{kind}".into(),
            ..UserCallbackConfig::default()
        });
        config.component.push(ComponentConfig {
            domain: "hook.localhost".into(),
            rest_credentials: Some("Bearer x".into()),
            rest_callback_url: Some("http://169.254.169.254/latest".into()),
            ..ComponentConfig::default()
        });
        assert_eq!(
            paths(&config),
            ["component[0].rest_callback_url", "webhook.user[0].url"]
        );
        config.webhook.allow_private_targets = true;
        assert!(paths(&config).is_empty());
    }

    #[test]
    fn access_lists() {
        let mut config = Config::default();
        config.rest.access.allowed_ips = vec!["10.0.0.0/8".into(), "::1".into(), "nope".into()];
        config.rest.access.allowed_stanza_types = vec!["iq".into(), "mesage".into()];
        config.rest.trusted_proxies = vec!["300.1.1.1".into()];
        config.rest.auth_mechanisms = vec!["bearer".into(), "Digest".into()];
        config.rest.rate_per_second = -1.0;
        assert_eq!(
            paths(&config),
            [
                "rest.auth_mechanisms[1]",
                "rest.rate_per_second",
                "rest.trusted_proxies[0]",
                "rest.allowed_ips[2]",
                "rest.allowed_stanza_types[1]"
            ]
        );
    }
}
