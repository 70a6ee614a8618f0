//! The SASL mechanisms the server knows, by their names on the wire (RFC 4422 §3.1), and what
//! each requires of the channel.

use super::credentials::ScramHash;

/// A server-side mechanism: the password ones, EXTERNAL (RFC 4422 Appendix A) for a stream
/// whose identity the transport established (a cookie at the WebSocket upgrade), and
/// OAUTHBEARER (RFC 7628) for a bearer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    ScramSha1,
    ScramSha1Plus,
    ScramSha256,
    ScramSha256Plus,
    Plain,
    External,
    OAuthBearer,
}

impl Mechanism {
    /// Every mechanism, in the order to advertise them in.
    pub const ALL: [Mechanism; 7] = [
        Mechanism::External,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha1,
        Mechanism::OAuthBearer,
        Mechanism::Plain,
    ];

    /// The mechanisms that check a password, strongest first.
    pub const PASSWORD: [Mechanism; 5] = [
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ];

    /// Mechanism names are case-sensitive (RFC 4422 §3.1).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::Plain => "PLAIN",
            Mechanism::External => "EXTERNAL",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The hash of a SCRAM mechanism; `None` for the others.
    pub fn hash(&self) -> Option<ScramHash> {
        match self {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => Some(ScramHash::Sha256),
            Mechanism::Plain | Mechanism::External | Mechanism::OAuthBearer => None,
        }
    }

    /// Whether the mechanism binds the exchange to the channel (and so needs channel binding).
    pub fn is_plus(&self) -> bool {
        matches!(self, Mechanism::ScramSha1Plus | Mechanism::ScramSha256Plus)
    }

    /// The password mechanisms to offer on a channel: the -PLUS ones only when its binding is
    /// known.
    pub fn offered(channel_binding_known: bool) -> Vec<Mechanism> {
        Self::PASSWORD
            .into_iter()
            .filter(|m| channel_binding_known || !m.is_plus())
            .collect()
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for mechanism in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(mechanism.name()), Some(mechanism));
            assert_eq!(mechanism.is_plus(), mechanism.name().ends_with("-PLUS"));
            assert_eq!(
                mechanism.hash().is_none(),
                !mechanism.name().starts_with("SCRAM-")
            );
        }
        assert_eq!(Mechanism::from_name("scram-sha-1"), None);
        assert_eq!(Mechanism::from_name("DIGEST-MD5"), None);
        assert_eq!(Mechanism::from_name("EXTERNAL"), Some(Mechanism::External));
        assert_eq!(
            Mechanism::from_name("OAUTHBEARER"),
            Some(Mechanism::OAuthBearer)
        );
    }

    #[test]
    fn plus_mechanisms_need_a_known_binding() {
        assert_eq!(Mechanism::offered(true), Mechanism::PASSWORD);
        assert_eq!(
            Mechanism::offered(false),
            [
                Mechanism::ScramSha256,
                Mechanism::ScramSha1,
                Mechanism::Plain
            ]
        );
    }
}
