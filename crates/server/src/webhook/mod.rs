//! Webhooks (mod_rest §5 and beyond): stanzas for a REST component with a callback URL, or for a bot
//! account with a callback and no session, pass through a durable outbox to a signed HTTP POST.
//!
//! A stanza is written to the store before the router returns (so whoever acknowledged it upstream
//! acknowledged something durable), delivered by [`outbox`] in order per destination JID, and
//! deleted only once the callback's answer was turned into the reply ([`reply`]). Failures are
//! retried with backoff, then reported to the sender and kept as dead letters.

mod callback;
mod delivery;
mod metrics;
mod outbox;
mod reply;
pub mod sign;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jid::{BareJid, Jid};
use minidom::Element;
use rand::RngCore;
use switchboard_xmpp::framing::Limits;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use callback::{Callback, Event, Spec};

use crate::config::{Config, Secret, WebhookConfig};
use crate::router::Router;
use crate::storage::{NewOutboxEntry, OutboxEntry, Store, StoreError, UserCallbackRow};
use callback::{COMPONENT_EVENTS, USER_EVENTS, parse_spec};
use metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("cannot read webhook.ca_file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("no such account")]
    NoSuchUser,
    #[error("the callback of {0} is set in the configuration file")]
    Configured(String),
}

/// Milliseconds since the Unix epoch: the outbox's clock.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An outbox time (milliseconds since the epoch) for people: RFC 3339 in UTC.
pub fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// 128 random bits in hex: unique without coordination, and meaningless to guess.
fn new_delivery_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The configured key, or the stored one (generated on first use).
async fn resolve_secret(
    store: &dyn Store,
    owner: &str,
    configured: Option<&str>,
) -> Result<String, StoreError> {
    match configured {
        Some(secret) => Ok(secret.to_owned()),
        None => store.webhook_secret(owner, &sign::generate_secret()).await,
    }
}

/// Checks the webhook settings and every callback of `config`; the error names the culprit.
pub fn check_config(config: &Config) -> Result<(), String> {
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

/// `user@domain` for an account JID of the served domain (or a bare localpart).
fn user_owner(domain: &str, input: &str) -> Option<String> {
    let input = if input.contains('@') {
        input.to_owned()
    } else {
        format!("{input}@{domain}")
    };
    let jid = BareJid::new(&input).ok()?;
    (jid.domain().as_str() == domain && jid.node().is_some()).then(|| jid.to_string())
}

/// A callback registration as listed by the admin API.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Registration {
    pub jid: String,
    pub url: String,
    pub content_type: &'static str,
    pub stanzas: Vec<&'static str>,
    pub events: Vec<&'static str>,
    /// Set in the configuration file, so not changeable through the API.
    pub configured: bool,
}

/// What an admin registers for an account.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCallbackRequest {
    pub url: String,
    pub content_type: Option<String>,
    pub stanzas: Option<Vec<String>>,
    pub events: Option<Vec<String>>,
    pub secret: Option<String>,
}

/// The webhook subsystem of one server. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn Store>,
    domain: String,
    settings: WebhookConfig,
    /// For reading callbacks' answers: the same limits as a stanza on a stream.
    limits: Limits,
    client: reqwest::Client,
    callbacks: RwLock<HashMap<String, Arc<Callback>>>,
    /// Owners whose callback comes from the configuration file, not the admin API.
    configured: HashSet<String>,
    /// Rung when the outbox gains work or a delivery ends.
    wake: Notify,
    metrics: Metrics,
}

