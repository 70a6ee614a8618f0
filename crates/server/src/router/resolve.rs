//! RFC 6121 §8.5 (and RFC 6120 §10) as a pure function: where a stanza goes, given its kind,
//! type and addresses, the domains this server hosts, and the table of bound resources.

use std::collections::HashSet;

use jid::Jid;
use switchboard_xmpp::stanza::{DefinedCondition, StanzaKind};

use crate::sessions::{SessionEntry, SessionTable};

/// The domains this server answers for.
#[derive(Clone, Debug)]
pub struct Domains {
    /// The domain of its accounts.
    pub server: String,
    /// Domains served by a service or component (`conference.…`, `rest.…`).
    pub hosted: HashSet<String>,
}

/// What to do with a stanza for a local account when no resource takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Offline storage (RFC 6121 §8.5.2.2.1).
    Store,
    /// `service-unavailable` back to the sender.
    Bounce,
    /// Silently ignored.
    Drop,
}

#[derive(Debug)]
pub enum Resolution {
    /// Push to these bound resources (never empty).
    Deliver(Vec<SessionEntry>),
    /// A local account none of whose resources takes the stanza.
    Unavailable { user: String, then: Then },
    /// Handled by the server on the account's behalf: an iq to its bare JID, subscription
    /// presence and probes, and its own presence broadcast.
    Account(String),
    /// The served domain itself.
    Server,
    /// A hosted service or component domain.
    Hosted(String),
    /// Answered with this error.
    Bounce(DefinedCondition),
    /// Silently ignored.
    Drop,
}

/// Presence types handled by the server per RFC 6121 §3 and §4.3 rather than delivered as is.
fn is_subscription_or_probe(type_: &str) -> bool {
    matches!(
        type_,
        "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed" | "probe"
    )
}

/// Where a stanza of `kind` and `type_` from `from` to `to` goes.
pub fn resolve(
    kind: StanzaKind,
    type_: &str,
    to: Option<&Jid>,
    from: &Jid,
    domains: &Domains,
    table: &dyn SessionTable,
) -> Resolution {
    let own_account = (from.domain().as_str() == domains.server)
        .then(|| from.node().map(|n| n.to_string()))
        .flatten();
    let Some(to) = to else {
        // RFC 6120 §10.3: no `to` means the sender's own account.
        return match (kind, own_account) {
            (StanzaKind::Message, Some(user)) => to_bare(kind, type_, &user, table),
            (_, Some(user)) => Resolution::Account(user),
            (StanzaKind::Iq, None) => Resolution::Bounce(DefinedCondition::ServiceUnavailable),
            (_, None) => Resolution::Drop,
        };
    };
    let domain = to.domain().as_str();
    if domain != domains.server {
        return if domains.hosted.contains(domain) {
            Resolution::Hosted(domain.to_owned())
        } else {
            Resolution::Bounce(DefinedCondition::RemoteServerNotFound)
        };
    }
    let Some(node) = to.node() else {
        return Resolution::Server;
    };
    let user = node.to_string();
    match to.resource() {
        Some(resource) => to_full(kind, type_, &user, resource.as_str(), table),
        None => to_bare(kind, type_, &user, table),
    }
}

/// RFC 6121 §8.5.3: a full JID.
fn to_full(
    kind: StanzaKind,
    type_: &str,
    user: &str,
    resource: &str,
    table: &dyn SessionTable,
) -> Resolution {
    if kind == StanzaKind::Presence && is_subscription_or_probe(type_) {
        // §8.5.3.1 and §8.5.3.2.2: treated as addressed to the bare JID.
        return Resolution::Account(user.to_owned());
    }
    if let Some(entry) = table.resource(user, resource) {
        return Resolution::Deliver(vec![entry]);
    }
    let then = match (kind, type_) {
        // §8.5.3.2.1: normal, chat and headline messages fall back to the bare JID.
        (StanzaKind::Message, "" | "normal" | "chat" | "headline") => {
            return to_bare(kind, type_, user, table);
        }
        (StanzaKind::Message, "groupchat") | (StanzaKind::Iq, "get" | "set") => Then::Bounce,
        _ => Then::Drop,
    };
    Resolution::Unavailable {
        user: user.to_owned(),
        then,
    }
}

