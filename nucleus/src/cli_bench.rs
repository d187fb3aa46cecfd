//! `ggipc bench e2e`: end-to-end IPC → broker → IPC messages/s and latency percentiles (embedded broker, or a
//! Mosquitto the bench starts itself, or any `mqtt://` URL). `ggipc bench rss`: resident memory of a `ggipc nucleus`
//! process idle and with N connected components each holding a subscription.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Subcommand;
use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::{Client, SubscriptionEvent};

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// End-to-end throughput and latency.
    E2e {
        /// `embedded`, `mosquitto` (started by the bench on a free port) or `mqtt://HOST:PORT`.
        #[arg(long, default_value = "embedded")]
        broker: String,
        /// Messages for the throughput run.
        #[arg(short = 'n', long, default_value_t = 20000)]
        messages: usize,
        /// Round trips for the latency run (one message at a time).
        #[arg(long, default_value_t = 2000)]
        round_trips: usize,
        /// Payload bytes.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// QoS 0 or 1.
        #[arg(long, default_value = "1", value_parser = ["0", "1"])]
        qos: String,
        /// Publishes in flight at once in the throughput run.
        #[arg(long, default_value_t = 64)]
        window: usize,
    },
    /// MQTT clients only, over TCP: one rumqttc subscriber and one publisher (MQTT 3.1.1, QoS 1) through a broker,
    /// e.g. the embedded broker of a running `ggipc nucleus`; prints messages/s once all arrived.
    Mqtt {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 1883)]
        port: u16,
        /// Messages.
        #[arg(short = 'n', long, default_value_t = 100000)]
        messages: usize,
        /// Payload bytes.
        #[arg(long, default_value_t = 16)]
        size: usize,
        /// Publishes in flight at once (rumqttc's window).
        #[arg(long, default_value_t = 100)]
        window: u16,
    },
    /// Nucleus memory: idle, then with N components connected, each with a subscription.
    Rss {
        #[arg(long, default_value_t = 1000)]
        components: usize,
    },
}

pub async fn run(cmd: BenchCommand) -> Result<ExitCode, String> {
    raise_fd_limit();
    match cmd {
        BenchCommand::E2e {
            broker,
            messages,
            round_trips,
            size,
            qos,
            window,
        } => {
            e2e(
                &broker,
                messages,
                round_trips,
                size.max(8),
                qos == "1",
                window.max(1),
            )
            .await
        }
        BenchCommand::Rss { components } => rss(components).await,
        BenchCommand::Mqtt {
            host,
            port,
            messages,
            size,
            window,
        } => mqtt_flood(&host, port, messages, size, window.max(1)).await,
    }
}

