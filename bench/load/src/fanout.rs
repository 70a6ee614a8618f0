//! W7: group chat fan-out latency. `--occupants` sessions of one account (resources f0…,
//! nicknames n0…) join one room; a sender (its owner, joined first) posts `--messages`
//! groupchat messages at `--rate`, each body carrying its send time; every occupant, in the same
//! process, records now − then for each copy it receives. One-way latency from the sender's
//! write to each occupant's read, in microseconds, over every delivery.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::task::JoinSet;

use crate::conn::{self, Credentials, Mech, ScramCache, Target};
use crate::xml::{Event, attr, child_text, has_attr};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    server: String,
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// The room, `name@service`.
    #[arg(long)]
    room: String,
    #[arg(long)]
    sender: String,
    /// The account whose sessions are the occupants.
    #[arg(long)]
    occupant: String,
    #[arg(long)]
    password: String,
    #[arg(long, value_enum, default_value = "scram")]
    mech: Mech,
    #[arg(long, default_value_t = 1000)]
    occupants: usize,
    #[arg(long, default_value_t = 100)]
    messages: u64,
    /// Messages per second the sender posts.
    #[arg(long, default_value_t = 10)]
    rate: u64,
    /// Longest wait for the occupants to join, and for deliveries after the last message.
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    #[arg(long)]
    out: PathBuf,
}

struct Shared {
    base: Instant,
    joined: AtomicU64,
    received: AtomicU64,
    errors: AtomicU64,
    samples: Mutex<Vec<u64>>,
}

fn join_stanza(room: &str, nick: &str) -> String {
    format!(
        "<presence xmlns='jabber:client' to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>"
    )
}

/// Whether `el` is the occupant's own presence in the room (status 110).
fn is_own_presence(el: &str) -> bool {
    el.starts_with("<presence")
        && attr(el, "type").is_none()
        && (el.contains("code='110'") || el.contains("code=\"110\""))
}

pub async fn run(args: Args) -> Result<()> {
    let target = Target::parse(&args.server, &args.domain)?;
    if args.occupants == 0 || args.occupants > 20_000 || args.rate == 0 || args.rate > 10_000 {
        bail!("--occupants within 1..=20000 and --rate within 1..=10000");
    }
    let deadline = Duration::from_secs(args.max_secs);
    let cache = ScramCache::default();
    let shared = Arc::new(Shared {
        base: Instant::now(),
        joined: AtomicU64::new(0),
        received: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        samples: Mutex::new(Vec::new()),
    });
    let sender_jid = format!("{}/sender", args.room);
    let mut tasks = JoinSet::new();

    // The sender creates the room (and owns it) before anyone else joins.
    let creds = Credentials {
        user: args.sender.clone(),
        password: args.password.clone(),
        resource: "fanout".into(),
        mech: args.mech,
    };
    let mut sender = conn::login(&target, None, &creds, &cache).await?;
    sender
        .writer
        .send(&join_stanza(&args.room, "sender"))
        .await?;
    let started = Instant::now();
    loop {
        if started.elapsed() > deadline {
            bail!("the sender did not join {} in time", args.room);
        }
        match tokio::time::timeout(deadline, sender.reader.next()).await {
            Ok(Ok(Some(Event::Elem(el)))) if is_own_presence(&el) => break,
            Ok(Ok(Some(Event::Elem(el))))
                if el.starts_with("<presence") && has_attr(&el, "type", "error") =>
            {
                bail!("the sender could not join: {el}")
            }
            Ok(Ok(Some(_))) => {}
            _ => bail!("the sender's stream ended before it joined"),
        }
    }
    let mut sender_reader = sender.reader;
    let counted = shared.clone();
    tasks.spawn(async move {
        while let Ok(Some(ev)) = sender_reader.next().await {
            if let Event::Elem(el) = ev
                && el.starts_with("<message")
                && has_attr(&el, "type", "error")
            {
                counted.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    let mut writers = Vec::with_capacity(args.occupants);
    for i in 0..args.occupants {
        let creds = Credentials {
            user: args.occupant.clone(),
            password: args.password.clone(),
            resource: format!("f{i}"),
            mech: args.mech,
        };
        let mut c = conn::login(&target, None, &creds, &cache).await?;
        c.writer
            .send(&join_stanza(&args.room, &format!("n{i}")))
            .await?;
        writers.push(c.writer);
        let shared = shared.clone();
        let from = sender_jid.clone();
        let mut reader = c.reader;
        tasks.spawn(async move {
            while let Ok(Some(ev)) = reader.next().await {
                if let Event::Elem(el) = ev {
                    record(&shared, &from, &el);
                }
            }
        });
    }
    let join_start = Instant::now();
    while shared.joined.load(Ordering::Relaxed) < args.occupants as u64 {
        if join_start.elapsed() > deadline {
            bail!(
                "only {} of {} occupants joined in time",
                shared.joined.load(Ordering::Relaxed),
                args.occupants
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let join_secs = started.elapsed().as_secs_f64();
    // Let the joins' presence traffic drain before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let start = Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate));
    while sent < args.messages {
        tick.tick().await;
        let now_us = shared.base.elapsed().as_micros() as u64;
        sender
            .writer
            .send(&format!(
                "<message xmlns='jabber:client' to='{}' type='groupchat' id='f{sent}'><body>{sent} {now_us}</body></message>",
                args.room
            ))
            .await?;
        sent += 1;
    }
    let send_secs = start.elapsed().as_secs_f64();
    let expected = sent * args.occupants as u64;
    let drain = Instant::now();
    while shared.received.load(Ordering::Relaxed) < expected
        && shared.errors.load(Ordering::Relaxed) == 0
        && drain.elapsed() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let samples = std::mem::take(&mut *shared.samples.lock().expect("samples"));
    let mut doc = crate::percentiles(samples);
    let obj = doc.as_object_mut().expect("object");
    obj.insert("occupants".into(), args.occupants.into());
    obj.insert("messages".into(), sent.into());
    obj.insert("rate".into(), args.rate.into());
    obj.insert("achieved_rate".into(), (sent as f64 / send_secs).into());
    obj.insert("expected".into(), expected.into());
    obj.insert(
        "received".into(),
        shared.received.load(Ordering::Relaxed).into(),
    );
    obj.insert(
        "bounced".into(),
        shared.errors.load(Ordering::Relaxed).into(),
    );
    obj.insert("join_secs".into(), join_secs.into());
    let _ = sender.writer.send(conn::stream_close(&target)).await;
    for w in writers.iter_mut() {
        let _ = w.send(conn::stream_close(&target)).await;
    }
    tasks.abort_all();
    std::fs::write(&args.out, doc.to_string())?;
    println!("{doc}");
    Ok(())
}

fn record(shared: &Shared, sender: &str, el: &str) {
    if is_own_presence(el) {
        shared.joined.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if !el.starts_with("<message") || attr(el, "from") != Some(sender) {
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
    let (Some(Some(_seq)), Some(Some(sent_us))) = (fields.next(), fields.next()) else {
        return;
    };
    let now_us = shared.base.elapsed().as_micros() as u64;
    shared.received.fetch_add(1, Ordering::Relaxed);
    shared
        .samples
        .lock()
        .expect("samples")
        .push(now_us.saturating_sub(sent_us));
}
