//! The `switchboard` binary as an operator uses it: accounts and tokens (prompts on a real pty),
//! configuration errors, `--help`, certificates, JSON logs, `serve` with its clean exit, and
//! `reload` through the pid file.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use switchboard_server::config::ENV_KEYS;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// Generous bound for a child to print what a test waits for, so that a hang fails the test.
const PATIENCE: Duration = Duration::from_secs(60);

/// The binary's environment for a test: its own data directory, nothing inherited that would
/// change the configuration.
fn isolate(c: &mut Command, dir: &Path) {
    for (var, _) in std::env::vars() {
        if var.starts_with("SWITCHBOARD_") || var == "RUST_BACKTRACE" {
            c.env_remove(var);
        }
    }
    c.current_dir(dir)
        .env("SWITCHBOARD_DATA_DIR", dir.join("data"))
        .env("SWITCHBOARD_LOG", "info");
}

fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    isolate(&mut c, dir);
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

/// Runs a command expected to fail; returns its exit code and standard error.
fn fails(c: &mut Command) -> (i32, String) {
    let out = c.output().expect("binary runs");
    assert!(!out.status.success(), "{c:?} succeeded");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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
    let empty = run(cmd(d).args(["user", "list"]));
    assert_eq!(stdout(&empty), "");
    assert!(
        stderr(&empty).contains("no accounts yet"),
        "{}",
        stderr(&empty)
    );

    run(cmd(d).args(["user", "add", "alice", "--password", "pw1"]));
    // Without --password and without a terminal, the password is one line of stdin.
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

    for name in ["alice", "ALICE", "Alice@LocalHost"] {
        let (code, err) = fails(cmd(d).args(["user", "add", name, "--password", "x"]));
        assert_eq!(code, 1);
        assert_eq!(err, "error: account 'alice@localhost' already exists\n");
    }
    let (_, err) = fails(cmd(d).args(["user", "add", "dave@localhost/res", "--password", "x"]));
    assert_eq!(
        err,
        "error: 'dave@localhost/res' has a resource (/res); name the account without it: \
         dave@localhost\n"
    );
    let (_, err) = fails(cmd(d).args(["user", "add", "eve@example.org", "--password", "x"]));
    assert!(
        err.contains("'eve@example.org' is on example.org, but this server's domain is localhost"),
        "{err}"
    );
    let (_, err) = fails(cmd(d).args(["user", "add", "not a user", "--password", "x"]));
    assert!(
        err.starts_with("error: 'not a user' is not an account name"),
        "{err}"
    );
    let (_, err) = fails(cmd(d).args(["user", "passwd", "nobody", "--password", "x"]));
    assert_eq!(err, "error: account 'nobody@localhost' does not exist\n");
    assert_eq!(list, stdout(&run(cmd(d).args(["user", "list"]))));

    run(cmd(d).args(["user", "passwd", "alice", "--password", "pw2"]));
    let token = stdout(&run(cmd(d).args(["token", "create", "alice"])))
        .trim()
        .to_owned();
    assert!(token.len() > 30, "{token}");
    let (_, err) = fails(cmd(d).args(["token", "create", "nobody"]));
    assert!(err.contains("'nobody@localhost'"), "{err}");
    run(cmd(d).args(["token", "revoke", &token]));
    let (_, err) = fails(cmd(d).args(["token", "revoke", &token]));
    assert!(err.starts_with("error: no such token"), "{err}");
    assert!(!err.contains(&token), "a token is a secret: {err}");

    run(cmd(d).args(["user", "del", "bob"]));
    assert_eq!(
        stdout(&run(cmd(d).args(["user", "list"]))),
        "alice@localhost\n"
    );

    let letters = run(cmd(d).args(["webhook", "dead-letters"]));
    assert_eq!(stdout(&letters), "");
    assert_eq!(stderr(&letters), "no dead letters\n");
}

