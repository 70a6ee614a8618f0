//! RFC 6121 subscriptions as a pure state machine: the nine states of Appendix A.1, what each
//! subscription stanza does on the user's and the contact's server (A.2, A.3), and its stanzas.

use minidom::Element;

use crate::{ns, stanza};

/// The four subscription presence types (RFC 6121 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriptionType {
    /// A request to see the recipient's presence.
    Subscribe,
    /// The recipient's request is approved.
    Subscribed,
    /// The sender no longer wants the recipient's presence.
    Unsubscribe,
    /// The recipient's subscription is denied or cancelled.
    Unsubscribed,
}

impl SubscriptionType {
    /// The type a presence `type` attribute names, if it is a subscription type.
    pub fn parse(type_: &str) -> Option<SubscriptionType> {
        match type_ {
            "subscribe" => Some(SubscriptionType::Subscribe),
            "subscribed" => Some(SubscriptionType::Subscribed),
            "unsubscribe" => Some(SubscriptionType::Unsubscribe),
            "unsubscribed" => Some(SubscriptionType::Unsubscribed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionType::Subscribe => "subscribe",
            SubscriptionType::Subscribed => "subscribed",
            SubscriptionType::Unsubscribe => "unsubscribe",
            SubscriptionType::Unsubscribed => "unsubscribed",
        }
    }
}

/// The roster item's `subscription` attribute (RFC 6121 §2.1.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subscription {
    None,
    /// The user sees the contact's presence.
    To,
    /// The contact sees the user's presence.
    From,
    Both,
}

impl Subscription {
    /// Reads the stored attribute; anything unknown is `None`, the safe side.
    pub fn parse(value: &str) -> Subscription {
        match value {
            "to" => Subscription::To,
            "from" => Subscription::From,
            "both" => Subscription::Both,
            _ => Subscription::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
        }
    }
}

/// One contact's state in a user's roster (RFC 6121 Appendix A.1). "Pending Out" is the item's
/// `ask='subscribe'`; "Pending In" is a request from the contact that awaits an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    None,
    NonePendingOut,
    NonePendingIn,
    NonePendingOutIn,
    To,
    ToPendingIn,
    From,
    FromPendingOut,
    Both,
}

/// What an outbound subscription stanza does on the user's server (Appendix A.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outbound {
    pub state: State,
    /// Whether the stanza goes on to the contact; otherwise the server drops it.
    pub route: bool,
}

/// What an inbound subscription stanza does on the contact's server (Appendix A.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inbound {
    pub state: State,
    /// Whether the stanza is delivered to the account's resources.
    pub deliver: bool,
    /// What the server answers by itself on the account's behalf: `subscribed` to a request
    /// from a contact that is already subscribed (§3.1.3).
    pub reply: Option<SubscriptionType>,
}

impl State {
    pub const ALL: [State; 9] = [
        State::None,
        State::NonePendingOut,
        State::NonePendingIn,
        State::NonePendingOutIn,
        State::To,
        State::ToPendingIn,
        State::From,
        State::FromPendingOut,
        State::Both,
    ];

    /// The state of a stored item. A pending flag that cannot go with the subscription (an
    /// `ask` beside `to`, a request beside `from`) is ignored.
    pub fn new(subscription: Subscription, pending_out: bool, pending_in: bool) -> State {
        match (subscription, pending_out, pending_in) {
            (Subscription::None, false, false) => State::None,
            (Subscription::None, true, false) => State::NonePendingOut,
            (Subscription::None, false, true) => State::NonePendingIn,
            (Subscription::None, true, true) => State::NonePendingOutIn,
            (Subscription::To, _, false) => State::To,
            (Subscription::To, _, true) => State::ToPendingIn,
            (Subscription::From, false, _) => State::From,
            (Subscription::From, true, _) => State::FromPendingOut,
            (Subscription::Both, _, _) => State::Both,
        }
    }

