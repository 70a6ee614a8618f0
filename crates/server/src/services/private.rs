//! XEP-0049 private XML storage of each account, with XEP-0411's bridge: XEP-0048 bookmarks
//! written here become XEP-0402 items of the PEP node, and are read back from it.

use std::collections::HashSet;

use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::bookmarks::{self, Conference};
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use super::pep::Pep;
use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Outcome, Routed};
use crate::storage::StoreError;

/// The private storage service; it reaches bookmarks through the account's PEP service.
pub struct Private {
    pep: Pep,
}

impl Private {
    pub fn new(pep: Pep) -> Private {
        Private { pep }
    }
}

type Refusal = (ErrorType, DefinedCondition, &'static str);

const BAD: Refusal = (
    ErrorType::Modify,
    DefinedCondition::BadRequest,
    "expected one namespaced element in <query xmlns='jabber:iq:private'/>",
);

impl From<StoreError> for PrivateError {
    fn from(e: StoreError) -> PrivateError {
        tracing::error!(error = %e, "private storage failed");
        PrivateError((
            ErrorType::Wait,
            DefinedCondition::InternalServerError,
            "private storage is not available right now",
        ))
    }
}

struct PrivateError(Refusal);

#[async_trait]
impl Service for Private {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let Some(owner) = ctx.own_account(&iq) else {
            // XEP-0049 §3: only the account reaches its private data.
            return ctx
                .bounce(&iq, ErrorType::Cancel, DefinedCondition::Forbidden, None)
                .await;
        };
        let answer = match stanza::iq_payload(&iq.el).map(|q| (q, one_child(q))) {
            Some((query, Some(element))) if query.is("query", ns::PRIVATE) => match iq.type_() {
                "get" => self.get(ctx, &owner, element).await.map(Some),
                _ => self.set(ctx, &owner, element).await.map(|()| None),
            },
            _ => Err(PrivateError(BAD)),
        };
        match answer {
            Ok(payload) => {
                let reply =
                    payload.map(|el| Element::builder("query", ns::PRIVATE).append(el).build());
                ctx.reply(&iq, stanza::iq_result(&iq.el, reply)).await
            }
            Err(PrivateError((type_, condition, text))) => {
                ctx.bounce(&iq, type_, condition, Some(text)).await
            }
        }
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[
            Feature::server(ns::PRIVATE),
            Feature::account(ns::BOOKMARKS2_COMPAT),
        ];
        FEATURES
    }
}

/// The single child element of the query.
fn one_child(query: &Element) -> Option<&Element> {
    let mut children = query.children();
    let first = children.next()?;
    children.next().is_none().then_some(first)
}

/// XEP-0049 §3: the reserved namespaces cannot be stored (nor imported).
pub(crate) fn reserved(namespace: &str) -> bool {
    matches!(namespace, ns::CLIENT | ns::PRIVATE | "jabber:server")
}

impl Private {
    async fn get(
        &self,
        ctx: &Ctx,
        owner: &str,
        element: &Element,
    ) -> Result<Element, PrivateError> {
        let namespace = element.ns();
        if reserved(&namespace) {
            return Err(PrivateError(NOT_ACCEPTABLE));
        }
        let stored = ctx
            .store()
            .private_xml(owner, &namespace)
            .await?
            .and_then(|xml| xml.parse::<Element>().ok());
        if namespace == ns::BOOKMARKS {
            let conferences = conferences(ctx, owner).await?;
            return Ok(bookmarks::storage(&conferences, stored.as_ref()));
        }
        Ok(stored.unwrap_or_else(|| Element::bare(element.name(), namespace.as_str())))
    }

    async fn set(&self, ctx: &Ctx, owner: &str, element: &Element) -> Result<(), PrivateError> {
        let namespace = element.ns();
        if reserved(&namespace) {
            return Err(PrivateError(NOT_ACCEPTABLE));
        }
        let xml = stanza::to_xml_portable(element);
        if xml.len() > ctx.config().pep.max_private_bytes {
            return Err(PrivateError((
                ErrorType::Modify,
                DefinedCondition::NotAcceptable,
                "the document is larger than this server accepts",
            )));
        }
        ctx.store().set_private_xml(owner, &namespace, &xml).await?;
        if namespace == ns::BOOKMARKS {
            self.sync_bookmarks(ctx, owner, element).await?;
        }
        Ok(())
    }

    /// XEP-0411 §4: the XEP-0402 node holds exactly the conferences of the new `<storage/>`.
    async fn sync_bookmarks(
        &self,
        ctx: &Ctx,
        owner: &str,
        storage: &Element,
    ) -> Result<(), PrivateError> {
        let wanted = Conference::from_storage(storage);
        let current = conferences(ctx, owner).await?;
        let options = bookmarks::publish_options();
        for conference in wanted.iter().filter(|c| !current.contains(c)) {
            self.pep
                .publish(
                    ctx,
                    owner,
                    ns::BOOKMARKS2,
                    Some(conference.jid.clone()),
                    conference.item(),
                    Some(&options),
                )
                .await
                .map_err(|e| {
                    tracing::warn!(owner, error = %e, "bookmark not written to PEP");
                    PrivateError((
                        ErrorType::Cancel,
                        DefinedCondition::Conflict,
                        "the bookmarks node does not accept these bookmarks",
                    ))
                })?;
        }
        let kept: HashSet<&str> = wanted.iter().map(|c| c.jid.as_str()).collect();
        let gone: Vec<String> = current
            .into_iter()
            .map(|c| c.jid)
            .filter(|jid| !kept.contains(jid.as_str()))
            .collect();
        if !gone.is_empty()
            && let Err(e) = self
                .pep
                .retract(ctx, owner, ns::BOOKMARKS2, &gone, true)
                .await
        {
            tracing::warn!(owner, error = %e, "bookmarks not retracted from PEP");
        }
        Ok(())
    }
}

const NOT_ACCEPTABLE: Refusal = (
    ErrorType::Modify,
    DefinedCondition::NotAcceptable,
    "this namespace cannot be stored",
);

/// The conferences of `owner`'s XEP-0402 node.
async fn conferences(ctx: &Ctx, owner: &str) -> Result<Vec<Conference>, StoreError> {
    let items = ctx.store().pep_items(owner, ns::BOOKMARKS2, None).await?;
    Ok(items
        .iter()
        .filter_map(|item| {
            let payload = item.payload.parse::<Element>().ok()?;
            Conference::from_item(&item.id, &payload)
        })
        .collect())
}
