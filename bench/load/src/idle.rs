//! W2: open authenticated, bound c2s sessions (no presence) up to each count in `--counts`,
//! let the server settle, and read its RSS. The sessions then stay idle; a session the server
//! closes while it should be idle is counted as dropped.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::conn::{self, Credentials, Mech, ScramCache, Target};
use crate::xml::Event;

#[derive(clap::Args)]
pub struct Args {
    /// tcp://127.0.0.1:PORT or ws://127.0.0.1:PORT/path
    #[arg(long)]
    server: String,
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// Account name, or its prefix with `--users`.
    #[arg(long)]
    user: String,
    /// Use accounts USER0…USER{N-1} in turn (one session each up to N sessions).
    #[arg(long, default_value_t = 0)]
    users: usize,
    /// Salted passwords kept between runs (the client side of SCRAM, as a real client keeps it).
    #[arg(long)]
    scram_cache: Option<PathBuf>,
    #[arg(long)]
    password: String,
    #[arg(long, value_enum, default_value = "scram")]
    mech: Mech,
    /// Session counts at which to measure, ascending, e.g. 1000,10000.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    counts: Vec<usize>,
    /// The server process whose RSS is measured.
    #[arg(long)]
    pid: u32,
    /// Source addresses 127.0.0.A-B, used in turn.
    #[arg(long, default_value = "2-9")]
    sources: String,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds to wait after the last login before reading the RSS.
    #[arg(long, default_value_t = 3)]
    settle_secs: u64,
    /// Bound on the whole run.
    #[arg(long, default_value_t = 300)]
    max_secs: u64,
    #[arg(long)]
    out: PathBuf,
}

