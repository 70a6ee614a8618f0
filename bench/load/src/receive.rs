//! W1's live recipient: logs in, sends initial presence, and counts the chat messages with a
//! body that reach it. On SIGTERM/SIGINT it keeps reading until the stream has been quiet for
//! `--quiet-ms` (bounded by `--drain-secs`), then writes `{"received": N, …}`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};

use crate::conn::{self, Credentials, Mech, ScramCache, Target};
use crate::xml::Event;

#[derive(clap::Args)]
pub struct Args {
    /// tcp://127.0.0.1:PORT or ws://127.0.0.1:PORT/path
    #[arg(long)]
    server: String,
    #[arg(long, default_value = "localhost")]
    domain: String,
    #[arg(long)]
    user: String,
    #[arg(long)]
    password: String,
    #[arg(long, default_value = "recv")]
    resource: String,
    #[arg(long, value_enum, default_value = "scram")]
    mech: Mech,
    /// Created once the client is online (presence sent).
    #[arg(long)]
    ready_file: PathBuf,
    /// The result document.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
    #[arg(long, default_value_t = 20)]
    drain_secs: u64,
    #[arg(long, default_value_t = 1500)]
    quiet_ms: u64,
}

pub async fn run(args: Args) -> Result<()> {
    let target = Target::parse(&args.server, &args.domain)?;
    let creds = Credentials {
        user: args.user.clone(),
        password: args.password.clone(),
        resource: args.resource.clone(),
        mech: args.mech,
    };
    let mut conn = tokio::time::timeout(
        Duration::from_secs(30),
        conn::login(&target, None, &creds, &ScramCache::default()),
    )
    .await
    .map_err(|_| conn::timeout_err("login", Duration::from_secs(30)))??;
    conn.writer
        .send("<presence xmlns='jabber:client'/>")
        .await?;
    // One round trip so that the server has processed the presence before we say ready.
    conn.writer
        .send("<iq xmlns='jabber:client' type='get' id='ready1'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await?;
    let mut received: u64 = 0;
    let mut errors: u64 = 0;
    let mut ready = false;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let deadline = tokio::time::sleep(Duration::from_secs(args.max_secs));
    tokio::pin!(deadline);
    let started = Instant::now();
    let mut closed = false;
    // Phase 1: until told to stop.
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = &mut deadline => break,
            ev = conn.reader.next() => match ev? {
                Some(Event::Elem(el)) => {
                    if !ready && el.starts_with("<iq") && el.contains("ready1") {
                        ready = true;
                        std::fs::write(&args.ready_file, b"ready\n")
                            .context("ready file")?;
                    }
                    count(&el, &mut received, &mut errors);
                }
                Some(Event::Open(_)) => {}
                Some(Event::Close) | None => { closed = true; break; }
            }
        }
    }
    // Phase 2: drain what the server still has for us.
    let drain_until = Instant::now() + Duration::from_secs(args.drain_secs);
    while !closed && Instant::now() < drain_until {
        match tokio::time::timeout(Duration::from_millis(args.quiet_ms), conn.reader.next()).await {
            Err(_) => break,
            Ok(Ok(Some(Event::Elem(el)))) => count(&el, &mut received, &mut errors),
            Ok(Ok(Some(Event::Open(_)))) => {}
            Ok(Ok(Some(Event::Close) | None)) | Ok(Err(_)) => {
                closed = true;
            }
        }
    }
    let _ = conn.writer.send(conn::stream_close(&target)).await;
    let doc = serde_json::json!({
        "received": received,
        "received_errors": errors,
        "receiver_closed_by_server": closed,
        "receiver_secs": started.elapsed().as_secs_f64(),
    });
    std::fs::write(&args.out, doc.to_string())?;
    println!("{doc}");
    Ok(())
}

fn count(el: &str, received: &mut u64, errors: &mut u64) {
    if el.starts_with("<message") && el.contains("<body") {
        if crate::xml::has_attr(el, "type", "error") {
            *errors += 1;
        } else {
            *received += 1;
        }
    }
}
