//! Server side of SASL SCRAM-SHA-1/-256 (RFC 5802, RFC 7677), their -PLUS variants with
//! tls-exporter channel binding (RFC 9266) and PLAIN (RFC 4616); IO-free, storing only derived keys.

use std::fmt;
use std::mem;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use stringprep::saslprep;
use subtle::{Choice, ConstantTimeEq};

/// RFC 7677 §4: the minimum iteration count a server should accept for new credentials.
pub const MIN_ITERATIONS: u32 = 4096;

const SALT_LEN: usize = 16;
/// 18 random bytes encode to 24 base64 characters without padding, all printable and comma-free.
const SERVER_NONCE_BYTES: usize = 18;
const TLS_EXPORTER: &str = "tls-exporter";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramHash {
    Sha1,
    Sha256,
}

impl ScramHash {
    fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => hmac_parts::<Hmac<Sha1>>(key, parts),
            ScramHash::Sha256 => hmac_parts::<Hmac<Sha256>>(key, parts),
        }
    }

    /// RFC 5802 §3: SaltedPassword, then ClientKey → StoredKey and ServerKey.
    fn keys(self, prepped_password: &str, salt: Vec<u8>, iterations: u32) -> ScramKeys {
        let mut salted = vec![0; self.output_len()];
        let password = prepped_password.as_bytes();
        match self {
            ScramHash::Sha1 => {
                pbkdf2::pbkdf2_hmac::<Sha1>(password, &salt, iterations, &mut salted)
            }
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, &salt, iterations, &mut salted)
            }
        }
        let client_key = self.hmac(&salted, &[b"Client Key"]);
        ScramKeys {
            salt,
            iterations,
            stored_key: self.digest(&client_key),
            server_key: self.hmac(&salted, &[b"Server Key"]),
        }
    }
}

fn hmac_parts<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC hashes over-long keys and pads short ones, so no key length is rejected.
    let mut mac =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        Mac::update(&mut mac, part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// What the store keeps per account and hash; never the password.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScramKeys {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredCredentials {
    pub sha1: ScramKeys,
    pub sha256: ScramKeys,
}

impl StoredCredentials {
    /// Derives both key sets from a password (saslprep'd first) with a fresh random 16-byte salt each.
    pub fn derive(password: &str, iterations: u32) -> Result<Self, AuthError> {
        if iterations < MIN_ITERATIONS {
            return Err(AuthError::IterationsTooLow(iterations));
        }
        let prepped = saslprep(password).map_err(|_| AuthError::InvalidPassword)?;
        if prepped.is_empty() {
            return Err(AuthError::InvalidPassword);
        }
        Ok(Self {
            sha1: ScramHash::Sha1.keys(&prepped, fresh_salt(), iterations),
            sha256: ScramHash::Sha256.keys(&prepped, fresh_salt(), iterations),
        })
    }

    /// Constant-time check of a plaintext password (used by SASL PLAIN and HTTP Basic).
    pub fn verify_password(&self, password: &str) -> bool {
        let Ok(prepped) = saslprep(password) else {
            return false;
        };
        let stored = &self.sha256;
        let derived = ScramHash::Sha256.keys(&prepped, stored.salt.clone(), stored.iterations);
        derived.stored_key.ct_eq(&stored.stored_key).into()
    }

    /// The key set a SCRAM exchange with `hash` runs against.
    pub fn for_hash(&self, hash: ScramHash) -> &ScramKeys {
        match hash {
            ScramHash::Sha1 => &self.sha1,
            ScramHash::Sha256 => &self.sha256,
        }
    }
}

fn fresh_salt() -> Vec<u8> {
    rand::random::<[u8; SALT_LEN]>().to_vec()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("malformed SASL message")]
    MalformedRequest,
    #[error("mechanism cannot run a SCRAM exchange")]
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
    #[error("password is empty or fails SASLprep")]
    InvalidPassword,
    #[error("iteration count {0} is below the minimum of {MIN_ITERATIONS}")]
    IterationsTooLow(u32),
}

impl AuthError {
    /// The RFC 6120 §6.5 SASL failure condition to report in `<failure/>`.
    pub fn sasl_condition(&self) -> &'static str {
        match self {
            AuthError::MalformedRequest
            | AuthError::OutOfOrder
            | AuthError::UnsupportedChannelBinding
            | AuthError::ChannelBindingRequired
            | AuthError::ExtensionsNotSupported => "malformed-request",
            AuthError::InvalidMechanism => "invalid-mechanism",
            AuthError::InvalidAuthzid => "invalid-authzid",
            AuthError::NotAuthorized
            | AuthError::ChannelBindingMismatch
            | AuthError::ChannelBindingDowngrade
            | AuthError::InvalidPassword => "not-authorized",
            AuthError::IterationsTooLow(_) => "temporary-auth-failure",
        }
    }
}

