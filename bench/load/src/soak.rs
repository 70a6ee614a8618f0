//! The soak: waves of sessions that log in, send presence, exchange one message each and close
//! their streams, for a fixed time; the server's RSS and open descriptors are read after the
//! first wave and at the end, and must not have grown past a tolerance.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::sync::{Barrier, Semaphore};
use tokio::task::JoinSet;

use crate::conn::{self, Credentials, Mech, ScramCache, Target};
use crate::xml::Event;

#[derive(clap::Args)]
pub struct Args {
    /// tcp://127.0.0.1:PORT and/or ws://127.0.0.1:PORT/path, comma-separated; sessions use
    /// them in turn.
    #[arg(long, value_delimiter = ',')]
    servers: Vec<String>,
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// Account prefix: sessions log in as USER0…USER{N-1}.
    #[arg(long)]
    user: String,
    #[arg(long)]
    password: String,
    #[arg(long, value_enum, default_value = "scram")]
    mech: Mech,
    /// Sessions per wave (one per account).
    #[arg(long, default_value_t = 10_000)]
    sessions: usize,
    /// Length of the soak: waves start until this many seconds have passed.
    #[arg(long, default_value_t = 600)]
    secs: u64,
    /// The server process whose RSS and descriptors are read.
    #[arg(long)]
    pid: u32,
    /// Source addresses 127.0.0.A-B, used in turn.
    #[arg(long, default_value = "2-9")]
    sources: String,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds to wait after a wave before reading RSS and descriptors.
    #[arg(long, default_value_t = 5)]
    settle_secs: u64,
    /// Largest growth allowed from the first wave to the end, in percent.
    #[arg(long, default_value_t = 10.0)]
    tolerance_pct: f64,
    #[arg(long)]
    out: PathBuf,
}

/// What one wave did.
#[derive(Default)]
struct Wave {
    logged_in: u64,
    failed: u64,
    delivered: u64,
    closed_cleanly: u64,
    first_error: Option<String>,
}

/// The server's footprint at one point.
#[derive(Clone, Copy)]
struct Footprint {
    rss_kib: u64,
    fds: u64,
}

