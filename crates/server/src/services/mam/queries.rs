//! The archive on an account's bare JID, for that account only: queries (XEP-0313 §4, XEP-0059
//! paging, `#extended` fields), the query form, metadata and preferences (XEP-0441).

use std::sync::Arc;

use async_trait::async_trait;
use jid::Jid;
use minidom::Element;
use switchboard_xmpp::mam::{self, Anchor, Edge, PageBounds, Prefs, PrefsError, Query};
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use super::state::Archive;
use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Outcome, Routed};
use crate::sessions::Pushed;
use crate::storage::archive::{Archived, Criteria, PageRequest, Position, QueryError, With};

/// Answers `urn:xmpp:mam:2` iqs to an account's bare JID (or without `to`).
pub struct ArchiveQueries {
    archive: Arc<Archive>,
}

impl ArchiveQueries {
    pub fn new(archive: Arc<Archive>) -> ArchiveQueries {
        ArchiveQueries { archive }
    }
}

#[async_trait]
impl Service for ArchiveQueries {
    /// XEP-0313 §8 and XEP-0359 §5: advertised on each account's bare JID.
    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[
            Feature::account(ns::MAM),
            Feature::account(ns::MAM_EXTENDED),
            Feature::account(ns::STANZA_ID),
        ];
        FEATURES
    }

    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let user = match ctx.own_account(&iq) {
            Some(user) => user,
            // XEP-0313 §7.1: an archive is its account's alone.
            None => {
                return ctx
                    .bounce(&iq, ErrorType::Auth, DefinedCondition::Forbidden, None)
                    .await;
            }
        };
        let Some(payload) = stanza::iq_payload(&iq.el).cloned() else {
            return ctx
                .bounce(&iq, ErrorType::Modify, DefinedCondition::BadRequest, None)
                .await;
        };
        match (payload.name(), iq.type_()) {
            ("query", "get") => {
                let form = mam::query_form();
                ctx.reply(&iq, stanza::iq_result(&iq.el, Some(form))).await
            }
            ("query", "set") => match Query::parse(&payload) {
                Ok(query) => {
                    self.archive.writer.flush(ctx).await;
                    run(ctx, &user, &iq, query).await
                }
                Err(e) => {
                    let (type_, condition) = e.condition();
                    ctx.bounce(&iq, type_, condition, Some(&e.to_string()))
                        .await
                }
            },
            ("metadata", "get") => {
                self.archive.writer.flush(ctx).await;
                metadata(ctx, &user, &iq).await
            }
            ("prefs", "get") => match self.archive.prefs.get(ctx, &user).await {
                Ok(prefs) => {
                    ctx.reply(&iq, stanza::iq_result(&iq.el, Some(prefs.to_element())))
                        .await
                }
                Err(e) => failed(ctx, &iq, &user, e.to_string()).await,
            },
            ("prefs", "set") => set_prefs(ctx, &self.archive, &user, &iq, &payload).await,
            _ => {
                ctx.bounce(
                    &iq,
                    ErrorType::Cancel,
                    DefinedCondition::FeatureNotImplemented,
                    None,
                )
                .await
            }
        }
    }
}

async fn failed(ctx: &Ctx, iq: &Routed, user: &str, error: String) -> Outcome {
    tracing::error!(user, error, "archive unavailable");
    ctx.bounce(
        iq,
        ErrorType::Wait,
        DefinedCondition::InternalServerError,
        None,
    )
    .await
}

fn criteria(query: &Query) -> Criteria {
    Criteria {
        with: query.with.as_ref().map(|with| match with.resource() {
            None => With::Bare(with.to_string()),
            Some(_) => With::Full {
                bare: with.to_bare().to_string(),
                full: with.to_string(),
            },
        }),
        start: query.start,
        end: query.end,
        after_id: query.after_id.clone(),
        before_id: query.before_id.clone(),
        ids: query.ids.clone(),
    }
}