    pub fn subscription(self) -> Subscription {
        match self {
            State::None
            | State::NonePendingOut
            | State::NonePendingIn
            | State::NonePendingOutIn => Subscription::None,
            State::To | State::ToPendingIn => Subscription::To,
            State::From | State::FromPendingOut => Subscription::From,
            State::Both => Subscription::Both,
        }
    }

    /// The user asked for the contact's presence and awaits the answer (`ask='subscribe'`).
    pub fn pending_out(self) -> bool {
        matches!(
            self,
            State::NonePendingOut | State::NonePendingOutIn | State::FromPendingOut
        )
    }

    /// The contact asked for the user's presence and awaits the answer.
    pub fn pending_in(self) -> bool {
        matches!(
            self,
            State::NonePendingIn | State::NonePendingOutIn | State::ToPendingIn
        )
    }

    /// The user receives the contact's presence.
    pub fn has_to(self) -> bool {
        matches!(self.subscription(), Subscription::To | Subscription::Both)
    }

    /// The contact receives the user's presence.
    pub fn has_from(self) -> bool {
        matches!(self.subscription(), Subscription::From | Subscription::Both)
    }

    /// RFC 6121 Appendix A.2: the user sends `type_` to the contact.
    pub fn outbound(self, type_: SubscriptionType) -> Outbound {
        use State::*;
        use SubscriptionType as T;
        let (state, route) = match (type_, self) {
            // A.2.1: a request is always routed, so that a lost one can be repeated.
            (T::Subscribe, None) => (NonePendingOut, true),
            (T::Subscribe, NonePendingIn) => (NonePendingOutIn, true),
            (T::Subscribe, From) => (FromPendingOut, true),
            (T::Subscribe, s) => (s, true),
            // A.2.2
            (T::Unsubscribe, NonePendingOut) => (None, true),
            (T::Unsubscribe, NonePendingOutIn) => (NonePendingIn, true),
            (T::Unsubscribe, To) => (None, true),
            (T::Unsubscribe, ToPendingIn) => (NonePendingIn, true),
            (T::Unsubscribe, FromPendingOut) => (From, true),
            (T::Unsubscribe, Both) => (From, true),
            (T::Unsubscribe, s) => (s, true),
            // A.2.3: an approval with no request to approve goes nowhere (no pre-approval).
            (T::Subscribed, NonePendingIn) => (From, true),
            (T::Subscribed, NonePendingOutIn) => (FromPendingOut, true),
            (T::Subscribed, ToPendingIn) => (Both, true),
            (T::Subscribed, s) => (s, false),
            // A.2.4
            (T::Unsubscribed, NonePendingIn) => (None, true),
            (T::Unsubscribed, NonePendingOutIn) => (NonePendingOut, true),
            (T::Unsubscribed, ToPendingIn) => (To, true),
            (T::Unsubscribed, From) => (None, true),
            (T::Unsubscribed, FromPendingOut) => (NonePendingOut, true),
            (T::Unsubscribed, Both) => (To, true),
            (T::Unsubscribed, s) => (s, false),
        };
        Outbound { state, route }
    }