/// RFC 6121 §8.5.2: a bare JID.
fn to_bare(kind: StanzaKind, type_: &str, user: &str, table: &dyn SessionTable) -> Resolution {
    let unavailable = |then| Resolution::Unavailable {
        user: user.to_owned(),
        then,
    };
    match kind {
        StanzaKind::Iq => Resolution::Account(user.to_owned()),
        StanzaKind::Presence if is_subscription_or_probe(type_) => {
            Resolution::Account(user.to_owned())
        }
        StanzaKind::Presence => {
            let available: Vec<SessionEntry> = table
                .resources(user)
                .into_iter()
                .filter(|e| e.available)
                .collect();
            if available.is_empty() {
                unavailable(Then::Drop)
            } else {
                Resolution::Deliver(available)
            }
        }
        StanzaKind::Message => match type_ {
            // §8.5.2.1.1: never to a resource, whatever is online.
            "groupchat" => unavailable(Then::Bounce),
            "headline" => {
                let targets: Vec<SessionEntry> = table
                    .resources(user)
                    .into_iter()
                    .filter(|e| e.available && e.priority >= 0)
                    .collect();
                if targets.is_empty() {
                    unavailable(Then::Drop)
                } else {
                    Resolution::Deliver(targets)
                }
            }
            _ => {
                let mut sessions = table.resources(user);
                sessions.retain(|e| e.available && e.priority >= 0);
                let best = sessions.iter().map(|e| e.priority).max();
                match best {
                    // Every resource sharing the highest priority gets it (§8.5.2.1.1).
                    Some(best) => {
                        sessions.retain(|e| e.priority == best);
                        Resolution::Deliver(sessions)
                    }
                    // Errors for nobody are ignored; anything else is kept for later.
                    None if type_ == "error" => unavailable(Then::Drop),
                    None => unavailable(Then::Store),
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc;

    use super::*;
    use crate::sessions::{LocalSessions, Registration, SessionMsg};

    /// A table with alice on `phone` (available, priority 1), `laptop` (available, priority 1),
    /// `tablet` (available, priority -1) and `idle` (bound, no presence); bob bound on `desk`
    /// without presence; carol not connected.
    struct Fixture {
        table: Arc<dyn SessionTable>,
        _keep: Vec<(Registration, mpsc::Receiver<SessionMsg>)>,
        domains: Domains,
    }

    fn fixture() -> Fixture {
        let table: Arc<dyn SessionTable> = Arc::new(LocalSessions::default());
        let mut keep = Vec::new();
        for (user, resource, presence) in [
            ("alice", "phone", Some(1)),
            ("alice", "laptop", Some(1)),
            ("alice", "tablet", Some(-1)),
            ("alice", "idle", None),
            ("bob", "desk", None),
        ] {
            let (tx, rx) = mpsc::channel(1);
            let reg = Registration::bind(table.clone(), user, resource, tx);
            if let Some(priority) = presence {
                reg.update(|e| {
                    e.available = true;
                    e.priority = priority;
                });
            }
            keep.push((reg, rx));
        }
        Fixture {
            table,
            _keep: keep,
            domains: Domains {
                server: "localhost".into(),
                hosted: [
                    "conference.localhost".to_owned(),
                    "rest.localhost".to_owned(),
                ]
                .into_iter()
                .collect(),
            },
        }
    }

    /// The resolution written compactly: `deliver:a,b`, `unavailable:user:then`, `account:u`,
    /// `server`, `hosted:d`, `bounce:condition`, `drop`.
    fn summary(r: Resolution) -> String {
        match r {
            Resolution::Deliver(entries) => {
                let mut names: Vec<String> = entries.into_iter().map(|e| e.resource).collect();
                names.sort();
                format!("deliver:{}", names.join(","))
            }
            Resolution::Unavailable { user, then } => format!("unavailable:{user}:{then:?}"),
            Resolution::Account(user) => format!("account:{user}"),
            Resolution::Server => "server".into(),
            Resolution::Hosted(domain) => format!("hosted:{domain}"),
            Resolution::Bounce(condition) => format!("bounce:{condition:?}"),
            Resolution::Drop => "drop".into(),
        }
    }

    #[test]
    fn rfc_6121_section_8_5() {
        use StanzaKind::{Iq, Message, Presence};
        let f = fixture();
        let from = Jid::new("dave@localhost/x").unwrap();
        #[rustfmt::skip]
        let table: &[(StanzaKind, &str, Option<&str>, &str)] = &[
            // §8.5.2.1.1 messages to a bare JID: the highest non-negative priority, all sharing it.
            (Message, "chat", Some("alice@localhost"), "deliver:laptop,phone"),
            (Message, "", Some("alice@localhost"), "deliver:laptop,phone"),
            (Message, "normal", Some("alice@localhost"), "deliver:laptop,phone"),
            (Message, "headline", Some("alice@localhost"), "deliver:laptop,phone"),
            (Message, "groupchat", Some("alice@localhost"), "unavailable:alice:Bounce"),
            // §8.5.2.2.1 no available resource: stored, or ignored.
            (Message, "chat", Some("bob@localhost"), "unavailable:bob:Store"),
            (Message, "normal", Some("carol@localhost"), "unavailable:carol:Store"),
            (Message, "headline", Some("carol@localhost"), "unavailable:carol:Drop"),
            (Message, "error", Some("carol@localhost"), "unavailable:carol:Drop"),
            (Message, "groupchat", Some("carol@localhost"), "unavailable:carol:Bounce"),
            // §8.5.3.1 a bound full JID gets everything, available or not.
            (Message, "chat", Some("alice@localhost/tablet"), "deliver:tablet"),
            (Message, "groupchat", Some("alice@localhost/idle"), "deliver:idle"),
            (Iq, "get", Some("bob@localhost/desk"), "deliver:desk"),
            (Presence, "", Some("bob@localhost/desk"), "deliver:desk"),
            // §8.5.3.2 an unbound full JID.
            (Message, "chat", Some("alice@localhost/gone"), "deliver:laptop,phone"),
            (Message, "headline", Some("alice@localhost/gone"), "deliver:laptop,phone"),
            (Message, "chat", Some("carol@localhost/gone"), "unavailable:carol:Store"),
            (Message, "groupchat", Some("alice@localhost/gone"), "unavailable:alice:Bounce"),
            (Message, "error", Some("alice@localhost/gone"), "unavailable:alice:Drop"),
            (Iq, "get", Some("alice@localhost/gone"), "unavailable:alice:Bounce"),
            (Iq, "set", Some("alice@localhost/gone"), "unavailable:alice:Bounce"),
            (Iq, "result", Some("alice@localhost/gone"), "unavailable:alice:Drop"),
            (Presence, "", Some("alice@localhost/gone"), "unavailable:alice:Drop"),
            (Presence, "unavailable", Some("alice@localhost/gone"), "unavailable:alice:Drop"),
            // Subscription presence and probes are the server's, to full and bare JIDs alike.
            (Presence, "subscribe", Some("alice@localhost/phone"), "account:alice"),
            (Presence, "subscribed", Some("carol@localhost"), "account:carol"),
            (Presence, "probe", Some("alice@localhost"), "account:alice"),
            (Presence, "unsubscribe", Some("alice@localhost/gone"), "account:alice"),
            // §8.5.2.1.2 presence to a bare JID: every available resource, whatever its priority.
            (Presence, "", Some("alice@localhost"), "deliver:laptop,phone,tablet"),
            (Presence, "unavailable", Some("bob@localhost"), "unavailable:bob:Drop"),
            // §8.5.2.1.3 an iq to a bare JID is answered by the server for the account.
            (Iq, "get", Some("alice@localhost"), "account:alice"),
            (Iq, "get", Some("carol@localhost"), "account:carol"),
            // Domains.
            (Iq, "get", Some("localhost"), "server"),
            (Message, "chat", Some("localhost"), "server"),
            (Message, "groupchat", Some("room@conference.localhost"), "hosted:conference.localhost"),
            (Iq, "get", Some("rest.localhost"), "hosted:rest.localhost"),
            (Message, "chat", Some("x@elsewhere.example"), "bounce:RemoteServerNotFound"),
            // RFC 6120 §10.3: no `to` is the sender's own account.
            (Iq, "get", None, "account:dave"),
            (Presence, "", None, "account:dave"),
            (Message, "chat", None, "unavailable:dave:Store"),
        ];
        for (kind, type_, to, expected) in table {
            let to = to.map(|t| Jid::new(t).unwrap());
            let got = summary(resolve(
                *kind,
                type_,
                to.as_ref(),
                &from,
                &f.domains,
                f.table.as_ref(),
            ));
            assert_eq!(&got, expected, "{kind:?} type={type_:?} to={to:?}");
        }
    }

    #[test]
    fn stanzas_without_to_from_a_component() {
        let f = fixture();
        let from = Jid::new("bot@rest.localhost").unwrap();
        let r = |kind| summary(resolve(kind, "", None, &from, &f.domains, f.table.as_ref()));
        assert_eq!(r(StanzaKind::Iq), "bounce:ServiceUnavailable");
        assert_eq!(r(StanzaKind::Presence), "drop");
        assert_eq!(r(StanzaKind::Message), "drop");
    }
}
