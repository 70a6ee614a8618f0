//! `switchboard backup` and `restore` run as an operator would: a backup taken from a serving
//! process while messages are being stored, restored into a fresh data directory and served.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{KillOnDrop, RawTcp};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The binary with `data` as its data directory and nothing inherited that would change the
/// configuration.
fn cmd(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    for (var, _) in std::env::vars() {
        if var.starts_with("SWITCHBOARD_") {
            c.env_remove(var);
        }
    }
    c.env("SWITCHBOARD_DATA_DIR", data)
        .env("SWITCHBOARD_LOG", "warn");
    c
}

fn output(c: &mut Command) -> Output {
    c.output().expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeds(c: &mut Command) -> String {
    let out = output(c);
    assert!(out.status.success(), "{c:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn fails(c: &mut Command) -> String {
    let out = output(c);
    assert_eq!(out.status.code(), Some(1), "{c:?}: {}", text(&out.stdout));
    text(&out.stderr)
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `serve` on `data`, returned once its c2s listener accepts connections.
async fn serve(data: &Path) -> (KillOnDrop, SocketAddr) {
    let c2s = free_addr();
    let child = cmd(data)
        .arg("serve")
        .env("SWITCHBOARD_HTTP_ADDR", free_addr().to_string())
        .env("SWITCHBOARD_C2S_ADDR", c2s.to_string())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child);
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(c2s).await.is_ok() {
            return (guard, c2s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not listen on {c2s}");
}

async fn stop(mut server: KillOnDrop) {
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = tokio::task::spawn_blocking(move || server.0.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

fn chat(n: &str) -> String {
    format!("<message to='bob@localhost' type='chat' id='{n}'><body>{n}</body></message>")
}

/// Waits until the server has handled everything `raw` sent before.
async fn round_trip(raw: &mut RawTcp, id: &str) {
    raw.send(&format!(
        "<iq type='get' id='{id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
    ))
    .await;
    raw.read_until(&format!("id='{id}'")).await;
}

/// The message bodies in `stream`, in order.
fn bodies(stream: &str) -> Vec<String> {
    stream
        .split("<body>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</body>").map(|(body, _)| body.to_owned()))
        .collect()
}

#[tokio::test]
async fn a_backup_taken_while_messages_flow_restores_a_consistent_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let (data, copy) = (dir.path().join("data"), dir.path().join("copy.db"));
    for user in ["alice", "bob"] {
        succeeds(
            cmd(&data)
                .args(["user", "add", user, "--password"])
                .arg(common::PASSWORD),
        );
    }
    let (server, c2s) = serve(&data).await;

    // Bob is offline: each message is stored as it arrives, while the backup runs.
    let mut alice = common::raw_logged_in(c2s, "alice", "sender").await;
    for n in 0..5 {
        alice.send(&chat(&format!("m{n}"))).await;
    }
    round_trip(&mut alice, "first").await;
    let (sent, halt) = (
        Arc::new(AtomicUsize::new(5)),
        Arc::new(AtomicBool::new(false)),
    );
    let sender = tokio::spawn({
        let (sent, halt) = (sent.clone(), halt.clone());
        async move {
            while !halt.load(Ordering::Relaxed) {
                let n = sent.load(Ordering::Relaxed);
                alice.send(&chat(&format!("m{n}"))).await;
                sent.store(n + 1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            round_trip(&mut alice, "last").await;
            sent.load(Ordering::Relaxed)
        }
    });
    while sent.load(Ordering::Relaxed) < 30 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let backed_up = tokio::task::spawn_blocking({
        let (data, copy) = (data.clone(), copy.clone());
        move || succeeds(cmd(&data).arg("backup").arg(&copy))
    })
    .await
    .unwrap();
    assert!(
        backed_up.starts_with("backed up 2 account(s), schema version "),
        "{backed_up}"
    );
    let after = sent.load(Ordering::Relaxed);
    while sent.load(Ordering::Relaxed) < after + 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    halt.store(true, Ordering::Relaxed);
    let total = sender.await.unwrap();

    let again = fails(cmd(&data).arg("backup").arg(&copy));
    assert!(again.contains("already exists"), "{again}");
    let refused = fails(cmd(&data).arg("restore").arg(&copy));
    assert!(
        refused.contains("a server is running on the data directory"),
        "{refused}"
    );
    stop(server).await;

    // A fresh data directory gets the copy, and the server runs on it.
    let fresh = dir.path().join("fresh");
    let restored = succeeds(cmd(&fresh).arg("restore").arg(&copy));
    assert!(
        restored.starts_with("restored 2 account(s), schema version "),
        "{restored}"
    );
    let (server, c2s) = serve(&fresh).await;
    let mut alice = common::raw_logged_in(c2s, "alice", "again").await;
    alice.send(&chat("end")).await;
    round_trip(&mut alice, "end").await;
    let mut bob = common::raw_logged_in(c2s, "bob", "reader").await;
    bob.send("<presence/>").await;
    let stream = bob.read_until("end</body>").await;
    let got = bodies(&stream);
    let (end, stored) = got.split_last().unwrap();
    assert_eq!(end, "end");
    let expected: Vec<String> = (0..stored.len()).map(|n| format!("m{n}")).collect();
    assert_eq!(stored, expected, "a prefix of what was sent, without gaps");
    assert!(
        (5..total).contains(&stored.len()),
        "{} of {total} messages",
        stored.len()
    );
    stop(server).await;

    // Over an existing database: the old one is kept beside it.
    let out = output(cmd(&data).arg("restore").arg(&copy));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("switchboard.db.pre-restore"));
    assert!(data.join("switchboard.db.pre-restore").is_file());
}

#[test]
fn restore_refuses_what_is_not_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let missing = fails(cmd(&data).arg("restore").arg(dir.path().join("nothing.db")));
    assert!(missing.contains("nothing.db"), "{missing}");
    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        "just some text, long enough to look like something",
    )
    .unwrap();
    let refused = fails(cmd(&data).arg("restore").arg(&garbage));
    assert!(refused.contains("garbage.db"), "{refused}");
    assert!(!data.join("switchboard.db").exists());
    let none = fails(cmd(&data).arg("backup").arg(dir.path().join("copy.db")));
    assert!(none.contains("no database in"), "{none}");
}
