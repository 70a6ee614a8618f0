//! The message archive (XEP-0313 with XEP-0359 stanza-ids and XEP-0441 preferences): a filter
//! that archives local accounts' messages, the account service that answers queries and
//! preferences, and the retention task.

pub mod filter;
pub mod policy;
pub mod queries;
pub mod retention;
pub mod writer;
