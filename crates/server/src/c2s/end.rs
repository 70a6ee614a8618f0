//! Why a c2s stream ends, whichever stage it is in: the value negotiation, SASL and the session
//! loop all return to the code that closes the stream.

use switchboard_xmpp::stanza::StreamCondition;

use super::TransportError;

/// Why a stream ends.
#[derive(Debug)]
pub enum End {
    /// Close with this stream error.
    Error(StreamCondition, Option<String>),
    /// The peer closed its stream (`</stream:stream>` or `<close/>`): answer in kind.
    PeerClosed,
    /// The connection is gone (I/O error, EOF): nothing more can be written.
    Gone,
}

impl End {
    pub fn error(condition: StreamCondition, text: &str) -> End {
        End::Error(condition, Some(text.to_owned()))
    }
}

impl From<TransportError> for End {
    fn from(e: TransportError) -> End {
        match e {
            TransportError::Framing(f) => End::Error(f.condition(), Some(f.to_string())),
            TransportError::Io(_) => End::Gone,
            TransportError::Protocol(what) => End::error(StreamCondition::BadFormat, what),
        }
    }
}

impl From<std::io::Error> for End {
    fn from(_: std::io::Error) -> End {
        End::Gone
    }
}