impl Webhooks {
    /// Reads the callbacks of the configuration and the store, generating missing secrets.
    pub async fn new(config: &Config, store: Arc<dyn Store>) -> Result<Webhooks, WebhookError> {
        let settings = config.webhook.clone();
        let client = delivery::client(
            Duration::from_secs(settings.connect_timeout_secs),
            settings.ca_file.as_deref(),
        )?;
        let mut callbacks = HashMap::new();
        let mut configured = HashSet::new();
        for c in &config.component {
            let Some(url) = &c.rest_callback_url else {
                continue;
            };
            let spec = parse_spec(
                url,
                c.rest_callback_content_type.as_deref(),
                c.rest_callback_stanzas.as_deref(),
                c.rest_callback_events.as_deref(),
                &COMPONENT_EVENTS,
            )
            .map_err(WebhookError::Invalid)?;
            let secret = resolve_secret(
                store.as_ref(),
                &c.domain,
                c.rest_callback_secret.as_ref().map(Secret::expose),
            )
            .await?;
            let callback = Callback::new(&c.domain, spec, secret, &c.domain);
            callbacks.insert(c.domain.clone(), Arc::new(callback));
            configured.insert(c.domain.clone());
        }
        for u in &settings.user {
            let owner = user_owner(&config.domain, &u.jid)
                .ok_or_else(|| WebhookError::Invalid(format!("webhook.user '{}'", u.jid)))?;
            let spec = parse_spec(
                &u.url,
                u.content_type.as_deref(),
                u.stanzas.as_deref(),
                u.events.as_deref(),
                &USER_EVENTS,
            )
            .map_err(WebhookError::Invalid)?;
            let secret = resolve_secret(
                store.as_ref(),
                &owner,
                u.secret.as_ref().map(Secret::expose),
            )
            .await?;
            let callback = Callback::new(&owner, spec, secret, &config.domain);
            callbacks.insert(owner.clone(), Arc::new(callback));
            configured.insert(owner);
        }
        for row in store.webhook_users().await? {
            let owner = format!("{}@{}", row.username, config.domain);
            if configured.contains(&owner) {
                tracing::warn!(jid = %owner, "callback in the configuration file wins over the registered one");
                continue;
            }
            let spec = parse_spec(
                &row.url,
                row.content_type.as_deref(),
                row.stanzas.as_deref(),
                row.events.as_deref(),
                &USER_EVENTS,
            );
            let spec = match spec {
                Ok(spec) => spec,
                Err(e) => {
                    tracing::error!(jid = %owner, error = %e, "ignoring an invalid registered callback");
                    continue;
                }
            };
            let secret = resolve_secret(store.as_ref(), &owner, row.secret.as_deref()).await?;
            let callback = Callback::new(&owner, spec, secret, &config.domain);
            callbacks.insert(owner, Arc::new(callback));
        }
        Ok(Webhooks {
            inner: Arc::new(Shared {
                store,
                domain: config.domain.clone(),
                settings,
                limits: Limits {
                    max_stanza_bytes: config.limits.max_stanza_bytes,
                    max_depth: config.limits.max_depth,
                },
                client,
                callbacks: RwLock::new(callbacks),
                configured,
                wake: Notify::new(),
                metrics: Metrics::new()?,
            }),
        })
    }