    /// RFC 6121 Appendix A.3: the contact's server receives `type_` from the user.
    pub fn inbound(self, type_: SubscriptionType) -> Inbound {
        use State::*;
        use SubscriptionType as T;
        let (state, deliver, reply) = match (type_, self) {
            // A.3.1: a request from a contact already subscribed is approved by the server.
            (T::Subscribe, None) => (NonePendingIn, true, Option::None),
            (T::Subscribe, NonePendingOut) => (NonePendingOutIn, true, Option::None),
            (T::Subscribe, To) => (ToPendingIn, true, Option::None),
            (T::Subscribe, s @ (From | FromPendingOut | Both)) => (s, false, Some(T::Subscribed)),
            (T::Subscribe, s) => (s, false, Option::None),
            // A.3.2
            (T::Unsubscribe, NonePendingIn) => (None, true, Option::None),
            (T::Unsubscribe, NonePendingOutIn) => (NonePendingOut, true, Option::None),
            (T::Unsubscribe, ToPendingIn) => (To, true, Option::None),
            (T::Unsubscribe, From) => (None, true, Option::None),
            (T::Unsubscribe, FromPendingOut) => (NonePendingOut, true, Option::None),
            (T::Unsubscribe, Both) => (To, true, Option::None),
            (T::Unsubscribe, s) => (s, false, Option::None),
            // A.3.3: only an approval of a request the user made counts.
            (T::Subscribed, NonePendingOut) => (To, true, Option::None),
            (T::Subscribed, NonePendingOutIn) => (ToPendingIn, true, Option::None),
            (T::Subscribed, FromPendingOut) => (Both, true, Option::None),
            (T::Subscribed, s) => (s, false, Option::None),
            // A.3.4
            (T::Unsubscribed, NonePendingOut) => (None, true, Option::None),
            (T::Unsubscribed, NonePendingOutIn) => (NonePendingIn, true, Option::None),
            (T::Unsubscribed, To) => (None, true, Option::None),
            (T::Unsubscribed, ToPendingIn) => (NonePendingIn, true, Option::None),
            (T::Unsubscribed, FromPendingOut) => (From, true, Option::None),
            (T::Unsubscribed, Both) => (From, true, Option::None),
            (T::Unsubscribed, s) => (s, false, Option::None),
        };
        Inbound {
            state,
            deliver,
            reply,
        }
    }

    /// What the server tells the contact when the user removes it from the roster (RFC 6121
    /// §2.5.2): `unsubscribe` if the user had or asked for a subscription, `unsubscribed` if
    /// the contact had or asked for one.
    pub fn on_removal(self) -> Vec<SubscriptionType> {
        let mut out = Vec::new();
        if self.has_to() || self.pending_out() {
            out.push(SubscriptionType::Unsubscribe);
        }
        if self.has_from() || self.pending_in() {
            out.push(SubscriptionType::Unsubscribed);
        }
        out
    }
}

