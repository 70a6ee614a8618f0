//! The running Switchboard system: router, c2s sessions (TCP and WebSocket), services, the HTTP
//! surface, storage and configuration, wired together by [`server::start`].

pub mod auth;
pub mod backup;
pub mod c2s;
pub mod config;
pub mod ctx;
pub mod egress;
pub mod fdlimit;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod pidfile;
pub mod portable;
pub mod reload;
pub mod routed;
pub mod router;
pub mod server;
pub mod services;
pub mod sessions;
pub mod storage;
pub mod throttle;
pub mod tls;
pub mod uploads;
pub mod waiters;
pub mod webhook;
