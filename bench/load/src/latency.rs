//! W3: client-to-client delivery latency. `--pairs` senders (`--sender`, resources s0…) send
//! chat messages to the same number of receivers (`--receiver`, resources r0…, online with
//! presence) at a steady total rate; each body carries the send time, and the receiver,
//! in the same process, records now − then. One-way latency through the server, in
//! microseconds, reported as p50/p99/p999. Several rates run one after the other.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::task::JoinSet;

use crate::conn::{self, Credentials, Mech, ScramCache, Target, Writer};
use crate::xml::{Event, child_text, has_attr};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    server: String,
    #[arg(long, default_value = "localhost")]
    domain: String,
    #[arg(long)]
    sender: String,
    #[arg(long)]
    receiver: String,
    #[arg(long)]
    password: String,
    #[arg(long, value_enum, default_value = "scram")]
    mech: Mech,
    #[arg(long, default_value_t = 8)]
    pairs: usize,
    /// Messages per second, all pairs together; one phase per value.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    rates: Vec<u64>,
    /// Seconds each phase sends for.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Longest wait after a phase for messages still in flight.
    #[arg(long, default_value_t = 5)]
    drain_secs: u64,
    #[arg(long)]
    out: PathBuf,
}

struct Shared {
    base: Instant,
    phase: AtomicU64,
    received: AtomicU64,
    errors: AtomicU64,
    samples: Mutex<Vec<u64>>,
}

pub async fn run(args: Args) -> Result<()> {
    let target = Target::parse(&args.server, &args.domain)?;
    if args.pairs == 0 || args.rates.iter().any(|&r| r == 0 || r > 100_000) {
        bail!("--pairs must be positive and rates within 1..=100000");
    }
    let cache = ScramCache::default();
    let shared = Arc::new(Shared {
        base: Instant::now(),
        phase: AtomicU64::new(0),
        received: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        samples: Mutex::new(Vec::new()),
    });
    let mut tasks = JoinSet::new();
    let mut receivers = Vec::new();
    for i in 0..args.pairs {
        let creds = Credentials {
            user: args.receiver.clone(),
            password: args.password.clone(),
            resource: format!("r{i}"),
            mech: args.mech,
        };
        let mut c = conn::login(&target, None, &creds, &cache).await?;
        c.writer.send("<presence xmlns='jabber:client'/>").await?;
        let jid = if c.jid.contains('/') {
            c.jid.clone()
        } else {
            format!("{}@{}/r{i}", args.receiver, args.domain)
        };
        receivers.push(jid);
        let shared = shared.clone();
        tasks.spawn(async move {
            let mut reader = c.reader;
            let _writer = c.writer;
            while let Ok(Some(ev)) = reader.next().await {
                if let Event::Elem(el) = ev {
                    record(&shared, &el);
                }
            }
        });
    }
    let mut writers: Vec<Writer> = Vec::new();
    for i in 0..args.pairs {
        let creds = Credentials {
            user: args.sender.clone(),
            password: args.password.clone(),
            resource: format!("s{i}"),
            mech: args.mech,
        };
        let c = conn::login(&target, None, &creds, &cache).await?;
        let shared = shared.clone();
        let mut reader = c.reader;
        tasks.spawn(async move {
            while let Ok(Some(ev)) = reader.next().await {
                if let Event::Elem(el) = ev
                    && el.starts_with("<message")
                    && has_attr(&el, "type", "error")
                {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        writers.push(c.writer);
    }
    // Let presence settle before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut phases = Vec::new();
    let mut seq: u64 = 0;
    for (phase_no, &rate) in args.rates.iter().enumerate() {
        let phase_no = phase_no as u64 + 1;
        shared.phase.store(phase_no, Ordering::Relaxed);
        shared.received.store(0, Ordering::Relaxed);
        shared.errors.store(0, Ordering::Relaxed);
        shared.samples.lock().expect("samples").clear();
        let total = rate * args.secs;
        let start = Instant::now();
        let mut sent: u64 = 0;
        let mut batches: Vec<Vec<String>> = vec![Vec::new(); args.pairs];
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut write_errors = 0u64;
        while sent < total {
            tick.tick().await;
            let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
            let now_us = shared.base.elapsed().as_micros() as u64;
            while sent < due {
                let k = (sent as usize) % args.pairs;
                batches[k].push(format!(
                    "<message xmlns='jabber:client' to='{}' type='chat' id='m{seq}'><body>{phase_no} {seq} {now_us}</body></message>",
                    receivers[k]
                ));
                seq += 1;
                sent += 1;
            }
            for (k, batch) in batches.iter_mut().enumerate() {
                if !batch.is_empty() {
                    if writers[k].send_batch(batch).await.is_err() {
                        write_errors += batch.len() as u64;
                    }
                    batch.clear();
                }
            }
            if start.elapsed() > Duration::from_secs(args.secs * 3 + 10) {
                break;
            }
        }
        let send_secs = start.elapsed().as_secs_f64();
        let drain_start = Instant::now();
        while shared.received.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed) < sent
            && drain_start.elapsed() < Duration::from_secs(args.drain_secs)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let received = shared.received.load(Ordering::Relaxed);
        let samples = std::mem::take(&mut *shared.samples.lock().expect("samples"));
        let mut phase = crate::percentiles(samples);
        let obj = phase.as_object_mut().expect("object");
        obj.insert("rate".into(), rate.into());
        obj.insert("sent".into(), sent.into());
        obj.insert("received".into(), received.into());
        obj.insert(
            "bounced".into(),
            shared.errors.load(Ordering::Relaxed).into(),
        );
        obj.insert("write_errors".into(), write_errors.into());
        obj.insert("achieved_rate".into(), (sent as f64 / send_secs).into());
        eprintln!("{}: {phase}", args.server);
        phases.push(phase);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for w in writers.iter_mut() {
        let _ = w.send(conn::stream_close(&target)).await;
    }
    tasks.abort_all();
    let doc = serde_json::json!({"pairs": args.pairs, "secs": args.secs, "phases": phases});
    std::fs::write(&args.out, doc.to_string())?;
    println!("{doc}");
    Ok(())
}

fn record(shared: &Shared, el: &str) {
    if !el.starts_with("<message") {
        return;
    }
    if has_attr(el, "type", "error") {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Some(body) = child_text(el, "body") else {
        return;
    };
    let mut fields = body.split(' ').map(|t| t.parse::<u64>().ok());
    let (Some(Some(phase)), Some(_seq), Some(Some(sent_us))) =
        (fields.next(), fields.next(), fields.next())
    else {
        return;
    };
    if phase != shared.phase.load(Ordering::Relaxed) {
        return;
    }
    let now_us = shared.base.elapsed().as_micros() as u64;
    shared.received.fetch_add(1, Ordering::Relaxed);
    shared
        .samples
        .lock()
        .expect("samples")
        .push(now_us.saturating_sub(sent_us));
}
