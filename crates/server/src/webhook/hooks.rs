//! The webhook subsystem's state: callbacks by owner (configured and registered), the outbox
//! writer the router's stanzas go through, and the admin operations on callbacks and dead letters.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use jid::BareJid;
use rand::RngCore;
use switchboard_xmpp::framing::Limits;
use switchboard_xmpp::sender::Principal;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};
use tokio::sync::Notify;

use super::callback::Callback;
use super::error::WebhookError;
use super::metrics::Metrics;
use super::spec::{COMPONENT_EVENTS, Event, USER_EVENTS, check_target, parse_spec, user_owner};
use super::{delivery, sign};
use crate::config::{Config, Secret, WebhookConfig};
use crate::ctx::{Ctx, Divert};
use crate::routed::{Outcome, Routed};
use crate::storage::{NewOutboxEntry, OutboxEntry, Store, StoreError, UserCallbackRow};

/// Milliseconds since the Unix epoch: the outbox's clock.
pub(super) fn now_ms() -> i64 {
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
    pub(super) inner: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) store: Arc<dyn Store>,
    pub(super) domain: String,
    pub(super) settings: WebhookConfig,
    /// For reading callbacks' answers: the same limits as a stanza on a stream.
    pub(super) limits: Limits,
    pub(super) client: delivery::Client,
    pub(super) callbacks: RwLock<HashMap<String, Arc<Callback>>>,
    /// Owners whose callback comes from the configuration file, not the admin API.
    pub(super) configured: RwLock<HashSet<String>>,
    /// Rung when the outbox gains work or a delivery ends.
    pub(super) wake: Notify,
    pub(super) metrics: Metrics,
}

impl Webhooks {
    /// Reads the callbacks of the configuration and the store, generating missing secrets.
    pub async fn new(
        config: &Config,
        store: Arc<dyn Store>,
        registry: &prometheus::Registry,
    ) -> Result<Webhooks, WebhookError> {
        let settings = config.webhook.clone();
        let client = delivery::client(
            Duration::from_secs(settings.connect_timeout_secs),
            settings.ca_file.as_deref(),
            settings.allow_private_targets,
        )?;
        let (callbacks, configured) = load_callbacks(config, store.as_ref()).await?;
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
                configured: RwLock::new(configured),
                wake: Notify::new(),
                metrics: Metrics::register(registry)?,
            }),
        })
    }

    /// Puts the callbacks of a reloaded configuration in force (with the registered ones it
    /// does not override); deliveries already queued for an owner keep going to its new URL.
    pub async fn reconfigure(&self, config: &Config) -> Result<(), WebhookError> {
        let (callbacks, configured) = load_callbacks(config, self.inner.store.as_ref()).await?;
        *self.callbacks_write() = callbacks;
        *self
            .inner
            .configured
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = configured;
        Ok(())
    }

    fn configured(&self) -> std::sync::RwLockReadGuard<'_, HashSet<String>> {
        self.inner
            .configured
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    pub(super) fn callbacks_snapshot(&self) -> Vec<Arc<Callback>> {
        self.callbacks_read().values().cloned().collect()
    }

    /// The callback of a component domain or an account's bare JID.
    pub fn callback(&self, owner: &str) -> Option<Arc<Callback>> {
        self.callbacks_read().get(owner).cloned()
    }

    /// Writes `stanza` to the outbox for `callback` and returns once it is stored. If it cannot
    /// be stored, the sender gets an error instead, so nothing is acknowledged that could be lost.
    pub async fn enqueue(&self, ctx: &Ctx, callback: &Callback, stanza: Routed) -> Outcome {
        let now = now_ms();
        let destination = stanza
            .to
            .as_ref()
            .map_or_else(|| callback.owner.clone(), |to| to.to_bare().to_string());
        let is_request = stanza.el.name() == "iq" && matches!(stanza.type_(), "get" | "set");
        let iq_timeout_ms = i64::try_from(self.inner.settings.iq_timeout_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        let entry = NewOutboxEntry {
            delivery_id: new_delivery_id(),
            owner: callback.owner.clone(),
            destination,
            kind: stanza.kind.as_str().to_owned(),
            // Prefix declarations could trip the serialiser: a tree declaring any is copied without.
            stanza: stanza::to_xml_portable(&stanza.el),
            created_at: now,
            deadline: is_request.then(|| now.saturating_add(iq_timeout_ms)),
        };
        match self.inner.store.outbox_push(&entry).await {
            Ok(_) => {
                self.inner.wake.notify_one();
                Outcome::Queued
            }
            Err(e) => {
                tracing::error!(callback = %callback.owner, error = %e, "cannot queue a stanza for its callback");
                ctx.bounce(
                    &stanza,
                    ErrorType::Wait,
                    DefinedCondition::InternalServerError,
                    Some("The stanza could not be queued for its callback"),
                )
                .await
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
        if self.configured().contains(&owner) {
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
        check_target(&request.url, self.inner.client.allows_private())
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
        if self.configured().contains(&owner) {
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
                    configured: self.configured().contains(&c.owner),
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

    /// Sets the outbox gauges from the store, for a scrape: every callback has its series.
    pub async fn observe(&self) {
        let depth = match self.inner.store.outbox_depth().await {
            Ok(depth) => depth,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox depth");
                Vec::new()
            }
        };
        let known: Vec<String> = self.callbacks_read().keys().cloned().collect();
        self.inner.metrics.observe(&known, &depth);
    }
}

/// The callbacks of the configuration and the store by owner, and the owners whose callback
/// comes from the configuration (it wins over a registered one).
async fn load_callbacks(
    config: &Config,
    store: &dyn Store,
) -> Result<(HashMap<String, Arc<Callback>>, HashSet<String>), WebhookError> {
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
            store,
            &c.domain,
            c.rest_callback_secret.as_ref().map(Secret::expose),
        )
        .await?;
        let callback = Callback::new(&c.domain, spec, secret, &c.domain);
        callbacks.insert(c.domain.clone(), Arc::new(callback));
        configured.insert(c.domain.clone());
    }
    for u in &config.webhook.user {
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
        let secret = resolve_secret(store, &owner, u.secret.as_ref().map(Secret::expose)).await?;
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
        let secret = resolve_secret(store, &owner, row.secret.as_deref()).await?;
        let callback = Callback::new(&owner, spec, secret, &config.domain);
        callbacks.insert(owner, Arc::new(callback));
    }
    Ok((callbacks, configured))
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

/// The principal a callback's answers are sent as: its component domain, or its account.
pub(super) fn principal(owner: &str) -> Option<Principal> {
    let jid = BareJid::new(owner).ok()?;
    Some(if jid.node().is_some() {
        Principal::Account(jid)
    } else {
        Principal::Domain(jid)
    })
}

/// Accounts with a callback: while the account has no session (the router checks), a stanza
/// the callback takes goes to the outbox instead of offline storage or a bounce.
#[async_trait]
impl Divert for Webhooks {
    async fn divert(&self, ctx: &Ctx, user: &str, stanza: Routed) -> Result<Outcome, Routed> {
        let owner = format!("{user}@{}", ctx.domain());
        let Some(callback) = self.callback(&owner) else {
            return Err(stanza);
        };
        let taken = stanza
            .to
            .as_ref()
            .is_some_and(|to| callback.accepts(stanza.kind, Event::of(to)));
        if !taken {
            return Err(stanza);
        }
        Ok(self.enqueue(ctx, &callback, stanza).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_are_unique_hex() {
        let a = new_delivery_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_delivery_id());
    }
}
