//! W6: paging through a large message archive (XEP-0313). `--sender` sends `--messages` chat
//! messages to `--owner` (online with presence, so each one is archived for both), at most
//! `--window` in flight; the owner's copies carry their archive ids (XEP-0359). Then, on a
//! second resource of the owner, `--queries` MAM queries of each kind, one at a time: the first
//! page, a page from the middle by `after-id`, and the last page (RSM `<before/>`), each of
//! `--page` messages. Reports the fill rate and each kind's latency (query sent to iq result
//! received) as p50/p99/p999, and whether every page was whole.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;
use tokio::task::JoinSet;

use crate::conn::{self, Conn, Credentials, Mech, ScramCache, Target};
use crate::xml::{Event, attr, child_text, has_attr};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    server: String,
    #[arg(long, default_value = "localhost")]
    domain: String,
    #[arg(long)]
    sender: String,
    /// Whose archive is filled and queried.
    #[arg(long)]
    owner: String,
    #[arg(long)]
    password: String,
    #[arg(long, value_enum, default_value = "scram")]
    mech: Mech,
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Messages sent but not yet received by the owner, at most.
    #[arg(long, default_value_t = 500)]
    window: u64,
    /// Messages per page.
    #[arg(long, default_value_t = 50)]
    page: usize,
    /// Queries of each kind.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Upper bound for the whole run.
    #[arg(long, default_value_t = 600)]
    max_secs: u64,
    #[arg(long)]
    out: PathBuf,
}

/// What the owner's receiving resource saw of the fill.
#[derive(Default)]
struct Fill {
    received: AtomicU64,
    bounced: AtomicU64,
    /// The archive id of the message in the middle, from its `<stanza-id/>`.
    middle_id: Mutex<Option<String>>,
}

