//! The message archive (XEP-0313, XEP-0359, XEP-0441): the filter that archives, the account
//! service for queries and preferences, the group-committing writer and retention.

pub mod filter;
pub mod policy;
pub mod queries;
pub mod retention;
pub mod state;
pub mod writer;
