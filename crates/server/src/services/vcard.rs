//! XEP-0054 vCard-temp on accounts' bare JIDs: anyone reads an account's vCard, only the
//! account writes it; a PHOTO written here is published as the XEP-0084 avatar (XEP-0398).

use async_trait::async_trait;
use minidom::Element;
use switchboard_xmpp::avatar::Photo;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use super::avatar;
use super::pep::Pep;
use crate::ctx::{Ctx, Feature, Service};
use crate::routed::{Outcome, Routed};

/// The vCard service; it publishes avatars through the account's PEP service.
pub struct Vcard {
    pep: Pep,
}

impl Vcard {
    pub fn new(pep: Pep) -> Vcard {
        Vcard { pep }
    }
}

type Refusal = (ErrorType, DefinedCondition, &'static str);

#[async_trait]
impl Service for Vcard {
    async fn handle(&self, ctx: &Ctx, iq: Routed) -> Outcome {
        let Some(owner) = ctx.local_user(iq.to.as_ref().unwrap_or(&iq.from)) else {
            return Outcome::Dropped;
        };
        let answer = match (iq.type_(), stanza::iq_payload(&iq.el)) {
            (_, Some(p)) if !p.is("vCard", ns::VCARD) => Err((
                ErrorType::Modify,
                DefinedCondition::BadRequest,
                "expected <vCard xmlns='vcard-temp'/>",
            )),
            ("get", _) if ctx.own_account(&iq).is_some() || exists(ctx, &owner).await => {
                read(ctx, &owner).await.map(Some)
            }
            // RFC 6121 §8.5.1: an account that does not exist is not revealed by an empty vCard.
            ("get", _) => Err((
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                "no such account",
            )),
            ("set", Some(vcard)) if ctx.own_account(&iq).is_some() => {
                self.write(ctx, &owner, vcard).await.map(|()| None)
            }
            ("set", _) => Err((
                ErrorType::Auth,
                DefinedCondition::Forbidden,
                "only the account may change its vCard",
            )),
            _ => Err((
                ErrorType::Modify,
                DefinedCondition::BadRequest,
                "unexpected vCard request",
            )),
        };
        match answer {
            Ok(payload) => ctx.reply(&iq, stanza::iq_result(&iq.el, payload)).await,
            Err((type_, condition, text)) => ctx.bounce(&iq, type_, condition, Some(text)).await,
        }
    }

    fn features(&self) -> &'static [Feature] {
        const FEATURES: &[Feature] = &[
            Feature::server(ns::VCARD),
            Feature::account(ns::VCARD),
            Feature::account(ns::PEP_VCARD_CONVERSION),
        ];
        FEATURES
    }
}

const UNAVAILABLE: Refusal = (
    ErrorType::Wait,
    DefinedCondition::InternalServerError,
    "vCard storage is not available right now",
);

async fn exists(ctx: &Ctx, user: &str) -> bool {
    matches!(ctx.store().credentials(user).await, Ok(Some(_)))
}

/// The stored vCard, or an empty one (XEP-0054 §3.1: a reply either way).
async fn read(ctx: &Ctx, owner: &str) -> Result<Element, Refusal> {
    let stored = ctx.store().vcard(owner).await.map_err(|e| {
        tracing::error!(owner, error = %e, "vCard storage failed");
        UNAVAILABLE
    })?;
    Ok(stored
        .and_then(|xml| xml.parse::<Element>().ok())
        .unwrap_or_else(|| Element::bare("vCard", ns::VCARD)))
}

impl Vcard {
    async fn write(&self, ctx: &Ctx, owner: &str, vcard: &Element) -> Result<(), Refusal> {
        let xml = stanza::to_xml_portable(vcard);
        if xml.len() > ctx.config().pep.max_vcard_bytes {
            return Err((
                ErrorType::Modify,
                DefinedCondition::NotAcceptable,
                "the vCard is larger than this server accepts",
            ));
        }
        ctx.store().set_vcard(owner, &xml).await.map_err(|e| {
            tracing::error!(owner, error = %e, "vCard storage failed");
            UNAVAILABLE
        })?;
        if let Some(photo) = Photo::of_vcard(vcard)
            && avatar::current_id(ctx, owner)
                .await
                .ok()
                .flatten()
                .as_deref()
                != Some(&photo.id())
        {
            self.publish_avatar(ctx, owner, &photo).await;
        }
        Ok(())
    }

    /// XEP-0398 §4: the data item first, so that the metadata never names a missing image.
    async fn publish_avatar(&self, ctx: &Ctx, owner: &str, photo: &Photo) {
        let id = photo.id();
        for (node, payload) in [
            (ns::AVATAR_DATA, photo.data_payload()),
            (ns::AVATAR_METADATA, photo.metadata_payload()),
        ] {
            if let Err(e) = self
                .pep
                .publish(ctx, owner, node, Some(id.clone()), payload, None)
                .await
            {
                tracing::warn!(owner, node, error = %e, "vCard PHOTO not published as avatar");
                return;
            }
        }
    }
}