/// The mechanisms we can offer, by name as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    ScramSha1,
    ScramSha1Plus,
    ScramSha256,
    ScramSha256Plus,
    Plain,
}

impl Mechanism {
    /// Every mechanism, strongest first, which is the order to advertise them in.
    pub const ALL: [Mechanism; 5] = [
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ];

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::Plain => "PLAIN",
        }
    }

    pub fn hash(&self) -> Option<ScramHash> {
        match self {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => Some(ScramHash::Sha256),
            Mechanism::Plain => None,
        }
    }

    pub fn is_plus(&self) -> bool {
        matches!(self, Mechanism::ScramSha1Plus | Mechanism::ScramSha256Plus)
    }
}

enum State {
    Initial,
    ClientFirst {
        hash: ScramHash,
        username: String,
        /// gs2 header plus channel-binding data: what `c=` must decode to.
        cbind_input: Vec<u8>,
        client_first_bare: String,
        nonce: String,
    },
    ServerFirst {
        hash: ScramHash,
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
    channel_binding: Option<Vec<u8>>,
    plus_offered: bool,
    server_nonce: String,
    decoy_secret: Vec<u8>,
    decoy_iterations: u32,
    state: State,
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nonces, keys and channel-binding data must not end up in logs.
        f.debug_struct("ScramServer")
            .field("mechanism", &self.mechanism)
            .field("plus_offered", &self.plus_offered)
            .finish_non_exhaustive()
    }
}

impl ScramServer {
    /// `channel_binding`: the tls-exporter keying material (32 bytes) when the transport is TLS 1.3, else None.
    /// `plus_offered`: whether -PLUS mechanisms were advertised (needed for the 'y' downgrade check).
    pub fn new(mechanism: Mechanism, channel_binding: Option<Vec<u8>>, plus_offered: bool) -> Self {
        Self {
            mechanism,
            channel_binding,
            plus_offered,
            server_nonce: B64.encode(rand::random::<[u8; SERVER_NONCE_BYTES]>()),
            decoy_secret: process_decoy_secret().to_vec(),
            decoy_iterations: MIN_ITERATIONS,
            state: State::Initial,
        }
    }

    /// Sets how keys for unknown users are faked. Pass a secret that survives restarts and the
    /// iteration count real credentials are derived with, or the decoys become recognisable.
    /// Without this, a per-process random secret and [`MIN_ITERATIONS`] are used.
    pub fn with_decoy(mut self, secret: &[u8], iterations: u32) -> Self {
        self.decoy_secret = secret.to_vec();
        self.decoy_iterations = iterations;
        self
    }

    #[cfg(test)]
    fn with_server_nonce(mut self, nonce: &str) -> Self {
        self.server_nonce = nonce.to_owned();
        self
    }

    /// Parses client-first-message; returns the username (saslprep'd, as sent) so the caller can look up credentials.
    pub fn client_first(&mut self, msg: &[u8]) -> Result<String, AuthError> {
        if !matches!(
            mem::replace(&mut self.state, State::Finished),
            State::Initial
        ) {
            return Err(AuthError::OutOfOrder);
        }
        let hash = self.mechanism.hash().ok_or(AuthError::InvalidMechanism)?;
        let msg = std::str::from_utf8(msg).map_err(|_| AuthError::MalformedRequest)?;

        let mut split = msg.splitn(3, ',');
        let (Some(flag), Some(authzid), Some(bare)) = (split.next(), split.next(), split.next())
        else {
            return Err(AuthError::MalformedRequest);
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
            return Err(AuthError::ExtensionsNotSupported);
        }
        let username = prep_name(&decode_saslname(attr(first, 'n')?)?)?;
        let client_nonce = attr(parts.next().ok_or(AuthError::MalformedRequest)?, 'r')?;
        let printable = |b: u8| (0x21..=0x7e).contains(&b);
        if client_nonce.is_empty() || !client_nonce.bytes().all(printable) {
            return Err(AuthError::MalformedRequest);
        }
        parts.try_for_each(check_extension)?;
        if authzid.is_some_and(|a| a != username) {
            return Err(AuthError::InvalidAuthzid);
        }

        let mut cbind_input = gs2_header.as_bytes().to_vec();
        if let Some(data) = binding {
            cbind_input.extend_from_slice(data);
        }
        self.state = State::ClientFirst {
            hash,
            username: username.clone(),
            cbind_input,
            client_first_bare: bare.to_owned(),
            nonce: format!("{client_nonce}{}", self.server_nonce),
        };
        Ok(username)
    }

