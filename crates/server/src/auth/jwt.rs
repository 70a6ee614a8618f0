//! JSON Web Token logins (`[auth.jwt]`): the keys of every configured source (the JWKS file
//! re-read when it changes), the checks a token passes, the account it names, and signing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::{AccountError, Accounts};
use crate::config::JwtConfig;

/// A token that passed every check: the account it names and when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub user: String,
    pub expires: SystemTime,
}

/// Why a token is refused. The client learns [`JwtError::reason`] only.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("algorithm not accepted (auth.jwt.algorithms)")]
    Algorithm,
    #[error("no configured key fits the token")]
    NoKey,
    #[error("signature does not verify")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    #[error("token issued in the future (iat)")]
    IssuedInFuture,
    #[error("wrong issuer (iss)")]
    Issuer,
    #[error("wrong audience (aud)")]
    Audience,
    #[error("claim {0} missing or malformed")]
    Claim(String),
    #[error("claim does not name an account of this server")]
    NotOurAccount,
}

impl JwtError {
    /// The reason given to the client (HTTP 401 body, logs): short and stable.
    pub fn reason(&self) -> &'static str {
        match self {
            JwtError::Expired => "token_expired",
            JwtError::NotYetValid | JwtError::IssuedInFuture => "token_not_yet_valid",
            JwtError::Issuer | JwtError::Audience => "token_not_for_this_server",
            JwtError::NotOurAccount => "token_names_no_account_here",
            JwtError::Malformed
            | JwtError::Algorithm
            | JwtError::NoKey
            | JwtError::Signature
            | JwtError::Claim(_) => "invalid_token",
        }
    }
}

/// A key source that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("auth.jwt.algorithms: {0}")]
    Algorithm(String),
    #[error("auth.jwt has no HMAC secret (secret or secret_file) to sign with")]
    NoSecret,
    #[error("auth.jwt.algorithms accepts no HS256/HS384/HS512 algorithm to sign with")]
    NoHmacAlgorithm,
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// Why a token login fails.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    Token(#[from] JwtError),
    #[error("no account {0} and auth.jwt.provision is off")]
    NoAccount(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Accounts(#[from] AccountError),
}

impl LoginError {
    /// The reason given to the client.
    pub fn reason(&self) -> &'static str {
        match self {
            LoginError::Token(e) => e.reason(),
            LoginError::NoAccount(_) => "no_such_account",
            LoginError::Keys(_) | LoginError::Accounts(_) => "server_error",
        }
    }
}

/// A file's modification time and size: when either moves, the file is read again.
type Stamp = (SystemTime, u64);

/// The JWKS file and the keys last read from it, with the stamp of the file they came from.
struct Jwks {
    path: PathBuf,
    loaded: Mutex<(Option<Stamp>, Arc<Vec<JwkKey>>)>,
}

struct JwkKey {
    kid: Option<String>,
    key: DecodingKey,
}

impl Jwks {
    fn open(path: &Path) -> Result<Jwks, KeyError> {
        let (stamp, keys) = read_jwks(path)?;
        Ok(Jwks {
            path: path.to_owned(),
            loaded: Mutex::new((Some(stamp), Arc::new(keys))),
        })
    }

    /// The keys in force: the file is read again when its time or size changed; a file that
    /// no longer reads keeps the keys read before (and says so in the log).
    fn keys(&self) -> Arc<Vec<JwkKey>> {
        let stamp = file_stamp(&self.path).ok();
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if stamp.is_some() && stamp != loaded.0 {
            match read_jwks(&self.path) {
                Ok((stamp, keys)) => {
                    tracing::info!(path = %self.path.display(), keys = keys.len(), "JWKS file read again");
                    *loaded = (Some(stamp), Arc::new(keys));
                }
                Err(e) => {
                    tracing::error!(error = %e, "JWKS file changed but cannot be used; the previous keys stay");
                    loaded.0 = stamp;
                }
            }
        }
        loaded.1.clone()
    }
}

fn file_stamp(path: &Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.modified()?, meta.len()))
}

fn read_jwks(path: &Path) -> Result<(Stamp, Vec<JwkKey>), KeyError> {
    let read = |source| KeyError::Read {
        path: path.to_owned(),
        source,
    };
    let stamp = file_stamp(path).map_err(read)?;
    let text = std::fs::read(path).map_err(read)?;
    let parse = |message: String| KeyError::Parse {
        path: path.to_owned(),
        message,
    };
    let set: JwkSet = serde_json::from_slice(&text).map_err(|e| parse(e.to_string()))?;
    let keys = set
        .keys
        .iter()
        .map(|jwk| {
            Ok(JwkKey {
                kid: jwk.common.key_id.clone(),
                key: DecodingKey::from_jwk(jwk).map_err(|e| parse(e.to_string()))?,
            })
        })
        .collect::<Result<Vec<_>, KeyError>>()?;
    Ok((stamp, keys))
}