pub async fn run(args: Args) -> Result<()> {
    let target = Target::parse(&args.server, &args.domain)?;
    let sources = conn::sources(&args.sources)?;
    if args.counts.windows(2).any(|w| w[0] >= w[1]) || args.counts.is_empty() {
        bail!("--counts must be ascending");
    }
    let deadline = Instant::now() + Duration::from_secs(args.max_secs);
    let cache = match &args.scram_cache {
        Some(p) => ScramCache::load(p),
        None => ScramCache::default(),
    };
    let user_of = |i: usize| {
        if args.users > 0 {
            format!("{}{}", args.user, i % args.users)
        } else {
            args.user.clone()
        }
    };
    let (release_tx, release_rx) = watch::channel(false);
    let dropped = Arc::new(AtomicU64::new(0));
    let drop_reason: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let sem = Arc::new(Semaphore::new(args.concurrency));
    let mut held = JoinSet::new();

    // Warm the SCRAM cache and check credentials with one throwaway login.
    let probe = Credentials {
        user: user_of(0),
        password: args.password.clone(),
        resource: "probe".into(),
        mech: args.mech,
    };
    let mut probe_conn = conn::login(&target, None, &probe, &cache).await?;
    let _ = probe_conn.writer.send(conn::stream_close(&target)).await;
    drop(probe_conn);

    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let base = crate::rss_kib(args.pid)?;
    let mut points = Vec::new();
    let mut opened = 0usize;
    let mut failed = 0u64;
    let mut first_error: Option<String> = None;
    let mut prev: Option<(usize, u64)> = None;
    for &count in &args.counts {
        let started = Instant::now();
        let mut logins = JoinSet::new();
        for i in opened..count {
            let permit = sem.clone().acquire_owned().await?;
            let target = target.clone();
            let cache = cache.clone();
            let source: Option<IpAddr> = (!sources.is_empty()).then(|| sources[i % sources.len()]);
            let creds = Credentials {
                user: user_of(i),
                password: args.password.clone(),
                resource: format!("idle{i}"),
                mech: args.mech,
            };
            logins.spawn(async move {
                let r = tokio::time::timeout(
                    Duration::from_secs(60),
                    conn::login(&target, source, &creds, &cache),
                )
                .await;
                drop(permit);
                match r {
                    Ok(Ok(c)) => Ok(c),
                    Ok(Err(e)) => Err(format!("{e:#}")),
                    Err(_) => Err("login timed out after 60 s".to_string()),
                }
            });
            if Instant::now() > deadline {
                bail!("W2 exceeded {} s while logging in", args.max_secs);
            }
            // Hand finished logins to holders as we go, so buffers stay small.
            while let Some(done) = logins.try_join_next() {
                hold(
                    done?,
                    &mut held,
                    &release_rx,
                    &dropped,
                    &drop_reason,
                    &mut failed,
                    &mut first_error,
                );
            }
        }
        while let Some(done) = logins.join_next().await {
            hold(
                done?,
                &mut held,
                &release_rx,
                &dropped,
                &drop_reason,
                &mut failed,
                &mut first_error,
            );
        }
        opened = count;
        let login_secs = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
        // The lowest of a few samples: a collector running at that instant would add noise.
        let mut rss = u64::MAX;
        for _ in 0..3 {
            rss = rss.min(crate::rss_kib(args.pid)?);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let live = held.len() as u64 - dropped.load(Ordering::Relaxed);
        let per_conn = (rss as f64 - base as f64) / live.max(1) as f64;
        let marginal = prev.map(|(n, r)| (rss as f64 - r as f64) / (count - n) as f64);
        eprintln!(
            "{}: {live} sessions live, RSS {rss} KiB (base {base}), {per_conn:.1} KiB/session",
            args.server
        );
        points.push(serde_json::json!({
            "n": count,
            "live": live,
            "rss_kib": rss,
            "per_conn_kib": per_conn,
            "marginal_kib": marginal,
            "login_secs": login_secs,
            "logins_per_sec": (count - prev.map(|p| p.0).unwrap_or(0)) as f64 / login_secs,
        }));
        prev = Some((count, rss));
    }
    if let Some(p) = &args.scram_cache {
        let _ = cache.save(p);
    }
    let _ = release_tx.send(true);
    let closing = tokio::time::timeout(Duration::from_secs(30), async {
        while held.join_next().await.is_some() {}
    })
    .await;
    if closing.is_err() {
        held.abort_all();
    }
    let doc = serde_json::json!({
        "base_rss_kib": base,
        "points": points,
        "failed_logins": failed,
        "first_error": first_error,
        "dropped_while_idle": dropped.load(Ordering::Relaxed),
        "first_drop": drop_reason.lock().expect("lock").clone(),
    });
    std::fs::write(&args.out, doc.to_string())?;
    println!("{doc}");
    Ok(())
}

fn hold(
    result: Result<conn::Conn, String>,
    held: &mut JoinSet<()>,
    release: &watch::Receiver<bool>,
    dropped: &Arc<AtomicU64>,
    drop_reason: &Arc<std::sync::Mutex<Option<String>>>,
    failed: &mut u64,
    first_error: &mut Option<String>,
) {
    let c = match result {
        Ok(c) => c,
        Err(e) => {
            *failed += 1;
            first_error.get_or_insert(e);
            return;
        }
    };
    let mut release = release.clone();
    let dropped = dropped.clone();
    let drop_reason = drop_reason.clone();
    held.spawn(async move {
        // Keep the writer alive: dropping a TCP write half sends FIN.
        let conn::Conn {
            mut reader,
            writer: _writer,
            ..
        } = c;
        loop {
            tokio::select! {
                _ = release.changed() => return,
                ev = reader.next() => match ev {
                    Ok(Some(Event::Elem(_) | Event::Open(_))) => {}
                    other => {
                        let why = match other {
                            Ok(Some(Event::Close)) => "the server closed the stream".to_string(),
                            Ok(None) => "the server closed the connection".to_string(),
                            Err(e) => format!("read error: {e}"),
                            Ok(Some(_)) => unreachable!(),
                        };
                        drop_reason.lock().expect("lock").get_or_insert(why);
                        dropped.fetch_add(1, Ordering::Relaxed);
                        // Wait for the release so the JoinSet count stays meaningful.
                        let _ = release.changed().await;
                        return;
                    }
                },
            }
        }
    });
}
