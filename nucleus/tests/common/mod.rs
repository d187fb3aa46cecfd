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

/// True when Mosquitto tests must run (scripts/test-nucleus.sh sets GGIPC_REQUIRE_MOSQUITTO after installing it):
/// then a missing Mosquitto is a failure, not a skip.
pub fn mosquitto_required() -> bool {
    std::env::var_os("GGIPC_REQUIRE_MOSQUITTO").is_some()
}

/// Returns the mosquitto binary, or None after printing a visible SKIP line (only allowed locally).
pub fn mosquitto_or_skip(test: &str) -> Option<PathBuf> {
    match which("mosquitto") {
        Some(p) => Some(p),
        None if mosquitto_required() => {
            panic!("{test}: mosquitto is required (GGIPC_REQUIRE_MOSQUITTO) but not installed")
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
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 100\n\
                 max_queued_messages 10000\nlog_dest stderr\n",
                self.port,
            ),
        )
        .unwrap();
        // The log goes to a file we own (Mosquitto started as root writes its own log files as `mosquitto`).
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        wait_port(self.port, true, Duration::from_secs(10));
    }

    /// Mosquitto's log (connections and disconnections by client id).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours.
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

/// The `ggipc` binary under test.
pub fn ggipc_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ggipc"))
}

/// A recipe allowing `ops` on `resources` for the MQTT proxy, written to `dir/<name>.json`.
pub fn write_recipe(
    dir: &Path,
    name: &str,
    ops: &[&str],
    resources: &[&str],
    run: Option<&str>,
) -> PathBuf {
    let lifecycle = match run {
        Some(r) => serde_json::json!({"Run": r}),
        None => serde_json::json!({}),
    };
    let recipe = serde_json::json!({
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {
            "x": "config-value",
            "accessControl": {"aws.greengrass.ipc.mqttproxy": {
                format!("{name}:mqttproxy:1"): {
                    "operations": ops.iter().map(|o| format!("aws.greengrass#{o}")).collect::<Vec<_>>(),
                    "resources": resources,
                }
            }}
        }},
        "Manifests": [{"Platform": {"os": "linux"}, "Lifecycle": lifecycle}]
    });
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(&recipe).unwrap()).unwrap();
    p
}

/// A `ggipc` child process whose stdout and stderr lines are collected.
pub struct Proc {
    pub child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(ggipc_bin());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ggipc");
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for pipe in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Proc {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`; returns it. Panics with everything seen so far on timeout.
    pub fn wait_line(&mut self, needle: &str, within: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?} within {within:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Collects the remaining output until the process exits; returns its status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(l);
                }
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "ggipc did not exit within {within:?}; output:\n{}",
                    self.seen.join("\n")
                );
            }
            while let Ok(l) = self.lines.try_recv() {
                self.seen.push(l);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    pub fn output(&self) -> String {
        self.seen.join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `ggipc nucleus` with its registration read.
pub struct NucleusProc {
    pub proc_: Proc,
    pub root: PathBuf,
    pub socket: PathBuf,
    pub mqtt: Option<String>,
    pub svcuids: std::collections::HashMap<String, String>,
}

impl NucleusProc {
    pub fn start(root: &Path, recipes: &[PathBuf], extra: &[&str]) -> NucleusProc {
        let mut args: Vec<String> = vec![
            "nucleus".into(),
            "--root".into(),
            root.display().to_string(),
            "--mqtt-port".into(),
            "0".into(),
        ];
        for r in recipes {
            args.push("--recipe".into());
            args.push(r.display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut p = Proc::spawn(&argv, &[("RUST_LOG", "info")]);
        p.wait_line("ggipc: IPC socket", Duration::from_secs(20));
        let reg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("components.json")).unwrap())
                .unwrap();
        let svcuids = reg["components"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["svcuid"].as_str().unwrap().to_owned()))
            .collect();
        NucleusProc {
            proc_: p,
            root: root.to_owned(),
            socket: PathBuf::from(reg["socketPath"].as_str().unwrap()),
            mqtt: reg["mqtt"].as_str().map(str::to_owned),
            svcuids,
        }
    }

    pub async fn client(&self, component: &str) -> ggipc::Client {
        ggipc::Client::builder()
            .socket_path(&self.socket)
            .auth_token(self.svcuids[component].clone())
            .connect()
            .await
            .expect("IPC connect")
    }
}

impl Mosquitto {
    /// A Mosquitto with a mutual-TLS listener (like AWS IoT Core): server certificate for `localhost` signed by a
    /// fresh CA, client certificates required. Returns the broker and the directory holding `ca.pem`,
    /// `client.pem`, `client.key` (and an `other.pem`/`other.key` pair from an unknown CA).
    pub fn start_tls(bin: &Path) -> Mosquitto {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "ggipc test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issue =
            |name: &str, sans: Vec<String>, signer: &rcgen::Certificate, signer_key: &KeyPair| {
                let key = KeyPair::generate().unwrap();
                let mut p = CertificateParams::new(sans).unwrap();
                p.distinguished_name.push(DnType::CommonName, name);
                let cert = p.signed_by(&key, signer, signer_key).unwrap();
                (cert.pem(), key.serialize_pem())
            };
        let (srv, srv_key) = issue("localhost", vec!["localhost".into()], &ca_cert, &ca_key);
        let (cli, cli_key) = issue("thing-1", vec![], &ca_cert, &ca_key);
        let other_ca_key = KeyPair::generate().unwrap();
        let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
        other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let other_ca = other.self_signed(&other_ca_key).unwrap();
        let (oth, oth_key) = issue("intruder", vec![], &other_ca, &other_ca_key);
        let files = [
            ("ca.pem", ca_cert.pem()),
            ("server.pem", srv),
            ("server.key", srv_key),
            ("client.pem", cli),
            ("client.key", cli_key),
            ("other.pem", oth),
            ("other.key", oth_key),
        ];
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("mosquitto.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\ncafile {d}/ca.pem\n\
                 certfile {d}/server.pem\nkeyfile {d}/server.key\nrequire_certificate true\n\
                 use_identity_as_username true\n"
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let m = Mosquitto {
            bin: bin.to_owned(),
            port,
            dir,
            child: Some(child),
        };
        wait_port(port, true, Duration::from_secs(10));
        m
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
