//! The `/rest` error table (mod_rest §4.1 plus our additions): each error's HTTP status and the
//! stanza error type and condition it is reported with.

use serde_json::json;

/// Every way a `/rest` request can be refused or fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestError {
    NoAuthz,
    Unauthz,
    MalformAuthz,
    PrepAuthz,
    Parse,
    InvalidJson,
    UnknownKind,
    InvalidPath,
    InvalidQuery,
    Xmlns,
    Name,
    To,
    From,
    FromAuth,
    IqType,
    IqTags,
    ResourceInUse,
    Forbidden,
    RateLimited,
    MediaType,
    Size,
    /// The request body did not arrive within the server's body timeout.
    BodyTimeout,
    Timeout,
    /// The server is at a limit (concurrent requests, connections) or took too long.
    Unavailable,
    Internal,
}

impl RestError {
    pub fn status(self) -> u16 {
        match self {
            RestError::NoAuthz => 401,
            RestError::Unauthz
            | RestError::MalformAuthz
            | RestError::PrepAuthz
            | RestError::FromAuth => 403,
            RestError::Parse
            | RestError::InvalidJson
            | RestError::UnknownKind
            | RestError::InvalidPath
            | RestError::InvalidQuery => 400,
            RestError::Xmlns
            | RestError::Name
            | RestError::To
            | RestError::From
            | RestError::IqType
            | RestError::IqTags => 422,
            RestError::ResourceInUse => 409,
            RestError::Forbidden => 403,
            RestError::RateLimited => 429,
            RestError::MediaType => 415,
            RestError::Size => 413,
            RestError::BodyTimeout => 408,
            // mod_rest answers 500 on an iq timeout; a gateway timeout is what it is.
            RestError::Timeout => 504,
            RestError::Internal => 500,
            RestError::Unavailable => 503,
        }
    }

    /// The stanza error type (`auth`, `modify`, `cancel`, `wait`).
    pub fn error_type(self) -> &'static str {
        match self {
            RestError::NoAuthz
            | RestError::Unauthz
            | RestError::MalformAuthz
            | RestError::PrepAuthz
            | RestError::FromAuth => "auth",
            RestError::MediaType | RestError::ResourceInUse => "cancel",
            RestError::Forbidden => "auth",
            RestError::RateLimited => "wait",
            RestError::Timeout
            | RestError::Internal
            | RestError::BodyTimeout
            | RestError::Unavailable => "wait",
            _ => "modify",
        }
    }

    pub fn condition(self) -> &'static str {
        match self {
            RestError::NoAuthz
            | RestError::Unauthz
            | RestError::MalformAuthz
            | RestError::PrepAuthz
            | RestError::FromAuth => "not-authorized",
            RestError::Parse | RestError::InvalidJson => "not-well-formed",
            RestError::UnknownKind | RestError::InvalidPath | RestError::InvalidQuery => {
                "bad-request"
            }
            RestError::Xmlns => "invalid-namespace",
            RestError::Name => "unsupported-stanza-type",
            RestError::To => "improper-addressing",
            RestError::From => "invalid-from",
            RestError::IqType => "invalid-xml",
            RestError::IqTags | RestError::MediaType => "bad-format",
            RestError::Size => "resource-constraint",
            RestError::ResourceInUse => "conflict",
            RestError::Forbidden => "forbidden",
            RestError::RateLimited => "policy-violation",
            RestError::Timeout => "remote-server-timeout",
            RestError::BodyTimeout => "connection-timeout",
            RestError::Unavailable => "resource-constraint",
            RestError::Internal => "internal-server-error",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            RestError::NoAuthz => "No credentials provided",
            RestError::Unauthz => "Credentials not accepted",
            RestError::MalformAuthz => "Credentials malformed",
            RestError::PrepAuthz => "Credentials failed stringprep",
            RestError::Parse => "Failed to parse payload",
            RestError::InvalidJson => "JSON payload must be an object",
            RestError::UnknownKind => "Unknown stanza kind",
            RestError::InvalidPath => "Invalid request path",
            RestError::InvalidQuery => "Query string must be form-encoded key=value pairs",
            RestError::Xmlns => "'xmlns' attribute must be empty",
            RestError::Name => "Invalid stanza, must be 'message', 'presence' or 'iq'.",
            RestError::To => "Invalid destination JID",
            RestError::From => "Invalid source JID",
            RestError::FromAuth => "Not authorized to send stanza with requested 'from'",
            RestError::IqType => "'iq' stanza must be of type 'get' or 'set'",
            RestError::IqTags => "'iq' stanza must have exactly one child tag",
            RestError::ResourceInUse => "An iq with this id from this JID is already waiting",
            RestError::Forbidden => "Refused by an access rule",
            RestError::RateLimited => "Too many requests",
            RestError::MediaType => "Unsupported media type",
            RestError::Size => "Payload too large",
            RestError::BodyTimeout => "Request body not received in time",
            RestError::Timeout => "IQ stanza timed out",
            RestError::Unavailable => "Service unavailable",
            RestError::Internal => "Internal server error",
        }
    }

    fn full_text(self, detail: Option<&str>) -> String {
        match detail {
            Some(detail) => format!("{}: {}", self.text(), detail),
            None => self.text().to_owned(),
        }
    }

    /// The JSON error body: `{"type":"error","error":{…},"code":N}` (mod_rest §7).
    pub fn json_body(self, detail: Option<&str>) -> serde_json::Value {
        let error = json!({
            "type": self.error_type(),
            "condition": self.condition(),
            "text": self.full_text(detail),
            "source": "switchboard",
        });
        json!({ "type": "error", "error": error, "code": self.status() })
    }

    /// The XML error body: a stream-error-shaped `<error/>` (mod_rest §7).
    pub fn xml_body(self, detail: Option<&str>) -> minidom::Element {
        let text = self.full_text(detail);
        minidom::Element::builder("error", crate::ns::STREAM)
            .append(minidom::Element::bare(
                self.condition(),
                crate::ns::STREAMS_ERRORS,
            ))
            .append(
                minidom::Element::builder("text", crate::ns::STREAMS_ERRORS)
                    .append(text)
                    .build(),
            )
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_reference() {
        assert_eq!(RestError::NoAuthz.status(), 401);
        assert_eq!(RestError::FromAuth.status(), 403);
        assert_eq!(RestError::To.condition(), "improper-addressing");
        assert_eq!(RestError::Size.status(), 413);
        assert_eq!(RestError::MediaType.status(), 415);
        assert_eq!(RestError::IqTags.status(), 422);
        assert_eq!(RestError::Timeout.status(), 504);
        assert_eq!(RestError::BodyTimeout.status(), 408);
        assert_eq!(RestError::Unavailable.status(), 503);
        assert_eq!(RestError::Unavailable.error_type(), "wait");
    }

    #[test]
    fn json_body_shape() {
        let body = RestError::To.json_body(None);
        assert_eq!(body["code"], 422);
        assert_eq!(body["error"]["condition"], "improper-addressing");
        assert_eq!(body["error"]["type"], "modify");
        let body = RestError::Parse.json_body(Some("line 1"));
        assert_eq!(body["error"]["text"], "Failed to parse payload: line 1");
    }

    #[test]
    fn xml_body_shape() {
        let el = RestError::Unauthz.xml_body(None);
        assert!(el.has_child("not-authorized", crate::ns::STREAMS_ERRORS));
    }
}
