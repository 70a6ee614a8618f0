//! XEP-0352 on one session: presence updates held while the client is inactive (or while its
//! link is down), collapsed to the latest per sender, and handed out in arrival order later.

use std::collections::HashMap;

use minidom::Element;
use switchboard_xmpp::ns;

/// Held presence, one per sender (full JID).
pub struct Held {
    latest: HashMap<String, (u64, Element)>,
    next: u64,
    limit: usize,
}

impl Held {
    /// Holds presence from at most `limit` senders.
    pub fn new(limit: usize) -> Held {
        Held {
            latest: HashMap::new(),
            next: 0,
            limit,
        }
    }

    /// Whether `stanza` may wait: a presence update (available or unavailable) from anyone but
    /// the session itself (`own`). Subscription requests, probes, errors, messages and iqs go
    /// out at once.
    pub fn holds(stanza: &Element, own: &str) -> bool {
        stanza.is("presence", ns::CLIENT)
            && matches!(stanza.attr("type"), None | Some("unavailable"))
            && stanza.attr("from") != Some(own)
    }

    /// Keeps `presence` in place of any earlier one from its sender. When a new sender would
    /// exceed the limit, everything held and `presence` come back, in order, to be sent now.
    pub fn hold(&mut self, presence: Element) -> Result<(), Vec<Element>> {
        let sender = presence.attr("from").unwrap_or_default().to_owned();
        if !self.latest.contains_key(&sender) && self.latest.len() >= self.limit {
            let mut all = self.take();
            all.push(presence);
            return Err(all);
        }
        self.latest.insert(sender, (self.next, presence));
        self.next += 1;
        Ok(())
    }

    /// Everything held, in the order the latest presence of each sender arrived.
    pub fn take(&mut self) -> Vec<Element> {
        let mut held: Vec<(u64, Element)> = self.latest.drain().map(|(_, v)| v).collect();
        held.sort_unstable_by_key(|(seq, _)| *seq);
        held.into_iter().map(|(_, el)| el).collect()
    }

    /// The `n` that arrived first, in order; the others stay held.
    pub fn take_oldest(&mut self, n: usize) -> Vec<Element> {
        if n >= self.latest.len() {
            return self.take();
        }
        let mut order: Vec<(u64, String)> = self
            .latest
            .iter()
            .map(|(sender, (seq, _))| (*seq, sender.clone()))
            .collect();
        order.sort_unstable();
        order
            .into_iter()
            .take(n)
            .filter_map(|(_, sender)| self.latest.remove(&sender).map(|(_, el)| el))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "me@localhost/phone";

    fn presence(from: &str, attrs: &str, show: &str) -> Element {
        format!(
            "<presence xmlns='jabber:client' from='{from}' {attrs}><show>{show}</show></presence>"
        )
        .parse()
        .unwrap()
    }

    fn shows(held: Vec<Element>) -> Vec<String> {
        held.iter()
            .map(|p| {
                let from = p.attr("from").unwrap_or_default();
                let show = p
                    .get_child("show", ns::CLIENT)
                    .map(|s| s.text())
                    .unwrap_or_default();
                format!("{from}:{show}")
            })
            .collect()
    }

    #[test]
    fn only_presence_updates_from_others_wait() {
        let p = |attrs: &str| presence("a@localhost/x", attrs, "");
        assert!(Held::holds(&p(""), ME));
        assert!(Held::holds(&p("type='unavailable'"), ME));
        for kind in [
            "subscribe",
            "subscribed",
            "unsubscribe",
            "unsubscribed",
            "probe",
            "error",
        ] {
            assert!(!Held::holds(&p(&format!("type='{kind}'")), ME), "{kind}");
        }
        assert!(
            !Held::holds(&presence(ME, "", ""), ME),
            "its own reflection"
        );
        let message: Element = "<message xmlns='jabber:client' from='a@localhost/x'/>"
            .parse()
            .unwrap();
        assert!(!Held::holds(&message, ME));
    }

    #[test]
    fn the_latest_per_sender_in_arrival_order() {
        let mut held = Held::new(10);
        held.hold(presence("a@localhost/1", "", "away")).unwrap();
        held.hold(presence("b@localhost/1", "", "dnd")).unwrap();
        held.hold(presence("a@localhost/2", "", "chat")).unwrap();
        held.hold(presence("a@localhost/1", "", "xa")).unwrap();
        assert_eq!(
            shows(held.take()),
            vec![
                "b@localhost/1:dnd",
                "a@localhost/2:chat",
                "a@localhost/1:xa"
            ]
        );
        assert!(held.is_empty());
    }

    #[test]
    fn the_oldest_go_first_when_paced() {
        let mut held = Held::new(10);
        for (i, from) in ["a", "b", "c", "d"].iter().enumerate() {
            held.hold(presence(&format!("{from}@localhost/1"), "", &i.to_string()))
                .unwrap();
        }
        assert_eq!(
            shows(held.take_oldest(2)),
            vec!["a@localhost/1:0", "b@localhost/1:1"]
        );
        assert!(!held.is_empty());
        assert_eq!(
            shows(held.take_oldest(5)),
            vec!["c@localhost/1:2", "d@localhost/1:3"]
        );
        assert!(held.is_empty());
    }

    #[test]
    fn a_full_buffer_gives_everything_back() {
        let mut held = Held::new(2);
        held.hold(presence("a@localhost/1", "", "1")).unwrap();
        held.hold(presence("b@localhost/1", "", "2")).unwrap();
        held.hold(presence("a@localhost/1", "", "3")).unwrap();
        let all = held.hold(presence("c@localhost/1", "", "4")).unwrap_err();
        assert_eq!(
            shows(all),
            vec!["b@localhost/1:2", "a@localhost/1:3", "c@localhost/1:4"]
        );
        assert!(held.is_empty());
    }
}