/// A QoS 1 flood between two MQTT clients: the subscriber is connected and subscribed before the publisher
/// starts; done when the subscriber has every message (or after 120 s without progress, an error).
async fn mqtt_flood(
    host: &str,
    port: u16,
    messages: usize,
    size: usize,
    window: u16,
) -> Result<ExitCode, String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let topic = format!("bench/mqtt/{}", std::process::id());
    let mut so = MqttOptions::new(format!("bench-sub-{}", std::process::id()), host, port);
    so.set_keep_alive(Duration::from_secs(30))
        .set_inflight(window);
    let (sub, mut sel) = AsyncClient::new(so, 1024);
    sub.subscribe(&topic, QoS::AtLeastOnce)
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match sel.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("subscriber: {e}")),
        }
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Result<Duration, String>>();
    let started = Instant::now();
    tokio::spawn(async move {
        let mut got = 0usize;
        let res = loop {
            match tokio::time::timeout(Duration::from_secs(120), sel.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(_)))) => {
                    got += 1;
                    if got == messages {
                        break Ok(started.elapsed());
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => break Err(format!("subscriber after {got} messages: {e}")),
                Err(_) => {
                    break Err(format!(
                        "subscriber: no progress for 120 s after {got} messages"
                    ))
                }
            }
        };
        let _ = done_tx.send(res);
    });
    let mut po = MqttOptions::new(format!("bench-pub-{}", std::process::id()), host, port);
    po.set_keep_alive(Duration::from_secs(30))
        .set_inflight(window);
    let (publ, mut pel) = AsyncClient::new(po, 1024);
    let pump = tokio::spawn(async move {
        loop {
            if let Err(e) = pel.poll().await {
                return format!("publisher: {e}");
            }
        }
    });
    let payload = vec![b'x'; size];
    for _ in 0..messages {
        publ.publish(&topic, QoS::AtLeastOnce, false, payload.clone())
            .await
            .map_err(|e| e.to_string())?;
    }
    let res = done_rx
        .await
        .map_err(|_| "subscriber task ended".to_owned())?;
    pump.abort();
    let elapsed = res?;
    println!(
        "bench mqtt: {messages} QoS 1 messages of {size} B in {:.2} s: {:.0} msgs/s",
        elapsed.as_secs_f64(),
        messages as f64 / elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Raises the soft open-files limit to the hard limit (1,000 connections need more than the usual 1,024).
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit read and write only the local `rlimit` passed by pointer.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

const ALLOW_ALL: &str = r#"{
  "RecipeFormatVersion": "2020-01-25",
  "ComponentName": "NAME",
  "ComponentVersion": "1.0.0",
  "ComponentConfiguration": {"DefaultConfiguration": {"accessControl": {"aws.greengrass.ipc.mqttproxy": {
    "NAME:mqttproxy:1": {"operations": ["aws.greengrass#PublishToIoTCore", "aws.greengrass#SubscribeToIoTCore",
                                        "aws.greengrass#SubscribeToIoTCoreConnectionStatus"],
                         "resources": ["*"]}}}}},
  "Manifests": [{"Platform": {"os": "all"}, "Lifecycle": {}}]
}"#;

fn write_recipe(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, ALLOW_ALL.replace("NAME", name))
        .map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(p)
}

