//! The server's side of XEP-0198 on one session: the count of stanzas handled from the client,
//! the stanzas the client has not acknowledged yet, and when to ask it for an acknowledgement.

use std::time::Duration;

use jid::FullJid;
use minidom::Element;
use switchboard_xmpp::sm::{Acknowledged, Counter, Unacked};
use tokio::time::Instant;

use crate::throttle::ReportEvery;

/// Stanzas written since the last `<r/>` after which another one goes out even while the
/// client has not answered the previous one yet.
const REQUEST_EVERY: u32 = 10;

/// Clients that acknowledged more stanzas than were sent, summarised.
static MISCOUNTED: ReportEvery = ReportEvery::new(Duration::from_secs(10));

pub struct Sm {
    /// Stanzas received from the client since `<enable/>` (its `h` in our `<a/>`).
    pub inbound: Counter,
    /// Stanzas written to the client and not acknowledged yet, oldest first.
    pub unacked: Unacked<Element>,
    /// Stanzas written since the last `<r/>`.
    unrequested: u32,
    /// An `<r/>` went out and no `<a/>` came back since.
    awaiting: bool,
}

impl Sm {
    /// Stream management with at most `limit` unacknowledged stanzas.
    pub fn new(limit: usize) -> Sm {
        Sm {
            inbound: Counter::default(),
            unacked: Unacked::new(limit),
            unrequested: 0,
            awaiting: false,
        }
    }

    /// Queues a stanza that is about to be written.
    pub fn sent(&mut self, el: Element) {
        self.unrequested = self.unrequested.saturating_add(1);
        self.unacked.push(el);
    }

    /// The `h` of the client's `<a/>` or `<resume/>`. A count ahead of ours is followed rather
    /// than refused (XEP-0198 says the stream SHOULD be closed): @xmpp/client 0.14 counts the
    /// presence it receives between binding and `<enabled/>`, one more than was sent after
    /// `<enable/>`, and would be disconnected at its first acknowledgement.
    pub fn acked(&mut self, h: u32, client: &FullJid) -> Acknowledged {
        self.awaiting = false;
        let outcome = self.unacked.ack(h);
        if let Acknowledged::TooHigh { h, sent } = outcome
            && let Some(clients) = MISCOUNTED.note(Instant::now())
        {
            tracing::warn!(
                jid = %client,
                h,
                sent,
                clients,
                "stream management: acknowledged more stanzas than were sent; following the client's count"
            );
        }
        outcome
    }

    /// Whether to send `<r/>` now: every few stanzas during a burst, and once the session has
    /// nothing more to write (`idle`) unless a request is already waiting for its answer.
    pub fn wants_request(&self, idle: bool) -> bool {
        self.unrequested > 0 && (self.unrequested >= REQUEST_EVERY || (idle && !self.awaiting))
    }

    /// The session moved to a new stream: what is unacknowledged was written again there and
    /// no request is pending on it.
    pub fn resumed(&mut self) {
        self.unrequested = u32::try_from(self.unacked.len()).unwrap_or(u32::MAX);
        self.awaiting = false;
    }

    /// An `<r/>` was sent.
    pub fn requested(&mut self) {
        self.unrequested = 0;
        self.awaiting = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(i: usize) -> Element {
        format!("<message xmlns='jabber:client' id='m{i}'/>")
            .parse()
            .unwrap()
    }

    #[test]
    fn requests_at_the_end_of_a_burst_and_every_few_stanzas() {
        let mut sm = Sm::new(100);
        assert!(!sm.wants_request(true), "nothing to acknowledge");
        sm.sent(message(0));
        assert!(!sm.wants_request(false), "more is being written");
        assert!(sm.wants_request(true));
        sm.requested();
        sm.sent(message(1));
        assert!(!sm.wants_request(true), "the pending request will cover it");
        for i in 2..11 {
            sm.sent(message(i));
        }
        assert!(sm.wants_request(false), "a long burst asks again");
        sm.requested();
        let me = FullJid::new("me@localhost/r").unwrap();
        assert_eq!(sm.acked(5, &me), Acknowledged::Stanzas(5));
        sm.sent(message(11));
        assert!(sm.wants_request(true), "the answer came: ask again");
        assert_eq!(sm.unacked.len(), 7);
    }
}
