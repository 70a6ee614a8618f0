//! Why a c2s stream ends, whichever stage it is in: the value negotiation, SASL and the session
//! loop all return to the code that closes the stream.

use minidom::Element;
use switchboard_xmpp::framing::StreamEvent;
use switchboard_xmpp::stanza::{self, StreamCondition};

use super::{Transport, TransportError};

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

    /// The link failed rather than the client leaving or breaking a rule: a session that
    /// may be resumed waits for its client to come back.
    pub fn is_link_loss(&self) -> bool {
        matches!(
            self,
            End::Gone | End::Error(StreamCondition::ConnectionTimeout, _)
        )
    }

    /// What to write before closing: `None` when nothing can be written any more, else the
    /// stream error to send, if any.
    pub fn farewell(self) -> Option<Option<Element>> {
        match self {
            End::Gone => None,
            End::PeerClosed => Some(None),
            End::Error(condition, text) => {
                Some(Some(stanza::stream_error(condition, text.as_deref())))
            }
        }
    }
}

/// How the stream ended, for the session's log line.
impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Error(condition, _) => write!(f, "stream error {condition:?}"),
            End::PeerClosed => f.write_str("closed by the client"),
            End::Gone => f.write_str("connection lost"),
        }
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

/// The next top-level element; a stream close, a new header or a lost connection end the stream.
pub async fn next_element<T: Transport>(t: &mut T) -> Result<Element, End> {
    match t.next_event().await? {
        Some(StreamEvent::Element(el)) => Ok(el),
        Some(StreamEvent::Close) => Err(End::PeerClosed),
        Some(StreamEvent::Open(_)) => Err(End::error(
            StreamCondition::BadFormat,
            "Unexpected stream header",
        )),
        None => Err(End::Gone),
    }
}
