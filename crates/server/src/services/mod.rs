//! Services the server itself answers, one file (or folder) each: disco, ping, version, roster,
//! presence and subscriptions (sharing `contacts`), offline storage, blocking, carbons, the
//! message archive, ad-hoc commands, REST components, registration, push notifications and the upload service. Each implements
//! [`crate::ctx::Service`] and is registered with the router at startup; none knows the router.

pub mod avatar;
pub mod blocking;
pub mod caps;
pub mod carbons;
pub mod commands;
pub mod component;
pub mod contacts;
pub mod disco;
pub mod mam;
pub mod muc;
pub mod offline;
pub mod pep;
pub mod ping;
pub mod presence;
pub mod private;
pub mod push;
pub mod register;
pub mod roster;
pub mod subscription;
pub mod upload;
pub mod vcard;
pub mod version;