#[test]
fn an_os_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (code, err) = fails(
        cmd(dir.path())
            .arg("serve")
            .env("SWITCHBOARD_C2S_ADDR", addr.to_string())
            .env(
                "SWITCHBOARD_HTTP_ADDR",
                format!("127.0.0.1:{}", free_port()),
            ),
    );
    assert_eq!(code, 1);
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("error: cannot listen on {addr}: ")),
        "{err}"
    );
    assert_eq!(last.matches("os error").count(), 1, "{err}");
}

#[test]
fn user_errors_never_print_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    for backtrace in ["1", "full"] {
        let (code, err) = fails(
            cmd(dir.path())
                .args(["user", "del", "nobody"])
                .env("RUST_BACKTRACE", backtrace),
        );
        assert_eq!(code, 1);
        assert_eq!(err, "error: account 'nobody@localhost' does not exist\n");
    }
}

/// Runs the binary with `args` on a pseudo-terminal (util-linux `script`), typing each answer
/// once the terminal shows its prompt. Returns whether it succeeded and what the terminal showed.
fn on_terminal(dir: &Path, args: &[&str], dialogue: &[(&str, &str)]) -> (bool, String) {
    let line = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = Command::new("script");
    isolate(&mut c, dir);
    let mut child = c
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux script runs");
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut shown = String::new();
    let deadline = Instant::now() + PATIENCE;
    for (prompt, answer) in dialogue {
        while !shown.contains(prompt) {
            let wait = deadline.saturating_duration_since(Instant::now());
            let chunk = rx
                .recv_timeout(wait)
                .unwrap_or_else(|_| panic!("no prompt {prompt:?}; the terminal showed {shown:?}"));
            shown.push_str(&String::from_utf8_lossy(&chunk));
        }
        // The prompt is printed just before echo goes off; a person types later than that.
        wait_for_echo_off(child.id(), deadline);
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    }
    while let Ok(chunk) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        shown.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(stdin);
    (child.wait().unwrap().success(), shown)
}

/// Waits until the terminal of the program that `script` (process `script_pid`) runs has echo
/// turned off, as `stty` reports it.
fn wait_for_echo_off(script_pid: u32, deadline: Instant) {
    let children = format!("/proc/{script_pid}/task/{script_pid}/children");
    loop {
        let tty = std::fs::read_to_string(&children)
            .ok()
            .and_then(|c| c.split_whitespace().next().map(str::to_owned))
            .and_then(|pid| std::fs::read_link(format!("/proc/{pid}/fd/0")).ok());
        if let Some(tty) = tty {
            let settings = Command::new("stty")
                .arg("-F")
                .arg(&tty)
                .arg("-a")
                .output()
                .unwrap();
            if String::from_utf8_lossy(&settings.stdout)
                .split_whitespace()
                .any(|flag| flag == "-echo")
            {
                return;
            }
        }
        assert!(Instant::now() < deadline, "echo never went off");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn password_prompts_do_not_echo_and_ask_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, shown) = on_terminal(
        d,
        &["user", "add", "frank"],
        &[
            ("Password for frank@localhost: ", "Sekrit-1"),
            ("Repeat the password: ", "Sekrit-2"),
        ],
    );
    assert!(!ok, "{shown}");
    assert!(shown.contains("the two passwords differ"), "{shown}");
    assert!(!shown.contains("Sekrit"), "echoed: {shown}");
    assert_eq!(stdout(&run(cmd(d).args(["user", "list"]))), "");

    let (ok, shown) = on_terminal(
        d,
        &["user", "add", "frank"],
        &[
            ("Password for frank@localhost: ", "Sekrit-1"),
            ("Repeat the password: ", "Sekrit-1"),
        ],
    );
    assert!(ok, "{shown}");
    assert!(!shown.contains("Sekrit"), "echoed: {shown}");
    assert!(shown.contains("created frank@localhost"), "{shown}");

    let (ok, shown) = on_terminal(
        d,
        &["user", "passwd", "frank"],
        &[
            ("Password for frank@localhost: ", "Other-3"),
            ("Repeat the password: ", "Other-3"),
        ],
    );
    assert!(ok, "{shown}");
    assert!(!shown.contains("Other-3"), "echoed: {shown}");
}

