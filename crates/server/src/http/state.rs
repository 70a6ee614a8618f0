//! What every HTTP handler shares, and the few calls through which the HTTP side reaches the
//! server: submitting stanzas, waiting for replies, accounts, admins, commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::sender::Principal;
use tokio::sync::mpsc;

use super::cors::Cors;
use super::gate::Gate;
use super::surface::Edge;
use crate::auth::Accounts;
use crate::c2s::C2sContext;
use crate::config::RestConfig;
use crate::ctx::Ctx;
use crate::metrics::Metrics;
use crate::routed::{Origin, Outcome, Refused, Routed};
use crate::services::commands::{self, Args, Command, CommandError};
use crate::services::muc::service::MucService;
use crate::storage::{StoreError, Upload};
use crate::uploads::Uploads;
use crate::waiters::WaiterGuard;
use crate::webhook::Webhooks;

/// Cheap to clone: axum clones it for every request.
#[derive(Clone)]
pub struct AppState {
    server: Ctx,
    webhooks: Webhooks,
    pub c2s: Arc<C2sContext>,
    pub rest: Arc<RestConfig>,
    edge: Edge,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// The files of HTTP File Upload and how long one transfer may take, when the service is on.
    uploads: Option<(Uploads, Duration)>,
    /// The group chat service, when `muc.enabled`.
    muc: Option<Arc<MucService>>,
}

/// A registered wait for stanzas addressed to an HTTP request, released when dropped.
pub type Waiter = (WaiterGuard, mpsc::Receiver<Element>);

impl AppState {
    pub fn new(
        server: Ctx,
        webhooks: Webhooks,
        c2s: Arc<C2sContext>,
        rest: RestConfig,
        gate: Gate,
        cors: Cors,
        body_timeout: Duration,
    ) -> AppState {
        let metrics = server.metrics().clone();
        AppState {
            server,
            webhooks,
            c2s,
            rest: Arc::new(rest),
            edge: Edge::new(gate, cors, metrics),
            body_timeout,
            uploads: None,
            muc: None,
        }
    }

    /// Serves HTTP File Upload's files from `uploads`, each transfer bounded by `transfer`.
    pub fn with_uploads(mut self, uploads: Uploads, transfer: Duration) -> AppState {
        self.uploads = Some((uploads, transfer));
        self
    }

    /// Gives the HTTP side the group chat service.
    pub fn with_muc(mut self, muc: Arc<MucService>) -> AppState {
        self.muc = Some(muc);
        self
    }

    /// The group chat service and its in-process API (see [`MucService`]), when it is on.
    pub fn muc(&self) -> Option<&Arc<MucService>> {
        self.muc.as_ref()
    }

    pub fn uploads(&self) -> Option<&Uploads> {
        self.uploads.as_ref().map(|(uploads, _)| uploads)
    }

    /// How long one upload or download may take, when uploads are served.
    pub fn transfer_timeout(&self) -> Option<Duration> {
        self.uploads.as_ref().map(|(_, transfer)| *transfer)
    }

    /// The upload slot `id`, pending or complete.
    pub async fn upload(&self, id: &str) -> Result<Option<Upload>, StoreError> {
        self.server.store().upload(id).await
    }

    /// Marks upload `id` complete now; `false` when it already was.
    pub async fn complete_upload(&self, id: &str) -> Result<bool, StoreError> {
        let now = self.server.now().timestamp_millis();
        self.server.store().complete_upload(id, now).await
    }

    /// The current time in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.server.now().timestamp_millis()
    }

    /// Days files are kept (`upload.expire_after_days`; 0 keeps them).
    pub fn upload_expiry_days(&self) -> u32 {
        self.server.config().upload.expire_after_days
    }

    pub fn edge(&self) -> Edge {
        self.edge.clone()
    }

    /// The text of `/metrics`, after the gauges that are read from the store were set.
    pub async fn scrape(&self) -> String {
        self.webhooks.observe().await;
        match self.server.store().offline_totals().await {
            Ok(totals) => self
                .server
                .metrics()
                .set_offline(totals.messages, totals.bytes),
            Err(e) => tracing::error!(error = %e, "cannot read the offline storage totals"),
        }
        if self.server.metrics().archive_count_due(Instant::now()) {
            match self.server.store().archive_total().await {
                Ok(total) => self.server.metrics().set_archive(total),
                Err(e) => tracing::error!(error = %e, "cannot count the archived messages"),
            }
        }
        self.server.metrics().render()
    }

    pub fn domain(&self) -> &str {
        self.server.domain()
    }

    pub fn accounts(&self) -> &Accounts {
        self.server.accounts()
    }

    /// The gate in force (a reload replaces it).
    pub fn gate(&self) -> Arc<Gate> {
        self.edge.gate()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        self.server.metrics()
    }

    pub fn is_admin(&self, jid: &Jid) -> bool {
        self.server.is_admin(jid)
    }

    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    /// Routes `stanza` as sent by `principal` (the one `from` rule; `to` already parsed) and
    /// reports what became of it: an immediate error comes back in the outcome.
    pub async fn submit(
        &self,
        principal: &Principal,
        to: Option<Jid>,
        stanza: Element,
    ) -> Result<Outcome, Refused> {
        let stanza = Routed::addressed(principal, stanza, to, Origin::Http)?;
        Ok(self.server.deliver(stanza).await)
    }

    /// Waits for the reply to the iq `id` from `from` (and MAM results for `queryid`); `None`
    /// when an iq with the same id from the same JID is already waiting.
    pub fn wait_for_reply(&self, from: &Jid, id: &str, queryid: Option<&str>) -> Option<Waiter> {
        self.server.waiters().wait_for_reply(from, id, queryid)
    }

    /// Runs an admin command as `requester`.
    pub async fn run_command(
        &self,
        requester: &Jid,
        command: Command,
        args: Args,
    ) -> Result<commands::Outcome, CommandError> {
        commands::run(&self.server, Some(requester), command, args).await
    }
}
