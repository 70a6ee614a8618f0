//! Offline storage: chat and normal messages for an account with no available resource are
//! persisted and handed to the next session that becomes available, with a XEP-0203 delay.

use minidom::Element;
use switchboard_xmpp::stanza::{self, DefinedCondition, ErrorType};

use crate::router::Router;
use crate::storage::StoreError;

/// Persists a message for `user`, or bounces it when the account does not exist.
pub async fn store(router: &Router, user: &str, message: Element) {
    let xml = stanza::to_xml(&message);
    match router.accounts().store().offline_push(user, &xml).await {
        Ok(()) => tracing::debug!(user, "stored offline message"),
        Err(StoreError::NoSuchUser) => {
            router
                .bounce(
                    &message,
                    ErrorType::Cancel,
                    DefinedCondition::ServiceUnavailable,
                    None,
                )
                .await
        }
        Err(e) => {
            tracing::error!(user, error = %e, "cannot store offline message");
            router
                .bounce(
                    &message,
                    ErrorType::Wait,
                    DefinedCondition::InternalServerError,
                    Some("Message could not be stored"),
                )
                .await
        }
    }
}

/// The stored messages of `user`, oldest first, each stamped with its arrival time.
/// The caller deletes them by id once they are written to the client.
pub async fn pending(router: &Router, user: &str) -> Result<Vec<(i64, Element)>, StoreError> {
    let stored = router.accounts().store().offline_list(user).await?;
    let mut out = Vec::with_capacity(stored.len());
    for msg in stored {
        match msg.stanza.parse::<Element>() {
            Ok(mut el) => {
                let stamp = msg
                    .stored_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                el.append_child(stanza::delay(router.domain(), &stamp));
                out.push((msg.id, el));
            }
            Err(e) => tracing::error!(id = msg.id, error = %e, "unreadable offline message kept"),
        }
    }
    Ok(out)
}