    /// Starts the startup probes and the outbox dispatcher; both stop with `shutdown`.
    pub fn spawn(&self, router: Router, shutdown: CancellationToken, tasks: &TaskTracker) {
        let probe_timeout = Duration::from_secs(self.inner.settings.timeout_secs);
        for callback in self.callbacks_snapshot() {
            let client = self.inner.client.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    _ = callback.media(&client, probe_timeout) => {}
                }
            });
        }
        tasks.spawn(outbox::run(self.clone(), router, shutdown, tasks.clone()));
    }

    fn callbacks_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Callback>>> {
        self.inner
            .callbacks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn callbacks_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Callback>>> {
        self.inner
            .callbacks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn callbacks_snapshot(&self) -> Vec<Arc<Callback>> {
        self.callbacks_read().values().cloned().collect()
    }

    /// The callback of a component domain or an account's bare JID.
    pub fn callback(&self, owner: &str) -> Option<Arc<Callback>> {
        self.callbacks_read().get(owner).cloned()
    }

    /// Writes `stanza` to the outbox for `callback` and returns once it is stored. If it cannot
    /// be stored, the sender gets an error instead, so nothing is acknowledged that could be lost.
    pub async fn enqueue(&self, router: &Router, callback: &Callback, stanza: Element) {
        let now = now_ms();
        let destination = stanza
            .attr("to")
            .and_then(|t| Jid::new(t).ok())
            .map_or_else(|| callback.owner.clone(), |to| to.to_bare().to_string());
        let is_request =
            stanza.name() == "iq" && matches!(stanza.attr("type"), Some("get" | "set"));
        let iq_timeout_ms = i64::try_from(self.inner.settings.iq_timeout_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        let entry = NewOutboxEntry {
            delivery_id: new_delivery_id(),
            owner: callback.owner.clone(),
            destination,
            kind: stanza.name().to_owned(),
            // Prefix declarations from the wire could trip the serialiser; the copy means the same.
            stanza: stanza::to_xml(&stanza::without_prefixes(&stanza)),
            created_at: now,
            deadline: is_request.then(|| now.saturating_add(iq_timeout_ms)),
        };
        match self.inner.store.outbox_push(&entry).await {
            Ok(_) => self.inner.wake.notify_one(),
            Err(e) => {
                tracing::error!(callback = %callback.owner, error = %e, "cannot queue a stanza for its callback");
                router
                    .bounce(
                        &stanza,
                        ErrorType::Wait,
                        DefinedCondition::InternalServerError,
                        Some("The stanza could not be queued for its callback"),
                    )
                    .await;
            }
        }
    }

    /// Registers (or replaces) the callback of an account and returns its signing key.
    pub async fn register_user(
        &self,
        jid: &str,
        request: UserCallbackRequest,
    ) -> Result<String, WebhookError> {
        let owner = user_owner(&self.inner.domain, jid)
            .ok_or_else(|| WebhookError::Invalid(format!("'{jid}' is not an account JID")))?;
        if self.inner.configured.contains(&owner) {
            return Err(WebhookError::Configured(owner));
        }
        let spec = parse_spec(
            &request.url,
            request.content_type.as_deref(),
            request.stanzas.as_deref(),
            request.events.as_deref(),
            &USER_EVENTS,
        )
        .map_err(WebhookError::Invalid)?;
        let username = owner
            .split_once('@')
            .map(|(user, _)| user.to_owned())
            .unwrap_or_default();
        let row = UserCallbackRow {
            username,
            url: request.url,
            content_type: request.content_type,
            stanzas: request.stanzas,
            events: request.events,
            secret: request.secret,
        };
        match self.inner.store.webhook_user_set(&row).await {
            Ok(()) => {}
            Err(StoreError::NoSuchUser) => return Err(WebhookError::NoSuchUser),
            Err(e) => return Err(e.into()),
        }
        let secret =
            resolve_secret(self.inner.store.as_ref(), &owner, row.secret.as_deref()).await?;
        let callback = Arc::new(Callback::new(
            &owner,
            spec,
            secret.clone(),
            &self.inner.domain,
        ));
        self.callbacks_write().insert(owner, callback.clone());
        // Probe now rather than delaying the first delivery; bounded by the request timeout.
        let client = self.inner.client.clone();
        let timeout = Duration::from_secs(self.inner.settings.timeout_secs);
        tokio::spawn(async move { callback.media(&client, timeout).await });
        Ok(secret)
    }

    /// Removes an account's registered callback; false if it had none.
    pub async fn unregister_user(&self, jid: &str) -> Result<bool, WebhookError> {
        let owner = user_owner(&self.inner.domain, jid)
            .ok_or_else(|| WebhookError::Invalid(format!("'{jid}' is not an account JID")))?;
        if self.inner.configured.contains(&owner) {
            return Err(WebhookError::Configured(owner));
        }
        let username = owner.split_once('@').map(|(u, _)| u).unwrap_or_default();
        let removed = self.inner.store.webhook_user_delete(username).await?;
        self.callbacks_write().remove(&owner);
        Ok(removed)
    }

    /// Every account callback, sorted by JID.
    pub fn user_registrations(&self) -> Vec<Registration> {
        let domain_suffix = format!("@{}", self.inner.domain);
        let mut list: Vec<Registration> = self
            .callbacks_read()
            .values()
            .filter(|c| c.owner.ends_with(&domain_suffix))
            .map(|c| {
                let spec = c.spec();
                Registration {
                    jid: c.owner.clone(),
                    url: spec.url.clone(),
                    content_type: spec.media.mime(),
                    stanzas: spec.kinds.iter().map(|k| k.as_str()).collect(),
                    events: spec
                        .events
                        .iter()
                        .map(|e| match e {
                            Event::Bare => "bare",
                            Event::Full => "full",
                            Event::Host => "host",
                        })
                        .collect(),
                    configured: self.inner.configured.contains(&c.owner),
                }
            })
            .collect();
        list.sort_by(|a, b| a.jid.cmp(&b.jid));
        list
    }

    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.store.outbox_dead_letters(limit).await
    }

    /// Puts a dead letter back in line; false if there is no dead letter with that id.
    pub async fn redrive(&self, delivery_id: &str) -> Result<bool, StoreError> {
        let done = redrive(self.inner.store.as_ref(), delivery_id).await?;
        if done {
            self.inner.wake.notify_one();
        }
        Ok(done)
    }

    /// The Prometheus text of the webhook metrics, queue depths read from the store now.
    pub async fn metrics_text(&self) -> String {
        let depth = match self.inner.store.outbox_depth().await {
            Ok(depth) => depth,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox depth");
                Vec::new()
            }
        };
        self.inner.metrics.render(&depth)
    }
}

