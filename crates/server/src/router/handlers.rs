//! Which service takes which stanzas: iq payload namespaces on the server and on accounts,
//! presence, offline storage, hosted domains and the webhook diversion. Filled in at startup.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::ctx::{Divert, Filter, Scope, Service, SharedDomain};

#[derive(Default)]
pub struct Handlers {
    server_iq: HashMap<&'static str, Arc<dyn Service>>,
    account_iq: HashMap<&'static str, Arc<dyn Service>>,
    pub(super) presence: Option<Arc<dyn Service>>,
    pub(super) offline: Option<Arc<dyn Service>>,
    hosted: HashMap<String, Arc<dyn Service>>,
    pub(super) divert: Option<Arc<dyn Divert>>,
    pub(super) filters: Vec<Arc<dyn Filter>>,
    pub(super) shared: Option<Arc<dyn SharedDomain>>,
}

impl Handlers {
    /// iq requests to the served domain with a payload in `namespace`.
    pub fn server_iq(mut self, namespace: &'static str, service: Arc<dyn Service>) -> Self {
        self.server_iq.insert(namespace, service);
        self
    }

    /// iq requests to an account's bare JID with a payload in `namespace`.
    pub fn account_iq(mut self, namespace: &'static str, service: Arc<dyn Service>) -> Self {
        self.account_iq.insert(namespace, service);
        self
    }

    /// Presence handled by the server: an account's own broadcast, subscriptions, probes.
    pub fn presence(mut self, service: Arc<dyn Service>) -> Self {
        self.presence = Some(service);
        self
    }

    /// Messages kept for an account with no available resource.
    pub fn offline(mut self, service: Arc<dyn Service>) -> Self {
        self.offline = Some(service);
        self
    }

    /// Everything addressed to `domain` or a JID under it.
    /// A service whose entities are `local@<server domain>` beside the accounts: stanzas to a
    /// JID it claims (or asks it to create) go to it rather than to an account.
    pub fn shared(mut self, service: Arc<dyn SharedDomain>) -> Self {
        self.shared = Some(service);
        self
    }

    pub fn hosted(mut self, domain: &str, service: Arc<dyn Service>) -> Self {
        self.hosted.insert(domain.to_owned(), service);
        self
    }

    /// Stanzas for accounts with no session, offered before the routing rules apply.
    pub fn divert(mut self, divert: Arc<dyn Divert>) -> Self {
        self.divert = Some(divert);
        self
    }

    /// Sees local accounts' stanzas on the way; filters run in the order they are added.
    pub fn filter(mut self, filter: Arc<dyn Filter>) -> Self {
        self.filters.push(filter);
        self
    }

    /// The disco#info features of the registered services advertised at `scope`, sorted and
    /// without repeats (hosted domains describe themselves).
    pub fn features(&self, scope: Scope) -> Vec<&'static str> {
        let services = self
            .server_iq
            .values()
            .chain(self.account_iq.values())
            .chain(&self.presence)
            .chain(&self.offline);
        let vars: BTreeSet<&'static str> = services
            .flat_map(|service| service.features())
            .filter(|feature| feature.scope == scope)
            .map(|feature| feature.var)
            .collect();
        vars.into_iter().collect()
    }

    pub(super) fn hosted_domains(&self) -> HashSet<String> {
        self.hosted.keys().cloned().collect()
    }

    pub(super) fn server_iq_for(&self, namespace: &str) -> Option<&Arc<dyn Service>> {
        self.server_iq.get(namespace)
    }

    pub(super) fn account_iq_for(&self, namespace: &str) -> Option<&Arc<dyn Service>> {
        self.account_iq.get(namespace)
    }

    pub(super) fn hosted_for(&self, domain: &str) -> Option<&Arc<dyn Service>> {
        self.hosted.get(domain)
    }
}
