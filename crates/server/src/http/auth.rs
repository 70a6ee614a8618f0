//! HTTP authentication for the stanza API: Basic with an account's password (localpart or
//! JID as user name) or Bearer with a token from `switchboard token create`.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use jid::Jid;
use switchboard_xmpp::rest_error::RestError;

use crate::auth::{AccountError, Accounts};

/// Who is making a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    /// The account's bare JID; any of its resources may be used as `from`.
    pub jid: Jid,
}

/// `WWW-Authenticate` value listing the accepted schemes.
pub fn challenge(domain: &str) -> String {
    format!("Basic realm=\"{domain}/rest\", Bearer realm=\"{domain}/rest\"")
}

pub async fn authenticate(
    accounts: &Accounts,
    domain: &str,
    headers: &HeaderMap,
) -> Result<Identity, RestError> {
    let header = headers
        .get(AUTHORIZATION)
        .ok_or(RestError::NoAuthz)?
        .to_str()
        .map_err(|_| RestError::MalformAuthz)?;
    let (scheme, credentials) = header
        .trim()
        .split_once(char::is_whitespace)
        .ok_or(RestError::NoAuthz)?;
    let credentials = credentials.trim();
    // RFC 9110 §11.1: auth schemes are case-insensitive.
    let user = match scheme.to_ascii_lowercase().as_str() {
        "basic" => basic(accounts, credentials).await?,
        "bearer" => accounts
            .token_owner(credentials)
            .await
            .map_err(|_| RestError::Internal)?
            .ok_or(RestError::Unauthz)?,
        _ => return Err(RestError::NoAuthz),
    };
    let jid = Jid::new(&format!("{user}@{domain}")).map_err(|_| RestError::PrepAuthz)?;
    Ok(Identity { user, jid })
}

async fn basic(accounts: &Accounts, credentials: &str) -> Result<String, RestError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .map_err(|_| RestError::MalformAuthz)?;
    let decoded = String::from_utf8(decoded).map_err(|_| RestError::MalformAuthz)?;
    let (name, password) = decoded.split_once(':').ok_or(RestError::MalformAuthz)?;
    let user = accounts.username(name).map_err(|e| match e {
        AccountError::WrongDomain(_) => RestError::Unauthz,
        _ => RestError::PrepAuthz,
    })?;
    match accounts.check_password(&user, password).await {
        Ok(true) => Ok(user),
        Ok(false) => Err(RestError::Unauthz),
        Err(_) => Err(RestError::Internal),
    }
}