/// A presence stanza the server writes on an account's behalf: a subscription answer, a probe
/// or an unavailable presence (`type_` is the `type` attribute; empty for available).
pub fn presence(type_: &str, from: &str, to: &str) -> Element {
    let mut el = Element::bare("presence", ns::CLIENT);
    if !type_.is_empty() {
        stanza::set_attr(&mut el, "type", type_);
    }
    stanza::set_attr(&mut el, "from", from);
    stanza::set_attr(&mut el, "to", to);
    el
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;
    use SubscriptionType::*;

    /// The state names of RFC 6121 Appendix A, to keep the tables below readable.
    fn name(state: State) -> &'static str {
        match state {
            None => "None",
            NonePendingOut => "None + Pending Out",
            NonePendingIn => "None + Pending In",
            NonePendingOutIn => "None + Pending Out+In",
            To => "To",
            ToPendingIn => "To + Pending In",
            From => "From",
            FromPendingOut => "From + Pending Out",
            Both => "Both",
        }
    }

    /// Checks one table of Appendix A: (existing state, route or deliver, new state) for all
    /// nine states, in the RFC's row order.
    fn check(
        type_: SubscriptionType,
        step: fn(State, SubscriptionType) -> (State, bool),
        table: [(State, bool, State); 9],
    ) {
        let rows: Vec<State> = table.iter().map(|(s, _, _)| *s).collect();
        assert_eq!(rows, State::ALL, "every state, once");
        for (before, passes, after) in table {
            assert_eq!(
                step(before, type_),
                (after, passes),
                "{type_:?} in state {}",
                name(before)
            );
        }
    }

    fn out(s: State, t: SubscriptionType) -> (State, bool) {
        let o = s.outbound(t);
        (o.state, o.route)
    }

    fn inb(s: State, t: SubscriptionType) -> (State, bool) {
        let i = s.inbound(t);
        (i.state, i.deliver)
    }

    #[test]
    fn a_2_1_outbound_subscribe() {
        check(
            Subscribe,
            out,
            [
                (None, true, NonePendingOut),
                (NonePendingOut, true, NonePendingOut),
                (NonePendingIn, true, NonePendingOutIn),
                (NonePendingOutIn, true, NonePendingOutIn),
                (To, true, To),
                (ToPendingIn, true, ToPendingIn),
                (From, true, FromPendingOut),
                (FromPendingOut, true, FromPendingOut),
                (Both, true, Both),
            ],
        );
    }

    #[test]
    fn a_2_2_outbound_unsubscribe() {
        check(
            Unsubscribe,
            out,
            [
                (None, true, None),
                (NonePendingOut, true, None),
                (NonePendingIn, true, NonePendingIn),
                (NonePendingOutIn, true, NonePendingIn),
                (To, true, None),
                (ToPendingIn, true, NonePendingIn),
                (From, true, From),
                (FromPendingOut, true, From),
                (Both, true, From),
            ],
        );
    }

    #[test]
    fn a_2_3_outbound_subscribed() {
        check(
            Subscribed,
            out,
            [
                (None, false, None),
                (NonePendingOut, false, NonePendingOut),
                (NonePendingIn, true, From),
                (NonePendingOutIn, true, FromPendingOut),
                (To, false, To),
                (ToPendingIn, true, Both),
                (From, false, From),
                (FromPendingOut, false, FromPendingOut),
                (Both, false, Both),
            ],
        );
    }

    #[test]
    fn a_2_4_outbound_unsubscribed() {
        check(
            Unsubscribed,
            out,
            [
                (None, false, None),
                (NonePendingOut, false, NonePendingOut),
                (NonePendingIn, true, None),
                (NonePendingOutIn, true, NonePendingOut),
                (To, false, To),
                (ToPendingIn, true, To),
                (From, true, None),
                (FromPendingOut, true, NonePendingOut),
                (Both, true, To),
            ],
        );
    }

    #[test]
    fn a_3_1_inbound_subscribe() {
        check(
            Subscribe,
            inb,
            [
                (None, true, NonePendingIn),
                (NonePendingOut, true, NonePendingOutIn),
                (NonePendingIn, false, NonePendingIn),
                (NonePendingOutIn, false, NonePendingOutIn),
                (To, true, ToPendingIn),
                (ToPendingIn, false, ToPendingIn),
                (From, false, From),
                (FromPendingOut, false, FromPendingOut),
                (Both, false, Both),
            ],
        );
        // The server approves by itself where the contact already has a subscription.
        for state in State::ALL {
            let reply = state.inbound(Subscribe).reply;
            assert_eq!(
                reply,
                state.has_from().then_some(Subscribed),
                "{}",
                name(state)
            );
        }
    }

    #[test]
    fn a_3_2_inbound_unsubscribe() {
        check(
            Unsubscribe,
            inb,
            [
                (None, false, None),
                (NonePendingOut, false, NonePendingOut),
                (NonePendingIn, true, None),
                (NonePendingOutIn, true, NonePendingOut),
                (To, false, To),
                (ToPendingIn, true, To),
                (From, true, None),
                (FromPendingOut, true, NonePendingOut),
                (Both, true, To),
            ],
        );
    }

    #[test]
    fn a_3_3_inbound_subscribed() {
        check(
            Subscribed,
            inb,
            [
                (None, false, None),
                (NonePendingOut, true, To),
                (NonePendingIn, false, NonePendingIn),
                (NonePendingOutIn, true, ToPendingIn),
                (To, false, To),
                (ToPendingIn, false, ToPendingIn),
                (From, false, From),
                (FromPendingOut, true, Both),
                (Both, false, Both),
            ],
        );
    }

    #[test]
    fn a_3_4_inbound_unsubscribed() {
        check(
            Unsubscribed,
            inb,
            [
                (None, false, None),
                (NonePendingOut, true, None),
                (NonePendingIn, false, NonePendingIn),
                (NonePendingOutIn, true, NonePendingIn),
                (To, true, None),
                (ToPendingIn, true, NonePendingIn),
                (From, false, From),
                (FromPendingOut, true, From),
                (Both, true, From),
            ],
        );
    }

    #[test]
    fn only_inbound_subscribe_is_answered_by_the_server() {
        for state in State::ALL {
            for type_ in [Subscribed, Unsubscribe, Unsubscribed] {
                assert_eq!(state.inbound(type_).reply, Option::None);
            }
        }
    }

    #[test]
    fn both_sides_agree_on_a_mutual_subscription() {
        // alice subscribes to bob, bob approves and subscribes back, alice approves.
        let (mut alice, mut bob) = (None, None);
        let exchange = |sender: &mut State, receiver: &mut State, t| {
            let o = sender.outbound(t);
            *sender = o.state;
            if o.route {
                *receiver = receiver.inbound(t).state;
            }
        };
        exchange(&mut alice, &mut bob, Subscribe);
        assert_eq!((alice, bob), (NonePendingOut, NonePendingIn));
        exchange(&mut bob, &mut alice, Subscribed);
        assert_eq!((alice, bob), (To, From));
        exchange(&mut bob, &mut alice, Subscribe);
        exchange(&mut alice, &mut bob, Subscribed);
        assert_eq!((alice, bob), (Both, Both));
        exchange(&mut alice, &mut bob, Unsubscribe);
        assert_eq!((alice, bob), (From, To));
        exchange(&mut alice, &mut bob, Unsubscribed);
        assert_eq!((alice, bob), (None, None));
    }

    #[test]
    fn states_round_trip_through_the_stored_item() {
        for state in State::ALL {
            assert_eq!(
                State::new(
                    state.subscription(),
                    state.pending_out(),
                    state.pending_in()
                ),
                state
            );
            assert_eq!(
                Subscription::parse(state.subscription().as_str()),
                state.subscription()
            );
        }
        // Flags that cannot go with the subscription are dropped.
        assert_eq!(State::new(Subscription::Both, true, true), Both);
        assert_eq!(State::new(Subscription::To, true, false), To);
        assert_eq!(Subscription::parse("bogus"), Subscription::None);
    }

    #[test]
    fn removal_tells_the_contact_what_ends() {
        assert!(None.on_removal().is_empty());
        assert_eq!(NonePendingOut.on_removal(), vec![Unsubscribe]);
        assert_eq!(NonePendingIn.on_removal(), vec![Unsubscribed]);
        assert_eq!(To.on_removal(), vec![Unsubscribe]);
        assert_eq!(From.on_removal(), vec![Unsubscribed]);
        assert_eq!(Both.on_removal(), vec![Unsubscribe, Unsubscribed]);
        assert_eq!(ToPendingIn.on_removal(), vec![Unsubscribe, Unsubscribed]);
    }

    #[test]
    fn types_parse_and_print() {
        for t in [Subscribe, Subscribed, Unsubscribe, Unsubscribed] {
            assert_eq!(SubscriptionType::parse(t.as_str()), Some(t));
        }
        assert_eq!(SubscriptionType::parse("probe"), Option::None);
        assert_eq!(SubscriptionType::parse(""), Option::None);
    }

    #[test]
    fn presence_builder() {
        let expected: Element =
            "<presence xmlns='jabber:client' type='subscribed' from='b@localhost' to='a@localhost'/>"
                .parse()
                .unwrap();
        assert_eq!(
            presence("subscribed", "b@localhost", "a@localhost"),
            expected
        );
        assert_eq!(
            presence("", "b@localhost/x", "a@localhost").attr("type"),
            Option::None
        );
    }
}
