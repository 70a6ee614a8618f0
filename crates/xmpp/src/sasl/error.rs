//! Why a SASL exchange fails, and the RFC 6120 §6.5 condition that tells the client (several
//! failures share one on purpose).

pub use xmpp_parsers::sasl::DefinedCondition as SaslCondition;

/// A failed step of an exchange. Several errors share a condition on purpose: the client
/// learns no more than RFC 6120 §6.5 lets it (a wrong password and an unknown user look alike).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SaslError {
    #[error("malformed SASL message")]
    MalformedRequest,
    #[error("SASL payload is not valid base64")]
    IncorrectEncoding,
    #[error("mechanism not offered or unknown")]
    InvalidMechanism,
    #[error("SASL exchange step called out of order")]
    OutOfOrder,
    #[error("authorization identity differs from the authenticated account")]
    InvalidAuthzid,
    #[error("authentication failed")]
    NotAuthorized,
    #[error("channel binding data does not match")]
    ChannelBindingMismatch,
    #[error("requested channel binding type is not available")]
    UnsupportedChannelBinding,
    #[error("a -PLUS mechanism was chosen without channel binding")]
    ChannelBindingRequired,
    #[error("client claims no channel binding support on our side, but -PLUS was offered")]
    ChannelBindingDowngrade,
    #[error("mandatory SCRAM extension not supported")]
    ExtensionsNotSupported,
}

impl SaslError {
    /// The condition to report in `<failure/>`.
    pub fn condition(&self) -> SaslCondition {
        match self {
            SaslError::MalformedRequest
            | SaslError::OutOfOrder
            | SaslError::UnsupportedChannelBinding
            | SaslError::ChannelBindingRequired
            | SaslError::ExtensionsNotSupported => SaslCondition::MalformedRequest,
            SaslError::IncorrectEncoding => SaslCondition::IncorrectEncoding,
            SaslError::InvalidMechanism => SaslCondition::InvalidMechanism,
            SaslError::InvalidAuthzid => SaslCondition::InvalidAuthzid,
            SaslError::NotAuthorized
            | SaslError::ChannelBindingMismatch
            | SaslError::ChannelBindingDowngrade => SaslCondition::NotAuthorized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_sasl_conditions() {
        for (error, condition) in [
            (SaslError::NotAuthorized, SaslCondition::NotAuthorized),
            (SaslError::InvalidAuthzid, SaslCondition::InvalidAuthzid),
            (SaslError::MalformedRequest, SaslCondition::MalformedRequest),
            (
                SaslError::IncorrectEncoding,
                SaslCondition::IncorrectEncoding,
            ),
            (SaslError::InvalidMechanism, SaslCondition::InvalidMechanism),
            (
                SaslError::ChannelBindingMismatch,
                SaslCondition::NotAuthorized,
            ),
            (
                SaslError::ChannelBindingRequired,
                SaslCondition::MalformedRequest,
            ),
        ] {
            assert_eq!(error.condition(), condition, "{error}");
        }
    }
}
