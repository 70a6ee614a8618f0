//! The `switchboard` binary as an operator uses it: account and token commands, configuration
//! errors, and `serve` with its listener log lines and clean exit on SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn cmd(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("SWITCHBOARD_DOMAIN")
        .env("SWITCHBOARD_DATA_DIR", dir.join("data"))
        .env("SWITCHBOARD_LOG", "info");
    c
}

fn run(c: &mut Command) -> Output {
    let out = c.output().expect("binary runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        c,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn user_and_token_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(cmd(d).args(["user", "add", "alice", "--password", "pw1"]));
    // Without --password the password is read from stdin.
    let mut child = cmd(d)
        .args(["user", "add", "bob@localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    let list = stdout(&run(cmd(d).args(["user", "list"])));
    assert_eq!(list, "alice@localhost\nbob@localhost\n");

    let dup = cmd(d)
        .args(["user", "add", "alice", "--password", "x"])
        .output()
        .unwrap();
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    run(cmd(d).args(["user", "passwd", "alice", "--password", "pw2"]));
    let token = stdout(&run(cmd(d).args(["token", "create", "alice"])))
        .trim()
        .to_owned();
    assert!(token.len() > 30, "{token}");
    run(cmd(d).args(["token", "revoke", &token]));
    let again = cmd(d).args(["token", "revoke", &token]).output().unwrap();
    assert!(!again.status.success());

    run(cmd(d).args(["user", "del", "bob"]));
    assert_eq!(
        stdout(&run(cmd(d).args(["user", "list"]))),
        "alice@localhost\n"
    );

    let bad = cmd(d)
        .args(["user", "add", "not a user", "--password", "x"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn unknown_config_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("switchboard.toml"), "domian = \"x\"\n").unwrap();
    let out = cmd(dir.path()).args(["config", "check"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("domian"));

    let path = dir.path().join("other.toml");
    std::fs::write(&path, "[limits]\nmax_depth = 7\n").unwrap();
    let out = run(cmd(dir.path())
        .arg("--config")
        .arg(&path)
        .args(["config", "check"])
        .env("SWITCHBOARD_DOMAIN", "chat.example"));
    let text = stdout(&out);
    assert!(text.contains("max_depth = 7"), "{text}");
    assert!(text.contains("domain = \"chat.example\""), "{text}");
}

fn wait_for_listeners(child: &mut Child, count: usize) -> Vec<String> {
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut reader = BufReader::new(stderr);
    while lines.len() < count && Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains("listening") {
            lines.push(line);
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    lines
}

#[tokio::test]
async fn serve_logs_listeners_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(cmd(d).args(["user", "add", "alice", "--password", "correct horse"]));
    let (http, c2s) = (free_port(), free_port());
    let mut child = cmd(d)
        .arg("serve")
        .env("SWITCHBOARD_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("SWITCHBOARD_C2S_ADDR", format!("127.0.0.1:{c2s}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let lines = wait_for_listeners(&mut child, 2);
    let mut guard = common::KillOnDrop(child);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("127.0.0.1:{c2s}"))),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("127.0.0.1:{http}"))),
        "{lines:?}"
    );

    common::install_crypto();
    let health = reqwest::get(format!("http://127.0.0.1:{http}/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let mut raw =
        common::raw_logged_in(format!("127.0.0.1:{c2s}").parse().unwrap(), "alice", "term").await;
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = raw.read_to_close().await;
    assert!(out.ends_with("</stream:stream>"), "{out}");
    let exit = tokio::task::spawn_blocking(move || guard.0.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}
