//! The SASL elements of RFC 6120 §6.4 on the wire: what clients send, read here, and what the
//! server sends, as xmpp-parsers' types.

// xmpp-parsers' `Auth` knows a fixed list of mechanisms and cannot tell an absent initial
// response from an empty one (`=`, which EXTERNAL needs), hence the reading here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minidom::Element;
use xmpp_parsers::sasl::{Challenge, Failure, Success};

use super::error::{SaslCondition, SaslError};
use super::mechanism::Mechanism;
use crate::ns;

/// A SASL element from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientNonza {
    /// `<auth/>`: the mechanism and, if present, the initial response.
    Auth {
        mechanism: Mechanism,
        initial_response: Option<Vec<u8>>,
    },
    /// `<response/>` to a challenge.
    Response(Vec<u8>),
    /// `<abort/>`.
    Abort,
}

impl ClientNonza {
    /// `None` when `el` is no SASL element a client sends; an error when it is one but cannot
    /// be read (unknown mechanism, payload not base64).
    pub fn parse(el: &Element) -> Option<Result<ClientNonza, SaslError>> {
        if el.ns() != ns::SASL {
            return None;
        }
        Some(match el.name() {
            "auth" => parse_auth(el),
            "response" => payload(el).map(|data| ClientNonza::Response(data.unwrap_or_default())),
            "abort" => Ok(ClientNonza::Abort),
            _ => return None,
        })
    }
}

fn parse_auth(el: &Element) -> Result<ClientNonza, SaslError> {
    let mechanism = el
        .attr("mechanism")
        .and_then(Mechanism::from_name)
        .ok_or(SaslError::InvalidMechanism)?;
    Ok(ClientNonza::Auth {
        mechanism,
        initial_response: payload(el)?,
    })
}

/// Base64 text (whitespace around it ignored), where `=` stands for an empty payload and no
/// text at all for none.
fn payload(el: &Element) -> Result<Option<Vec<u8>>, SaslError> {
    let text = el.text();
    match text.trim() {
        "" => Ok(None),
        "=" => Ok(Some(Vec::new())),
        text => B64
            .decode(text)
            .map(Some)
            .map_err(|_| SaslError::IncorrectEncoding),
    }
}

/// `<challenge/>` carrying `data`.
pub fn challenge(data: Vec<u8>) -> Element {
    Challenge { data }.into()
}

/// `<success/>`, with the mechanism's additional data if it has some.
pub fn success(additional: Option<Vec<u8>>) -> Element {
    Success {
        data: additional.unwrap_or_default(),
    }
    .into()
}

/// `<failure/>` with a defined condition and no text.
pub fn failure(condition: SaslCondition) -> Element {
    Failure {
        defined_condition: condition,
        texts: Default::default(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stanza::to_xml;

    fn parse(xml: &str) -> Option<Result<ClientNonza, SaslError>> {
        ClientNonza::parse(&xml.parse().unwrap())
    }

    const SASL: &str = "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'";

    #[test]
    fn auth_with_and_without_initial_response() {
        assert_eq!(
            parse(&format!(
                "<auth {SASL} mechanism='PLAIN'>AHVzZXIAcGVuY2ls</auth>"
            )),
            Some(Ok(ClientNonza::Auth {
                mechanism: Mechanism::Plain,
                initial_response: Some(b"\0user\0pencil".to_vec())
            }))
        );
        assert_eq!(
            parse(&format!("<auth {SASL} mechanism='SCRAM-SHA-1'/>")),
            Some(Ok(ClientNonza::Auth {
                mechanism: Mechanism::ScramSha1,
                initial_response: None
            }))
        );
        assert_eq!(
            parse(&format!(
                "<auth {SASL} mechanism='SCRAM-SHA-1'>\n  =\n</auth>"
            )),
            Some(Ok(ClientNonza::Auth {
                mechanism: Mechanism::ScramSha1,
                initial_response: Some(Vec::new())
            }))
        );
    }

    #[test]
    fn unreadable_auth_is_an_error() {
        for (xml, error) in [
            (
                format!("<auth {SASL} mechanism='DIGEST-MD5'/>"),
                SaslError::InvalidMechanism,
            ),
            (format!("<auth {SASL}/>"), SaslError::InvalidMechanism),
            (
                format!("<auth {SASL} mechanism='PLAIN'>not base64!</auth>"),
                SaslError::IncorrectEncoding,
            ),
            (
                format!("<response {SASL}>%%%</response>"),
                SaslError::IncorrectEncoding,
            ),
        ] {
            assert_eq!(parse(&xml), Some(Err(error)), "{xml}");
        }
    }

    #[test]
    fn responses_and_abort() {
        assert_eq!(
            parse(&format!("<response {SASL}>dGVzdA==</response>")),
            Some(Ok(ClientNonza::Response(b"test".to_vec())))
        );
        assert_eq!(
            parse(&format!("<response {SASL}/>")),
            Some(Ok(ClientNonza::Response(Vec::new())))
        );
        assert_eq!(
            parse(&format!("<abort {SASL}/>")),
            Some(Ok(ClientNonza::Abort))
        );
    }

    #[test]
    fn other_elements_are_not_sasl() {
        assert_eq!(parse(&format!("<success {SASL}/>")), None);
        assert_eq!(
            parse("<auth xmlns='jabber:client' mechanism='PLAIN'/>"),
            None
        );
    }

    #[test]
    fn server_elements() {
        assert_eq!(
            to_xml(&challenge(b"r=abc".to_vec())),
            format!("<challenge {SASL}>cj1hYmM=</challenge>")
        );
        assert_eq!(
            to_xml(&challenge(Vec::new())),
            format!("<challenge {SASL}></challenge>")
        );
        assert_eq!(success(Some(b"v=x".to_vec())).text(), "dj14");
        assert_eq!(success(None).text(), "");
        let failed = failure(SaslCondition::NotAuthorized);
        assert!(failed.is("failure", ns::SASL));
        assert!(failed.has_child("not-authorized", ns::SASL));
        assert_eq!(failed.children().count(), 1);
    }
}
