//! The embedded broker's password file: one `user:hash` line per user, the hash an Argon2id PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), never the password. Empty lines and lines starting with `#`
//! are ignored. `ggipc passwd FILE USER` adds or replaces an entry.

use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// What checking a CONNECT's credentials against the file gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The user is in the file and the password matches.
    Accepted,
    /// No user name or no password in the CONNECT: "not authorized".
    NoCredentials,
    /// Unknown user or wrong password: "bad user name or password".
    BadCredentials,
}

/// One parsed line.
struct Entry {
    user: String,
    hash: String,
}

fn parse(text: &str, path: &Path) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, hash)) = line.split_once(':') else {
            return Err(format!(
                "{}:{}: expected `user:hash`",
                path.display(),
                i + 1
            ));
        };
        if user.is_empty() {
            return Err(format!("{}:{}: empty user name", path.display(), i + 1));
        }
        PasswordHash::new(hash).map_err(|e| {
            format!(
                "{}:{}: not a password hash ({e}); use `ggipc passwd`",
                path.display(),
                i + 1
            )
        })?;
        out.push(Entry {
            user: user.to_owned(),
            hash: hash.to_owned(),
        });
    }
    Ok(out)
}

/// Reads and checks the whole file (every line a `user:hash` with a hash the library can read).
pub fn check_file(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read password file: {e}", path.display()))?;
    Ok(parse(&text, path)?.len())
}

/// Checks `user`/`password` against the file (read anew each time, so `ggipc passwd` takes effect at the next
/// connection). Slow on purpose (Argon2): call it off the async threads.
pub fn verify(path: &Path, user: Option<&str>, password: Option<&[u8]>) -> Result<Verdict, String> {
    let (Some(user), Some(password)) = (user, password) else {
        return Ok(Verdict::NoCredentials);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read password file: {e}", path.display()))?;
    let entries = parse(&text, path)?;
    let Some(entry) = entries.iter().find(|e| e.user == user) else {
        return Ok(Verdict::BadCredentials);
    };
    let hash = PasswordHash::new(&entry.hash).map_err(|e| e.to_string())?;
    Ok(match Argon2::default().verify_password(password, &hash) {
        Ok(()) => Verdict::Accepted,
        Err(_) => Verdict::BadCredentials,
    })
}

/// The Argon2id hash of `password` with a fresh random salt, as a PHC string.
pub fn hash(password: &[u8]) -> Result<String, String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Adds `user` to the file or replaces its entry (the file is created with mode 0600 when missing, and written
/// whole to a temporary file renamed over it). Returns whether an entry was replaced.
pub fn set_user(path: &Path, user: &str, password: &[u8]) -> Result<bool, String> {
    if user.is_empty() || user.contains(':') || user.contains(['\n', '\r']) {
        return Err(format!(
            "user name must be non-empty without `:` or line breaks, got {user:?}"
        ));
    }
    if password.is_empty() {
        return Err("the password is empty".to_owned());
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    // Refuse to rewrite a file we cannot read as a password file (it might be something else).
    parse(&text, path)?;
    let entry = format!("{user}:{}", hash(password)?);
    let mut replaced = false;
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.split_once(':').map(|(u, _)| u) == Some(user) {
            if !replaced {
                lines.push(entry.clone());
            }
            replaced = true;
        } else {
            lines.push(line.to_owned());
        }
    }
    if !replaced {
        lines.push(entry);
    }
    let mut body = lines.join("\n");
    body.push('\n');
    let tmp = path.with_extension("tmp-passwd");
    write_private(&tmp, body.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    Ok(replaced)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn add_replace_verify() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("passwd");
        assert!(!set_user(&f, "alice", b"one").unwrap());
        assert!(!set_user(&f, "bob", b"two").unwrap());
        assert!(set_user(&f, "alice", b"three").unwrap());
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("three") && text.contains("$argon2id$"),
            "{text}"
        );
        assert_eq!(check_file(&f).unwrap(), 2);
        let v = |u: &str, p: &[u8]| verify(&f, Some(u), Some(p)).unwrap();
        assert_eq!(v("alice", b"three"), Verdict::Accepted);
        assert_eq!(v("alice", b"one"), Verdict::BadCredentials);
        assert_eq!(v("bob", b"two"), Verdict::Accepted);
        assert_eq!(v("carol", b"two"), Verdict::BadCredentials);
        assert_eq!(verify(&f, None, None).unwrap(), Verdict::NoCredentials);
        assert!(set_user(&f, "a:b", b"x").is_err());
        std::fs::write(&f, "alice:plaintext\n").unwrap();
        assert!(check_file(&f).unwrap_err().contains(":1:"));
        assert!(
            set_user(&f, "bob", b"x").is_err(),
            "a foreign file is left alone"
        );
    }
}
