//! The PLAIN mechanism's one message (RFC 4616 §2): `authzid NUL authcid NUL passwd`, and the
//! SASLprep rule for names that SCRAM shares.

use stringprep::saslprep;

use super::error::SaslError;

/// The identity and password a PLAIN message carries.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The authentication identity, SASLprep'd.
    pub authcid: String,
    /// As sent: checking it against stored keys prepares it.
    pub password: String,
}

impl std::fmt::Debug for PlainCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("authcid", &self.authcid)
            .finish_non_exhaustive()
    }
}

/// Parses a PLAIN message. An authzid other than empty or the authcid itself is
/// `InvalidAuthzid`: nobody may act for another account.
pub fn parse_plain(msg: &[u8]) -> Result<PlainCredentials, SaslError> {
    let mut fields = msg.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslError::MalformedRequest);
    };
    let utf8 = |field| std::str::from_utf8(field).map_err(|_| SaslError::MalformedRequest);
    let (authzid, authcid, password) = (utf8(authzid)?, utf8(authcid)?, utf8(password)?);
    if password.is_empty() {
        return Err(SaslError::MalformedRequest);
    }
    let authcid = prep_name(authcid)?;
    if !authzid.is_empty() && saslprep(authzid).ok().as_deref() != Some(authcid.as_str()) {
        return Err(SaslError::InvalidAuthzid);
    }
    Ok(PlainCredentials {
        authcid,
        password: password.to_owned(),
    })
}

/// RFC 5802 §5.1, RFC 4616 §2: a name that fails SASLprep or prepares to nothing is refused.
pub(crate) fn prep_name(name: &str) -> Result<String, SaslError> {
    match saslprep(name) {
        Ok(prepped) if !prepped.is_empty() => Ok(prepped.into_owned()),
        _ => Err(SaslError::MalformedRequest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identity_and_password() {
        let plain = parse_plain(b"\0user\0pencil").unwrap();
        assert_eq!(plain.authcid, "user");
        assert_eq!(plain.password, "pencil");
        assert_eq!(
            parse_plain("\0us\u{00AD}er\0pencil".as_bytes())
                .unwrap()
                .authcid,
            "user"
        );
    }

    #[test]
    fn authzid_cases() {
        assert_eq!(
            parse_plain(b"user\0user\0pencil").unwrap(),
            PlainCredentials {
                authcid: "user".into(),
                password: "pencil".into()
            }
        );
        assert_eq!(
            parse_plain(b"admin\0user\0pencil"),
            Err(SaslError::InvalidAuthzid)
        );
    }

    #[test]
    fn malformed_messages_are_refused() {
        let cases: [&[u8]; 7] = [
            b"",
            b"user\0pencil",
            b"\0\0pencil",
            b"\0user\0",
            b"\0user\0pencil\0",
            b"\0us\xffer\0pencil",
            b"\0user\0pen\xffcil",
        ];
        for msg in cases {
            assert_eq!(
                parse_plain(msg),
                Err(SaslError::MalformedRequest),
                "{msg:?}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let plain = parse_plain(b"\0user\0pencil").unwrap();
        assert!(!format!("{plain:?}").contains("pencil"));
    }

    proptest! {
        #[test]
        fn never_panics(msg in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_plain(&msg);
        }
    }
}
