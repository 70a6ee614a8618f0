//! Passwords for `user add` and `user passwd`: from `--password`, asked for twice without echo on a
//! terminal, or one line of standard input for scripts.

use std::io::{BufRead, IsTerminal};

use anyhow::{Result, bail};
use switchboard_server::config::AccountJid;

pub fn obtain(given: Option<String>, account: &AccountJid) -> Result<String> {
    let password = match given {
        Some(password) => password,
        None if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password(format!("Password for {account}: "))?;
            if first.is_empty() {
                bail!("no password given; nothing was changed");
            }
            let again = rpassword::prompt_password("Repeat the password: ")?;
            if first != again {
                bail!("the two passwords differ; nothing was changed");
            }
            first
        }
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.is_empty() {
        bail!("no password given (use --password, or pass it as a line on standard input)");
    }
    Ok(password)
}
