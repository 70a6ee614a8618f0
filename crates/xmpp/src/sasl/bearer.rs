//! The messages of the token mechanisms: OAUTHBEARER's GS2 header and key-value pairs
//! (RFC 7628 §3.1), and EXTERNAL's lone authorization identity (RFC 4422 Appendix A).

use super::error::SaslError;

/// The error a client learns when its token is refused (RFC 7628 §3.2.2), sent as a challenge
/// it must answer with a lone `0x01` before the exchange fails.
pub const INVALID_TOKEN: &[u8] = br#"{"status":"invalid_token"}"#;

/// What an OAUTHBEARER client message carries.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerCredentials {
    /// The GS2 `a=` authorization identity, unescaped; `None` when absent.
    pub authzid: Option<String>,
    /// The token of `auth=Bearer <token>`.
    pub token: String,
}

impl std::fmt::Debug for BearerCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerCredentials")
            .field("authzid", &self.authzid)
            .finish_non_exhaustive()
    }
}

/// Parses `gs2-header 0x01 *(key=value 0x01) 0x01`. Channel binding (`p=`) is not supported
/// by OAUTHBEARER and is refused, as is a message without `auth=Bearer`.
pub fn parse_oauthbearer(msg: &[u8]) -> Result<BearerCredentials, SaslError> {
    let msg = std::str::from_utf8(msg).map_err(|_| SaslError::MalformedRequest)?;
    let (gs2, rest) = msg.split_once('\x01').ok_or(SaslError::MalformedRequest)?;
    let mut header = gs2.split(',');
    let (Some(flag), Some(authzid), Some(""), None) =
        (header.next(), header.next(), header.next(), header.next())
    else {
        return Err(SaslError::MalformedRequest);
    };
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(SaslError::UnsupportedChannelBinding),
        _ => return Err(SaslError::MalformedRequest),
    }
    let authzid = match authzid {
        "" => None,
        a => Some(unescape_saslname(
            a.strip_prefix("a=").ok_or(SaslError::MalformedRequest)?,
        )?),
    };
    // Each pair ends with 0x01, and the message with one more.
    let pairs = rest
        .strip_suffix('\x01')
        .ok_or(SaslError::MalformedRequest)?;
    if !pairs.is_empty() && !pairs.ends_with('\x01') {
        return Err(SaslError::MalformedRequest);
    }
    let mut token = None;
    for pair in pairs.split_terminator('\x01') {
        let (key, value) = pair.split_once('=').ok_or(SaslError::MalformedRequest)?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(SaslError::MalformedRequest);
        }
        if key == "auth" {
            let (scheme, credentials) = value.split_once(' ').ok_or(SaslError::MalformedRequest)?;
            if !scheme.eq_ignore_ascii_case("bearer") || token.is_some() {
                return Err(SaslError::MalformedRequest);
            }
            token = Some(credentials.trim().to_owned());
        }
    }
    match token {
        Some(token) if !token.is_empty() => Ok(BearerCredentials { authzid, token }),
        _ => Err(SaslError::MalformedRequest),
    }
}

/// RFC 5801 §4 saslname: `,` and `=` travel as `=2C` and `=3D`; any other `=` is malformed.
fn unescape_saslname(name: &str) -> Result<String, SaslError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).ok_or(SaslError::MalformedRequest)?;
        out.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return Err(SaslError::MalformedRequest),
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(SaslError::MalformedRequest);
    }
    Ok(out)
}

/// EXTERNAL's message: the authorization identity the client asks for, empty for the one the
/// transport established.
pub fn parse_external(msg: &[u8]) -> Result<Option<String>, SaslError> {
    let authzid = std::str::from_utf8(msg).map_err(|_| SaslError::MalformedRequest)?;
    if authzid.contains('\0') {
        return Err(SaslError::MalformedRequest);
    }
    Ok((!authzid.is_empty()).then(|| authzid.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_7628_example() {
        let msg = b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01";
        let creds = parse_oauthbearer(msg).unwrap();
        assert_eq!(creds.authzid.as_deref(), Some("user@example.com"));
        assert_eq!(creds.token, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        assert!(!format!("{creds:?}").contains("vF9d"));
    }

    #[test]
    fn without_authzid_and_with_escapes() {
        let creds = parse_oauthbearer(b"n,,\x01auth=bearer abc\x01\x01").unwrap();
        assert_eq!(creds.authzid, None);
        assert_eq!(creds.token, "abc");
        let creds = parse_oauthbearer(b"y,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01").unwrap();
        assert_eq!(creds.authzid.as_deref(), Some("a,b=c"));
    }

    #[test]
    fn malformed_messages_are_refused() {
        let cases: [&[u8]; 11] = [
            b"",
            b"n,,",
            b"n,,\x01auth=Bearer t\x01",
            b"x,,\x01auth=Bearer t\x01\x01",
            b"n,u=x,\x01auth=Bearer t\x01\x01",
            b"n,a=b=2,\x01auth=Bearer t\x01\x01",
            b"n,,\x01auth=Basic dDp0\x01\x01",
            b"n,,\x01host=h\x01\x01",
            b"n,,\x01auth=Bearer \x01\x01",
            b"n,,\x01auth=Bearer a\x01auth=Bearer b\x01\x01",
            b"n,,\x01=x\x01\x01",
        ];
        for msg in cases {
            assert_eq!(
                parse_oauthbearer(msg),
                Err(SaslError::MalformedRequest),
                "{msg:?}"
            );
        }
        assert_eq!(
            parse_oauthbearer(b"p=tls-exporter,,\x01auth=Bearer t\x01\x01"),
            Err(SaslError::UnsupportedChannelBinding)
        );
    }

    #[test]
    fn external_authzid() {
        assert_eq!(parse_external(b""), Ok(None));
        assert_eq!(
            parse_external(b"alice@localhost"),
            Ok(Some("alice@localhost".into()))
        );
        assert_eq!(parse_external(b"a\0b"), Err(SaslError::MalformedRequest));
        assert_eq!(parse_external(b"\xff"), Err(SaslError::MalformedRequest));
    }

    proptest! {
        #[test]
        fn never_panics(msg in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_oauthbearer(&msg);
            let _ = parse_external(&msg);
        }
    }
}
