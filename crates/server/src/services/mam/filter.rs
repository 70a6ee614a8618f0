//! Archiving on the way through the router: 1:1 messages go into the sender's archive as sent
//! and the recipient's before delivery, whose copy gets its XEP-0359 `<stanza-id/>`.

use std::sync::Arc;

use async_trait::async_trait;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::mam;
use switchboard_xmpp::stanza::{self, StanzaKind};

use super::state::Archive;
use crate::ctx::{Ctx, Filter, Flow};
use crate::ids::time_ordered_id;
use crate::routed::Routed;
use crate::sessions::SessionEntry;
use crate::storage::archive::NewArchived;

/// Registered after blocking (a refused message is not archived) and before carbons.
pub struct ArchiveFilter {
    archive: Arc<Archive>,
}

impl ArchiveFilter {
    pub fn new(archive: Arc<Archive>) -> ArchiveFilter {
        ArchiveFilter { archive }
    }

    /// Archives `message` for `user` as exchanged with `peer`; its archive id.
    async fn archive(
        &self,
        ctx: &Ctx,
        user: &str,
        peer: &Jid,
        message: &Element,
    ) -> Option<String> {
        if !self.archive.prefs.archives(ctx, user, peer).await {
            return None;
        }
        let at = ctx.now();
        let entry = NewArchived {
            owner: user.to_owned(),
            id: time_ordered_id(at),
            at,
            with_bare: peer.to_bare().to_string(),
            with_full: peer.to_string(),
            stanza: stanza::to_xml_portable(message),
        };
        let id = entry.id.clone();
        self.archive.writer.append(ctx, entry).await;
        Some(id)
    }
}

/// The account's bare JID when `stanza` is a message its archive takes, with any stanza-id
/// claiming to come from that archive removed.
fn archive_for(ctx: &Ctx, user: &str, stanza: &mut Routed) -> Option<jid::BareJid> {
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
        let Some(own) = archive_for(ctx, user, stanza) else {
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
        let Some(own) = archive_for(ctx, user, stanza) else {
            return Flow::Continue;
        };
        let peer = stanza.from.clone();
        if let Some(id) = self.archive(ctx, user, &peer, &stanza.el).await {
            stanza.el.append_child(mam::stanza_id(&own, &id));
        }
        Flow::Continue
    }
}
