//! What every HTTP handler shares, and the few calls through which the HTTP side reaches the
//! router: submitting stanzas, waiting for replies and bounces, accounts, admins, commands.

use std::sync::Arc;
use std::time::Duration;

use jid::Jid;
use minidom::Element;
use switchboard_xmpp::stanza::StanzaKind;
use tokio::sync::mpsc;

use super::cors::Cors;
use super::gate::Gate;
use super::surface::Edge;
use crate::auth::Accounts;
use crate::c2s::C2sContext;
use crate::config::RestConfig;
use crate::router::{RouteError, Router, WaiterGuard};
use crate::services::commands::{self, Args, Command, CommandError, Outcome};
use crate::webhook::Webhooks;

/// Cheap to clone: axum clones it for every request.
#[derive(Clone)]
pub struct AppState {
    router: Router,
    pub c2s: Arc<C2sContext>,
    pub rest: Arc<RestConfig>,
    pub gate: Arc<Gate>,
    pub cors: Arc<Cors>,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
}

/// A registered wait for stanzas addressed to an HTTP request, released when dropped.
pub type Waiter = (WaiterGuard, mpsc::Receiver<Element>);

impl AppState {
    pub fn new(
        router: Router,
        c2s: Arc<C2sContext>,
        rest: RestConfig,
        gate: Gate,
        cors: Cors,
        body_timeout: Duration,
    ) -> AppState {
        AppState {
            router,
            c2s,
            rest: Arc::new(rest),
            gate: Arc::new(gate),
            cors: Arc::new(cors),
            body_timeout,
        }
    }

    pub fn edge(&self) -> Edge {
        Edge {
            gate: self.gate.clone(),
            cors: self.cors.clone(),
        }
    }

    pub fn domain(&self) -> &str {
        self.router.domain()
    }

    pub fn accounts(&self) -> &Accounts {
        self.router.accounts()
    }

    pub fn is_admin(&self, jid: &Jid) -> bool {
        self.router.is_admin(jid)
    }

    pub fn webhooks(&self) -> Option<&Webhooks> {
        self.router.webhooks()
    }

    /// Routes `stanza` as sent by `caller` (a bare account JID or a component domain).
    pub async fn submit(&self, caller: &Jid, stanza: Element) -> Result<(), RouteError> {
        self.router.submit(caller, stanza).await
    }

    /// Waits for the reply to the iq `id` from `from` (and MAM results for `queryid`); `None`
    /// when an iq with the same id from the same JID is already waiting.
    pub fn wait_for_reply(&self, from: &Jid, id: &str, queryid: Option<&str>) -> Option<Waiter> {
        self.router.wait_for_reply(&from.to_string(), id, queryid)
    }

    /// Catches the error this server answers a message or presence with at once.
    pub fn wait_for_bounce(&self, from: &Jid, id: &str, kind: StanzaKind) -> Option<Waiter> {
        self.router.wait_for_bounce(&from.to_string(), id, kind)
    }

    /// A resource name no session uses, such as `rest-…`.
    pub fn fresh_resource(&self, prefix: &str) -> String {
        self.router.fresh_resource(prefix)
    }

    /// Runs an admin command as `requester`.
    pub async fn run_command(
        &self,
        requester: &Jid,
        command: Command,
        args: Args,
    ) -> Result<Outcome, CommandError> {
        commands::run(&self.router, Some(requester), command, args).await
    }
}