/// The HMAC secret of `secret`, or else of `secret_file` (its trailing newline dropped).
fn hmac_secrets(config: &JwtConfig) -> Result<Vec<Vec<u8>>, KeyError> {
    let mut secrets = Vec::new();
    if let Some(secret) = &config.secret {
        secrets.push(secret.expose().as_bytes().to_vec());
    }
    if let Some(path) = &config.secret_file {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.clone(),
            source,
        })?;
        secrets.push(text.trim_end_matches(['\r', '\n']).as_bytes().to_vec());
    }
    Ok(secrets)
}

fn public_key(path: &Path) -> Result<DecodingKey, KeyError> {
    let pem = std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let label = String::from_utf8_lossy(&pem);
    let parsed = if label.contains("BEGIN RSA PUBLIC KEY") {
        DecodingKey::from_rsa_pem(&pem)
    } else {
        // A SubjectPublicKeyInfo: try each kind; the one that parses is the key's.
        DecodingKey::from_rsa_pem(&pem)
            .or_else(|_| DecodingKey::from_ec_pem(&pem))
            .or_else(|_| DecodingKey::from_ed_pem(&pem))
    };
    parsed.map_err(|e| KeyError::Parse {
        path: path.to_owned(),
        message: format!("not an RSA, EC or Ed25519 public key in PEM: {e}"),
    })
}

/// The accepted algorithms, by their JOSE names.
pub fn algorithms(names: &[String]) -> Result<Vec<Algorithm>, KeyError> {
    names
        .iter()
        .map(|name| {
            name.parse::<Algorithm>()
                .map_err(|_| KeyError::Algorithm(format!("unknown algorithm \"{name}\"")))
        })
        .collect()
}

/// Checks tokens against the keys of one `[auth.jwt]` configuration.
pub struct JwtVerifier {
    config: JwtConfig,
    domain: String,
    algorithms: Vec<Algorithm>,
    hmac: Vec<DecodingKey>,
    public: Option<DecodingKey>,
    jwks: Option<Jwks>,
}

impl JwtVerifier {
    /// Reads every key source of `config`.
    pub fn new(config: &JwtConfig, domain: &str) -> Result<JwtVerifier, KeyError> {
        let hmac = hmac_secrets(config)?
            .iter()
            .map(|s| DecodingKey::from_secret(s).map_err(|e| KeyError::Sign(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(JwtVerifier {
            config: config.clone(),
            domain: domain.to_owned(),
            algorithms: algorithms(&config.algorithms)?,
            hmac,
            public: config
                .public_key_file
                .as_deref()
                .map(public_key)
                .transpose()?,
            jwks: config.jwks_file.as_deref().map(Jwks::open).transpose()?,
        })
    }

    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// Every check of `[auth.jwt]`: an accepted algorithm, a signature by a key of that
    /// algorithm's kind (chosen by `kid` in the JWKS), `exp` required and `nbf`/`iat` honoured
    /// with the leeway, `iss` and `aud` when configured, and the account claim.
    pub fn verify(&self, token: &str) -> Result<Verified, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(JwtError::Algorithm);
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &self.config.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let family = header.alg.family();
        let jwks = self.jwks.as_ref().map(Jwks::keys);
        let mut keys: Vec<&DecodingKey> = Vec::new();
        if family == AlgorithmFamily::Hmac {
            keys.extend(&self.hmac);
        } else {
            keys.extend(self.public.iter().filter(|k| k.family() == family));
            if let Some(jwks) = &jwks {
                keys.extend(
                    jwks.iter()
                        .filter(|k| header.kid.is_none() || k.kid == header.kid)
                        .filter(|k| k.key.family() == family)
                        .map(|k| &k.key),
                );
            }
        }
        if keys.is_empty() {
            return Err(JwtError::NoKey);
        }
        let mut outcome = Err(JwtError::Signature);
        for key in keys {
            match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
                Ok(data) => {
                    outcome = Ok(data.claims);
                    break;
                }
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
                Err(e) => return Err(refusal(e.kind())),
            }
        }
        self.claims(&outcome?)
    }

    fn claims(&self, claims: &Map<String, Value>) -> Result<Verified, JwtError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if let Some(iat) = claims.get("iat") {
            let iat = iat.as_u64().ok_or_else(|| JwtError::Claim("iat".into()))?;
            if iat > now.saturating_add(self.config.leeway_secs) {
                return Err(JwtError::IssuedInFuture);
            }
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(|| JwtError::Claim("exp".into()))?;
        let claim = &self.config.jid_claim;
        let named = claims
            .get(claim)
            .and_then(Value::as_str)
            .ok_or_else(|| JwtError::Claim(claim.clone()))?;
        Ok(Verified {
            user: account_of(named, &self.domain)?,
            expires: UNIX_EPOCH + Duration::from_secs(exp),
        })
    }

    /// [`Self::verify`], then the account: created without a password at its first login when
    /// `provision` is on, required to exist otherwise.
    pub async fn admit(&self, accounts: &Accounts, token: &str) -> Result<Verified, LoginError> {
        let verified = self.verify(token)?;
        if accounts.exists(&verified.user).await? {
            return Ok(verified);
        }
        if !self.config.provision {
            return Err(LoginError::NoAccount(verified.user));
        }
        match accounts.add_passwordless(&verified.user).await {
            Ok(()) => tracing::info!(user = %verified.user, "account provisioned by a JWT login"),
            // Provisioned by a login at the same moment.
            Err(AccountError::Exists) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(verified)
    }
}

fn refusal(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidIssuer => JwtError::Issuer,
        ErrorKind::InvalidAudience => JwtError::Audience,
        ErrorKind::InvalidAlgorithm => JwtError::Algorithm,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            match claim.as_str() {
                "iss" => JwtError::Issuer,
                "aud" => JwtError::Audience,
                other => JwtError::Claim(other.to_owned()),
            }
        }
        _ => JwtError::Malformed,
    }
}

