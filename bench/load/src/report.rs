//! Turns one run's measurements (`results.jsonl`, one JSON object per measurement, plus
//! `meta.json` and an optional `profile.md`) into `RESULTS.md` and a JSON document with the
//! same figures, the ratios and the targets of issue 9.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// Directory holding results.jsonl, meta.json and optionally profile.md.
    #[arg(long)]
    dir: PathBuf,
    #[arg(long)]
    md: PathBuf,
    #[arg(long)]
    json: PathBuf,
    /// Fail unless every workload ran and nothing was lost, refused or dropped (smoke mode).
    #[arg(long)]
    strict: bool,
}

fn f(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn num(x: f64) -> String {
    let r = x.round() as i64;
    let digits = r.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if r < 0 { format!("-{out}") } else { out }
}

fn ms(x: Option<f64>) -> String {
    match x {
        None => "—".into(),
        Some(x) if x >= 1000.0 => format!("{:.2} s", x / 1000.0),
        Some(x) if x >= 10.0 => format!("{x:.0} ms"),
        Some(x) if x >= 1.0 => format!("{x:.1} ms"),
        Some(x) => format!("{x:.2} ms"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn times(x: Option<f64>) -> String {
    match x {
        None => "—".into(),
        Some(x) if x >= 10.0 => format!("{x:.0}×"),
        Some(x) => format!("{x:.2}×"),
    }
}

/// Successful requests per second (2xx only).
fn ok_rps(r: &Value) -> Option<f64> {
    let req = f(r, "requests")?;
    let secs = f(r, "secs_measured")?;
    Some((req - f(r, "non2xx").unwrap_or(0.0)).max(0.0) / secs)
}

pub fn run(args: Args) -> Result<()> {
    let lines = std::fs::read_to_string(args.dir.join("results.jsonl")).context("results.jsonl")?;
    let records: Vec<Value> = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let meta: Value = std::fs::read_to_string(args.dir.join("meta.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(json!({}));
    let profile = std::fs::read_to_string(args.dir.join("profile.md")).ok();

    let find = |w: &str, server: &str, auth: &str, conns: u64| {
        records.iter().find(|r| {
            s(r, "workload") == w
                && s(r, "server") == server
                && (auth.is_empty() || s(r, "auth") == auth)
                && r.get("conns").and_then(Value::as_u64) == Some(conns)
        })
    };
    let mut md = String::new();
    let mut derived = Vec::new();
    writeln!(md, "# Benchmark results\n")?;
    writeln!(
        md,
        "Written by `bench/run` ({}). How to run and what each workload does: \
         [README.md](README.md). Every figure below comes from this one run. The soak \
         (`bench/soak`) is reported separately in [SOAK.md](SOAK.md).\n",
        s(&meta, "mode")
    )?;
    writeln!(md, "- **Date:** {}", s(&meta, "date"))?;
    writeln!(md, "- **Machine:** {}", s(&meta, "machine"))?;
    if let Some(v) = meta.get("versions").and_then(Value::as_object) {
        let list: Vec<String> = v
            .iter()
            .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
            .collect();
        writeln!(md, "- **Versions:** {}", list.join("; "))?;
    }
    writeln!(md, "- **Conditions:** {}", s(&meta, "conditions"))?;
    writeln!(md, "- **Settings:** {}\n", s(&meta, "settings"))?;

    // Targets.
    let conns_max = records
        .iter()
        .filter(|r| s(r, "workload") == "W1")
        .filter_map(|r| r.get("conns").and_then(Value::as_u64))
        .max()
        .unwrap_or(64);
    let sb_bearer = find("W1", "switchboard", "bearer", conns_max);
    let sb_basic = find("W1", "switchboard", "basic", conns_max);
    let sb_component = find("W1", "switchboard", "component", conns_max);
    let rps = |r: Option<&Value>| r.and_then(ok_rps);
    let p99 = |r: Option<&Value>| r.and_then(|r| f(r, "p99_ms"));
    let idle_point = |w: &str, server: &str, transport: &str| {
        records
            .iter()
            .find(|r| {
                s(r, "workload") == w && s(r, "server") == server && s(r, "transport") == transport
            })
            .and_then(|r| r.get("points")?.as_array()?.last().cloned())
    };
    let idle_kib = |server: &str, transport: &str| {
        idle_point("W2", server, transport).and_then(|p| f(&p, "per_conn_kib"))
    };
    let w3 = |server: &str| {
        records
            .iter()
            .find(|r| s(r, "workload") == "W3" && s(r, "server") == server)
            .and_then(|r| r.get("phases")?.as_array().cloned())
            .unwrap_or_default()
    };
    let sb_w3_top = w3("switchboard")
        .into_iter()
        .max_by_key(|p| p.get("rate").and_then(Value::as_u64).unwrap_or(0));
    let mut targets: Vec<(String, String, Option<bool>)> = Vec::new();
    let mut target = |name: &str, measured: String, met: Option<bool>| {
        targets.push((name.to_string(), measured, met));
    };
    let ceiling = rps(find("W1", "ceiling", "", conns_max));
    for (label, r) in [
        ("Bearer", sb_bearer),
        ("component credential", sb_component),
    ] {
        let of = ratio(rps(r), ceiling);
        target(
            &format!("W1 {label}, {conns_max} conns: ≥ 50 % of the ceiling"),
            format!(
                "{} ({} vs {} req/s)",
                of.map(|x| format!("{:.0} %", x * 100.0))
                    .unwrap_or("—".into()),
                num(rps(r).unwrap_or(0.0)),
                num(ceiling.unwrap_or(0.0))
            ),
            of.map(|x| x >= 0.5),
        );
        target(
            &format!("W1 {label}, {conns_max} conns: p99 < 5 ms"),
            ms(p99(r)),
            p99(r).map(|x| x < 5.0),
        );
    }
    let basic_of_bearer = ratio(rps(sb_basic), rps(sb_bearer));
    target(
        &format!("W1 Basic, {conns_max} conns: ≥ 80 % of Bearer"),
        format!(
            "{} ({} vs {} req/s)",
            basic_of_bearer
                .map(|x| format!("{:.0} %", x * 100.0))
                .unwrap_or("—".into()),
            num(rps(sb_basic).unwrap_or(0.0)),
            num(rps(sb_bearer).unwrap_or(0.0))
        ),
        basic_of_bearer.map(|x| x >= 0.8),
    );
    for auth in ["bearer", "basic", "component", "bearer-unarchived"] {
        let runs: Vec<&Value> = records
            .iter()
            .filter(|r| {
                s(r, "workload") == "W1" && s(r, "server") == "switchboard" && s(r, "auth") == auth
            })
            .collect();
        if runs.is_empty() {
            continue;
        }
        let accepted: f64 = runs
            .iter()
            .map(|r| f(r, "requests").unwrap_or(0.0) - f(r, "non2xx").unwrap_or(0.0))
            .sum();
        let delivered: f64 = runs.iter().map(|r| f(r, "received").unwrap_or(0.0)).sum();
        let refused: f64 = runs.iter().map(|r| f(r, "non2xx").unwrap_or(0.0)).sum();
        target(
            &format!("W1 {auth}, every run: every 2xx-accepted message delivered, none refused"),
            format!(
                "{} of {} delivered, {} refused",
                num(delivered),
                num(accepted),
                num(refused)
            ),
            Some(delivered >= accepted && accepted > 0.0 && refused == 0.0),
        );
    }
    for (transport, bound) in [("tcp", 3.0), ("ws", 4.0)] {
        let k = idle_kib("switchboard", transport);
        target(
            &format!(
                "W2 idle {} session ≤ {bound} KiB (RSS growth, at the largest N)",
                transport.to_uppercase()
            ),
            k.map(|k| format!("{k:.1} KiB")).unwrap_or("—".into()),
            k.map(|k| k <= bound),
        );
        let logins =
            idle_point("W2", "switchboard", transport).and_then(|p| f(&p, "logins_per_sec"));
        target(
            &format!(
                "W2 {}: ≥ 2,000 logins/s (one login at a time)",
                transport.to_uppercase()
            ),
            format!("{} logins/s", num(logins.unwrap_or(0.0))),
            logins.map(|x| x >= 2000.0),
        );
    }
    if let Some(p) = &sb_w3_top {
        let rate = p.get("rate").and_then(Value::as_u64).unwrap_or(0);
        let lost = f(p, "sent").unwrap_or(0.0) - f(p, "received").unwrap_or(0.0);
        target(
            &format!("W3 p99 delivery < 2 ms at {} msg/s", num(rate as f64)),
            format!(
                "{} (p50 {}, {} not delivered)",
                ms(f(p, "p99_ms")),
                ms(f(p, "p50_ms")),
                num(lost)
            ),
            f(p, "p99_ms").map(|x| x < 2.0 && lost == 0.0),
        );
    }
    if let Some(p) = idle_point("W5", "switchboard", "tcp") {
        let rss_mib = f(&p, "rss_kib").unwrap_or(0.0) / 1024.0;
        let n = f(&p, "n").unwrap_or(0.0);
        let live = f(&p, "live").unwrap_or(0.0);
        target(
            &format!("W5 {} idle TCP sessions held with RSS < 600 MiB", num(n)),
            format!(
                "{rss_mib:.0} MiB, {} of {} live, {:.1} KiB/session, {} logins/s",
                num(live),
                num(n),
                f(&p, "per_conn_kib").unwrap_or(0.0),
                num(f(&p, "logins_per_sec").unwrap_or(0.0))
            ),
            Some(rss_mib < 600.0 && live >= n && n >= 100_000.0),
        );
    }
    writeln!(md, "## Targets of issue 9\n")?;
    writeln!(md, "| target | measured | met |\n|---|---|---|")?;
    for (name, measured, met) in &targets {
        let m = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        writeln!(md, "| {name} | {measured} | {m} |")?;
    }
    writeln!(md)?;

    // W1 and W4.
    for (w, title, has_delivery) in [
        (
            "W1",
            "W1 — REST send (POST a chat message to a user with a live client)",
            true,
        ),
        (
            "W4",
            "W4 — iq over REST (`GET /rest/ping/localhost`)",
            false,
        ),
    ] {
        let rows: Vec<&Value> = records.iter().filter(|r| s(r, "workload") == w).collect();
        if rows.is_empty() {
            continue;
        }
        writeln!(md, "## {title}\n")?;
        if has_delivery {
            writeln!(
                md,
                "| server | auth | conns | ok req/s | p50 | p99 | p99.9 | errors | delivered | × Prosody (same auth) | × ejabberd | of ceiling |"
            )?;
            writeln!(
                md,
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            )?;
        } else {
            writeln!(
                md,
                "| server | auth | conns | ok req/s | p50 | p99 | p99.9 | errors | × Prosody | of ceiling |"
            )?;
            writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        }
        for r in rows {
            let conns = r.get("conns").and_then(Value::as_u64).unwrap_or(0);
            let server = s(r, "server");
            let auth = s(r, "auth");
            let mine = ok_rps(r);
            let ceiling = find(w, "ceiling", "", conns).and_then(ok_rps);
            let of_ceiling = ratio(mine, ceiling)
                .map(|x| format!("{:.0} %", x * 100.0))
                .unwrap_or("—".into());
            let vs_prosody = if server == "switchboard" {
                ratio(mine, find(w, "prosody", auth, conns).and_then(ok_rps))
            } else {
                None
            };
            let vs_ej = if server == "switchboard" {
                ratio(mine, find(w, "ejabberd", "", conns).and_then(ok_rps))
            } else {
                None
            };
            if server == "switchboard" {
                derived.push(json!({"workload": w, "auth": auth, "conns": conns,
                    "x_prosody": vs_prosody, "x_ejabberd": vs_ej,
                    "of_ceiling": ratio(mine, ceiling)}));
            }
            let non2xx = f(r, "non2xx").unwrap_or(0.0)
                + f(r, "socket_errors").unwrap_or(0.0)
                + f(r, "timeouts").unwrap_or(0.0);
            let base = format!(
                "| {server} | {auth} | {conns} | {} | {} | {} | {} | {} ",
                num(mine.unwrap_or(0.0)),
                ms(f(r, "p50_ms")),
                ms(f(r, "p99_ms")),
                ms(f(r, "p999_ms")),
                num(non2xx)
            );
            if has_delivery {
                let delivered = if server == "ceiling" {
                    "n/a".to_string()
                } else {
                    let accepted = f(r, "requests").unwrap_or(0.0) - f(r, "non2xx").unwrap_or(0.0);
                    let got = f(r, "received").unwrap_or(0.0);
                    if got >= accepted {
                        format!("all {}", num(got))
                    } else {
                        format!("**{} (−{})**", num(got), num(accepted - got))
                    }
                };
                writeln!(
                    md,
                    "{base}| {delivered} | {} | {} | {of_ceiling} |",
                    times(vs_prosody),
                    times(vs_ej)
                )?;
            } else {
                writeln!(md, "{base}| {} | {of_ceiling} |", times(vs_prosody))?;
            }
        }
        writeln!(md)?;
    }

    // W2.
    let w2: Vec<&Value> = records
        .iter()
        .filter(|r| matches!(s(r, "workload"), "W2" | "W5"))
        .collect();
    if !w2.is_empty() {
        writeln!(
            md,
            "## W2 and W5 — idle authenticated sessions (server RSS growth per session)\n"
        )?;
        writeln!(
            md,
            "| workload | server | transport | base RSS | N | RSS | KiB/session | marginal KiB/session | logins/s | failed | dropped | Prosody ÷ ours | ejabberd ÷ ours |"
        )?;
        writeln!(
            md,
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        )?;
        for r in &w2 {
            let workload = s(r, "workload");
            let server = s(r, "server");
            let transport = s(r, "transport");
            let points = r
                .get("points")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for p in points {
                let n = p.get("n").and_then(Value::as_u64).unwrap_or(0);
                let per = f(&p, "per_conn_kib");
                let peer_at = |peer: &str| {
                    records
                        .iter()
                        .find(|x| {
                            s(x, "workload") == "W2"
                                && s(x, "server") == peer
                                && s(x, "transport") == transport
                        })
                        .and_then(|x| {
                            x.get("points")?
                                .as_array()?
                                .iter()
                                .find(|q| q.get("n").and_then(Value::as_u64) == Some(n))
                                .cloned()
                        })
                        .and_then(|q| f(&q, "per_conn_kib"))
                };
                let (vp, ve) = if server == "switchboard" && workload == "W2" {
                    (
                        ratio(peer_at("prosody"), per),
                        ratio(peer_at("ejabberd"), per),
                    )
                } else {
                    (None, None)
                };
                if server == "switchboard" && workload == "W2" {
                    derived.push(json!({"workload": "W2", "transport": transport, "n": n,
                        "prosody_over_ours": vp, "ejabberd_over_ours": ve}));
                }
                writeln!(
                    md,
                    "| {workload} | {server} | {} | {:.1} MiB | {} | {:.1} MiB | {} | {} | {} | {} | {} | {} | {} |",
                    transport.to_uppercase(),
                    f(r, "base_rss_kib").unwrap_or(0.0) / 1024.0,
                    num(n as f64),
                    f(&p, "rss_kib").unwrap_or(0.0) / 1024.0,
                    per.map(|x| format!("{x:.1}")).unwrap_or("—".into()),
                    f(&p, "marginal_kib")
                        .map(|x| format!("{x:.1}"))
                        .unwrap_or("—".into()),
                    num(f(&p, "logins_per_sec").unwrap_or(0.0)),
                    num(f(r, "failed_logins").unwrap_or(0.0)),
                    num(f(r, "dropped_while_idle").unwrap_or(0.0)),
                    times(vp),
                    times(ve),
                )?;
            }
        }
        writeln!(md)?;
    }

    // W3.
    let w3s: Vec<&Value> = records
        .iter()
        .filter(|r| s(r, "workload") == "W3")
        .collect();
    if !w3s.is_empty() {
        writeln!(
            md,
            "## W3 — client-to-client delivery latency (one way, through the server)\n"
        )?;
        writeln!(
            md,
            "| server | target msg/s | achieved msg/s | sent | delivered | bounced | p50 | p99 | p99.9 | max |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        for r in &w3s {
            for p in r
                .get("phases")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                let sent = f(&p, "sent").unwrap_or(0.0);
                let got = f(&p, "received").unwrap_or(0.0);
                let delivered = if got >= sent {
                    format!("all {}", num(got))
                } else {
                    format!("**{} (−{})**", num(got), num(sent - got))
                };
                writeln!(
                    md,
                    "| {} | {} | {} | {} | {delivered} | {} | {} | {} | {} | {} |",
                    s(r, "server"),
                    num(f(&p, "rate").unwrap_or(0.0)),
                    num(f(&p, "achieved_rate").unwrap_or(0.0)),
                    num(sent),
                    num(f(&p, "bounced").unwrap_or(0.0)),
                    ms(f(&p, "p50_ms")),
                    ms(f(&p, "p99_ms")),
                    ms(f(&p, "p999_ms")),
                    ms(f(&p, "max_ms")),
                )?;
            }
        }
        writeln!(md)?;
    }
    // W6.
    for r in records.iter().filter(|r| s(r, "workload") == "W6") {
        writeln!(
            md,
            "## W6 — a page from a message archive (XEP-0313, RSM)\n"
        )?;
        writeln!(
            md,
            "{} chat messages from one account to another (online), archived for both at {} msg/s \
             ({} bounced); then {} queries of each kind on the recipient's archive, one at a time, \
             pages of {}, timed from the query to its iq result.\n",
            num(f(r, "messages").unwrap_or(0.0)),
            num(f(r, "fill_rate").unwrap_or(0.0)),
            num(f(r, "bounced").unwrap_or(0.0)),
            num(f(r, "queries").unwrap_or(0.0)),
            num(f(r, "page").unwrap_or(0.0)),
        )?;
        writeln!(
            md,
            "| server | page | p50 | p99 | p99.9 | max | every page whole |"
        )?;
        writeln!(md, "|---|---|---:|---:|---:|---:|---|")?;
        for (kind, label) in [
            ("first", "first (oldest)"),
            ("middle", "middle (`after-id`)"),
            ("last", "last (`<before/>`)"),
        ] {
            let Some(p) = r.get("pages").and_then(|p| p.get(kind)) else {
                continue;
            };
            let whole = p.get("whole_pages").and_then(Value::as_bool) == Some(true);
            writeln!(
                md,
                "| {} | {label} | {} | {} | {} | {} | {} |",
                s(r, "server"),
                ms(f(p, "p50_ms")),
                ms(f(p, "p99_ms")),
                ms(f(p, "p999_ms")),
                ms(f(p, "max_ms")),
                if whole { "yes" } else { "**no**" },
            )?;
        }
        writeln!(md)?;
    }
    // W7.
    for r in records.iter().filter(|r| s(r, "workload") == "W7") {
        writeln!(md, "## W7 — group chat fan-out (XEP-0045)\n")?;
        writeln!(
            md,
            "One room of {} occupants (sessions of one account, TCP) and its owner; the owner posts \
             {} groupchat messages at {} msg/s, each copied to every occupant. Latency is from the \
             owner's write to each occupant's read, over every delivery; the occupants joined in \
             {:.1} s.\n",
            num(f(r, "occupants").unwrap_or(0.0)),
            num(f(r, "messages").unwrap_or(0.0)),
            num(f(r, "rate").unwrap_or(0.0)),
            f(r, "join_secs").unwrap_or(0.0),
        )?;
        writeln!(
            md,
            "| server | deliveries expected | delivered | bounced | p50 | p99 | p99.9 | max |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            s(r, "server"),
            num(f(r, "expected").unwrap_or(0.0)),
            num(f(r, "received").unwrap_or(0.0)),
            num(f(r, "bounced").unwrap_or(0.0)),
            ms(f(r, "p50_ms")),
            ms(f(r, "p99_ms")),
            ms(f(r, "p999_ms")),
            ms(f(r, "max_ms")),
        )?;
        writeln!(md)?;
    }
    if let Some(p) = &profile {
        writeln!(md, "## Profile\n\n{}", p.trim_end())?;
        writeln!(md)?;
    }
    if let Some(notes) = meta.get("notes").and_then(Value::as_str) {
        writeln!(md, "## Notes\n\n{}", notes.trim_end())?;
    }
    std::fs::write(&args.md, &md)?;
    let doc = json!({
        "meta": meta,
        "targets": targets.iter().map(|(n, m, met)| json!({"target": n, "measured": m, "met": met})).collect::<Vec<_>>(),
        "ratios": derived,
        "records": records,
        "profile": profile,
    });
    std::fs::write(&args.json, serde_json::to_string_pretty(&doc)? + "\n")?;
    print!("{md}");
    if args.strict {
        let ran: Vec<String> = match meta.get("workloads").and_then(Value::as_str) {
            Some(list) => list.split(',').map(|w| w.trim().to_uppercase()).collect(),
            None => ["W1", "W2", "W3", "W4", "W5", "W6", "W7"]
                .map(String::from)
                .to_vec(),
        };
        let problems = check(&records, &ran);
        if !problems.is_empty() {
            anyhow::bail!("smoke check failed:\n  {}", problems.join("\n  "));
        }
        println!("smoke check: every workload ran, nothing lost, refused or dropped");
    }
    Ok(())
}

/// What `--strict` refuses: a missing workload of those that `ran`, an HTTP error, a lost
/// message, a failed or dropped session, a short archive page.
fn check(records: &[Value], ran: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for w in ran {
        if !records
            .iter()
            .any(|r| s(r, "workload") == w && s(r, "server") == "switchboard")
        {
            problems.push(format!("{w}: no Switchboard measurement"));
        }
    }
    for r in records {
        let who = format!(
            "{} {} {}{}",
            s(r, "workload"),
            s(r, "server"),
            s(r, "auth"),
            s(r, "transport")
        );
        match s(r, "workload") {
            "W1" | "W4" => {
                let errors = f(r, "non2xx").unwrap_or(0.0)
                    + f(r, "socket_errors").unwrap_or(0.0)
                    + f(r, "timeouts").unwrap_or(0.0);
                if errors > 0.0 {
                    problems.push(format!("{who}: {errors} HTTP errors"));
                }
                if f(r, "requests").unwrap_or(0.0) == 0.0 {
                    problems.push(format!("{who}: no requests completed"));
                }
                if s(r, "workload") == "W1" && s(r, "server") != "ceiling" {
                    let accepted = f(r, "requests").unwrap_or(0.0) - f(r, "non2xx").unwrap_or(0.0);
                    let got = f(r, "received").unwrap_or(0.0);
                    if got < accepted {
                        problems.push(format!("{who}: {accepted} accepted, {got} delivered"));
                    }
                }
            }
            "W2" | "W5" => {
                if f(r, "failed_logins").unwrap_or(0.0) > 0.0 {
                    problems.push(format!("{who}: failed logins ({})", s(r, "first_error")));
                }
                if f(r, "dropped_while_idle").unwrap_or(0.0) > 0.0 {
                    problems.push(format!("{who}: sessions dropped while idle"));
                }
                for p in r
                    .get("points")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if f(p, "live") != f(p, "n") {
                        problems.push(format!(
                            "{who}: {:?} of {:?} sessions live",
                            f(p, "live"),
                            f(p, "n")
                        ));
                    }
                }
            }
            "W3" => {
                for p in r
                    .get("phases")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if f(p, "received") < f(p, "sent") {
                        problems.push(format!(
                            "{who}: at {:?} msg/s {:?} sent, {:?} delivered",
                            f(p, "rate"),
                            f(p, "sent"),
                            f(p, "received")
                        ));
                    }
                }
            }
            "W7" if f(r, "received") < f(r, "expected") || f(r, "bounced").unwrap_or(0.0) > 0.0 => {
                problems.push(format!(
                    "{who}: {:?} of {:?} room deliveries, {:?} bounced",
                    f(r, "received"),
                    f(r, "expected"),
                    f(r, "bounced")
                ));
            }
            "W6" => {
                if f(r, "bounced").unwrap_or(0.0) > 0.0 {
                    problems.push(format!("{who}: messages bounced while filling the archive"));
                }
                for kind in ["first", "middle", "last"] {
                    let whole = r
                        .get("pages")
                        .and_then(|p| p.get(kind))
                        .and_then(|p| p.get("whole_pages"))
                        .and_then(Value::as_bool);
                    if whole != Some(true) {
                        problems.push(format!("{who}: {kind} pages not whole ({whole:?})"));
                    }
                }
            }
            _ => {}
        }
    }
    problems
}
