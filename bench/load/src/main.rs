//! `sb-load`: the load client and helpers behind `bench/run`.
//!
//! Every loop here is bounded in count and in time, and every target must be a loopback
//! address.

mod archive;
mod ceiling;
mod conn;
mod fanout;
mod idle;
mod latency;
mod receive;
mod register;
mod report;
mod soak;
mod tls;
mod xml;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sb-load", about = "Switchboard benchmark load client")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The trivial HTTP handler that gives this machine's ceiling for W1/W4.
    Ceiling(ceiling::Args),
    /// One client that sends presence and counts the messages it receives (W1).
    Receive(receive::Args),
    /// W2: hold N authenticated idle sessions and measure the server's RSS growth.
    Idle(idle::Args),
    /// Register many accounts through an HTTP admin API (Switchboard, ejabberd).
    Register(register::Args),
    /// W3: client-to-client delivery latency at steady rates.
    Latency(latency::Args),
    /// W6: fill a message archive, then time pages from its start, middle and end.
    Archive(archive::Args),
    /// W7: group chat fan-out latency to every occupant of one room.
    Fanout(fanout::Args),
    /// Print one JSON object built from `key=value` pairs and merged JSON files.
    Emit {
        /// `key=value` (or `object.key=value`); the value is parsed as JSON when it is valid
        /// JSON, else taken as a string.
        #[arg(long = "set")]
        set: Vec<String>,
        /// JSON object files whose keys are merged in (later ones win).
        #[arg(long = "merge")]
        merge: Vec<PathBuf>,
    },
    /// Write RESULTS.md and the JSON document from the measurements of one run.
    Report(report::Args),
    /// The soak: waves of sessions connecting, exchanging messages and disconnecting.
    Soak(soak::Args),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Emit { set, merge } => emit(set, merge),
        Cmd::Report(a) => report::run(a),
        cmd => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                match cmd {
                    Cmd::Ceiling(a) => ceiling::run(a).await,
                    Cmd::Receive(a) => receive::run(a).await,
                    Cmd::Idle(a) => idle::run(a).await,
                    Cmd::Latency(a) => latency::run(a).await,
                    Cmd::Archive(a) => archive::run(a).await,
                    Cmd::Fanout(a) => fanout::run(a).await,
                    Cmd::Register(a) => register::run(a).await,
                    Cmd::Soak(a) => soak::run(a).await,
                    Cmd::Emit { .. } | Cmd::Report(_) => unreachable!(),
                }
            })
        }
    }
}

fn emit(set: Vec<String>, merge: Vec<PathBuf>) -> Result<()> {
    let mut out = serde_json::Map::new();
    for path in merge {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if let serde_json::Value::Object(m) = serde_json::from_str(&text)? {
            out.extend(m);
        }
    }
    for kv in set {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--set wants key=value, got {kv}"))?;
        let value = serde_json::from_str(v).unwrap_or(serde_json::Value::String(v.to_string()));
        // `a.b=v` sets key `b` of object `a`.
        match k.split_once('.') {
            Some((outer, inner)) => {
                let slot = out
                    .entry(outer.to_string())
                    .or_insert_with(|| serde_json::Value::Object(Default::default()));
                if let serde_json::Value::Object(m) = slot {
                    m.insert(inner.to_string(), value);
                }
            }
            None => {
                out.insert(k.to_string(), value);
            }
        }
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

/// Percentiles of latencies in microseconds, reported in milliseconds.
pub fn percentiles(mut us: Vec<u64>) -> serde_json::Value {
    if us.is_empty() {
        return serde_json::json!({"samples": 0});
    }
    us.sort_unstable();
    let at = |p: f64| {
        let i = ((p / 100.0) * us.len() as f64).ceil() as usize;
        us[i.clamp(1, us.len()) - 1] as f64 / 1000.0
    };
    serde_json::json!({
        "samples": us.len(),
        "p50_ms": at(50.0),
        "p99_ms": at(99.0),
        "p999_ms": at(99.9),
        "max_ms": *us.last().unwrap_or(&0) as f64 / 1000.0,
    })
}

/// Resident set size of `pid` in KiB, from /proc.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for pid {pid}"))
}
