//! Archiving on the way through the router: a local account's 1:1 messages go into its own
//! archive as it sends them and into the recipient's as they are delivered, where the copy
//! gets its XEP-0359 `<stanza-id/>` (before delivery, offline storage or a webhook).

use std::sync::OnceLock;

use async_trait::async_trait;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::mam;
use switchboard_xmpp::stanza::{self, StanzaKind};

use super::policy;
use super::writer::Writer;
use crate::ctx::{Ctx, Filter, Flow};
use crate::ids::unguessable_id;
use crate::routed::Routed;
use crate::sessions::SessionEntry;
use crate::storage::archive::NewArchived;

/// Registered after blocking (a refused message is not archived) and before carbons.
#[derive(Default)]
pub struct ArchiveFilter {
    /// Started with the first message, from the store the router's context holds.
    writer: OnceLock<Writer>,
}

impl ArchiveFilter {
    /// Archives `message` for `user` as exchanged with `peer`; its archive id once written.
    async fn archive(
        &self,
        ctx: &Ctx,
        user: &str,
        peer: &Jid,
        message: &Element,
    ) -> Option<String> {
        if !policy::archives(ctx, user, peer).await {
            return None;
        }
        let entry = NewArchived {
            owner: user.to_owned(),
            id: unguessable_id(),
            at: ctx.now(),
            with_bare: peer.to_bare().to_string(),
            with_full: peer.to_string(),
            stanza: stanza::to_xml(&stanza::without_prefixes(message)),
        };
        let id = entry.id.clone();
        let writer = self
            .writer
            .get_or_init(|| Writer::start(ctx.store().clone()));
        writer.append(entry).await.then_some(id)
    }
}

/// The account's bare JID when `stanza` is a message its archive takes, with any stanza-id
/// claiming to come from that archive removed.
fn archivable(ctx: &Ctx, user: &str, stanza: &mut Routed) -> Option<jid::BareJid> {
    if stanza.kind != StanzaKind::Message
        || !mam::archivable(&stanza.el, ctx.config().mam.archive_receipts)
    {
        return None;
    }
    let own = ctx.account_jid(user)?;
    mam::strip_stanza_ids(&mut stanza.el, &own);
    Some(own)
}

#[async_trait]
impl Filter for ArchiveFilter {
    async fn outbound(&self, ctx: &Ctx, user: &str, stanza: &mut Routed) -> Flow {
        let Some(own) = archivable(ctx, user, stanza) else {
            return Flow::Continue;
        };
        // A message to the account itself is archived once, as it arrives.
        if let Some(peer) = stanza.to.clone().filter(|to| to.to_bare() != own) {
            self.archive(ctx, user, &peer, &stanza.el).await;
        }
        Flow::Continue
    }

    async fn inbound(
        &self,
        ctx: &Ctx,
        user: &str,
        stanza: &mut Routed,
        _targets: &[SessionEntry],
    ) -> Flow {
        let Some(own) = archivable(ctx, user, stanza) else {
            return Flow::Continue;
        };
        let peer = stanza.from.clone();
        if let Some(id) = self.archive(ctx, user, &peer, &stanza.el).await {
            stanza.el.append_child(mam::stanza_id(&own, &id));
        }
        Flow::Continue
    }
}
