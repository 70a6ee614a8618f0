//! The server side of SCRAM-SHA-1/-256 (RFC 5802, RFC 7677) and their -PLUS variants with
//! tls-exporter channel binding (RFC 9266): message parsing, proofs and signatures.

use std::fmt;
use std::mem;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use subtle::{Choice, ConstantTimeEq};

use super::credentials::{Decoy, ScramHash, ScramKeys};
use super::error::SaslError;
use super::mechanism::Mechanism;
use super::plain::prep_name;

/// 18 random bytes encode to 24 base64 characters without padding, all printable and comma-free.
const SERVER_NONCE_BYTES: usize = 18;
const TLS_EXPORTER: &str = "tls-exporter";

/// What the channel contributes to a -PLUS exchange.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ChannelBinding {
    /// The RFC 9266 tls-exporter keying material (32 bytes) when the channel is TLS 1.3.
    pub tls_exporter: Option<Vec<u8>>,
    /// Whether -PLUS mechanisms were advertised: a client saying it could bind but thinks we
    /// cannot (`y`) then reveals that someone stripped them.
    pub plus_offered: bool,
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelBinding")
            .field("tls_exporter", &self.tls_exporter.is_some())
            .field("plus_offered", &self.plus_offered)
            .finish()
    }
}

enum State {
    Initial,
    ClientFirst {
        username: String,
        /// gs2 header plus channel-binding data: what `c=` must decode to.
        cbind_input: Vec<u8>,
        client_first_bare: String,
        nonce: String,
    },
    ServerFirst {
        cbind_input: Vec<u8>,
        /// client-first-message-bare "," server-first-message: the fixed prefix of AuthMessage.
        auth_prefix: String,
        nonce: String,
        keys: ScramKeys,
        known_user: bool,
    },
    /// Succeeded or failed; either way the exchange cannot continue.
    Finished,
}

