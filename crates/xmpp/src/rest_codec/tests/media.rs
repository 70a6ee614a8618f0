//! Tests of Content-Type reading and Accept negotiation (§2, §11.15) through the codec's
//! public API.

use proptest::prelude::*;

use super::*;

#[test]
fn media_types_from_content_type() {
    for (value, media) in [
        ("application/xmpp+xml", MediaType::Xml),
        ("application/json; charset=utf-8", MediaType::Json),
        ("Application/JSON", MediaType::Json),
        (
            "application/x-www-form-urlencoded;charset=UTF-8",
            MediaType::Form,
        ),
        ("text/plain; charset=utf-8", MediaType::Text),
        (" application/cbor ", MediaType::Cbor),
    ] {
        assert_eq!(MediaType::from_content_type(value), Some(media), "{value}");
        assert_eq!(MediaType::from_content_type(media.mime()), Some(media));
    }
    for value in [
        "text/html",
        "application/xml",
        "",
        "application/json+x",
        "*/*",
    ] {
        assert_eq!(MediaType::from_content_type(value), None, "{value}");
    }
}

// §11.15: negotiation.

#[test]
fn checklist_15_negotiation_by_quality() {
    use MediaType::*;
    for (accept, request, expected) in [
        (None, None, Xml),
        (None, Some(Json), Json),
        (None, Some(Text), Xml),
        (None, Some(Cbor), Cbor),
        (Some(""), Some(Form), Form),
        (Some("*/*"), Some(Json), Json),
        (Some("*/*"), None, Xml),
        (Some("application/*"), Some(Form), Form),
        (Some("application/json"), Some(Xml), Json),
        (Some("application/json"), None, Json),
        (
            Some("application/xmpp+xml;q=0.5, application/json"),
            Some(Xml),
            Json,
        ),
        (
            Some("application/json;q=0.2, application/xmpp+xml;q=0.9"),
            Some(Json),
            Xml,
        ),
        (Some("text/html"), Some(Json), Json),
        (Some("text/plain"), Some(Text), Xml),
        (Some("application/json;q=0"), Some(Xml), Xml),
        (Some("application/json;q=0"), Some(Json), Xml),
        (Some("application/json;q=0, */*"), Some(Json), Xml),
        (Some("*/*;q=0.1, application/cbor"), Some(Json), Cbor),
        (Some("application/cbor, application/json"), Some(Xml), Cbor),
        (Some("application/cbor, application/json"), Some(Json), Json),
        (
            Some("application/*;q=0.5, application/json;q=0.4"),
            Some(Json),
            Xml,
        ),
        (Some("APPLICATION/JSON ; Q=1"), None, Json),
        (
            Some(
                "application/json;q=2, application/cbor;q=abc, application/x-www-form-urlencoded;q=0.3",
            ),
            None,
            Form,
        ),
        (
            Some(
                "application/json;q=0, application/xmpp+xml;q=0, application/cbor;q=0, application/x-www-form-urlencoded;q=0",
            ),
            Some(Json),
            Json,
        ),
        (Some("garbage, ,;;, /"), Some(Form), Form),
    ] {
        assert_eq!(
            negotiate(accept, request),
            expected,
            "{accept:?} {request:?}"
        );
    }
}

proptest! {
    #[test]
    fn negotiate_never_panics(accept in prop::option::of("\\PC{0,60}"), request in prop::sample::select(vec![None, Some(MediaType::Xml), Some(MediaType::Json), Some(MediaType::Form), Some(MediaType::Text), Some(MediaType::Cbor)])) {
        let chosen = negotiate(accept.as_deref(), request);
        prop_assert_ne!(chosen, MediaType::Text);
    }
}