struct MosquittoGuard(std::process::Child);
impl Drop for MosquittoGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_mosquitto(dir: &Path) -> Result<(MosquittoGuard, u16), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        // The broker keeps what the bridge does not take yet (flow control) instead of dropping past its
        // default of 1,000 queued messages per client.
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let bin = [
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
        "mosquitto",
    ]
    .into_iter()
    .find(|b| !b.starts_with('/') || Path::new(b).exists())
    .unwrap_or("mosquitto");
    let child = std::process::Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot start mosquitto ({bin}): {e}; scripts/install-mosquitto.sh installs it")
        })?;
    let guard = MosquittoGuard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("mosquitto did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((guard, port))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A `ggipc nucleus` child process (killed when dropped).
struct ChildNucleus {
    child: tokio::process::Child,
    pid: u32,
    socket: PathBuf,
    registration: serde_json::Value,
}

impl ChildNucleus {
    async fn start(dir: &Path, args: &[String]) -> Result<ChildNucleus, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut all: Vec<String> = vec![
            "nucleus".into(),
            "--root".into(),
            dir.join("root").display().to_string(),
            "--mqtt-port".into(),
            "0".into(),
            "--log".into(),
            "warn".into(),
        ];
        all.extend(args.iter().cloned());
        let child = tokio::process::Command::new(exe)
            .args(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start ggipc nucleus: {e}"))?;
        let pid = child.id().ok_or("no pid")?;
        let reg_path = dir.join("root/components.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !reg_path.exists() {
            if Instant::now() > deadline {
                return Err("nucleus did not start".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let registration: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&reg_path).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        let socket = PathBuf::from(registration["socketPath"].as_str().ok_or("socketPath")?);
        Ok(ChildNucleus {
            child,
            pid,
            socket,
            registration,
        })
    }

    fn token(&self, component: &str) -> Result<String, String> {
        self.registration["components"][component]["svcuid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no svcuid for {component}"))
    }

    async fn stop(mut self) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

async fn e2e(
    broker: &str,
    n: usize,
    rts: usize,
    size: usize,
    qos1: bool,
    window: usize,
) -> Result<ExitCode, String> {
    let dir = tempfile_dir()?;
    let mut _mosq = None;
    let broker_url = match broker {
        "mosquitto" => {
            let (g, port) = start_mosquitto(&dir)?;
            _mosq = Some(g);
            format!("mqtt://127.0.0.1:{port}")
        }
        other => other.to_owned(),
    };
    let recipe = write_recipe(&dir, "bench.Component")?;
    let config = dir.join("config.json");
    std::fs::write(
        &config,
        serde_json::json!({"mqtt": {"maxInFlightPublishes": 100,
                                    "spooler": {"maxSizeInBytes": 64 * 1024 * 1024}}})
        .to_string(),
    )
    .map_err(|e| e.to_string())?;
    // The nucleus runs as its own process, as on a device, so its memory is measured alone.
    let nucleus = ChildNucleus::start(
        &dir,
        &[
            "--broker".into(),
            broker_url.clone(),
            "--config".into(),
            config.display().to_string(),
            "--recipe".into(),
            recipe.display().to_string(),
        ],
    )
    .await?;
    let svcuid = nucleus.token("bench.Component")?;
    let connect = || async {
        Client::builder()
            .socket_path(&nucleus.socket)
            .auth_token(svcuid.clone())
            .connect()
            .await
            .map_err(|e| e.to_string())
    };
    let publisher = connect().await?;
    let subscriber = connect().await?;
    {
        // A bridge must be connected before the run.
        let mut status = publisher
            .subscribe_to_iot_core_connection_status(Default::default())
            .await
            .map_err(|e| format!("connection status: {e}"))?;
        let connected = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(ev) = status.next().await {
                if let SubscriptionEvent::Message(m) = ev {
                    let s = m.connection_status_event.and_then(|e| e.status);
                    if s == Some(ggipc::model::ConnectionStatus::Connected) {
                        return true;
                    }
                }
            }
            false
        })
        .await;
        if connected != Ok(true) {
            return Err(format!("the nucleus did not connect to {broker_url}"));
        }
        status.close();
    }
    let q = if qos1 {
        Qos::AtLeastOnce
    } else {
        Qos::AtMostOnce
    };
    let mut sub = subscriber
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("bench/e2e", q))
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    let mk = move |seq: u64| {
        let mut p = vec![0u8; size];
        p[..8].copy_from_slice(&seq.to_be_bytes());
        PublishToIoTCoreRequest::new("bench/e2e", q, p)
    };

    // Latency: one message at a time, publish → delivered to the subscriber.
    let mut lat = Vec::with_capacity(rts);
    for i in 0..rts {
        let start = Instant::now();
        publisher
            .publish_to_iot_core(mk(i as u64))
            .await
            .map_err(|e| format!("publish: {e}"))?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
                Ok(Some(SubscriptionEvent::Message(_))) => break,
                Ok(Some(_)) => continue,
                Ok(None) => return Err("subscription ended".into()),
                Err(_) => return Err(format!("round trip {i} timed out")),
            }
        }
        lat.push(start.elapsed());
    }
    lat.sort_unstable();

    // Throughput: `window` publishes in flight, until the subscriber has everything (or 30 s of silence).
    let start = Instant::now();
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pub_task = {
        let publisher = publisher.clone();
        let sem = Arc::new(tokio::sync::Semaphore::new(window));
        let failures = failures.clone();
        tokio::spawn(async move {
            let mut set = tokio::task::JoinSet::new();
            let failed = &failures;
            let fail = |ok: Result<bool, _>| {
                if !ok.unwrap_or(false) {
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            };
            for i in 0..n {
                let permit = sem.clone().acquire_owned().await.expect("semaphore");
                let p = publisher.clone();
                let req = mk((rts + i) as u64);
                set.spawn(async move {
                    let r = p.publish_to_iot_core(req).await;
                    drop(permit);
                    r.is_ok()
                });
                while let Some(r) = set.try_join_next() {
                    fail(r);
                }
            }
            while let Some(r) = set.join_next().await {
                fail(r);
            }
        })
    };
    // Until every publish that succeeded arrived or was reported lost (or 30 s without news).
    let mut received = 0usize;
    let mut lagged = 0u64;
    let mut last_news = Instant::now();
    let failed_now = || failures.load(std::sync::atomic::Ordering::Relaxed);
    while received + lagged as usize + failed_now() < n
        && last_news.elapsed() < Duration::from_secs(30)
    {
        match tokio::time::timeout(Duration::from_millis(100), sub.next()).await {
            Ok(Some(SubscriptionEvent::Message(_))) => received += 1,
            Ok(Some(SubscriptionEvent::Lagged(k))) => lagged += k,
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => continue,
        }
        last_news = Instant::now();
    }
    let elapsed = start.elapsed();
    pub_task.await.map_err(|e| e.to_string())?;
    let failed = failed_now();
    let peak = peak_rss_kib(nucleus.pid).unwrap_or(0);
    println!(
        "bench e2e: broker={broker} qos={} payload={size}B",
        if qos1 { 1 } else { 0 }
    );
    println!(
        "  latency (publish → subscriber, {rts} sequential): p50={:?} p90={:?} p99={:?} max={:?}",
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    println!(
        "  throughput ({n} msgs, window {window}): {:.0} msgs/s received ({received}/{n} delivered, {lagged} reported lost, {failed} publishes failed) in {:.2?}",
        received as f64 / elapsed.as_secs_f64(),
        elapsed
    );
    println!(
        "  nucleus RSS peak (VmHWM, whole run): {:.1} MiB",
        peak as f64 / 1024.0
    );
    sub.close();
    publisher.close().await;
    subscriber.close().await;
    nucleus.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let d = std::env::temp_dir().join(format!(
        "ggipc-bench-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    Ok(d)
}

fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {field}"))
}

fn rss_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmRSS:")
}

/// The highest resident memory the process had (VmHWM).
fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmHWM:")
}