/// The account a claim names: a localpart, or a bare JID of this domain; nothing else.
fn account_of(value: &str, domain: &str) -> Result<String, JwtError> {
    if !value.contains(['@', '/']) {
        return jid::NodePart::new(value)
            .map(|n| n.to_string())
            .map_err(|_| JwtError::NotOurAccount);
    }
    let jid = jid::BareJid::new(value).map_err(|_| JwtError::NotOurAccount)?;
    match jid.node() {
        Some(node) if jid.domain().as_str() == domain => Ok(node.to_string()),
        _ => Err(JwtError::NotOurAccount),
    }
}

/// The login cookie's value, when the request carries one and JWT logins are on.
pub fn login_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Cross-site WebSocket hijacking defence: a cookie upgrade must come from a page of an
/// allowed origin, by default the request's own (its `Host`, over http or https).
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    if !allowed.is_empty() {
        return allowed.iter().any(|a| a.eq_ignore_ascii_case(origin));
    }
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// A token for `user` signed with the configured HMAC secret and the first HS algorithm
/// accepted, valid for `ttl` (for `switchboard jwt create` and the development login).
pub fn sign(config: &JwtConfig, user: &str, ttl: Duration) -> Result<String, KeyError> {
    let secret = hmac_secrets(config)?
        .into_iter()
        .next()
        .ok_or(KeyError::NoSecret)?;
    let algorithm = algorithms(&config.algorithms)?
        .into_iter()
        .find(|a| a.family() == AlgorithmFamily::Hmac)
        .ok_or(KeyError::NoHmacAlgorithm)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut claims = Map::new();
    claims.insert(config.jid_claim.clone(), Value::from(user));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(now.saturating_add(ttl.as_secs())));
    if let Some(issuer) = &config.issuer {
        claims.insert("iss".into(), Value::from(issuer.as_str()));
    }
    if let Some(audience) = &config.audience {
        claims.insert("aud".into(), Value::from(audience.as_str()));
    }
    let key = EncodingKey::from_secret(&secret).map_err(|e| KeyError::Sign(e.to_string()))?;
    jsonwebtoken::encode(&Header::new(algorithm), &claims, &key)
        .map_err(|e| KeyError::Sign(e.to_string()))
}

/// The verifier of the configuration in force, built again when `[auth.jwt]` changes (a
/// reload); `None` while JWT logins are off.
#[derive(Default)]
pub struct JwtKeys {
    current: Mutex<Option<Arc<JwtVerifier>>>,
}

impl JwtKeys {
    pub fn verifier(
        &self,
        config: &JwtConfig,
        domain: &str,
    ) -> Result<Option<Arc<JwtVerifier>>, KeyError> {
        if !config.enabled() {
            return Ok(None);
        }
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(verifier) = current.as_ref()
            && verifier.config == *config
            && verifier.domain == domain
        {
            return Ok(Some(verifier.clone()));
        }
        let verifier = Arc::new(JwtVerifier::new(config, domain)?);
        *current = Some(verifier.clone());
        Ok(Some(verifier))
    }
}

#[cfg(test)]
mod tests;
