//! One step API over every mechanism, so that a transport runs any of them the same way: it
//! feeds in the client's messages and the account lookups asked for, and sends what comes out.

use super::bearer::{BearerCredentials, INVALID_TOKEN, parse_external, parse_oauthbearer};
use super::credentials::{Decoy, StoredCredentials};
use super::error::SaslError;
use super::mechanism::Mechanism;
use super::plain::{PlainCredentials, parse_plain};
use super::scram::{ChannelBinding, ScramServer};

/// What the transport does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send `<challenge/>` with this data, then pass the client's `<response/>` to
    /// [`ServerExchange::respond`].
    Challenge(Vec<u8>),
    /// Look up this authentication identity (SASLprep'd, as the client sent it) and pass its
    /// credentials, or `None` when there is no such account, to [`ServerExchange::credentials`].
    Lookup(String),
    /// PLAIN: check this identity's password the way every plaintext password is checked
    /// (where verified ones may be remembered) and pass the answer to
    /// [`ServerExchange::password_checked`].
    CheckPassword(PlainCredentials),
    /// EXTERNAL: check that the stream carries an identity established by its transport and
    /// that this authorization identity (`None`: the client asks for no other) is that one,
    /// and pass the answer to [`ServerExchange::identity_checked`].
    External(Option<String>),
    /// OAUTHBEARER: verify this token (and its authorization identity against the token's
    /// subject) and pass the answer to [`ServerExchange::token_checked`].
    VerifyToken(BearerCredentials),
    /// Authenticated as the identity that was looked up; `additional` goes into `<success/>`.
    Success { additional: Option<Vec<u8>> },
}

enum State {
    /// Waiting for the client's first message.
    Start,
    PlainCheck,
    ExternalCheck,
    TokenCheck,
    /// A refused token was reported; the client's acknowledgement ends the exchange.
    TokenRefused,
    ScramLookup(ScramServer),
    ScramFinal(ScramServer),
    /// Succeeded or failed: nothing more to do.
    Done,
}

/// One authentication attempt on the server side.
pub struct ServerExchange {
    mechanism: Mechanism,
    channel: ChannelBinding,
    decoy: Decoy,
    state: State,
}

impl std::fmt::Debug for ServerExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerExchange")
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

impl ServerExchange {
    /// `decoy` fakes the answers about accounts that do not exist, at the cost of real ones.
    pub fn new(mechanism: Mechanism, channel: ChannelBinding, decoy: Decoy) -> ServerExchange {
        ServerExchange {
            mechanism,
            channel,
            decoy,
            state: State::Start,
        }
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The first step, given `<auth/>`'s initial response if it had one (RFC 6120 §6.4.2):
    /// without one, the client is asked for it with an empty challenge.
    pub fn start(&mut self, initial_response: Option<&[u8]>) -> Result<Step, SaslError> {
        match initial_response {
            Some(data) => self.respond(data),
            None if matches!(self.state, State::Start) => Ok(Step::Challenge(Vec::new())),
            None => {
                self.state = State::Done;
                Err(SaslError::OutOfOrder)
            }
        }
    }

    /// A `<response/>` from the client.
    pub fn respond(&mut self, data: &[u8]) -> Result<Step, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start if self.mechanism == Mechanism::Plain => {
                let plain = parse_plain(data)?;
                self.state = State::PlainCheck;
                Ok(Step::CheckPassword(plain))
            }
            State::Start if self.mechanism == Mechanism::External => {
                let authzid = parse_external(data)?;
                self.state = State::ExternalCheck;
                Ok(Step::External(authzid))
            }
            State::Start if self.mechanism == Mechanism::OAuthBearer => {
                let bearer = parse_oauthbearer(data)?;
                self.state = State::TokenCheck;
                Ok(Step::VerifyToken(bearer))
            }
            // RFC 7628 §3.2.3: the client answers the error with a single 0x01.
            State::TokenRefused if data == b"\x01" => Err(SaslError::NotAuthorized),
            State::TokenRefused => Err(SaslError::MalformedRequest),
            State::Start => {
                let mut server = ScramServer::new(self.mechanism, self.channel.clone())?
                    .with_decoy(self.decoy.clone());
                let username = server.client_first(data)?;
                self.state = State::ScramLookup(server);
                Ok(Step::Lookup(username))
            }
            State::ScramFinal(mut server) => Ok(Step::Success {
                additional: Some(server.client_final(data)?),
            }),
            _ => Err(SaslError::OutOfOrder),
        }
    }

    /// The result of the lookup [`Step::Lookup`] asked for.
    pub fn credentials(
        &mut self,
        credentials: Option<&StoredCredentials>,
    ) -> Result<Step, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::ScramLookup(mut server) => {
                let keys = self
                    .mechanism
                    .hash()
                    .zip(credentials)
                    .and_then(|(hash, credentials)| credentials.for_hash(hash));
                let server_first = server.server_first(keys);
                self.state = State::ScramFinal(server);
                Ok(Step::Challenge(server_first))
            }
            _ => Err(SaslError::OutOfOrder),
        }
    }

    /// The answer to [`Step::CheckPassword`].
    pub fn password_checked(&mut self, matches: bool) -> Result<Step, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::PlainCheck if matches => Ok(Step::Success { additional: None }),
            State::PlainCheck => Err(SaslError::NotAuthorized),
            _ => Err(SaslError::OutOfOrder),
        }
    }

    /// The answer to [`Step::External`]: whether the transport's identity is there and the
    /// authorization identity names it.
    pub fn identity_checked(&mut self, matches: bool) -> Result<Step, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::ExternalCheck if matches => Ok(Step::Success { additional: None }),
            State::ExternalCheck => Err(SaslError::NotAuthorized),
            _ => Err(SaslError::OutOfOrder),
        }
    }

    /// The answer to [`Step::VerifyToken`]. A refused token is reported to the client in a
    /// challenge first (RFC 7628 §3.2.2).
    pub fn token_checked(&mut self, valid: bool) -> Result<Step, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::TokenCheck if valid => Ok(Step::Success { additional: None }),
            State::TokenCheck => {
                self.state = State::TokenRefused;
                Ok(Step::Challenge(INVALID_TOKEN.to_vec()))
            }
            _ => Err(SaslError::OutOfOrder),
        }
    }
}

#[cfg(test)]
mod tests;
