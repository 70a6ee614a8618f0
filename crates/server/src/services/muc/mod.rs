//! Group chat (XEP-0045) at `conference.<domain>`: persistent and temporary rooms, occupants,
//! roles and affiliations, history and room archives, and the in-process API over HTTP.

pub mod api;
mod record;
mod room;
pub mod service;