    /// Validates the gs2-cbind-flag against the mechanism and transport; returns the
    /// channel-binding data the client committed to, if any.
    fn check_cbind_flag(&self, flag: &str) -> Result<Option<&[u8]>, AuthError> {
        let plus = self.mechanism.is_plus();
        match flag {
            "n" | "y" if plus => Err(AuthError::ChannelBindingRequired),
            "n" => Ok(None),
            // 'y' means "I could bind but you can't"; if we offered -PLUS, someone stripped it.
            "y" if self.plus_offered => Err(AuthError::ChannelBindingDowngrade),
            "y" => Ok(None),
            _ => {
                let name = flag.strip_prefix("p=").ok_or(AuthError::MalformedRequest)?;
                let valid_name = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if !valid_name || !plus {
                    return Err(AuthError::MalformedRequest);
                }
                match self.channel_binding.as_deref() {
                    Some(data) if name == TLS_EXPORTER => Ok(Some(data)),
                    _ => Err(AuthError::UnsupportedChannelBinding),
                }
            }
        }
    }

    /// Given the account's keys (or None when the user does not exist: then continue with fake
    /// keys derived deterministically from the username and a server secret so that timing and
    /// messages do not reveal which accounts exist), returns server-first-message.
    /// Called out of order it returns an empty message and the exchange fails at `client_final`.
    pub fn server_first(&mut self, keys: Option<&ScramKeys>) -> Vec<u8> {
        let State::ClientFirst {
            hash,
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
            None => (
                decoy_keys(hash, &username, &self.decoy_secret, self.decoy_iterations),
                false,
            ),
        };
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&keys.salt),
            keys.iterations
        );
        self.state = State::ServerFirst {
            hash,
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
    pub fn client_final(&mut self, msg: &[u8]) -> Result<Vec<u8>, AuthError> {
        let State::ServerFirst {
            hash,
            cbind_input,
            auth_prefix,
            nonce,
            keys,
            known_user,
        } = mem::replace(&mut self.state, State::Finished)
        else {
            return Err(AuthError::OutOfOrder);
        };
        let msg = std::str::from_utf8(msg).map_err(|_| AuthError::MalformedRequest)?;
        let (without_proof, proof) = msg.rsplit_once(',').ok_or(AuthError::MalformedRequest)?;
        let proof = b64_attr(proof, 'p')?;
        if proof.len() != hash.output_len() {
            return Err(AuthError::MalformedRequest);
        }
        let mut parts = without_proof.split(',');
        let cbind = b64_attr(parts.next().unwrap_or_default(), 'c')?;
        let echoed_nonce = attr(parts.next().ok_or(AuthError::MalformedRequest)?, 'r')?;
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
            return Err(AuthError::ChannelBindingMismatch);
        }
        if !bool::from(nonce.as_bytes().ct_eq(echoed_nonce.as_bytes()) & proof_ok) {
            return Err(AuthError::NotAuthorized);
        }
        let signature = hash.hmac(&keys.server_key, &[auth_message.as_bytes()]);
        Ok(format!("v={}", B64.encode(signature)).into_bytes())
    }
}

/// A random secret for decoy keys, fixed for the life of the process so that repeated probes
/// of one unknown name see the same salt, as they would for a real account.
fn process_decoy_secret() -> &'static [u8; 32] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(rand::random)
}

/// Keys indistinguishable from real ones without the secret; no password reaches them, so no
/// proof can verify.
fn decoy_keys(hash: ScramHash, username: &str, secret: &[u8], iterations: u32) -> ScramKeys {
    let label: &[u8] = match hash {
        ScramHash::Sha1 => b"SCRAM-SHA-1",
        ScramHash::Sha256 => b"SCRAM-SHA-256",
    };
    let user = username.as_bytes();
    let mut salt = ScramHash::Sha256.hmac(secret, &[b"salt\0", label, b"\0", user]);
    salt.truncate(SALT_LEN);
    ScramKeys {
        salt,
        iterations,
        stored_key: hash.hmac(secret, &[b"stored\0", label, b"\0", user]),
        server_key: hash.hmac(secret, &[b"server\0", label, b"\0", user]),
    }
}

/// The value of a `key=value` attribute, checking the key.
fn attr(part: &str, key: char) -> Result<&str, AuthError> {
    part.strip_prefix(key)
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or(AuthError::MalformedRequest)
}