fn config_file(dir: &Path, text: &str) {
    std::fs::write(dir.join("switchboard.toml"), text).unwrap();
}

#[test]
fn config_errors_point_at_the_line_all_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The README's component block, then admins appended at the end of the file.
    config_file(
        d,
        "[http]\naddr = \"nonsense\"\n\n[[component]]\ndomain = \"rest.localhost\"\ntype = \"rest\"\n\
         rest_credentials = \"Bearer dmVyeSBzZWNyZXQgdG9rZW4K\"\n\
         admins = [\"alice@localhost\"]\n",
    );
    let (code, err) = fails(
        cmd(d)
            .args(["config", "check"])
            .env("SWITCHBOARD_DOMIAN", "x"),
    );
    assert_eq!(code, 78, "EX_CONFIG");
    assert!(
        err.starts_with("error: invalid configuration, 3 problems:\n"),
        "{err}"
    );
    assert!(
        err.contains(
            "environment variable SWITCHBOARD_DOMIAN: unknown variable: no configuration key \
             has this name\n  = hint: did you mean SWITCHBOARD_DOMAIN?"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "switchboard.toml:2:8: http.addr = \"nonsense\": expected a socket address like \
             127.0.0.1:5280"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "switchboard.toml:8:1: component[0].admins: unknown key `admins` in [[component]] #1, \
             which starts at line 4"
        ),
        "{err}"
    );
    assert!(err.contains("`admins` is a top-level key"), "{err}");
    assert!(!err.contains("dmVyeSBzZWNyZXQgdG9rZW4K"), "{err}");

    // A secret with a bad value is named, never shown.
    config_file(
        d,
        "[[component]]\ndomain = \"rest.localhost\"\nrest_credentials = \"hunter2\"\n",
    );
    let (_, err) = fails(cmd(d).args(["config", "check"]));
    assert!(
        err.contains("switchboard.toml:3:20: component[0].rest_credentials = <redacted>: expected"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");

    let (code, err) = fails(
        cmd(d)
            .args(["--config", "missing.toml", "config", "check"])
            .env("RUST_BACKTRACE", "1"),
    );
    assert_eq!(code, 78);
    assert_eq!(
        err,
        "error: cannot read configuration file missing.toml: No such file or directory (os error 2)\n"
    );

    // Checked outside the loader, and located all the same.
    std::fs::remove_file(d.join("switchboard.toml")).unwrap();
    let (_, err) = fails(
        cmd(d)
            .args(["config", "check"])
            .env("SWITCHBOARD_LOG", "=nonsense="),
    );
    assert!(
        err.contains(
            "environment variable SWITCHBOARD_LOG: log = =nonsense=: expected a tracing filter"
        ),
        "{err}"
    );
}

#[test]
fn config_check_and_show_redact_secrets_and_name_sources() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("other.toml");
    std::fs::write(
        &path,
        "[limits]\nmax_depth = 7\n\n[[component]]\ndomain = \"rest.localhost\"\n\
         rest_credentials = \"Bearer s3cret-token\"\ncomponent_secret = \"hunter2\"\n",
    )
    .unwrap();
    let out = run(cmd(d)
        .arg("--config")
        .arg(&path)
        .args(["config", "check"])
        .env("SWITCHBOARD_DOMAIN", "chat.example"));
    let text = stdout(&out);
    assert!(text.contains("max_depth = 7"), "{text}");
    assert!(text.contains("domain = \"chat.example\""), "{text}");
    assert!(text.contains("rest_credentials = \"<redacted>\""), "{text}");
    assert!(
        !text.contains("s3cret") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("configuration is valid"),
        "{}",
        stderr(&out)
    );

    let out = run(cmd(d)
        .arg("--config")
        .arg(&path)
        .args(["config", "show"])
        .env("SWITCHBOARD_DOMAIN", "chat.example"));
    let text = stdout(&out);
    assert!(
        !text.contains("s3cret") && !text.contains("hunter2"),
        "{text}"
    );
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start} in {text}"))
            .to_owned()
    };
    assert!(line("domain = \"chat.example\"").ends_with("# env SWITCHBOARD_DOMAIN"));
    assert!(line("max_depth = 7").ends_with(&format!("# {}:2", path.display())));
    assert!(line("mailbox_size = 1024").ends_with("# default"));
    assert!(
        line("component_secret = \"<redacted>\"").ends_with(&format!("# {}:7", path.display()))
    );
}

