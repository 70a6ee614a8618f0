//! The webhook direction's error table (mod_rest §4.5, Prosody's `net/http/errors.lua`): an HTTP
//! status from a callback becomes a stanza error whose text is the status's reason phrase.

use minidom::Element;

use crate::stanza::{self, DefinedCondition, ErrorType};

/// The stanza error type and condition a callback's HTTP status maps to. Any status outside the
/// table (3xx, 418, …) is `cancel`/`undefined-condition`, as in Prosody's registry. One
/// divergence: Prosody answers 402 with `payment-required`, a condition RFC 6120 removed and
/// current parsers reject, so 402 is `auth`/`not-authorized` here.
pub fn condition_for_status(status: u16) -> (ErrorType, DefinedCondition) {
    use DefinedCondition as C;
    use ErrorType as T;
    match status {
        400 | 411 | 416 | 422 => (T::Modify, C::BadRequest),
        401 | 402 | 511 => (T::Auth, C::NotAuthorized),
        403 | 451 => (T::Auth, C::Forbidden),
        404 => (T::Cancel, C::ItemNotFound),
        405 => (T::Cancel, C::NotAllowed),
        406 => (T::Modify, C::NotAcceptable),
        407 => (T::Auth, C::RegistrationRequired),
        408 | 502 | 504 => (T::Wait, C::RemoteServerTimeout),
        409 | 412 => (T::Cancel, C::Conflict),
        410 => (T::Cancel, C::Gone { new_address: None }),
        413 | 414 | 431 => (T::Modify, C::ResourceConstraint),
        415 | 501 => (T::Cancel, C::FeatureNotImplemented),
        423 | 429 | 507 => (T::Wait, C::ResourceConstraint),
        500 => (T::Wait, C::InternalServerError),
        503 => (T::Cancel, C::ServiceUnavailable),
        _ => (T::Cancel, C::UndefinedCondition),
    }
}

/// The RFC 9110 reason phrase of a status (the text Prosody puts in the error), if registered.
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

/// The `<error/>` element for a callback status: the table's type and condition, and the reason
/// phrase as text (`HTTP <status>` for an unregistered status, so the text is never empty).
pub fn error_for_status(status: u16) -> Element {
    let (type_, condition) = condition_for_status(status);
    let fallback = format!("HTTP {status}");
    let text = reason_phrase(status).unwrap_or(&fallback);
    stanza::stanza_error(type_, condition, Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ns;

    #[test]
    fn table_matches_the_reference() {
        let cases = [
            (400, ErrorType::Modify, DefinedCondition::BadRequest),
            (401, ErrorType::Auth, DefinedCondition::NotAuthorized),
            (404, ErrorType::Cancel, DefinedCondition::ItemNotFound),
            (408, ErrorType::Wait, DefinedCondition::RemoteServerTimeout),
            (
                415,
                ErrorType::Cancel,
                DefinedCondition::FeatureNotImplemented,
            ),
            (422, ErrorType::Modify, DefinedCondition::BadRequest),
            (429, ErrorType::Wait, DefinedCondition::ResourceConstraint),
            (451, ErrorType::Auth, DefinedCondition::Forbidden),
            (500, ErrorType::Wait, DefinedCondition::InternalServerError),
            (
                501,
                ErrorType::Cancel,
                DefinedCondition::FeatureNotImplemented,
            ),
            (503, ErrorType::Cancel, DefinedCondition::ServiceUnavailable),
            (511, ErrorType::Auth, DefinedCondition::NotAuthorized),
            (418, ErrorType::Cancel, DefinedCondition::UndefinedCondition),
            (302, ErrorType::Cancel, DefinedCondition::UndefinedCondition),
        ];
        for (status, type_, condition) in cases {
            assert_eq!(condition_for_status(status), (type_, condition), "{status}");
        }
    }

    #[test]
    fn error_text_is_the_reason_phrase() {
        let error = error_for_status(404);
        assert_eq!(error.attr("type"), Some("cancel"));
        assert!(error.has_child("item-not-found", ns::STANZAS));
        assert_eq!(
            error.get_child("text", ns::STANZAS).map(Element::text),
            Some("Not Found".to_owned())
        );
        let odd = error_for_status(599);
        assert_eq!(
            odd.get_child("text", ns::STANZAS).map(Element::text),
            Some("HTTP 599".to_owned())
        );
        assert_eq!(reason_phrase(422), Some("Unprocessable Content"));
    }
}