impl Footprint {
    async fn read(pid: u32, settle: Duration) -> Result<Footprint> {
        tokio::time::sleep(settle).await;
        // The lowest of a few samples: an allocator or collector busy at that instant adds noise.
        let mut rss_kib = u64::MAX;
        let mut fds = u64::MAX;
        for _ in 0..3 {
            rss_kib = rss_kib.min(crate::rss_kib(pid)?);
            fds = fds.min(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(Footprint { rss_kib, fds })
    }

    fn json(self) -> serde_json::Value {
        serde_json::json!({"rss_kib": self.rss_kib, "fds": self.fds})
    }
}

fn growth_pct(first: u64, last: u64) -> f64 {
    (last as f64 - first as f64) * 100.0 / first.max(1) as f64
}

pub async fn run(args: Args) -> Result<()> {
    if args.servers.is_empty() || args.sessions < 2 {
        bail!("need at least one --servers URL and two sessions");
    }
    let targets: Vec<Target> = args
        .servers
        .iter()
        .map(|s| Target::parse(s, &args.domain))
        .collect::<Result<_>>()?;
    let sources = conn::sources(&args.sources)?;
    let cache = ScramCache::default();
    let settle = Duration::from_secs(args.settle_secs);
    let started = Instant::now();
    let before = Footprint::read(args.pid, Duration::ZERO).await?;
    let mut waves = Vec::new();
    let mut after_first: Option<Footprint> = None;
    while started.elapsed() < Duration::from_secs(args.secs) || waves.is_empty() {
        let wave_started = Instant::now();
        let wave = wave(&args, waves.len(), &targets, &sources, &cache).await?;
        let secs = wave_started.elapsed().as_secs_f64();
        eprintln!(
            "wave {}: {} logged in, {} failed, {} messages delivered, {} closed cleanly in {secs:.1} s",
            waves.len() + 1,
            wave.logged_in,
            wave.failed,
            wave.delivered,
            wave.closed_cleanly
        );
        let mut row = serde_json::json!({
            "wave": waves.len() + 1,
            "secs": secs,
            "logged_in": wave.logged_in,
            "failed": wave.failed,
            "delivered": wave.delivered,
            "closed_cleanly": wave.closed_cleanly,
            "first_error": wave.first_error,
        });
        if after_first.is_none() {
            let footprint = Footprint::read(args.pid, settle).await?;
            eprintln!(
                "after the first wave: RSS {} KiB, {} descriptors",
                footprint.rss_kib, footprint.fds
            );
            row["footprint"] = footprint.json();
            after_first = Some(footprint);
        }
        waves.push((row, wave));
    }
    let first = after_first.expect("one wave ran");
    let last = Footprint::read(args.pid, settle).await?;
    let rss_growth = growth_pct(first.rss_kib, last.rss_kib);
    let fd_growth = growth_pct(first.fds, last.fds);
    let failed: u64 = waves.iter().map(|(_, w)| w.failed).sum();
    let expected = (args.sessions * waves.len()) as u64;
    let delivered: u64 = waves.iter().map(|(_, w)| w.delivered).sum();
    let within = rss_growth <= args.tolerance_pct && fd_growth <= args.tolerance_pct;
    let passed = within && failed == 0 && delivered == expected;
    let doc = serde_json::json!({
        "secs": started.elapsed().as_secs_f64(),
        "sessions_per_wave": args.sessions,
        "servers": args.servers,
        "before": before.json(),
        "after_first_wave": first.json(),
        "end": last.json(),
        "rss_growth_pct": rss_growth,
        "fd_growth_pct": fd_growth,
        "tolerance_pct": args.tolerance_pct,
        "sessions": expected,
        "failed_logins": failed,
        "messages_delivered": delivered,
        "waves": waves.into_iter().map(|(row, _)| row).collect::<Vec<_>>(),
        "passed": passed,
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&doc)?)?;
    println!("{doc}");
    if !passed {
        bail!(
            "soak failed: RSS {rss_growth:+.1} %, descriptors {fd_growth:+.1} % (tolerance {} %), \
             {failed} failed logins, {delivered}/{expected} messages",
            args.tolerance_pct
        );
    }
    Ok(())
}

/// One wave: every session logs in and sends presence; once all are online each sends one
/// message to the next and waits for the one from the previous, then closes its stream and
/// waits for the server's close.
async fn wave(
    args: &Args,
    number: usize,
    targets: &[Target],
    sources: &[IpAddr],
    cache: &ScramCache,
) -> Result<Wave> {
    let n = args.sessions;
    let sem = Arc::new(Semaphore::new(args.concurrency));
    let online = Arc::new(Barrier::new(n));
    let delivered = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let target = targets[i % targets.len()].clone();
        let source = (!sources.is_empty()).then(|| sources[i % sources.len()]);
        let creds = Credentials {
            user: format!("{}{i}", args.user),
            password: args.password.clone(),
            resource: "soak".into(),
            mech: args.mech,
        };
        let next = format!("{}{}@{}/soak", args.user, (i + 1) % n, args.domain);
        let (sem, online, cache) = (sem.clone(), online.clone(), cache.clone());
        let (delivered, closed) = (delivered.clone(), closed.clone());
        tasks.spawn(async move {
            let permit = sem.acquire_owned().await.expect("semaphore open");
            let login = tokio::time::timeout(
                Duration::from_secs(120),
                conn::login(&target, source, &creds, &cache),
            )
            .await;
            drop(permit);
            let conn = match login {
                Ok(Ok(c)) => Ok(c),
                Ok(Err(e)) => Err(format!("{e:#}")),
                Err(_) => Err("login timed out after 120 s".to_string()),
            };
            // Every session reaches the barrier, logged in or not, so that none waits forever.
            let mut c = match conn {
                Ok(mut c) => {
                    let presence = c.writer.send("<presence xmlns='jabber:client'/>").await;
                    online.wait().await;
                    presence.map(|()| c).map_err(|e| format!("presence: {e}"))?
                }
                Err(e) => {
                    online.wait().await;
                    return Err(e);
                }
            };
            let message = format!(
                "<message xmlns='jabber:client' to='{next}' type='chat' id='w{number}'><body>wave {number}</body></message>"
            );
            c.writer
                .send(&message)
                .await
                .map_err(|e| format!("send: {e}"))?;
            let received = tokio::time::timeout(Duration::from_secs(60), async {
                loop {
                    match c.reader.next().await {
                        Ok(Some(Event::Elem(el))) if el.starts_with("<message") => return true,
                        Ok(Some(Event::Elem(_) | Event::Open(_))) => {}
                        _ => return false,
                    }
                }
            })
            .await;
            if received == Ok(true) {
                delivered.fetch_add(1, Ordering::Relaxed);
            }
            let _ = c.writer.send(conn::stream_close(&target)).await;
            let ended = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    match c.reader.next().await {
                        Ok(Some(Event::Close) | None) | Err(_) => return,
                        Ok(Some(_)) => {}
                    }
                }
            })
            .await;
            if ended.is_ok() {
                closed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
    }
    let mut wave = Wave::default();
    while let Some(done) = tasks.join_next().await {
        match done? {
            Ok(()) => wave.logged_in += 1,
            Err(e) => {
                wave.failed += 1;
                wave.first_error.get_or_insert(e);
            }
        }
    }
    wave.delivered = delivered.load(Ordering::Relaxed);
    wave.closed_cleanly = closed.load(Ordering::Relaxed);
    Ok(wave)
}
