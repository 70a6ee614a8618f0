//! Services the server itself answers, one file (or folder) each: disco, ping, version, roster,
//! presence, offline storage, the message archive, ad-hoc commands and REST components. Each implements [`crate::ctx::Service`]
//! and is registered with the router at startup; none of them knows the router.

pub mod commands;
pub mod component;
pub mod disco;
pub mod mam;
pub mod offline;
pub mod ping;
pub mod presence;
pub mod roster;
pub mod version;