#[test]
fn help_describes_every_argument_the_lookup_order_and_the_variables() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(&run(cmd(dir.path()).arg("--help")));
    assert!(help.contains("1. --config FILE"), "{help}");
    assert!(help.contains("2. ./switchboard.toml"), "{help}");
    assert!(help.contains("3. built-in defaults"), "{help}");
    for (var, key) in ENV_KEYS {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(var) && l.trim_end().ends_with(key)),
            "{var} missing from --help"
        );
    }
    for (args, described) in [
        (&["user", "add", "--help"][..], "<JID>  The account"),
        (
            &["user", "add", "--help"],
            "--password <PASSWORD>  The new password",
        ),
        (
            &["user", "passwd", "--help"],
            "--password <PASSWORD>  The new password",
        ),
        (&["user", "del", "--help"], "<JID>  The account"),
        (&["token", "create", "--help"], "<JID>  The account"),
        (&["token", "revoke", "--help"], "<TOKEN>  The token"),
        (
            &["webhook", "redrive", "--help"],
            "<ID>  The dead letter's id",
        ),
        (
            &["webhook", "secret", "--help"],
            "<JID>  A component domain",
        ),
        (&["cert", "import", "--help"], "<DIR>  Looked in"),
    ] {
        let text = stdout(&run(cmd(dir.path()).args(args)));
        assert!(text.contains(described), "{args:?}: {text}");
    }
}

/// Reads the child's standard error until `done` holds for the lines so far; then keeps
/// draining it so that the child never blocks on a full pipe.
fn stderr_until(child: &mut Child, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let reader = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // The test has what it wanted; keep reading so the pipe never fills.
                continue;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while !done(&lines) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    lines
}

fn listening(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.contains("listening")).count()
}

#[tokio::test]
async fn serve_logs_listeners_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The account's password is typed at a prompt, then used to log in.
    let (ok, shown) = on_terminal(
        d,
        &["user", "add", "alice"],
        &[
            ("Password for alice@localhost: ", common::PASSWORD),
            ("Repeat the password: ", common::PASSWORD),
        ],
    );
    assert!(ok, "{shown}");
    let (http, c2s) = (free_port(), free_port());
    let mut child = cmd(d)
        .arg("serve")
        .env("SWITCHBOARD_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("SWITCHBOARD_C2S_ADDR", format!("127.0.0.1:{c2s}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let lines = stderr_until(&mut child, |l| listening(l) == 2);
    let mut guard = common::KillOnDrop(child);
    assert_eq!(listening(&lines), 2, "{lines:?}");
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

#[test]
fn json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cmd(dir.path())
        .arg("serve")
        .env("SWITCHBOARD_LOG_FORMAT", "json")
        .env(
            "SWITCHBOARD_HTTP_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("SWITCHBOARD_C2S_ADDR", format!("127.0.0.1:{}", free_port()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_until(&mut child, |l| listening(l) == 2);
    drop(common::KillOnDrop(child));
    assert_eq!(listening(&lines), 2, "{lines:?}");
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(event["level"].is_string(), "{line}");
        assert!(event["message"].is_string(), "{line}");
    }
    let c2s = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["message"] == "c2s (STARTTLS) listening")
        .expect("a c2s listener event");
    assert!(
        c2s["addr"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{c2s}"
    );
}

/// A certbot-style `fullchain.pem` and `privkey.pem` for `domain` in `dir`, ending in `days` and
/// a half (so that whole days left stay `days` while the test runs).
fn certbot_pair(dir: &Path, domain: &str, days: u64) {
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).unwrap();
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    params.not_after = rcgen::date_time_ymd(1970, 1, 1)
        + since_epoch
        + Duration::from_secs(days * 86_400 + 43_200);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("fullchain.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("privkey.pem"), key.serialize_pem()).unwrap();
}