async fn rss(components: usize) -> Result<ExitCode, String> {
    let dir = tempfile_dir()?;
    let mut args: Vec<String> = vec![
        "nucleus".into(),
        "--root".into(),
        dir.join("root").display().to_string(),
        "--mqtt-port".into(),
        "0".into(),
        "--log".into(),
        "warn".into(),
    ];
    for i in 0..components {
        let r = write_recipe(&dir, &format!("bench.C{i}"))?;
        args.push("--recipe".into());
        args.push(r.display().to_string());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(exe)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start ggipc nucleus: {e}"))?;
    let pid = child.id().ok_or("no pid")?;
    let reg_path = dir.join("root/components.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reg_path.exists() {
        if Instant::now() > deadline {
            return Err("nucleus did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&reg_path).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let socket = PathBuf::from(reg["socketPath"].as_str().ok_or("socketPath")?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid)?;

    let mut clients = Vec::with_capacity(components);
    let mut subs = Vec::with_capacity(components);
    let start = Instant::now();
    for i in 0..components {
        let name = format!("bench.C{i}");
        let token = reg["components"][&name]["svcuid"]
            .as_str()
            .ok_or("svcuid")?
            .to_owned();
        let c = Client::builder()
            .socket_path(&socket)
            .auth_token(token)
            .connect()
            .await
            .map_err(|e| format!("component {i}: connect: {e}"))?;
        let s = c
            .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
                format!("bench/{i}/#"),
                Qos::AtLeastOnce,
            ))
            .await
            .map_err(|e| format!("component {i}: subscribe: {e}"))?;
        clients.push(c);
        subs.push(s);
    }
    let setup = start.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = rss_kib(pid)?;
    println!("bench rss: nucleus pid {pid}");
    println!("  idle: {:.1} MiB", idle as f64 / 1024.0);
    println!(
        "  with {components} connected components, one subscription each: {:.1} MiB (set up in {setup:.2?})",
        loaded as f64 / 1024.0
    );
    drop(subs);
    for c in clients {
        c.close().await;
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}
