//! Configuration values that are checked and normalised as they are read (account JIDs, domain
//! names), so that a bad one is reported at its line and the code using it never re-parses it.

use std::fmt;
use std::str::FromStr;

use jid::BareJid;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The account JID (`alice@localhost`, no resource) of a configured account, normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountJid(BareJid);

impl AccountJid {
    pub fn as_bare(&self) -> &BareJid {
        &self.0
    }

    /// The domain part, normalised.
    pub fn domain(&self) -> &str {
        self.0.domain().as_str()
    }
}

/// What an [`AccountJid`] or a domain name was refused for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(String);

impl FromStr for AccountJid {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<AccountJid, InvalidValue> {
        let expected = "expected an account JID like alice@localhost";
        if s.contains('/') {
            return Err(InvalidValue(format!("{expected}, without a /resource")));
        }
        match BareJid::new(s) {
            Ok(jid) if jid.node().is_some() => Ok(AccountJid(jid)),
            Ok(_) => Err(InvalidValue(format!("{expected} (this is a domain)"))),
            Err(e) => Err(InvalidValue(format!("{expected} ({e})"))),
        }
    }
}

impl fmt::Display for AccountJid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for AccountJid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountJid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AccountJid, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A domain name (`localhost`, `chat.example.org`) in its normalised (nameprep'd) form.
pub fn normalize_domain(s: &str) -> Result<String, InvalidValue> {
    let expected = "expected a domain name like chat.example.org";
    if s.contains('@') || s.contains('/') {
        return Err(InvalidValue(format!(
            "{expected}, without user@ or /resource"
        )));
    }
    BareJid::new(s)
        .map(|jid| jid.domain().to_string())
        .map_err(|e| InvalidValue(format!("{expected} ({e})")))
}

/// `deserialize_with` for domain-name fields.
pub fn domain<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    normalize_domain(&text).map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_jids() {
        let a: AccountJid = "Boss@LocalHost".parse().unwrap();
        assert_eq!(a.to_string(), "boss@localhost");
        assert_eq!(a.domain(), "localhost");
        assert!("localhost".parse::<AccountJid>().is_err());
        let res = "dave@localhost/res".parse::<AccountJid>().unwrap_err();
        assert!(res.to_string().contains("without a /resource"), "{res}");
        assert!("a@b@c".parse::<AccountJid>().is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(normalize_domain("Chat.Example").unwrap(), "chat.example");
        assert!(normalize_domain("a@b").is_err());
        assert!(normalize_domain("").is_err());
        assert!(normalize_domain("b/c").is_err());
    }
}