pub async fn run(args: Args) -> Result<()> {
    let target = Target::parse(&args.server, &args.domain)?;
    if args.messages < 3 * args.page as u64 || args.page == 0 || args.queries == 0 {
        bail!("--messages must hold at least three pages; --page and --queries must be positive");
    }
    let deadline = Instant::now() + Duration::from_secs(args.max_secs);
    let cache = ScramCache::default();
    let creds = |user: &str, resource: &str| Credentials {
        user: user.to_string(),
        password: args.password.clone(),
        resource: resource.to_string(),
        mech: args.mech,
    };
    let owner_jid = format!("{}@{}", args.owner, args.domain);
    let middle = args.messages / 2;
    let fill = Arc::new(Fill::default());
    let mut tasks = JoinSet::new();

    let mut receiver = conn::login(&target, None, &creds(&args.owner, "w6-fill"), &cache).await?;
    receiver
        .writer
        .send("<presence xmlns='jabber:client'/>")
        .await?;
    {
        let fill = fill.clone();
        let mut reader = receiver.reader;
        tasks.spawn(async move {
            while let Ok(Some(ev)) = reader.next().await {
                let Event::Elem(el) = ev else { continue };
                let Some(n) = child_text(&el, "body")
                    .and_then(|b| b.strip_prefix("w6 "))
                    .and_then(|n| n.parse::<u64>().ok())
                else {
                    continue;
                };
                if n == middle {
                    let id = el
                        .find("<stanza-id")
                        .and_then(|at| attr(&el[at..], "id"))
                        .map(str::to_string);
                    *fill.middle_id.lock().expect("middle id") = id;
                }
                fill.received.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let sender = conn::login(&target, None, &creds(&args.sender, "w6-send"), &cache).await?;
    let mut writer = sender.writer;
    {
        let fill = fill.clone();
        let mut reader = sender.reader;
        tasks.spawn(async move {
            while let Ok(Some(ev)) = reader.next().await {
                if let Event::Elem(el) = ev
                    && el.starts_with("<message")
                    && has_attr(&el, "type", "error")
                {
                    fill.bounced.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    // Let the owner's presence settle, so that every message is delivered live.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let mut sent = 0;
    let mut batch = Vec::new();
    while sent < args.messages {
        if Instant::now() > deadline {
            bail!("filling the archive took longer than {} s", args.max_secs);
        }
        let done = fill.received.load(Ordering::Relaxed) + fill.bounced.load(Ordering::Relaxed);
        let in_flight = sent.saturating_sub(done);
        let room = args
            .window
            .saturating_sub(in_flight)
            .min(args.messages - sent);
        if room == 0 {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        batch.clear();
        for _ in 0..room {
            batch.push(format!(
                "<message xmlns='jabber:client' to='{owner_jid}' type='chat'><body>w6 {sent}</body></message>"
            ));
            sent += 1;
        }
        writer.send_batch(&batch).await.context("sending")?;
    }
    while fill.received.load(Ordering::Relaxed) + fill.bounced.load(Ordering::Relaxed) < sent {
        if Instant::now() > deadline {
            bail!("the owner did not receive every message in time");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let fill_secs = started.elapsed().as_secs_f64();
    let bounced = fill.bounced.load(Ordering::Relaxed);
    let middle_id = fill
        .middle_id
        .lock()
        .expect("middle id")
        .clone()
        .context("the middle message carried no stanza-id")?;
    eprintln!(
        "W6: {sent} messages in {fill_secs:.1} s ({:.0}/s), {bounced} bounced",
        sent as f64 / fill_secs
    );

    let mut querier = conn::login(&target, None, &creds(&args.owner, "w6-query"), &cache).await?;
    let rsm = |inner: &str| {
        format!(
            "<set xmlns='http://jabber.org/protocol/rsm'><max>{}</max>{inner}</set>",
            args.page
        )
    };
    let after_middle = format!(
        "<x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>\
         <field var='after-id'><value>{middle_id}</value></field></x>{}",
        rsm("")
    );
    let kinds = [
        ("first", rsm("")),
        ("middle", after_middle),
        ("last", rsm("<before/>")),
    ];
    let mut pages = serde_json::Map::new();
    let mut q = 0;
    for (kind, inner) in &kinds {
        let mut samples = Vec::with_capacity(args.queries);
        let mut whole = true;
        for _ in 0..args.queries {
            if Instant::now() > deadline {
                bail!("the queries took longer than {} s", args.max_secs);
            }
            q += 1;
            let (elapsed, results, fin) = query(&mut querier, q, inner).await?;
            samples.push(elapsed.as_micros() as u64);
            // Every page is limited by its size, so none of them is complete.
            whole &= results == args.page && has_attr(&fin, "complete", "false");
        }
        let mut stats = crate::percentiles(samples);
        let obj = stats.as_object_mut().expect("object");
        obj.insert("whole_pages".into(), whole.into());
        eprintln!("W6 {kind} page: {stats}");
        pages.insert((*kind).to_string(), stats);
    }
    let _ = querier.writer.send(conn::stream_close(&target)).await;
    let _ = writer.send(conn::stream_close(&target)).await;
    tasks.abort_all();
    let doc = json!({
        "messages": sent,
        "bounced": bounced,
        "fill_secs": fill_secs,
        "fill_rate": sent as f64 / fill_secs,
        "page": args.page,
        "queries": args.queries,
        "pages": pages,
    });
    std::fs::write(&args.out, doc.to_string())?;
    println!("{doc}");
    Ok(())
}

/// Runs one query; its latency, the number of results and the `<fin>` start tag.
async fn query(conn: &mut Conn, n: usize, inner: &str) -> Result<(Duration, usize, String)> {
    let id = format!("w6q{n}");
    let started = Instant::now();
    conn.writer
        .send(&format!(
            "<iq xmlns='jabber:client' type='set' id='{id}'><query xmlns='urn:xmpp:mam:2' queryid='{id}'>{inner}</query></iq>"
        ))
        .await?;
    let mut results = 0;
    loop {
        let el = conn.reader.elem().await?;
        let result = el.find("<result").map(|at| &el[at..]);
        if el.starts_with("<message") && result.is_some_and(|r| has_attr(r, "queryid", &id)) {
            results += 1;
        } else if el.starts_with("<iq") && has_attr(&el, "id", &id) {
            if !has_attr(&el, "type", "result") {
                bail!("query {id} failed: {el}");
            }
            let fin = el
                .find("<fin")
                .map(|at| el[at..].split('>').next().unwrap_or_default().to_string())
                .unwrap_or_default();
            return Ok((started.elapsed(), results, fin));
        }
    }
}