#[tokio::test]
async fn imported_certificate_is_served_and_its_expiry_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let letsencrypt = d.join("letsencrypt");
    certbot_pair(&letsencrypt.join("live/localhost"), "localhost", 5);
    let (_, err) = fails(cmd(d).args(["cert", "import"]).arg(d.join("nowhere")));
    assert!(err.contains("no certificate for localhost found"), "{err}");

    let out = run(cmd(d).args(["cert", "import"]).arg(&letsencrypt));
    let text = stdout(&out);
    assert!(
        text.starts_with("installed the certificate for localhost"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("warning: this certificate expires in 5 days"),
        "{}",
        stderr(&out)
    );
    let installed = d.join("data/tls/cert.pem");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(letsencrypt.join("live/localhost/fullchain.pem")).unwrap()
    );

    let tls_port = free_port();
    let mut child = cmd(d)
        .arg("serve")
        .env(
            "SWITCHBOARD_HTTP_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("SWITCHBOARD_C2S_ADDR", format!("127.0.0.1:{}", free_port()))
        .env(
            "SWITCHBOARD_C2S_DIRECT_TLS_ADDR",
            format!("127.0.0.1:{tls_port}"),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let warned = |l: &[String]| l.iter().any(|l| l.contains("TLS certificate expires"));
    let lines = stderr_until(&mut child, |l| listening(l) == 3 && warned(l));
    let _guard = common::KillOnDrop(child);
    assert!(warned(&lines), "{lines:?}");
    let warning = lines
        .iter()
        .find(|l| l.contains("TLS certificate"))
        .unwrap();
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("expires in 5 days"), "{warning}");

    // A client trusting only the imported certificate completes a handshake: it is the one served.
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
        .await
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(common::client_tls(&installed));
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.expect("TLS handshake");
}

#[test]
fn generated_certificate_names_the_domain() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cmd(dir.path())
        .arg("serve")
        .env("SWITCHBOARD_DOMAIN", "chat.example")
        .env(
            "SWITCHBOARD_HTTP_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("SWITCHBOARD_C2S_ADDR", format!("127.0.0.1:{}", free_port()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_until(&mut child, |l| listening(l) == 2);
    drop(common::KillOnDrop(child));
    assert_eq!(listening(&lines), 2, "{lines:?}");
    let info = switchboard_server::tls::inspect(&dir.path().join("data/tls/cert.pem")).unwrap();
    assert_eq!(info.subject, ["chat.example"]);
    assert!(info.names.contains(&"chat.example".to_owned()), "{info:?}");
}

/// Every line the child writes to standard error, as it comes.
fn log_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let reader = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Reads lines until one contains `needle`; returns it (panics after [`PATIENCE`]).
fn line_with(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needle:?} in {seen:#?}"),
        }
    }
}