/// Re-drives a dead letter directly in the store (the CLI's path; a running server sees it
/// within a second).
pub async fn redrive(store: &dyn Store, delivery_id: &str) -> Result<bool, StoreError> {
    store.outbox_redrive(delivery_id, now_ms()).await
}

/// The signing key for a component domain or account JID with a callback, generating and
/// storing it if none is configured (the same key the server uses). `None` when `jid` has no
/// callback in the configuration or the store.
pub async fn secret_of(
    config: &Config,
    store: &dyn Store,
    jid: &str,
) -> Result<Option<String>, StoreError> {
    if let Some(c) = config
        .component
        .iter()
        .find(|c| c.domain == jid && c.rest_callback_url.is_some())
    {
        return resolve_secret(
            store,
            &c.domain,
            c.rest_callback_secret.as_ref().map(Secret::expose),
        )
        .await
        .map(Some);
    }
    let Some(owner) = user_owner(&config.domain, jid) else {
        return Ok(None);
    };
    if let Some(u) = config
        .webhook
        .user
        .iter()
        .find(|u| user_owner(&config.domain, &u.jid).as_deref() == Some(owner.as_str()))
    {
        return resolve_secret(store, &owner, u.secret.as_ref().map(Secret::expose))
            .await
            .map(Some);
    }
    let username = owner.split_once('@').map(|(u, _)| u).unwrap_or_default();
    let registered = store
        .webhook_users()
        .await?
        .into_iter()
        .find(|row| row.username == username);
    match registered {
        Some(row) => resolve_secret(store, &owner, row.secret.as_deref())
            .await
            .map(Some),
        None => Ok(None),
    }
}

/// The router's hook for accounts with a callback: while `user` has no session, a stanza the
/// callback takes goes to the outbox instead of offline storage or a bounce. Gives the stanza
/// back when it is not taken.
pub async fn divert(router: &Router, user: &str, stanza: Element) -> Option<Element> {
    let Some(hooks) = router.webhooks() else {
        return Some(stanza);
    };
    let owner = format!("{user}@{}", router.domain());
    let Some(callback) = hooks.callback(&owner) else {
        return Some(stanza);
    };
    let to = stanza.attr("to").and_then(|t| Jid::new(t).ok());
    let taken = match (StanzaKind::of(&stanza), to) {
        (Some(kind), Some(to)) => {
            callback.accepts(kind, Event::of(&to)) && router.sessions_of(user).is_empty()
        }
        _ => false,
    };
    if !taken {
        return Some(stanza);
    }
    hooks.enqueue(router, &callback, stanza).await;
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ComponentConfig, UserCallbackConfig};

    #[test]
    fn account_owners() {
        assert_eq!(
            user_owner("localhost", "bot").as_deref(),
            Some("bot@localhost")
        );
        assert_eq!(
            user_owner("localhost", "Bot@localhost").as_deref(),
            Some("bot@localhost")
        );
        assert_eq!(user_owner("localhost", "bot@elsewhere"), None);
        assert_eq!(user_owner("localhost", "rest.localhost/x"), None);
        assert_eq!(user_owner("localhost", "@localhost"), None);
    }

    #[test]
    fn config_is_checked() {
        let mut config = Config::default();
        assert!(check_config(&config).is_ok());
        config.component.push(ComponentConfig {
            domain: "rest.localhost".into(),
            component_secret: Some("x".into()),
            rest_callback_stanzas: Some(vec!["message".into()]),
            ..ComponentConfig::default()
        });
        assert!(
            check_config(&config)
                .unwrap_err()
                .contains("rest_callback_url")
        );
        config.component[0].rest_callback_url = Some("http://127.0.0.1:9/{kind}".into());
        assert!(check_config(&config).is_ok());
        config.component[0].rest_callback_content_type = Some("text/html".into());
        assert!(check_config(&config).is_err());
        config.component.clear();

        config.webhook.user.push(UserCallbackConfig {
            jid: "bot@localhost".into(),
            url: "http://127.0.0.1:9/".into(),
            ..UserCallbackConfig::default()
        });
        assert!(check_config(&config).is_ok());
        config.webhook.user.push(config.webhook.user[0].clone());
        assert!(check_config(&config).unwrap_err().contains("twice"));
        config.webhook.user.truncate(1);
        config.webhook.user[0].jid = "bot@elsewhere".into();
        assert!(check_config(&config).is_err());
        config.webhook.user.clear();
        config.webhook.backoff_max_ms = 10;
        assert!(check_config(&config).is_err());
    }

    #[test]
    fn delivery_ids_are_unique_hex() {
        let a = new_delivery_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_delivery_id());
    }
}