fn b64_attr(part: &str, key: char) -> Result<Vec<u8>, AuthError> {
    B64.decode(attr(part, key)?)
        .map_err(|_| AuthError::MalformedRequest)
}

/// RFC 5802 §7 optional extensions are skipped; 'm' is reserved for mandatory ones we lack.
fn check_extension(part: &str) -> Result<(), AuthError> {
    let mut chars = part.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some('m'), Some('='), _) => Err(AuthError::ExtensionsNotSupported),
        (Some(key), Some('='), Some(_)) if key.is_ascii_alphabetic() => Ok(()),
        _ => Err(AuthError::MalformedRequest),
    }
}

/// RFC 5802 §5.1: ',' and '=' travel as "=2C" and "=3D"; any other '=' is malformed.
fn decode_saslname(s: &str) -> Result<String, AuthError> {
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
            return Err(AuthError::MalformedRequest);
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// RFC 5802 §5.1: the server aborts if SASLprep fails or leaves nothing.
fn prep_name(name: &str) -> Result<String, AuthError> {
    match saslprep(name) {
        Ok(prepped) if !prepped.is_empty() => Ok(prepped.into_owned()),
        _ => Err(AuthError::MalformedRequest),
    }
}

/// PLAIN: parses "authzid\0authcid\0passwd"; returns (authcid, password). An authzid other than
/// empty or equal to the account is InvalidAuthzid. The authcid comes back saslprep'd, the
/// password as sent, since [`StoredCredentials::verify_password`] prepares it.
pub fn parse_plain(msg: &[u8]) -> Result<(String, String), AuthError> {
    let mut fields = msg.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(AuthError::MalformedRequest);
    };
    let utf8 = |field| std::str::from_utf8(field).map_err(|_| AuthError::MalformedRequest);
    let (authzid, authcid, password) = (utf8(authzid)?, utf8(authcid)?, utf8(password)?);
    if password.is_empty() {
        return Err(AuthError::MalformedRequest);
    }
    let authcid = prep_name(authcid)?;
    if !authzid.is_empty() && saslprep(authzid).ok().as_deref() != Some(authcid.as_str()) {
        return Err(AuthError::InvalidAuthzid);
    }
    Ok((authcid, password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CB_DATA: [u8; 32] = [7; 32];

    fn keys(hash: ScramHash, password: &str, salt_b64: &str) -> ScramKeys {
        hash.keys(password, B64.decode(salt_b64).unwrap(), 4096)
    }

    /// The client half of the proof, for exchanges the RFC vectors do not cover.
    fn client_final_message(
        hash: ScramHash,
        password: &str,
        client_first_bare: &str,
        server_first: &[u8],
        cbind_input: &[u8],
    ) -> Vec<u8> {
        let server_first = std::str::from_utf8(server_first).unwrap();
        let mut attrs = server_first.split(',');
        let nonce = attr(attrs.next().unwrap(), 'r').unwrap();
        let salt = b64_attr(attrs.next().unwrap(), 's').unwrap();
        let iterations = attr(attrs.next().unwrap(), 'i').unwrap().parse().unwrap();
        let mut salted = vec![0; hash.output_len()];
        match hash {
            ScramHash::Sha1 => {
                pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), &salt, iterations, &mut salted)
            }
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted)
            }
        }
        let client_key = hash.hmac(&salted, &[b"Client Key"]);
        let stored_key = hash.digest(&client_key);
        let without_proof = format!("c={},r={nonce}", B64.encode(cbind_input));
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hash.hmac(&stored_key, &[auth_message.as_bytes()]);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        format!("{without_proof},p={}", B64.encode(proof)).into_bytes()
    }

    /// Runs an exchange for "user"/"pencil" up to server-first; returns the server and that message.
    fn started(
        mechanism: Mechanism,
        channel_binding: Option<Vec<u8>>,
        gs2_header: &str,
    ) -> (ScramServer, Vec<u8>) {
        // PBKDF2 once per hash, not once per proptest case.
        static SHA1: OnceLock<ScramKeys> = OnceLock::new();
        static SHA256: OnceLock<ScramKeys> = OnceLock::new();
        let hash = mechanism.hash().unwrap();
        let cell = match hash {
            ScramHash::Sha1 => &SHA1,
            ScramHash::Sha256 => &SHA256,
        };
        let creds = cell.get_or_init(|| hash.keys("pencil", vec![1; SALT_LEN], 4096));
        let mut server = ScramServer::new(mechanism, channel_binding, true);
        let first = format!("{gs2_header}n=user,r=clientnonce");
        assert_eq!(server.client_first(first.as_bytes()).unwrap(), "user");
        let server_first = server.server_first(Some(creds));
        (server, server_first)
    }

    #[test]
    fn rfc5802_sha1_vector() {
        let keys = keys(ScramHash::Sha1, "pencil", "QSXCR+Q6sek8bf92");
        let mut server = ScramServer::new(Mechanism::ScramSha1, None, false)
            .with_server_nonce("3rfcNHYJY1ZVvWVs7j");
        let user = server
            .client_first(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
            .unwrap();
        assert_eq!(user, "user");
        assert_eq!(
            server.server_first(Some(&keys)),
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
        );
        let server_final = server
            .client_final(
                b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            )
            .unwrap();
        assert_eq!(server_final, b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    }

    #[test]
    fn rfc7677_sha256_vector() {
        let keys = keys(ScramHash::Sha256, "pencil", "W22ZaJ0SNY7soEsUEjb6gQ==");
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false)
            .with_server_nonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        assert_eq!(
            server
                .client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
                .unwrap(),
            "user"
        );
        assert_eq!(
            server.server_first(Some(&keys)),
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let server_final = server
            .client_final(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                  p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            )
            .unwrap();
        assert_eq!(
            server_final,
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn wrong_password_is_not_authorized() {
        let (mut server, server_first) = started(Mechanism::ScramSha256, None, "n,,");
        let msg = client_final_message(
            ScramHash::Sha256,
            "pencils",
            "n=user,r=clientnonce",
            &server_first,
            b"n,,",
        );
        assert_eq!(server.client_final(&msg), Err(AuthError::NotAuthorized));
    }

    #[test]
    fn channel_binding_success() {
        for mechanism in [Mechanism::ScramSha1Plus, Mechanism::ScramSha256Plus] {
            let header = "p=tls-exporter,,";
            let (mut server, server_first) = started(mechanism, Some(CB_DATA.to_vec()), header);
            let cbind_input = [header.as_bytes(), &CB_DATA].concat();
            let msg = client_final_message(
                mechanism.hash().unwrap(),
                "pencil",
                "n=user,r=clientnonce",
                &server_first,
                &cbind_input,
            );
            assert!(server.client_final(&msg).unwrap().starts_with(b"v="));
        }
    }

    #[test]
    fn channel_binding_mismatch() {
        let header = "p=tls-exporter,,";
        let (mut server, server_first) =
            started(Mechanism::ScramSha256Plus, Some(CB_DATA.to_vec()), header);
        let cbind_input = [header.as_bytes(), &[8; 32]].concat();
        let msg = client_final_message(
            ScramHash::Sha256,
            "pencil",
            "n=user,r=clientnonce",
            &server_first,
            &cbind_input,
        );
        assert_eq!(
            server.client_final(&msg),
            Err(AuthError::ChannelBindingMismatch)
        );
    }

    #[test]
    fn gs2_header_must_match_c_attribute() {
        let (mut server, server_first) = started(Mechanism::ScramSha256, None, "n,,");
        let msg = client_final_message(
            ScramHash::Sha256,
            "pencil",
            "n=user,r=clientnonce",
            &server_first,
            b"y,,",
        );
        assert_eq!(
            server.client_final(&msg),
            Err(AuthError::ChannelBindingMismatch)
        );
    }

    #[test]
    fn y_flag_is_a_downgrade_when_plus_was_offered() {
        let mut server = ScramServer::new(Mechanism::ScramSha256, Some(CB_DATA.to_vec()), true);
        assert_eq!(
            server.client_first(b"y,,n=user,r=abc"),
            Err(AuthError::ChannelBindingDowngrade)
        );
    }

    #[test]
    fn y_flag_is_accepted_when_plus_was_not_offered() {
        let creds = ScramHash::Sha1.keys("pencil", vec![2; SALT_LEN], 4096);
        let mut server = ScramServer::new(Mechanism::ScramSha1, None, false);
        server.client_first(b"y,,n=user,r=clientnonce").unwrap();
        let server_first = server.server_first(Some(&creds));
        let msg = client_final_message(
            ScramHash::Sha1,
            "pencil",
            "n=user,r=clientnonce",
            &server_first,
            b"y,,",
        );
        assert!(server.client_final(&msg).is_ok());
    }

    #[test]
    fn channel_binding_flag_must_fit_mechanism_and_transport() {
        let check = |mechanism, binding: Option<&[u8]>, msg: &str, expected| {
            let mut server = ScramServer::new(mechanism, binding.map(<[u8]>::to_vec), true);
            let first = format!("{msg}n=user,r=abc");
            assert_eq!(
                server.client_first(first.as_bytes()),
                Err(expected),
                "{msg}"
            );
        };
        let plus = Mechanism::ScramSha256Plus;
        check(
            plus,
            None,
            "p=tls-exporter,,",
            AuthError::UnsupportedChannelBinding,
        );
        check(
            plus,
            Some(&CB_DATA),
            "p=tls-unique,,",
            AuthError::UnsupportedChannelBinding,
        );
        check(
            plus,
            Some(&CB_DATA),
            "n,,",
            AuthError::ChannelBindingRequired,
        );
        check(
            plus,
            Some(&CB_DATA),
            "y,,",
            AuthError::ChannelBindingRequired,
        );
        check(plus, Some(&CB_DATA), "p=,,", AuthError::MalformedRequest);
        let plain = Mechanism::ScramSha256;
        check(
            plain,
            Some(&CB_DATA),
            "p=tls-exporter,,",
            AuthError::MalformedRequest,
        );
        check(plain, None, "x,,", AuthError::MalformedRequest);
    }

    #[test]
    fn unknown_user_gets_normal_server_first_then_not_authorized() {
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert_eq!(
            server.client_first(b"n,,n=ghost,r=clientnonce").unwrap(),
            "ghost"
        );
        let server_first = server.server_first(None);
        let text = std::str::from_utf8(&server_first).unwrap();
        let attrs: Vec<&str> = text.split(',').collect();
        assert_eq!(attrs.len(), 3);
        assert!(attrs[0].starts_with("r=clientnonce"));
        assert_eq!(b64_attr(attrs[1], 's').unwrap().len(), SALT_LEN);
        assert_eq!(attrs[2], "i=4096");
        let msg = client_final_message(
            ScramHash::Sha256,
            "pencil",
            "n=ghost,r=clientnonce",
            &server_first,
            b"n,,",
        );
        assert_eq!(server.client_final(&msg), Err(AuthError::NotAuthorized));
    }

    #[test]
    fn decoy_salt_is_stable_per_user_and_honours_settings() {
        let salt_of = |name: &str, iterations| {
            let mut server = ScramServer::new(Mechanism::ScramSha1, None, false)
                .with_decoy(b"persistent secret", iterations);
            server
                .client_first(format!("n,,n={name},r=abc").as_bytes())
                .unwrap();
            let first = String::from_utf8(server.server_first(None)).unwrap();
            first.split_once(",s=").unwrap().1.to_owned()
        };
        assert_eq!(salt_of("ghost", 10_000), salt_of("ghost", 10_000));
        assert_ne!(salt_of("ghost", 10_000), salt_of("spectre", 10_000));
        assert!(salt_of("ghost", 10_000).ends_with(",i=10000"));
    }

    #[test]
    fn authzid_must_be_absent_or_the_user() {
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert_eq!(
            server.client_first(b"n,a=user,n=user,r=abc").unwrap(),
            "user"
        );
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert_eq!(
            server.client_first(b"n,a=admin,n=user,r=abc"),
            Err(AuthError::InvalidAuthzid)
        );
    }

    #[test]
    fn authzid_is_part_of_the_channel_binding_input() {
        let (mut server, server_first) = started(Mechanism::ScramSha256, None, "n,a=user,");
        let msg = client_final_message(
            ScramHash::Sha256,
            "pencil",
            "n=user,r=clientnonce",
            &server_first,
            b"n,a=user,",
        );
        assert!(server.client_final(&msg).is_ok());
    }

    #[test]
    fn username_escapes_are_decoded() {
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert_eq!(
            server.client_first(b"n,,n=a=2Cb=3Dc,r=abc").unwrap(),
            "a,b=c"
        );
        for bad in [
            &b"n,,n=a=2cb,r=abc"[..],
            b"n,,n=a=,r=abc",
            b"n,,n=a=3,r=abc",
        ] {
            let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
            assert_eq!(server.client_first(bad), Err(AuthError::MalformedRequest));
        }
    }

    #[test]
    fn username_is_saslprepped() {
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert_eq!(
            server
                .client_first("n,,n=us\u{00AD}er,r=abc".as_bytes())
                .unwrap(),
            "user"
        );
    }

    #[test]
    fn mandatory_extension_is_rejected() {
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert_eq!(
            server.client_first(b"n,,m=ext,n=user,r=abc"),
            Err(AuthError::ExtensionsNotSupported)
        );
    }

    #[test]
    fn optional_extensions_are_ignored() {
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert_eq!(server.client_first(b"n,,n=user,r=abc,x=1").unwrap(), "user");
    }

    #[test]
    fn client_first_rejects_malformed_messages() {
        let cases: [&[u8]; 13] = [
            b"",
            b"n",
            b"n,",
            b"n,,",
            b"n,,n=user",
            b"n,,r=abc,n=user",
            b"n,,n=,r=abc",
            b"n,,n=user,r=",
            b"n,,n=user,r=a b",
            b"n,,n=user,r=\xc3\xa9",
            b"n,,n=user,r=abc,",
            b"n,,n=user,r=abc,1=x",
            b"n,,n=us\xffer,r=abc",
        ];
        for msg in cases {
            let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
            assert_eq!(
                server.client_first(msg),
                Err(AuthError::MalformedRequest),
                "{msg:?}"
            );
        }
    }

    #[test]
    fn client_final_rejects_malformed_messages() {
        let cases: [&[u8]; 9] = [
            b"",
            b"p=AAAA",
            b"c=biws,r=clientnonce",
            b"c=biws,p=dGVzdA==",
            b"r=x,c=biws,p=dGVzdA==",
            b"c=biws,r=x,p=not base64",
            b"c=biws,r=x,p=dGVzdA==",
            b"c=###,r=x,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            b"c=biws,r=x,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,x=1",
        ];
        for msg in cases {
            let (mut server, _) = started(Mechanism::ScramSha256, None, "n,,");
            assert_eq!(
                server.client_final(msg),
                Err(AuthError::MalformedRequest),
                "{msg:?}"
            );
        }
    }

    #[test]
    fn changed_nonce_is_not_authorized() {
        let (mut server, server_first) = started(Mechanism::ScramSha256, None, "n,,");
        let tampered =
            String::from_utf8(server_first)
                .unwrap()
                .replacen("r=clientnonce", "r=clientnoncf", 1);
        let msg = client_final_message(
            ScramHash::Sha256,
            "pencil",
            "n=user,r=clientnonce",
            tampered.as_bytes(),
            b"n,,",
        );
        assert_eq!(server.client_final(&msg), Err(AuthError::NotAuthorized));
    }

    #[test]
    fn steps_out_of_order_fail() {
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert_eq!(server.client_final(b"c=biws"), Err(AuthError::OutOfOrder));
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert!(server.server_first(None).is_empty());
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        server.client_first(b"n,,n=user,r=abc").unwrap();
        assert_eq!(
            server.client_first(b"n,,n=user,r=abc"),
            Err(AuthError::OutOfOrder)
        );
        let mut server = ScramServer::new(Mechanism::ScramSha256, None, false);
        assert!(server.client_first(b"garbage").is_err());
        assert!(server.server_first(None).is_empty());
        assert_eq!(server.client_final(b"c=biws"), Err(AuthError::OutOfOrder));
    }

    #[test]
    fn plain_mechanism_cannot_run_scram() {
        let mut server = ScramServer::new(Mechanism::Plain, None, false);
        assert_eq!(
            server.client_first(b"n,,n=user,r=abc"),
            Err(AuthError::InvalidMechanism)
        );
    }

    #[test]
    fn mechanism_names_round_trip() {
        for mechanism in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(mechanism.name()), Some(mechanism));
            assert_eq!(mechanism.is_plus(), mechanism.name().ends_with("-PLUS"));
            assert_eq!(mechanism.hash().is_none(), mechanism == Mechanism::Plain);
        }
        assert_eq!(Mechanism::from_name("scram-sha-1"), None);
        assert_eq!(Mechanism::from_name("DIGEST-MD5"), None);
    }

    #[test]
    fn derive_and_verify_password() {
        let creds = StoredCredentials::derive("pencil", 4096).unwrap();
        assert!(creds.verify_password("pencil"));
        assert!(!creds.verify_password("pencils"));
        assert!(!creds.verify_password(""));
        assert_eq!(creds.sha1.salt.len(), SALT_LEN);
        assert_ne!(creds.sha1.salt, creds.sha256.salt);
        assert_eq!(creds.for_hash(ScramHash::Sha1).stored_key.len(), 20);
        assert_eq!(creds.for_hash(ScramHash::Sha256).server_key.len(), 32);
    }

    #[test]
    fn derived_credentials_work_in_a_scram_exchange() {
        let creds = StoredCredentials::derive("pencil", 4096).unwrap();
        let mut server = ScramServer::new(Mechanism::ScramSha1, None, false);
        server.client_first(b"n,,n=user,r=clientnonce").unwrap();
        let server_first = server.server_first(Some(creds.for_hash(ScramHash::Sha1)));
        let msg = client_final_message(
            ScramHash::Sha1,
            "pencil",
            "n=user,r=clientnonce",
            &server_first,
            b"n,,",
        );
        assert!(server.client_final(&msg).is_ok());
    }

    #[test]
    fn derive_saslpreps_the_password() {
        // RFC 4013 §3: SOFT HYPHEN maps to nothing.
        let creds = StoredCredentials::derive("I\u{00AD}X", 4096).unwrap();
        assert!(creds.verify_password("IX"));
    }

    #[test]
    fn derive_rejects_bad_input() {
        assert_eq!(
            StoredCredentials::derive("pencil", 4095),
            Err(AuthError::IterationsTooLow(4095))
        );
        assert_eq!(
            StoredCredentials::derive("", 4096),
            Err(AuthError::InvalidPassword)
        );
        assert_eq!(
            StoredCredentials::derive("bell\u{0007}", 4096),
            Err(AuthError::InvalidPassword)
        );
    }

    #[test]
    fn plain_good_and_bad_password() {
        let creds = StoredCredentials::derive("pencil", 4096).unwrap();
        let (user, password) = parse_plain(b"\0user\0pencil").unwrap();
        assert_eq!(user, "user");
        assert!(creds.verify_password(&password));
        let (_, password) = parse_plain(b"\0user\0crayon").unwrap();
        assert!(!creds.verify_password(&password));
    }

    #[test]
    fn plain_authzid_cases() {
        assert_eq!(
            parse_plain(b"user\0user\0pencil").unwrap(),
            ("user".to_owned(), "pencil".to_owned())
        );
        assert_eq!(
            parse_plain(b"admin\0user\0pencil"),
            Err(AuthError::InvalidAuthzid)
        );
    }

    #[test]
    fn plain_rejects_malformed_messages() {
        let cases: [&[u8]; 7] = [
            b"",
            b"user\0pencil",
            b"\0\0pencil",
            b"\0user\0",
            b"\0user\0pencil\0",
            b"\0us\xffer\0pencil",
            b"\0user\0pen\xffcil",
        ];
        for msg in cases {
            assert_eq!(
                parse_plain(msg),
                Err(AuthError::MalformedRequest),
                "{msg:?}"
            );
        }
    }

    #[test]
    fn errors_map_to_sasl_conditions() {
        assert_eq!(AuthError::NotAuthorized.sasl_condition(), "not-authorized");
        assert_eq!(
            AuthError::InvalidAuthzid.sasl_condition(),
            "invalid-authzid"
        );
        assert_eq!(
            AuthError::MalformedRequest.sasl_condition(),
            "malformed-request"
        );
        assert_eq!(
            AuthError::ChannelBindingMismatch.sasl_condition(),
            "not-authorized"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let server = ScramServer::new(Mechanism::ScramSha256Plus, Some(CB_DATA.to_vec()), true);
        let debug = format!("{server:?}");
        assert!(debug.contains("ScramSha256Plus"));
        assert!(!debug.contains(&server.server_nonce));
    }

    proptest! {
        #[test]
        fn client_first_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut server = ScramServer::new(Mechanism::ScramSha256Plus, Some(CB_DATA.to_vec()), true);
            let _ = server.client_first(&msg);
        }

        #[test]
        fn client_first_shaped_input_never_panics(msg in "[npya=,2CD3r\\x00-\\x7f\u{00AD}\u{0627}]{0,64}") {
            for mechanism in Mechanism::ALL {
                let mut server = ScramServer::new(mechanism, Some(CB_DATA.to_vec()), false);
                if server.client_first(msg.as_bytes()).is_ok() {
                    prop_assert!(!server.server_first(None).is_empty());
                }
            }
        }

        #[test]
        fn client_final_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..256)) {
            let (mut server, _) = started(Mechanism::ScramSha1, None, "n,,");
            prop_assert!(server.client_final(&msg).is_err());
        }

        #[test]
        fn client_final_shaped_input_never_panics(
            msg in "c=[A-Za-z0-9+/=]{0,8},r=[a-z]{0,16}(,[a-z]=[a-z]{0,3})?,p=[A-Za-z0-9+/=]{0,48}",
        ) {
            let (mut server, _) = started(Mechanism::ScramSha256, None, "n,,");
            prop_assert!(server.client_final(msg.as_bytes()).is_err());
        }

        #[test]
        fn parse_plain_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_plain(&msg);
        }
    }
}