/// One server-side SCRAM exchange: `client_first`, `server_first`, `client_final`, in that order.
pub struct ScramServer {
    mechanism: Mechanism,
    hash: ScramHash,
    channel: ChannelBinding,
    server_nonce: String,
    decoy: Decoy,
    state: State,
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nonces, keys and channel-binding data must not end up in logs.
        f.debug_struct("ScramServer")
            .field("mechanism", &self.mechanism)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl ScramServer {
    /// A fresh exchange with a random server nonce and the per-process [`Decoy`];
    /// `InvalidMechanism` unless `mechanism` is a SCRAM one.
    pub fn new(mechanism: Mechanism, channel: ChannelBinding) -> Result<Self, SaslError> {
        let hash = mechanism.hash().ok_or(SaslError::InvalidMechanism)?;
        Ok(Self {
            mechanism,
            hash,
            channel,
            server_nonce: B64.encode(rand::random::<[u8; SERVER_NONCE_BYTES]>()),
            decoy: Decoy::per_process(),
            state: State::Initial,
        })
    }

    /// Sets how keys for unknown users are faked.
    pub fn with_decoy(mut self, decoy: Decoy) -> Self {
        self.decoy = decoy;
        self
    }

    /// Replaces the random server nonce, for reproducible exchanges (test vectors, fuzzing).
    /// RFC 5802 §5.1: printable ASCII other than ','; anything else is refused.
    pub fn with_server_nonce(mut self, nonce: &str) -> Result<Self, SaslError> {
        if nonce.is_empty() || !nonce.bytes().all(is_nonce_byte) {
            return Err(SaslError::MalformedRequest);
        }
        nonce.clone_into(&mut self.server_nonce);
        Ok(self)
    }

    /// Parses client-first-message; returns the username (SASLprep'd) so the caller can look up
    /// credentials.
    pub fn client_first(&mut self, msg: &[u8]) -> Result<String, SaslError> {
        if !matches!(
            mem::replace(&mut self.state, State::Finished),
            State::Initial
        ) {
            return Err(SaslError::OutOfOrder);
        }
        let msg = std::str::from_utf8(msg).map_err(|_| SaslError::MalformedRequest)?;

        let mut split = msg.splitn(3, ',');
        let (Some(flag), Some(authzid), Some(bare)) = (split.next(), split.next(), split.next())
        else {
            return Err(SaslError::MalformedRequest);
        };
        let binding = self.check_cbind_flag(flag)?;
        let gs2_header = &msg[..flag.len() + authzid.len() + 2];
        let authzid = match authzid {
            "" => None,
            a => Some(prep_name(&decode_saslname(attr(a, 'a')?)?)?),
        };

        let mut parts = bare.split(',');
        let first = parts.next().unwrap_or_default();
        if first.starts_with("m=") {
            return Err(SaslError::ExtensionsNotSupported);
        }
        let username = prep_name(&decode_saslname(attr(first, 'n')?)?)?;
        let client_nonce = attr(parts.next().ok_or(SaslError::MalformedRequest)?, 'r')?;
        if client_nonce.is_empty() || !client_nonce.bytes().all(is_nonce_byte) {
            return Err(SaslError::MalformedRequest);
        }
        parts.try_for_each(check_extension)?;
        if authzid.is_some_and(|a| a != username) {
            return Err(SaslError::InvalidAuthzid);
        }

        let mut cbind_input = gs2_header.as_bytes().to_vec();
        if let Some(data) = binding {
            cbind_input.extend_from_slice(data);
        }
        self.state = State::ClientFirst {
            username: username.clone(),
            cbind_input,
            client_first_bare: bare.to_owned(),
            nonce: format!("{client_nonce}{}", self.server_nonce),
        };
        Ok(username)
    }

    /// Validates the gs2-cbind-flag against the mechanism and channel; returns the
    /// channel-binding data the client committed to, if any.
    fn check_cbind_flag(&self, flag: &str) -> Result<Option<&[u8]>, SaslError> {
        let plus = self.mechanism.is_plus();
        match flag {
            "n" | "y" if plus => Err(SaslError::ChannelBindingRequired),
            "n" => Ok(None),
            "y" if self.channel.plus_offered => Err(SaslError::ChannelBindingDowngrade),
            "y" => Ok(None),
            _ => {
                let name = flag.strip_prefix("p=").ok_or(SaslError::MalformedRequest)?;
                let valid_name = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if !valid_name || !plus {
                    return Err(SaslError::MalformedRequest);
                }
                match self.channel.tls_exporter.as_deref() {
                    Some(data) if name == TLS_EXPORTER => Ok(Some(data)),
                    _ => Err(SaslError::UnsupportedChannelBinding),
                }
            }
        }
    }

    /// Given the account's keys, or `None` when it does not exist (the exchange then goes on
    /// with decoy keys, so that neither timing nor messages reveal which accounts exist),
    /// returns server-first-message. Called out of order it returns an empty message and the
    /// exchange fails at `client_final`.
    pub fn server_first(&mut self, keys: Option<&ScramKeys>) -> Vec<u8> {
        let State::ClientFirst {
            username,
            cbind_input,
            client_first_bare,
            nonce,
        } = mem::replace(&mut self.state, State::Finished)
        else {
            return Vec::new();
        };
        let (keys, known_user) = match keys {
            Some(keys) => (keys.clone(), true),
            None => (self.decoy.keys(self.hash, &username), false),
        };
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&keys.salt),
            keys.iterations
        );
        self.state = State::ServerFirst {
            cbind_input,
            auth_prefix: format!("{client_first_bare},{server_first}"),
            nonce,
            keys,
            known_user,
        };
        server_first.into_bytes()
    }

    /// Verifies client-final-message (channel binding data, nonce, proof in constant time); on
    /// success returns server-final-message ("v=…") for the `<success/>` payload.
    pub fn client_final(&mut self, msg: &[u8]) -> Result<Vec<u8>, SaslError> {
        let State::ServerFirst {
            cbind_input,
            auth_prefix,
            nonce,
            keys,
            known_user,
        } = mem::replace(&mut self.state, State::Finished)
        else {
            return Err(SaslError::OutOfOrder);
        };
        let hash = self.hash;
        let msg = std::str::from_utf8(msg).map_err(|_| SaslError::MalformedRequest)?;
        let (without_proof, proof) = msg.rsplit_once(',').ok_or(SaslError::MalformedRequest)?;
        let proof = b64_attr(proof, 'p')?;
        if proof.len() != hash.output_len() {
            return Err(SaslError::MalformedRequest);
        }
        let mut parts = without_proof.split(',');
        let cbind = b64_attr(parts.next().unwrap_or_default(), 'c')?;
        let echoed_nonce = attr(parts.next().ok_or(SaslError::MalformedRequest)?, 'r')?;
        parts.try_for_each(check_extension)?;

        let auth_message = format!("{auth_prefix},{without_proof}");
        let client_signature = hash.hmac(&keys.stored_key, &[auth_message.as_bytes()]);
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        // Decoy keys are unreachable anyway, but an unknown user must never authenticate.
        let proof_ok =
            hash.digest(&client_key).ct_eq(&keys.stored_key) & Choice::from(u8::from(known_user));

        if !bool::from(cbind_input.ct_eq(&cbind)) {
            return Err(SaslError::ChannelBindingMismatch);
        }
        if !bool::from(nonce.as_bytes().ct_eq(echoed_nonce.as_bytes()) & proof_ok) {
            return Err(SaslError::NotAuthorized);
        }
        let signature = hash.hmac(&keys.server_key, &[auth_message.as_bytes()]);
        Ok(format!("v={}", B64.encode(signature)).into_bytes())
    }
}

/// RFC 5802 §5.1: a nonce is printable ASCII without ','.
fn is_nonce_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

/// The value of a `key=value` attribute, checking the key.
fn attr(part: &str, key: char) -> Result<&str, SaslError> {
    part.strip_prefix(key)
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or(SaslError::MalformedRequest)
}

fn b64_attr(part: &str, key: char) -> Result<Vec<u8>, SaslError> {
    B64.decode(attr(part, key)?)
        .map_err(|_| SaslError::MalformedRequest)
}

/// RFC 5802 §7 optional extensions are skipped; 'm' is reserved for mandatory ones we lack.
fn check_extension(part: &str) -> Result<(), SaslError> {
    let mut chars = part.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some('m'), Some('='), _) => Err(SaslError::ExtensionsNotSupported),
        (Some(key), Some('='), Some(_)) if key.is_ascii_alphabetic() => Ok(()),
        _ => Err(SaslError::MalformedRequest),
    }
}

/// RFC 5802 §5.1: ',' and '=' travel as "=2C" and "=3D"; any other '=' is malformed.
fn decode_saslname(s: &str) -> Result<String, SaslError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escaped = &rest[i + 1..];
        if let Some(after) = escaped.strip_prefix("2C") {
            out.push(',');
            rest = after;
        } else if let Some(after) = escaped.strip_prefix("3D") {
            out.push('=');
            rest = after;
        } else {
            return Err(SaslError::MalformedRequest);
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;
