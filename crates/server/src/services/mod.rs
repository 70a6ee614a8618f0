//! Services the server itself answers, one file each: disco, ping, version, roster, presence and
//! subscriptions (sharing `contacts`), offline storage, blocking, carbons, ad-hoc commands and REST
//! components. Each implements [`crate::ctx::Service`] and is registered with the router at
//! startup; none of them knows the router.

pub mod blocking;
pub mod carbons;
pub mod commands;
pub mod component;
pub mod contacts;
pub mod disco;
pub mod offline;
pub mod ping;
pub mod presence;
pub mod roster;
pub mod subscription;
pub mod version;
