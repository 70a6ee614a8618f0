//! The one `Authorization` parser and the one `WWW-Authenticate` builder of the HTTP side.
//! Parsing never verifies anything: that is the gate's work, after the IP rule.

use axum::http::HeaderValue;
use base64::Engine;
use switchboard_xmpp::rest_error::RestError;

/// An `Authorization` value (or ejabberd's in-body `--auth`), split but not verified.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Lower-cased: schemes are case-insensitive (RFC 9110 §11.1).
    scheme: String,
    /// As sent, surrounding whitespace removed.
    value: String,
}

/// Never prints the secret.
impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authorization({} …)", self.scheme)
    }
}

impl Authorization {
    /// mod_rest's reading (§3): no header or no `scheme credentials` shape is `noauthz` (401),
    /// bytes that are not visible text are `malformauthz`.
    pub fn from_header(header: Option<&HeaderValue>) -> Result<Authorization, RestError> {
        let value = header
            .ok_or(RestError::NoAuthz)?
            .to_str()
            .map_err(|_| RestError::MalformAuthz)?;
        let (scheme, credentials) = value
            .trim()
            .split_once(char::is_whitespace)
            .ok_or(RestError::NoAuthz)?;
        Ok(Authorization {
            scheme: scheme.to_ascii_lowercase(),
            value: credentials.trim().to_owned(),
        })
    }

    /// HTTP Basic credentials given some other way (ejabberd's `--auth USER HOST PASSWORD`).
    pub fn basic(user: &str, password: &str) -> Authorization {
        Authorization {
            scheme: "basic".into(),
            value: base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
        }
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// The `(user, password)` of a Basic value. Neither a localpart nor a domain may contain
    /// `:`, so the first one ends the user name.
    pub fn decode_basic(&self) -> Result<(String, String), RestError> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&self.value)
            .map_err(|_| RestError::MalformAuthz)?;
        let decoded = String::from_utf8(decoded).map_err(|_| RestError::MalformAuthz)?;
        let (user, password) = decoded.split_once(':').ok_or(RestError::MalformAuthz)?;
        Ok((user.to_owned(), password.to_owned()))
    }
}

/// `WWW-Authenticate` listing `schemes` (lower-case names, as configured) for `realm`, with
/// the conventional capitalisation: `Basic realm="localhost/rest", Bearer realm="localhost/rest"`.
pub fn challenge(schemes: &[String], realm: &str) -> Option<HeaderValue> {
    let entries: Vec<String> = schemes
        .iter()
        .map(|scheme| {
            let mut name = scheme.clone();
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            format!("{name} realm=\"{realm}\"")
        })
        .collect();
    HeaderValue::from_str(&entries.join(", ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<Authorization, RestError> {
        Authorization::from_header(Some(&HeaderValue::from_str(value).unwrap()))
    }

    #[test]
    fn schemes_are_case_insensitive_and_values_trimmed() {
        let auth = parse("  BeArEr   sb_token  ").unwrap();
        assert_eq!(auth.scheme(), "bearer");
        assert_eq!(auth.value(), "sb_token");
    }

    #[test]
    fn missing_or_shapeless_headers_are_noauthz() {
        assert_eq!(Authorization::from_header(None), Err(RestError::NoAuthz));
        assert_eq!(parse("Basic"), Err(RestError::NoAuthz));
        let binary = HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap();
        assert_eq!(
            Authorization::from_header(Some(&binary)),
            Err(RestError::MalformAuthz)
        );
    }

    #[test]
    fn basic_values_decode_or_are_malformed() {
        let auth = parse("Basic YWxpY2VAbG9jYWxob3N0OmE6Yg==").unwrap();
        assert_eq!(
            auth.decode_basic(),
            Ok(("alice@localhost".into(), "a:b".into()))
        );
        for bad in ["Basic !!!", "Basic bm9jb2xvbg==", "Basic //79"] {
            assert_eq!(
                parse(bad).unwrap().decode_basic(),
                Err(RestError::MalformAuthz),
                "{bad}"
            );
        }
        let inline = Authorization::basic("boss@localhost", "pw");
        assert_eq!(inline.scheme(), "basic");
        assert_eq!(
            inline.decode_basic(),
            Ok(("boss@localhost".into(), "pw".into()))
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let auth = parse("Bearer s3cret").unwrap();
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn challenges_list_every_scheme() {
        let schemes = vec!["basic".to_owned(), "bearer".to_owned()];
        assert_eq!(
            challenge(&schemes, "localhost/rest").unwrap(),
            "Basic realm=\"localhost/rest\", Bearer realm=\"localhost/rest\""
        );
        assert_eq!(
            challenge(&schemes[..1], "localhost/post_msg").unwrap(),
            "Basic realm=\"localhost/post_msg\""
        );
    }
}
