//! What can go wrong setting up or administering webhooks; each variant names its culprit so
//! that a configuration or admin API error can say what to fix.

use std::path::PathBuf;

use crate::storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("cannot read webhook.ca_file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("no such account")]
    NoSuchUser,
    #[error("the callback of {0} is set in the configuration file")]
    Configured(String),
}
