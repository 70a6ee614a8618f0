//! XEP-0198 stream management (`urn:xmpp:sm:3`) on the wire: the client's nonzas as typed values,
//! the server's answers, and the counting of handled stanzas (modulo 2^32) with the unacked queue.

use std::collections::VecDeque;

use minidom::Element;
use xmpp_parsers::sm::{self, StreamId};

pub use xmpp_parsers::stanza_error::DefinedCondition;

use crate::ns;

/// A stream management element a client sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientSm {
    /// `<enable/>`: start counting; `resume` asks for a resumable session, `max` is the client's
    /// preferred resumption timeout in seconds.
    Enable { resume: bool, max: Option<u32> },
    /// `<resume/>`: continue the session `previd`, of which the client handled `h` stanzas.
    Resume { previd: String, h: u32 },
    /// `<a/>`: the client handled `h` stanzas.
    Ack(u32),
    /// `<r/>`: the client asks how many stanzas the server handled.
    Request,
}

/// Why an element in the stream management namespace is not a client nonza.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmError {
    #[error("malformed stream management element: {0}")]
    Malformed(String),
    #[error("<{0}/> is sent by servers, not clients")]
    NotFromClients(String),
}

impl ClientSm {
    /// `None` for an element outside `urn:xmpp:sm:3`.
    pub fn parse(el: &Element) -> Option<Result<ClientSm, SmError>> {
        if el.ns() != ns::SM {
            return None;
        }
        Some(match sm::Nonza::try_from(el.clone()) {
            Ok(sm::Nonza::Enable(enable)) => Ok(ClientSm::Enable {
                resume: enable.resume,
                max: enable.max,
            }),
            Ok(sm::Nonza::Resume(resume)) => Ok(ClientSm::Resume {
                previd: resume.previd.0,
                h: resume.h,
            }),
            Ok(sm::Nonza::Ack(ack)) => Ok(ClientSm::Ack(ack.h)),
            Ok(sm::Nonza::Req(_)) => Ok(ClientSm::Request),
            Ok(_) => Err(SmError::NotFromClients(el.name().to_owned())),
            Err(e) => Err(SmError::Malformed(e.to_string())),
        })
    }
}

/// `<enabled/>`: with an `id` when the session may be resumed within `max` seconds.
pub fn enabled(resumable: Option<(&str, u32)>) -> Element {
    sm::Enabled {
        id: resumable.map(|(id, _)| StreamId(id.to_owned())),
        location: None,
        max: resumable.map(|(_, max)| max),
        resume: resumable.is_some(),
    }
    .into()
}

/// `<resumed/>`: the session `previd` continues; the server had handled `h` stanzas.
pub fn resumed(previd: &str, h: u32) -> Element {
    sm::Resumed {
        h,
        previd: StreamId(previd.to_owned()),
    }
    .into()
}

/// `<failed/>` with a stanza error condition (`item-not-found` for an unknown session,
/// `unexpected-request` for a nonza out of place).
pub fn failed(condition: DefinedCondition) -> Element {
    sm::Failed {
        h: None,
        error: Some(condition),
    }
    .into()
}

/// `<a/>` answering a client's `<r/>`.
pub fn ack(h: u32) -> Element {
    sm::A { h }.into()
}

/// `<r/>`: asks the client how many stanzas it handled.
pub fn request() -> Element {
    sm::R.into()
}

/// A count of handled stanzas, wrapping at 2^32 as `h` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter(u32);

impl Counter {
    pub fn count(&mut self) {
        self.0 = self.0.wrapping_add(1);
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// What an acknowledgement did to the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acknowledged {
    /// This many stanzas left the queue.
    Stanzas(usize),
    /// `h` counts more stanzas than were sent: all of them left the queue, and the count of
    /// sent stanzas now follows the client's, so that later acknowledgements agree.
    TooHigh { h: u32, sent: u32 },
    /// `h` is older than an acknowledgement already received: nothing changes.
    Stale,
}

/// The stanzas sent and not yet acknowledged, oldest first, numbered modulo 2^32 from the
/// moment stream management was enabled. Holds up to `limit` items; the caller decides what
/// happens beyond (see [`Unacked::is_over`]).
#[derive(Clone, Debug)]
pub struct Unacked<T> {
    queue: VecDeque<T>,
    /// `h` of the last acknowledgement.
    acked: u32,
    limit: usize,
}

impl<T> Unacked<T> {
    pub fn new(limit: usize) -> Unacked<T> {
        Unacked {
            queue: VecDeque::new(),
            acked: 0,
            limit,
        }
    }

    /// How many stanzas were sent, modulo 2^32.
    pub fn sent(&self) -> u32 {
        self.acked.wrapping_add(self.queue.len() as u32)
    }

    /// Queues `item` as sent.
    pub fn push(&mut self, item: T) {
        self.queue.push_back(item);
    }

    /// The item queued last.
    pub fn newest(&self) -> Option<&T> {
        self.queue.back()
    }

    /// The number of items beyond which [`Unacked::is_over`] holds.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// More items than the limit are waiting for an acknowledgement.
    pub fn is_over(&self) -> bool {
        self.queue.len() > self.limit
    }

    /// Free places below half the limit: how many more may be sent before the client should
    /// be asked to acknowledge.
    pub fn room(&self) -> usize {
        (self.limit / 2).saturating_sub(self.queue.len())
    }

    /// The client handled `h` stanzas: drops the acknowledged ones. Modulo 2^32, an `h` up
    /// to 2^31 ahead of the last acknowledgement counts forward, one further is taken as older.
    pub fn ack(&mut self, h: u32) -> Acknowledged {
        let handled = h.wrapping_sub(self.acked);
        if handled > u32::MAX / 2 {
            return Acknowledged::Stale;
        }
        let handled = handled as usize;
        if handled > self.queue.len() {
            let sent = self.sent();
            self.queue.clear();
            self.acked = h;
            return Acknowledged::TooHigh { h, sent };
        }
        self.queue.drain(..handled);
        self.acked = h;
        Acknowledged::Stanzas(handled)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The unacknowledged items, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.queue.iter()
    }

