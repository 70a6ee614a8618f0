//! c2s stream negotiation on the wire (RFC 6120 §4.3, §5, §7): the features offered at each
//! stage, STARTTLS, resource binding and the legacy session request, as typed values.

use jid::{FullJid, ResourcePart};
use minidom::Element;
use xmpp_parsers::bind::{BindFeature, BindQuery, BindResponse};
use xmpp_parsers::csi;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::sm;
use xmpp_parsers::starttls::{self, StartTls};

use crate::ns;
use crate::sasl::Mechanism;
use crate::stanza;

/// `<stream:features/>`, its children in this order. Later stages and extensions (stream
/// management, CSI, roster versioning, SASL2…) are further fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamFeatures {
    /// STARTTLS (RFC 6120 §5.3.1), required or not.
    pub starttls: Option<StartTls>,
    /// SASL mechanisms (RFC 6120 §6.3.3), in order of preference.
    pub mechanisms: Vec<Mechanism>,
    /// Resource binding (RFC 6120 §7.2).
    pub bind: bool,
    /// RFC 3921 session establishment, offered as optional (RFC 6121 dropped it; old clients
    /// still ask).
    pub legacy_session: bool,
    /// XEP-0237 roster versioning (RFC 6121 §2.6), offered with resource binding.
    pub roster_versioning: bool,
    /// XEP-0198 stream management, offered after authentication.
    pub stream_management: bool,
    /// XEP-0352 client state indication, offered after authentication.
    pub client_state_indication: bool,
    /// XEP-0077 in-band registration, offered before authentication when allowed.
    pub register: bool,
}

impl From<StreamFeatures> for Element {
    fn from(features: StreamFeatures) -> Element {
        let mut el = stanza::stream_element("features");
        if let Some(starttls) = features.starttls {
            el.append_child(starttls.into());
        }
        if !features.mechanisms.is_empty() {
            let mut mechanisms = Element::bare("mechanisms", ns::SASL);
            for mechanism in features.mechanisms {
                mechanisms.append_child(
                    Element::builder("mechanism", ns::SASL)
                        .append(mechanism.name())
                        .build(),
                );
            }
            el.append_child(mechanisms);
        }
        if features.bind {
            el.append_child(BindFeature { required: false }.into());
        }
        if features.legacy_session {
            el.append_child(
                Element::builder("session", ns::SESSION)
                    .append(Element::bare("optional", ns::SESSION))
                    .build(),
            );
        }
        if features.roster_versioning {
            el.append_child(Element::bare("ver", ns::ROSTER_VER));
        }
        if features.stream_management {
            el.append_child(sm::StreamManagement { optional: false }.into());
        }
        if features.client_state_indication {
            el.append_child(csi::Feature.into());
        }
        if features.register {
            el.append_child(crate::register::stream_feature());
        }
        el
    }
}

/// Whether `el` is the client's `<starttls/>`.
pub fn is_starttls_request(el: &Element) -> bool {
    starttls::Request::try_from(el.clone()).is_ok()
}

/// `<proceed/>`: the TLS handshake follows.
pub fn starttls_proceed() -> Element {
    starttls::Proceed.into()
}

/// The TLS `<failure/>`, after which the server closes the stream (RFC 6120 §5.4.2.2).
pub fn starttls_failure() -> Element {
    starttls::Failure.into()
}

/// A client's resource binding request (RFC 6120 §7.5, §7.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindRequest {
    /// No resource asked for: the server picks one.
    ServerGenerated,
    /// The resource the client asks for.
    Resource(ResourcePart),
    /// What the client asked for is no valid resourcepart (answer `bad-request`).
    InvalidResource,
}

impl BindRequest {
    /// Reads `<iq type='set'><bind/></iq>`; `None` for any other element.
    pub fn parse(iq: &Element) -> Option<BindRequest> {
        let Ok(Iq::Set { payload, .. }) = Iq::try_from(iq.clone()) else {
            return None;
        };
        let query = BindQuery::try_from(payload).ok()?;
        Some(match query.resource.filter(|r| !r.is_empty()) {
            None => BindRequest::ServerGenerated,
            Some(wanted) => match ResourcePart::new(&wanted) {
                Ok(resource) => BindRequest::Resource(resource.into_owned()),
                Err(_) => BindRequest::InvalidResource,
            },
        })
    }
}

