//! Test helpers: a private Mosquitto on a free loopback port, port waits.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn which(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/local/sbin".into());
    dirs.into_iter().map(|d| d.join(cmd)).find(|p| p.is_file())
}

/// True when the test must run (CI) even if Mosquitto is missing: then a missing Mosquitto is a failure.
pub fn mosquitto_required() -> bool {
    std::env::var_os("GGIPC_REQUIRE_MOSQUITTO").is_some() || std::env::var_os("CI").is_some()
}

/// Returns the mosquitto binary, or None after printing a visible SKIP line (only allowed locally).
pub fn mosquitto_or_skip(test: &str) -> Option<PathBuf> {
    match which("mosquitto") {
        Some(p) => Some(p),
        None if mosquitto_required() => {
            panic!("{test}: mosquitto is required (CI) but not installed")
        }
        None => {
            eprintln!("SKIPPED {test}: mosquitto not installed (run scripts/install-mosquitto.sh)");
            None
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_port(port: u16, up: bool, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let ok = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if ok == up {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "port {port} did not become {}",
            if up { "open" } else { "closed" }
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Mosquitto process with its own config on a fixed loopback port; stop/start keep the port.
pub struct Mosquitto {
    bin: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Mosquitto {
    pub fn start(bin: &Path) -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut m = Mosquitto {
            bin: bin.to_owned(),
            port,
            dir,
            child: None,
        };
        m.restart();
        m
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 100\n", self.port),
        )
        .unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        wait_port(self.port, true, Duration::from_secs(10));
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let _ = c.wait();
        }
        wait_port(self.port, false, Duration::from_secs(10));
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