#[tokio::test]
async fn reload_rereads_the_file_through_the_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, err) = fails(cmd(d).arg("reload"));
    assert!(err.contains("no server is running"), "{err}");
    run(cmd(d).args(["user", "add", "carol", "--password", "pw"]));
    config_file(d, "admins = []\n");
    let http = free_port();
    let serve = |d: &Path| {
        let mut c = cmd(d);
        c.arg("serve")
            .env("SWITCHBOARD_HTTP_ADDR", format!("127.0.0.1:{http}"))
            .env("SWITCHBOARD_C2S_ADDR", format!("127.0.0.1:{}", free_port()))
            .stderr(Stdio::piped());
        c
    };
    let mut child = serve(d).spawn().unwrap();
    let log = log_lines(&mut child);
    let mut guard = common::KillOnDrop(child);
    line_with(&log, "http (/rest");
    let pid_file = d.join("data/switchboard.pid");
    let written = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(written.trim(), guard.0.id().to_string());

    // A second server on the same data directory is refused.
    let (_, err) = fails(&mut serve(d));
    assert!(err.contains("already running"), "{err}");

    common::install_crypto();
    let uptime = || async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{http}/rest/admin/uptime"))
            .basic_auth("carol", Some("pw"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(uptime().await, 403);

    config_file(d, "admins = [\"carol@localhost\"]\n");
    let out = run(cmd(d).arg("reload"));
    assert!(
        stdout(&out).contains(&format!("pid {}", guard.0.id())),
        "{}",
        stdout(&out)
    );
    line_with(&log, "configuration reloaded");
    assert_eq!(uptime().await, 200);

    // A broken file: `reload` shows where and does not signal; a SIGHUP sent directly is
    // answered with the same located error in the log, and the running configuration stays.
    config_file(d, "admins = [\"carol@localhost\"\n");
    let (code, err) = fails(cmd(d).arg("reload"));
    assert_eq!(code, 78);
    assert!(err.contains("switchboard.toml:1:"), "{err}");
    let status = Command::new("kill")
        .args(["-HUP", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    line_with(&log, "configuration not reloaded");
    line_with(&log, "switchboard.toml:1:");
    assert_eq!(uptime().await, 200);

    // A change that needs a restart is named and waits.
    config_file(d, "admins = [\"carol@localhost\"]\nlog_format = \"json\"\n");
    run(cmd(d).arg("reload"));
    let pending = line_with(&log, "need a restart");
    assert!(pending.contains("log_format"), "{pending}");
    assert_eq!(uptime().await, 200);

    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || guard.0.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(!pid_file.exists());
}

#[tokio::test]
async fn access_and_session_lines_are_structured_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(cmd(d).args(["user", "add", "alice", "--password", common::PASSWORD]));
    let (http, c2s) = (free_port(), free_port());
    let mut child = cmd(d)
        .arg("serve")
        .env("SWITCHBOARD_LOG_FORMAT", "json")
        .env("SWITCHBOARD_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("SWITCHBOARD_C2S_ADDR", format!("127.0.0.1:{c2s}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = log_lines(&mut child);
    let _guard = common::KillOnDrop(child);
    line_with(&log, "http (/rest");
    let event = |line: String| -> serde_json::Value {
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };

    common::install_crypto();
    let sent = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{http}/rest"))
        .basic_auth("alice", Some(common::PASSWORD))
        .header("Content-Type", "application/xmpp+xml")
        .body("<message to='alice@localhost'><body>hi</body></message>")
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    let access = event(line_with(&log, "HTTP request"));
    assert_eq!(access["target"], "switchboard::access", "{access}");
    assert_eq!(access["method"], "POST", "{access}");
    assert_eq!(access["route"], "/rest", "{access}");
    assert_eq!(access["status"], sent.status().as_u16(), "{access}");
    assert!(access["latency_ms"].as_f64().unwrap() > 0.0, "{access}");
    assert!(
        access["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{access}"
    );
    assert_eq!(access["identity"], "alice@localhost", "{access}");
    assert!(!access.to_string().contains(common::PASSWORD));

    let addr = format!("127.0.0.1:{c2s}").parse().unwrap();
    let mut raw = common::raw_logged_in(addr, "alice", "json").await;
    let bound = event(line_with(&log, "session bound"));
    assert_eq!(bound["jid"], "alice@localhost/json", "{bound}");
    assert_eq!(bound["transport"], "tcp", "{bound}");
    raw.send("</stream:stream>").await;
    raw.read_to_close().await;
    let ended = event(line_with(&log, "session ended"));
    assert_eq!(ended["jid"], "alice@localhost/json", "{ended}");
    assert_eq!(ended["transport"], "tcp", "{ended}");
    assert_eq!(ended["ended"], "closed by the client", "{ended}");
    assert!(ended["duration_secs"].as_f64().is_some(), "{ended}");
    assert!(ended["bytes_in"].as_u64().unwrap() > 0, "{ended}");
    assert!(ended["bytes_out"].as_u64().unwrap() > 0, "{ended}");
}