/// The result answering a bind request: the full JID bound.
pub fn bind_result(request: &Element, jid: FullJid) -> Element {
    stanza::iq_result(request, Some(BindResponse { jid }.into()))
}

/// Whether `iq` is the RFC 3921 `<session/>` request, answered with an empty result.
pub fn is_session_request(iq: &Element) -> bool {
    matches!(Iq::try_from(iq.clone()), Ok(Iq::Set { payload, .. }) if payload.is("session", ns::SESSION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stanza::to_xml;

    fn parse(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    #[test]
    fn features_in_order_with_the_stream_prefix() {
        let features = StreamFeatures {
            starttls: Some(StartTls { required: true }),
            mechanisms: vec![Mechanism::ScramSha256, Mechanism::Plain],
            ..StreamFeatures::default()
        };
        assert_eq!(
            to_xml(&features.into()),
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
             <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
             <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
             <mechanism>SCRAM-SHA-256</mechanism><mechanism>PLAIN</mechanism></mechanisms>\
             </stream:features>"
        );
        let bound = StreamFeatures {
            bind: true,
            legacy_session: true,
            roster_versioning: true,
            stream_management: true,
            client_state_indication: true,
            ..StreamFeatures::default()
        };
        assert_eq!(
            to_xml(&bound.into()),
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
             <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>\
             <ver xmlns='urn:xmpp:features:rosterver'/>\
             <sm xmlns='urn:xmpp:sm:3'/>\
             <csi xmlns='urn:xmpp:csi:0'/>\
             </stream:features>"
        );
    }

    #[test]
    fn starttls_elements() {
        assert!(is_starttls_request(&parse(
            "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
        )));
        assert!(!is_starttls_request(&parse(
            "<starttls xmlns='jabber:client'/>"
        )));
        assert!(starttls_proceed().is("proceed", ns::TLS));
        assert!(starttls_failure().is("failure", ns::TLS));
    }

    #[test]
    fn bind_requests() {
        let bind = |inner: &str| {
            BindRequest::parse(&parse(&format!(
                "<iq xmlns='jabber:client' type='set' id='b'>\
                 <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>{inner}</bind></iq>"
            )))
        };
        assert_eq!(bind(""), Some(BindRequest::ServerGenerated));
        assert_eq!(
            bind("<resource></resource>"),
            Some(BindRequest::ServerGenerated)
        );
        assert_eq!(
            bind("<resource>phone</resource>"),
            Some(BindRequest::Resource(
                ResourcePart::new("phone").unwrap().into_owned()
            ))
        );
        let too_long = "r".repeat(1024);
        assert_eq!(
            bind(&format!("<resource>{too_long}</resource>")),
            Some(BindRequest::InvalidResource)
        );
        for other in [
            "<iq xmlns='jabber:client' type='get' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
            "<iq xmlns='jabber:client' type='set' id='b'><query xmlns='jabber:iq:roster'/></iq>",
            "<message xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></message>",
        ] {
            assert_eq!(BindRequest::parse(&parse(other)), None, "{other}");
        }
    }

    #[test]
    fn bind_result_carries_the_jid() {
        let request = parse(
            "<iq xmlns='jabber:client' type='set' id='b1'>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
        );
        let jid = FullJid::new("user@localhost/phone").unwrap();
        assert_eq!(
            bind_result(&request, jid),
            parse(
                "<iq xmlns='jabber:client' type='result' id='b1'>\
                 <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>user@localhost/phone</jid></bind></iq>"
            )
        );
    }

    #[test]
    fn session_requests() {
        assert!(is_session_request(&parse(
            "<iq xmlns='jabber:client' type='set' id='s'>\
             <session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
        )));
        assert!(!is_session_request(&parse(
            "<iq xmlns='jabber:client' type='get' id='s'>\
             <session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
        )));
        assert!(!is_session_request(&parse(
            "<iq xmlns='jabber:client' type='set' id='s'><ping xmlns='urn:xmpp:ping'/></iq>"
        )));
    }
}
