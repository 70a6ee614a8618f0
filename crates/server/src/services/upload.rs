//! The XEP-0363 upload service at `upload.<domain>`: describes itself (store/file, the largest
//! file) and hands local accounts signed slots within the size limit and their quota.

use async_trait::async_trait;
use switchboard_xmpp::ns;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType, StanzaKind};
use switchboard_xmpp::upload::{self, Request};
use xmpp_parsers::disco::DiscoItemsResult;

use crate::ctx::{Ctx, Service};
use crate::ids::unguessable_id;
use crate::routed::{Outcome, Routed};
use crate::storage::Upload;
use crate::uploads::Uploads;

/// The name in the service's disco#info identity.
const NAME: &str = "HTTP File Upload";

/// Everything addressed to the upload domain.
pub struct UploadService {
    uploads: Uploads,
}

impl UploadService {
    pub fn new(uploads: Uploads) -> UploadService {
        UploadService { uploads }
    }

    async fn slot(&self, ctx: &Ctx, iq: &Routed, payload: &minidom::Element) -> Outcome {
        let Some(user) = ctx.local_user(&iq.from) else {
            let text = format!("Only accounts of {} may upload here", ctx.domain());
            return ctx
                .bounce(
                    iq,
                    ErrorType::Cancel,
                    DefinedCondition::Forbidden,
                    Some(&text),
                )
                .await;
        };
        let request = match Request::parse(payload) {
            Ok(request) => request,
            Err(e) => return ctx.bounce_with(iq, e.error()).await,
        };
        let config = ctx.config();
        let limits = &config.upload;
        if request.size > limits.max_file_bytes {
            return ctx
                .bounce_with(iq, upload::file_too_large(limits.max_file_bytes))
                .await;
        }
        let now = ctx.now().timestamp_millis();
        let timeout_ms =
            i64::try_from(limits.slot_timeout_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let slot = Upload {
            id: unguessable_id(),
            user,
            filename: request.filename.as_str().to_owned(),
            size: request.size,
            content_type: request.content_type.as_str().to_owned(),
            created_at: now,
            slot_expires_at: now.saturating_add(timeout_ms),
            completed_at: None,
        };
        match ctx.store().reserve_upload(&slot, limits.quota_bytes).await {
            Ok(true) => {
                let (put, get) = self.uploads.urls(limits, &slot);
                tracing::debug!(id = %slot.id, user = %slot.user, size = slot.size, "upload slot");
                let answer = upload::slot(&put, &get);
                ctx.reply(iq, stanza::iq_result(&iq.el, Some(answer))).await
            }
            Ok(false) => {
                ctx.bounce_with(iq, upload::quota_exceeded(limits.quota_bytes))
                    .await
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot record an upload slot");
                ctx.bounce(
                    iq,
                    ErrorType::Wait,
                    DefinedCondition::InternalServerError,
                    None,
                )
                .await
            }
        }
    }
}

#[async_trait]
impl Service for UploadService {
    async fn handle(&self, ctx: &Ctx, stanza: Routed) -> Outcome {
        if stanza.kind != StanzaKind::Iq {
            return match stanza.kind {
                StanzaKind::Presence => Outcome::Dropped,
                _ => {
                    ctx.bounce(
                        &stanza,
                        ErrorType::Cancel,
                        DefinedCondition::ServiceUnavailable,
                        None,
                    )
                    .await
                }
            };
        }
        // Results and errors addressed to the service end here.
        if !matches!(stanza.type_(), "get" | "set") {
            return Outcome::Dropped;
        }
        let payload = stanza::iq_payload(&stanza.el).cloned();
        let Some(payload) = payload else {
            return ctx
                .bounce(
                    &stanza,
                    ErrorType::Modify,
                    DefinedCondition::BadRequest,
                    None,
                )
                .await;
        };
        let get = stanza.type_() == "get";
        if get && payload.is("request", ns::HTTP_UPLOAD) {
            return self.slot(ctx, &stanza, &payload).await;
        }
        let plain_query = payload.name() == "query" && payload.attr("node").is_none();
        let answer = if get && plain_query && payload.ns() == ns::DISCO_INFO {
            Some(upload::service_info(
                NAME,
                ctx.config().upload.max_file_bytes,
            ))
        } else if get && plain_query && payload.ns() == ns::DISCO_ITEMS {
            Some(
                DiscoItemsResult {
                    node: None,
                    items: Vec::new(),
                    rsm: None,
                }
                .into(),
            )
        } else {
            None
        };
        match answer {
            Some(answer) => {
                ctx.reply(&stanza, stanza::iq_result(&stanza.el, Some(answer)))
                    .await
            }
            None => {
                ctx.bounce(
                    &stanza,
                    ErrorType::Cancel,
                    DefinedCondition::FeatureNotImplemented,
                    None,
                )
                .await
            }
        }
    }
}
