//! The ceiling: the least an HTTP server on this box can do per request (axum on hyper, the
//! same stack as Switchboard's HTTP side), for `POST /rest` (W1) and `GET /rest/ping/{host}`
//! (W4).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::serve::ListenerExt;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:45280")]
    addr: SocketAddr,
    /// Exit after this many seconds at most.
    #[arg(long, default_value_t = 1800)]
    max_secs: u64,
}

pub async fn run(args: Args) -> Result<()> {
    if !args.addr.ip().is_loopback() {
        bail!("the ceiling server listens on loopback only");
    }
    let app = Router::new()
        .route("/rest", post(|_body: Bytes| async { StatusCode::ACCEPTED }))
        .route(
            "/rest/ping/{host}",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"kind":"iq","type":"result","id":"1"}"#,
                )
            }),
        );
    // Same socket option as Switchboard's HTTP listener.
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    println!("ceiling listening on {}", args.addr);
    let serve = axum::serve(listener, app);
    tokio::select! {
        r = serve => r?,
        _ = tokio::time::sleep(Duration::from_secs(args.max_secs)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
