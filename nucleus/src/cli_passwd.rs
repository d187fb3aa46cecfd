//! `ggipc passwd FILE USER`: adds or replaces a user of the embedded broker's password file.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use ggipc_nucleus::mqtt::passwd;

pub fn passwd(file: &Path, user: &str) -> Result<ExitCode, String> {
    let password = if std::io::stdin().is_terminal() {
        let first = prompt_hidden("Password: ")?;
        let again = prompt_hidden("Password again: ")?;
        if first != again {
            return Err("the two passwords differ; nothing changed".to_owned());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    let replaced = passwd::set_user(file, user, password.as_bytes())?;
    eprintln!(
        "ggipc: {} user {user} in {}",
        if replaced { "updated" } else { "added" },
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads a line from the terminal with echo off.
fn prompt_hidden(prompt: &str) -> Result<String, String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let restore = EchoOff::new();
    let mut line = String::new();
    let res = std::io::stdin().lock().read_line(&mut line);
    drop(restore);
    eprintln!();
    res.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Terminal echo off while alive (Unix; elsewhere a no-op).
struct EchoOff {
    #[cfg(unix)]
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> Self {
        #[cfg(unix)]
        {
            // SAFETY: termios is plain data; tcgetattr fills it for fd 0 or fails, and we only use it on success.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            // SAFETY: fd 0 is standard input; `t` is a valid, writable termios.
            if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
                return EchoOff { saved: None };
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            // SAFETY: as above; `t` is a termios read from the same fd with one flag changed.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
            EchoOff { saved: Some(saved) }
        }
        #[cfg(not(unix))]
        EchoOff {}
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(t) = &self.saved {
            // SAFETY: restores the termios read from fd 0 in `new`.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
        }
    }
}
