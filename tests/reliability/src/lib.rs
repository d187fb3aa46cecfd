//! Shared fixtures of the reliability tests: the real `ggipc nucleus` process (started, SIGKILLed, restarted,
//! watched through `/proc`), Mosquitto processes, recipes, clients, and the report files the figures in
//! `docs/RELIABILITY.md` come from.
//!
//! Every wait is on a condition with a deadline ([`wait_until`]); nothing sleeps and hopes.

use ggipc::{Client, ReconnectPolicy};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const MQTT: &str = "aws.greengrass.ipc.mqttproxy";
pub const PUB: &str = "aws.greengrass#PublishToIoTCore";
pub const SUB: &str = "aws.greengrass#SubscribeToIoTCore";

/// Polls `cond` every millisecond until it holds; panics with `what` after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Blocking variant of [`wait_until`].
pub fn wait_until_blocking(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A temporary directory removed on drop (named after the test and the process, short enough for a socket
/// path).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("ggr-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temporary directory");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `ggipc` binary: `$GGIPC_BIN`, else built once with `cargo build --release -p ggipc-nucleus`.
pub fn ggipc_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("GGIPC_BIN") {
            return PathBuf::from(p);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "-p",
                "ggipc-nucleus",
                "--bin",
                "ggipc",
                "--message-format=json",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo build");
        assert!(out.status.success(), "building the ggipc binary failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"]["name"] == "ggipc")
            .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
            .next_back()
            .expect("cargo reported no ggipc executable")
    })
    .clone()
}

/// Writes a JSON recipe for `name` allowing `publish` and `subscribe` resources; returns its path.
pub fn write_recipe(dir: &Path, name: &str, publish: &[&str], subscribe: &[&str]) -> PathBuf {
    let mut policies = serde_json::Map::new();
    if !publish.is_empty() {
        policies.insert(
            format!("{name}:pub"),
            serde_json::json!({"operations": [PUB], "resources": publish}),
        );
    }
    if !subscribe.is_empty() {
        policies.insert(
            format!("{name}:sub"),
            serde_json::json!({"operations": [SUB], "resources": subscribe}),
        );
    }
    let recipe = serde_json::json!({
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {"accessControl": {MQTT: policies}}},
        "Manifests": [{"Platform": {"os": "all"}, "Lifecycle": {}}]
    });
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&recipe).unwrap()).unwrap();
    path
}

/// A running `ggipc nucleus` process.
pub struct Nucleus {
    pub root: PathBuf,
    recipes: Vec<PathBuf>,
    args: Vec<String>,
    child: Option<Child>,
    pub log: PathBuf,
    registration: serde_json::Value,
}

impl Nucleus {
    /// Starts `ggipc nucleus --root ROOT --recipe … ARGS` (stderr to `ROOT/nucleus-N.log`) and waits until it
    /// serves (its `components.json` names its pid).
    pub fn start(root: &Path, recipes: &[PathBuf], args: &[&str]) -> Nucleus {
        let mut n = Nucleus {
            root: root.to_path_buf(),
            recipes: recipes.to_vec(),
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
            log: PathBuf::new(),
            registration: serde_json::Value::Null,
        };
        n.launch();
        n
    }

    fn launch(&mut self) {
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.log = self.root.join(format!("nucleus-{k}.log"));
        let log = std::fs::File::create(&self.log).unwrap();
        let mut cmd = Command::new(ggipc_bin());
        cmd.arg("nucleus").arg("--root").arg(&self.root);
        for r in &self.recipes {
            cmd.arg("--recipe").arg(r);
        }
        cmd.args(&self.args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd.spawn().expect("spawn ggipc nucleus");
        let pid = child.id();
        self.child = Some(child);
        let reg_path = self.root.join("components.json");
        let log_path = self.log.clone();
        let mut reg = serde_json::Value::Null;
        let child = self.child.as_mut().unwrap();
        wait_until_blocking("the nucleus to serve", Duration::from_secs(30), || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "nucleus exited ({status}) at start:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            reg = std::fs::read(&reg_path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(serde_json::Value::Null);
            reg["pid"].as_u64() == Some(u64::from(pid))
        });
        self.registration = reg;
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn socket(&self) -> PathBuf {
        PathBuf::from(
            self.registration["socketPath"]
                .as_str()
                .expect("socketPath"),
        )
    }

    pub fn token(&self, component: &str) -> String {
        self.registration["components"][component]["svcuid"]
            .as_str()
            .unwrap_or_else(|| panic!("{component} not registered"))
            .to_string()
    }

    pub fn registration(&self) -> &serde_json::Value {
        &self.registration
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again with the same root, recipes and arguments.
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    /// SIGTERM and wait (at most 10 s, then SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn rss_kib(&self) -> u64 {
        proc_rss_kib(self.pid())
    }

    pub fn fds(&self) -> usize {
        proc_fds(self.pid())
    }
}

impl Drop for Nucleus {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `VmRSS` of a process, KiB.
pub fn proc_rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Open file descriptors of a process.
pub fn proc_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A client of `socket` with `token`, 5 s timeouts, optionally with a fast reconnect policy.
pub async fn client(socket: &Path, token: &str, reconnect: bool) -> ggipc::Result<Client> {
    let mut b = Client::builder()
        .socket_path(socket)
        .auth_token(token)
        .connect_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(5));
    if reconnect {
        b = b.reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            multiplier: 2.0,
            max_attempts: None,
        });
    }
    b.connect().await
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Appends a line to `$RELIABILITY_REPORT/<name>` (when set) and prints it: the figures of
/// `docs/RELIABILITY.md` are collected from these lines.
pub fn report(name: &str, line: &str) {
    // Messages may echo hostile input (a NUL in a topic): keep the report plain text.
    let line = &line.replace('\0', "\\0");
    println!("[{name}] {line}");
    if let Some(dir) = std::env::var_os("RELIABILITY_REPORT") {
        let dir = PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }
}

