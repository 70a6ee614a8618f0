//! Server-side SASL (RFC 4422) for XMPP (RFC 6120 §6): PLAIN, SCRAM (with channel binding),
//! EXTERNAL and OAUTHBEARER, one step API over all of them, and their elements on the wire.

mod bearer;
mod credentials;
mod error;
mod exchange;
mod mechanism;
mod nonza;
mod plain;
mod scram;

pub use bearer::{BearerCredentials, INVALID_TOKEN, parse_external, parse_oauthbearer};
pub use credentials::{
    CredentialsError, Decoy, MIN_ITERATIONS, SALT_LEN, ScramHash, ScramKeys, StoredCredentials,
};
pub use error::{SaslCondition, SaslError};
pub use exchange::{ServerExchange, Step};
pub use mechanism::Mechanism;
pub use nonza::{ClientNonza, challenge, failure, success};
pub use plain::{PlainCredentials, parse_plain};
pub use scram::{ChannelBinding, ScramServer};