    /// Gives every unacknowledged item up, oldest first.
    pub fn into_items(self) -> VecDeque<T> {
        self.queue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn client_nonzas() {
        let sm = |xml: &str| ClientSm::parse(&parse(xml));
        assert_eq!(
            sm("<enable xmlns='urn:xmpp:sm:3' resume='true' max='60'/>"),
            Some(Ok(ClientSm::Enable {
                resume: true,
                max: Some(60)
            }))
        );
        assert_eq!(
            sm("<enable xmlns='urn:xmpp:sm:3'/>"),
            Some(Ok(ClientSm::Enable {
                resume: false,
                max: None
            }))
        );
        assert_eq!(
            sm("<resume xmlns='urn:xmpp:sm:3' previd='abc' h='4294967295'/>"),
            Some(Ok(ClientSm::Resume {
                previd: "abc".into(),
                h: u32::MAX
            }))
        );
        assert_eq!(
            sm("<a xmlns='urn:xmpp:sm:3' h='7'/>"),
            Some(Ok(ClientSm::Ack(7)))
        );
        assert_eq!(
            sm("<r xmlns='urn:xmpp:sm:3'/>"),
            Some(Ok(ClientSm::Request))
        );
        assert_eq!(sm("<r xmlns='urn:xmpp:sm:2'/>"), None);
        assert!(matches!(
            sm("<a xmlns='urn:xmpp:sm:3' h='-1'/>"),
            Some(Err(SmError::Malformed(_)))
        ));
        assert!(matches!(
            sm("<resume xmlns='urn:xmpp:sm:3' h='1'/>"),
            Some(Err(SmError::Malformed(_)))
        ));
        assert_eq!(
            sm("<enabled xmlns='urn:xmpp:sm:3'/>"),
            Some(Err(SmError::NotFromClients("enabled".into())))
        );
        assert!(matches!(
            sm("<bogus xmlns='urn:xmpp:sm:3'/>"),
            Some(Err(SmError::Malformed(_)))
        ));
    }

    #[test]
    fn server_nonzas() {
        assert_eq!(
            enabled(Some(("id1", 300))),
            parse("<enabled xmlns='urn:xmpp:sm:3' id='id1' max='300' resume='true'/>")
        );
        assert_eq!(
            enabled(None),
            parse("<enabled xmlns='urn:xmpp:sm:3' resume='false'/>")
        );
        assert_eq!(
            resumed("id1", 5),
            parse("<resumed xmlns='urn:xmpp:sm:3' h='5' previd='id1'/>")
        );
        assert_eq!(
            failed(DefinedCondition::ItemNotFound),
            parse(
                "<failed xmlns='urn:xmpp:sm:3'>\
                 <item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"
            )
        );
        assert_eq!(ack(3), parse("<a xmlns='urn:xmpp:sm:3' h='3'/>"));
        assert_eq!(request(), parse("<r xmlns='urn:xmpp:sm:3'/>"));
    }

    #[test]
    fn counter_wraps_at_two_to_the_32() {
        let mut c = Counter(u32::MAX - 1);
        c.count();
        assert_eq!(c.get(), u32::MAX);
        c.count();
        assert_eq!(c.get(), 0);
    }

    #[test]
    fn acks_drop_the_oldest_and_count_modulo() {
        let mut q = Unacked::new(8);
        for i in 0..5 {
            q.push(i);
            assert_eq!(q.newest(), Some(&i));
        }
        assert_eq!(q.sent(), 5);
        assert_eq!(q.ack(2), Acknowledged::Stanzas(2));
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        // The same h again acknowledges nothing new; an older one changes nothing.
        assert_eq!(q.ack(2), Acknowledged::Stanzas(0));
        assert_eq!(q.ack(1), Acknowledged::Stale);
        assert_eq!(q.len(), 3);
        assert_eq!(q.ack(5), Acknowledged::Stanzas(3));
        assert!(q.is_empty());
    }

    #[test]
    fn a_count_ahead_of_ours_is_followed() {
        let mut q = Unacked::new(8);
        for i in 0..3 {
            q.push(i);
        }
        assert_eq!(q.ack(4), Acknowledged::TooHigh { h: 4, sent: 3 });
        assert!(q.is_empty());
        assert_eq!(q.sent(), 4, "numbering goes on from the client's count");
        q.push(3);
        assert_eq!(q.ack(5), Acknowledged::Stanzas(1));
    }

    #[test]
    fn numbering_continues_across_the_wrap() {
        let mut q = Unacked::new(8);
        q.acked = u32::MAX - 1;
        for i in 0..4 {
            q.push(i);
        }
        assert_eq!(q.sent(), 2);
        assert_eq!(q.ack(u32::MAX), Acknowledged::Stanzas(1));
        assert_eq!(q.ack(1), Acknowledged::Stanzas(2));
        assert_eq!(q.ack(u32::MAX - 5), Acknowledged::Stale);
        assert_eq!(q.into_items(), VecDeque::from([3]));
    }

    #[test]
    fn the_limit_is_reported_not_enforced() {
        let mut q = Unacked::new(4);
        assert_eq!(q.room(), 2);
        for i in 0..4 {
            q.push(i);
        }
        assert_eq!(q.room(), 0);
        assert!(!q.is_over());
        q.push(4);
        assert!(q.is_over(), "the caller decides what an overflow means");
        assert_eq!(q.len(), 5);
    }
}
