//! What the admin API's resources look up alike: the served host, local accounts named by
//! JID or localpart, and account errors as statuses.

use jid::{BareJid, Jid};

use crate::auth::AccountError;
use crate::http::error::{HttpError, Kind};
use crate::http::state::AppState;

/// A `{host}` of a path: only the served domain is known.
pub fn served(app: &AppState, host: &str) -> Result<(), HttpError> {
    if host == app.domain() {
        Ok(())
    } else {
        Err(HttpError::not_found(format!("Unknown host {host}")))
    }
}

/// Account errors as the admin API reports them.
pub fn account_error(e: AccountError) -> HttpError {
    match e {
        AccountError::InvalidUsername(_) | AccountError::BadPassword(_) => {
            HttpError::bad_request(e.to_string())
        }
        AccountError::WrongDomain(_) | AccountError::NoSuchUser => {
            HttpError::not_found(e.to_string())
        }
        AccountError::Exists => HttpError::new(Kind::Conflict, e.to_string()),
        AccountError::Store(e) => {
            tracing::error!(error = %e, "account storage unavailable");
            HttpError::internal()
        }
    }
}

/// An account of this server named by JID or localpart: its bare JID and localpart; 404 when
/// there is no such account.
pub async fn local_account(app: &AppState, name: &str) -> Result<(BareJid, String), HttpError> {
    let full = if name.contains('@') {
        name.to_owned()
    } else {
        format!("{name}@{}", app.domain())
    };
    let jid = Jid::new(&full).map_err(|_| HttpError::bad_request("Invalid JID"))?;
    let missing = || HttpError::not_found("No such account on this server");
    let user = app.server().local_user(&jid).ok_or_else(missing)?;
    let exists = app
        .accounts()
        .store()
        .credentials(&user)
        .await
        .map_err(|e| account_error(e.into()))?
        .is_some();
    if !exists {
        return Err(missing());
    }
    Ok((jid.to_bare(), user))
}
