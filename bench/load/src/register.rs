//! Registers accounts PREFIX0…PREFIX{N-1} through an HTTP admin API that takes
//! `{"user","host","password"}` (Switchboard's `POST /rest/admin/register`, ejabberd's
//! `POST /api/register`), over a few keep-alive connections. A small HTTP/1.1 client is
//! enough here: one request at a time per connection, Content-Length or chunked answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(clap::Args)]
pub struct Args {
    /// http://127.0.0.1:PORT/path
    #[arg(long)]
    url: String,
    /// Authorization header value, if the API wants one.
    #[arg(long, default_value = "")]
    auth: String,
    #[arg(long)]
    prefix: String,
    #[arg(long)]
    count: usize,
    #[arg(long)]
    password: String,
    #[arg(long, default_value = "localhost")]
    host: String,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    #[arg(long, default_value_t = 300)]
    max_secs: u64,
}

pub async fn run(args: Args) -> Result<()> {
    let rest = args
        .url
        .strip_prefix("http://")
        .context("--url must be http://")?;
    let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = hostport.parse().context("--url address")?;
    if !addr.ip().is_loopback() {
        bail!("refusing a non-loopback target {addr}");
    }
    let path = if path.is_empty() { "/" } else { path }.to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let args = Arc::new(args);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (next, args, path) = (next.clone(), args.clone(), path.clone());
        workers.spawn(async move {
            let mut conn: Option<TcpStream> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.count {
                    return Ok::<(), anyhow::Error>(());
                }
                if started.elapsed() > Duration::from_secs(args.max_secs) {
                    bail!("registration exceeded {} s", args.max_secs);
                }
                let body = format!(
                    r#"{{"user":"{}{i}","host":"{}","password":"{}"}}"#,
                    args.prefix, args.host, args.password
                );
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    if conn.is_none() {
                        let s = TcpStream::connect(addr).await?;
                        s.set_nodelay(true)?;
                        conn = Some(s);
                    }
                    let s = conn.as_mut().expect("connected");
                    match request(s, hostport_of(&addr), &path, &args.auth, &body).await {
                        Ok((status, _)) if (200..300).contains(&status) => break,
                        Ok((status, text)) => {
                            bail!("registering {}{i}: HTTP {status}: {text}", args.prefix)
                        }
                        // A keep-alive connection the server closed: reconnect and retry.
                        Err(_) if attempt < 3 => conn = None,
                        Err(e) => return Err(e),
                    }
                }
            }
        });
    }
    while let Some(r) = workers.join_next().await {
        r??;
    }
    eprintln!(
        "registered {} accounts in {:.1} s",
        args.count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn hostport_of(addr: &SocketAddr) -> String {
    addr.to_string()
}

async fn request(
    s: &mut TcpStream,
    host: String,
    path: &str,
    auth: &str,
    body: &str,
) -> Result<(u16, String)> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    if !auth.is_empty() {
        req.push_str(&format!("Authorization: {auth}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed mid-response");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("bad status line")?;
    let mut body_bytes = buf[head_end..].to_vec();
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        while body_bytes.len() < len {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed mid-body");
            }
            body_bytes.extend_from_slice(&chunk[..n]);
        }
        body_bytes.truncate(len);
    } else if head.contains("transfer-encoding: chunked") {
        while !body_bytes.windows(5).any(|w| w == b"0\r\n\r\n") {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed mid-body");
            }
            body_bytes.extend_from_slice(&chunk[..n]);
        }
    } else {
        bail!("response without a length");
    }
    Ok((status, String::from_utf8_lossy(&body_bytes).into_owned()))
}