/// Sends the matching page to the requesting resource, then the iq result with `<fin/>`.
async fn run(ctx: &Ctx, user: &str, iq: &Routed, query: Query) -> Outcome {
    let cap = ctx.config().mam.max_page_size;
    if query.ids.len() > cap {
        let text = format!("at most {cap} ids per query");
        return ctx
            .bounce(
                iq,
                ErrorType::Modify,
                DefinedCondition::NotAcceptable,
                Some(&text),
            )
            .await;
    }
    let from = match &query.anchor {
        Anchor::First => Position::Oldest,
        Anchor::After(id) => Position::After(id.clone()),
        Anchor::Last => Position::Newest,
        Anchor::Before(id) => Position::Before(id.clone()),
    };
    let request = PageRequest {
        from,
        max: query.max.unwrap_or(cap).min(cap),
        count_limit: ctx.config().mam.count_limit,
    };
    let page = match ctx
        .store()
        .archive_page(user, &criteria(&query), &request)
        .await
    {
        Ok(page) => page,
        Err(QueryError::UnknownId(id)) => {
            let text = format!("no message with id '{id}' in the archive");
            return ctx
                .bounce(
                    iq,
                    ErrorType::Cancel,
                    DefinedCondition::ItemNotFound,
                    Some(&text),
                )
                .await;
        }
        Err(QueryError::Store(e)) => return failed(ctx, iq, user, e.to_string()).await,
    };
    let archive = Jid::from(iq.from.to_bare());
    let mut sent = page.messages.iter().collect::<Vec<_>>();
    if query.flip {
        sent.reverse();
    }
    for message in sent {
        let forwarded = match message.stanza.parse::<Element>() {
            Ok(el) => el,
            Err(e) => return failed(ctx, iq, user, e.to_string()).await,
        };
        let item = mam::Item {
            id: &message.id,
            at: message.at,
            message: forwarded,
        };
        let result = mam::result(
            iq.from.as_str(),
            archive.as_str(),
            query.queryid.as_deref(),
            item,
        );
        if !to_requester(ctx, user, &iq.from, result) {
            return ctx
                .bounce(
                    iq,
                    ErrorType::Wait,
                    DefinedCondition::ResourceConstraint,
                    Some("The results could not be delivered"),
                )
                .await;
        }
    }
    let bounds = match (page.messages.first(), page.messages.last()) {
        (Some(first), Some(last)) => Some(PageBounds {
            first: &first.id,
            first_index: page.first_index,
            last: &last.id,
        }),
        _ => None,
    };
    let fin = mam::fin(page.complete, bounds, page.count);
    ctx.reply(iq, stanza::iq_result(&iq.el, Some(fin))).await
}

/// Hands a result to the resource that asked, and to nothing else: its HTTP request or its
/// session. Unlike a routed message, a result for a resource that went away is not offered
/// to the account's other resources or to offline storage.
fn to_requester(ctx: &Ctx, user: &str, requester: &Jid, result: Element) -> bool {
    if ctx.waiters().capture(requester, &result) {
        return true;
    }
    requester
        .resource()
        .and_then(|resource| ctx.sessions().resource(user, resource.as_str()))
        .is_some_and(|session| session.push(result) == Pushed::Delivered)
}

fn edge(m: &Archived) -> Edge<'_> {
    Edge {
        id: &m.id,
        at: m.at,
    }
}

/// The first and last messages of the archive (XEP-0313 §5).
async fn metadata(ctx: &Ctx, user: &str, iq: &Routed) -> Outcome {
    let end = |from| PageRequest {
        from,
        max: 1,
        count_limit: 0,
    };
    let store = ctx.store();
    let all = Criteria::default();
    let ends = match (
        store.archive_page(user, &all, &end(Position::Oldest)).await,
        store.archive_page(user, &all, &end(Position::Newest)).await,
    ) {
        (Ok(first), Ok(last)) => first
            .messages
            .into_iter()
            .next()
            .zip(last.messages.into_iter().next()),
        (Err(e), _) | (_, Err(e)) => return failed(ctx, iq, user, e.to_string()).await,
    };
    let el = mam::metadata(ends.as_ref().map(|(first, last)| (edge(first), edge(last))));
    ctx.reply(iq, stanza::iq_result(&iq.el, Some(el))).await
}

async fn set_prefs(
    ctx: &Ctx,
    archive: &Archive,
    user: &str,
    iq: &Routed,
    payload: &Element,
) -> Outcome {
    let prefs = match Prefs::parse(payload) {
        Ok(prefs) => prefs,
        Err(e) => {
            let condition = match e {
                PrefsError::TooMany => DefinedCondition::NotAcceptable,
                PrefsError::Malformed(_) | PrefsError::Policy(_) => DefinedCondition::BadRequest,
            };
            return ctx
                .bounce(iq, ErrorType::Modify, condition, Some(&e.to_string()))
                .await;
        }
    };
    let applied = prefs.to_element();
    match archive.prefs.save(ctx, user, prefs).await {
        Ok(()) => {
            ctx.reply(iq, stanza::iq_result(&iq.el, Some(applied)))
                .await
        }
        Err(e) => failed(ctx, iq, user, e.to_string()).await,
    }
}