/// Percentile (0–100) of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A `mosquitto` broker on a free port (`None` when mosquitto is not installed and
/// `GGIPC_REQUIRE_MOSQUITTO` is unset; with it set, a missing mosquitto fails the test).
pub struct Mosquitto {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    pub fn start(dir: &Path) -> Option<Mosquitto> {
        let found = Command::new("sh")
            .args(["-c", "command -v mosquitto || ls /usr/sbin/mosquitto"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            assert!(
                std::env::var_os("GGIPC_REQUIRE_MOSQUITTO").is_none(),
                "mosquitto is required (GGIPC_REQUIRE_MOSQUITTO) but not installed"
            );
            println!("SKIPPED: mosquitto not installed (scripts/install-mosquitto.sh)");
            return None;
        }
        let mut m = Mosquitto {
            port: free_port(),
            dir: dir.to_path_buf(),
            child: None,
        };
        m.launch();
        Some(m)
    }

    fn launch(&mut self) {
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nmax_inflight_messages 0\nsys_interval 1\nlog_dest stderr\nlog_type error\n",
                self.port
            ),
        )
        .unwrap();
        let bin = if Path::new("/usr/sbin/mosquitto").exists() {
            "/usr/sbin/mosquitto"
        } else {
            "mosquitto"
        };
        let log = std::fs::File::create(self.dir.join("mosquitto.log")).unwrap();
        self.child = Some(
            Command::new(bin)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn mosquitto"),
        );
        let port = self.port;
        wait_until_blocking("mosquitto to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A raw protocol peer: for clients that misbehave on purpose (stop reading, stall mid-frame).
pub mod raw {
    use bytes::{Bytes, BytesMut};
    use ggipc::codec::ByteStr;
    use ggipc::rpc::{self, Frame, MessageType};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;

    pub fn encode(frame: &Frame) -> BytesMut {
        let mut b = BytesMut::new();
        frame
            .encode(ggipc::codec::DEFAULT_MAX_MESSAGE_SIZE, &mut b)
            .unwrap();
        b
    }

    pub fn activation(op: &'static str, request: &'static str, sid: i32, body: String) -> Frame {
        Frame {
            operation: Some(ByteStr::from_static(op)),
            ..Frame::json(
                MessageType::ApplicationMessage,
                0,
                sid,
                request,
                Bytes::from(body),
            )
        }
    }

    pub fn subscribe(sid: i32, filter: &str) -> Frame {
        activation(
            "aws.greengrass#SubscribeToIoTCore",
            "aws.greengrass#SubscribeToIoTCoreRequest",
            sid,
            serde_json::json!({"topicName": filter, "qos": "1"}).to_string(),
        )
    }

    pub fn publish(sid: i32, topic: &str, payload: &[u8]) -> Frame {
        use base64::Engine as _;
        activation(
            "aws.greengrass#PublishToIoTCore",
            "aws.greengrass#PublishToIoTCoreRequest",
            sid,
            serde_json::json!({"topicName": topic, "qos": "1",
                "payload": base64::engine::general_purpose::STANDARD.encode(payload)})
            .to_string(),
        )
    }

    /// Reads until one whole frame is in `buf` and returns it; what follows it stays in `buf`. `None`: the
    /// peer closed the connection first.
    pub async fn read_frame(s: &mut UnixStream, buf: &mut BytesMut) -> Option<Frame> {
        loop {
            if let Some(m) = ggipc::codec::decode(buf, &ggipc::codec::Limits::default()).unwrap() {
                return Some(Frame::from_message(m).unwrap());
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap();
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a SubscribeToIoTCore request on stream `sid` and waits for its response, so the subscription is
    /// in force (the nucleus answers after the broker's SUBACK) before anything is published to it. Returns
    /// the response frame; frames of other streams that arrive first are skipped.
    pub async fn subscribe_and_wait(s: &mut UnixStream, sid: i32, filter: &str) -> Frame {
        s.write_all(&encode(&subscribe(sid, filter))).await.unwrap();
        let mut buf = BytesMut::new();
        loop {
            let f = read_frame(s, &mut buf)
                .await
                .expect("the nucleus closed the connection before answering");
            if f.stream_id == sid {
                assert!(
                    buf.is_empty(),
                    "nothing follows the subscribe response before it is read"
                );
                return f;
            }
        }
    }

    /// Connects and completes the handshake; returns the stream and whether CONNECT was accepted.
    pub async fn handshake(path: &std::path::Path, token: &str) -> (UnixStream, bool) {
        let mut s = UnixStream::connect(path).await.expect("connect");
        s.write_all(&encode(&rpc::connect_frame(token)))
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        match read_frame(&mut s, &mut buf).await {
            Some(f) => {
                assert_eq!(f.message_type, MessageType::ConnectAck);
                (s, f.flags & rpc::flags::CONNECTION_ACCEPTED != 0)
            }
            None => (s, false),
        }
    }
}
