//! A secret from the configuration (credentials, signing keys): usable by the code that needs it
//! through [`Secret::expose`], and printed, logged or serialised only as a redaction mark.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What every printed form of a secret shows instead of it.
pub const REDACTED: &str = "<redacted>";

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for comparing, signing or sending; never for messages or logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Serialised forms (`config check`, `config show`) are for people, so they carry the mark.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::from("hunter2");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(
            toml::to_string(&std::collections::BTreeMap::from([("k", s.clone())])).unwrap(),
            "k = \"<redacted>\"\n"
        );
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn reads_a_plain_string() {
        #[derive(Deserialize)]
        struct T {
            k: Secret,
        }
        let t: T = toml::from_str("k = 's3cret'").unwrap();
        assert_eq!(t.k.expose(), "s3cret");
    }
}
