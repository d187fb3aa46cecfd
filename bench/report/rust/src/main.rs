//! Benchmark programs for the performance report (driven by `bench/report/report.py`):
//!
//! * `client PAYLOAD SYNC_N PIPE_N EV_N` — the ggipc Rust client under the report's common protocol (see
//!   `report.py`): connect and subscribe, `READY`, sync publishes, pipelined publishes, events into a handler;
//! * `pump TOPIC PAYLOAD N` — publishes N messages as fast as the nucleus takes them (pipelined), for events/s;
//! * `idle N` — holds N connected components, each with a subscription, until standard input closes;
//! * `pingpong PAYLOAD N blocking|spin` — the limit line: two processes exchange the encoded frames of a sync
//!   publish round trip over a Unix socket and do nothing else (`pong` is the answering process).
//!
//! The identity comes from the environment the nucleus gives (SVCUID, socket path). With
//! `GGIPC_BENCH_SERVICE=local`, `client` and `pump` use local pub/sub (PublishToTopic with a binary message,
//! SubscribeToTopic) instead of the MQTT proxy (PublishToIoTCore at QoS 0, SubscribeToIoTCore).

use ggipc::model::{
    BinaryMessage, PublishMessage, PublishToIoTCoreRequest, PublishToTopicRequest, Qos,
    SubscribeToIoTCoreRequest, SubscribeToTopicRequest,
};
use ggipc::{Client, SubscriptionEvent};

use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WINDOW: usize = 256;

/// Whether `GGIPC_BENCH_SERVICE=local` selects local pub/sub.
fn local() -> bool {
    std::env::var("GGIPC_BENCH_SERVICE").as_deref() == Ok("local")
}

fn local_request(topic: &str, payload: &[u8]) -> PublishToTopicRequest {
    PublishToTopicRequest {
        topic: Some(topic.to_string()),
        publish_message: Some(PublishMessage {
            json_message: None,
            binary_message: Some(BinaryMessage {
                message: Some(payload.to_vec()),
                context: None,
            }),
        }),
    }
}

/// One publish through the async client, to the service `local` selects.
async fn publish(c: &Client, local: bool, topic: &str, payload: &[u8]) -> ggipc::Result<()> {
    if local {
        c.publish_to_topic(local_request(topic, payload))
            .await
            .map(|_| ())
    } else {
        let r = PublishToIoTCoreRequest::new(topic, Qos::AtMostOnce, payload.to_vec());
        c.publish_to_iot_core(r).await.map(|_| ())
    }
}

fn arg(args: &[String], i: usize) -> usize {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        eprintln!("bad or missing argument {i}");
        std::process::exit(2)
    })
}

fn line(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

fn wait_stdin() -> String {
    let mut l = String::new();
    let _ = std::io::stdin().lock().read_line(&mut l);
    l
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn pipelined(c: &Client, topic: &str, payload: &[u8], n: usize) -> f64 {
    let rt = ggipc::runtime::handle().expect("runtime");
    let local = local();
    let t0 = Instant::now();
    let mut inflight = std::collections::VecDeque::with_capacity(WINDOW);
    for _ in 0..n {
        if inflight.len() >= WINDOW {
            if let Some(h) = inflight.pop_front() {
                report(h.await);
            }
        }
        let c = c.clone();
        let (topic, payload) = (topic.to_string(), payload.to_vec());
        inflight.push_back(rt.spawn(async move { publish(&c, local, &topic, &payload).await }));
    }
    for h in inflight {
        report(h.await);
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

fn report(r: Result<ggipc::Result<()>, tokio::task::JoinError>) {
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("publish failed: {e}"),
        Err(e) => eprintln!("publish task failed: {e}"),
    }
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    ggipc::runtime::block_on(f).expect("block_on")
}

fn client(args: &[String]) {
    let size = arg(args, 2);
    let (sync_n, pipe_n, ev_n) = (arg(args, 3), arg(args, 4), arg(args, 5));
    let payload = vec![b'x'; size];
    let pid = std::process::id();
    let b = ggipc::blocking::Client::connect().expect("connect");
    let c = b.as_async().clone();
    let ev_topic = format!("bench/ev/{pid}");
    let local = local();
    // (count, first, last) updated by the handler on the dispatcher thread
    let stats = Arc::new(Mutex::new((0u64, None::<Instant>, None::<Instant>)));
    let st = stats.clone();
    let count = move |is_message: bool| {
        if is_message {
            let now = Instant::now();
            let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
            s.0 += 1;
            s.1.get_or_insert(now);
            s.2 = Some(now);
        }
    };
    let _h = if local {
        let req = SubscribeToTopicRequest {
            topic: Some(ev_topic.clone()),
            receive_mode: None,
        };
        let sub = run(c.subscribe_to_topic(req)).expect("subscribe");
        sub.with_handler(move |e| count(matches!(e, SubscriptionEvent::Message(_))))
    } else {
        let req = SubscribeToIoTCoreRequest::new(ev_topic.clone(), Qos::AtMostOnce);
        let sub = b
            .subscribe_to_iot_core(req)
            .expect("subscribe")
            .into_async();
        sub.with_handler(move |e| count(matches!(e, SubscriptionEvent::Message(_))))
    };
    line(&format!("READY {ev_topic}"));
    wait_stdin();

    let topic = format!("bench/s/{pid}");
    // the blocking facade on the calling thread: what a synchronous Rust component does
    let mut lat = Vec::with_capacity(sync_n);
    for _ in 0..sync_n {
        let t = Instant::now();
        if local {
            b.publish_to_topic(local_request(&topic, &payload))
                .expect("publish");
        } else {
            b.publish_to_iot_core(PublishToIoTCoreRequest::new(
                topic.as_str(),
                Qos::AtMostOnce,
                payload.clone(),
            ))
            .expect("publish");
        }
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total: f64 = lat.iter().sum::<f64>() / 1e6;
    let mut sorted = lat;
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));

    line("MARK pipe_start");
    wait_stdin();
    let pipe_rate = run(pipelined(&c, &topic, &payload, pipe_n));
    line("MARK pipe_end");
    wait_stdin();

    line(&format!("PUMP {ev_topic} {ev_n}"));
    let deadline_idle = Duration::from_secs(2);
    let mut last_count = 0;
    let mut last_change = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let n = stats.lock().unwrap_or_else(|e| e.into_inner()).0;
        if n as usize >= ev_n {
            break;
        }
        if n != last_count {
            last_count = n;
            last_change = Instant::now();
        } else if (n > 0 && last_change.elapsed() > deadline_idle)
            || last_change.elapsed() > Duration::from_secs(30)
        {
            break;
        }
    }
    let (n, first, last) = *stats.lock().unwrap_or_else(|e| e.into_inner());
    let ev_rate = match (first, last) {
        (Some(f), Some(l)) if n > 1 && l > f => (n - 1) as f64 / (l - f).as_secs_f64(),
        _ => 0.0,
    };
    let threads_end = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find_map(|l| {
                    l.strip_prefix("Threads:")
                        .map(|v| v.trim().parse::<u64>().ok())
                })
                .flatten()
        })
        .unwrap_or(0);
    let out = serde_json::json!({
        "threads_end": threads_end,
        "sync_per_s": sorted.len() as f64 / total,
        "p50_us": pct(&sorted, 0.5), "p90_us": pct(&sorted, 0.9), "p99_us": pct(&sorted, 0.99),
        "pipelined_per_s": pipe_rate, "events_per_s": ev_rate, "events_received": n, "events_sent": ev_n,
    });
    line(&format!("RESULT {out}"));
}

fn pump(args: &[String]) {
    let topic = args.get(2).cloned().unwrap_or_default();
    let (size, n) = (arg(args, 3), arg(args, 4));
    let b = ggipc::blocking::Client::connect().expect("connect");
    let rate = run(pipelined(b.as_async(), &topic, &vec![b'x'; size], n));
    line(&format!("PUMPED {rate:.0}"));
}

fn idle(args: &[String]) {
    let n = arg(args, 2);
    let mut held = Vec::with_capacity(n);
    let opened = Arc::new(AtomicU64::new(0));
    for i in 0..n {
        let c = ggipc::blocking::Client::connect().expect("connect");
        let s = c
            .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
                format!("bench/idle/{i}"),
                Qos::AtMostOnce,
            ))
            .expect("subscribe");
        opened.fetch_add(1, Ordering::Relaxed);
        held.push((c, s));
    }
    line(&format!("IDLE {}", opened.load(Ordering::Relaxed)));
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(held);
}

/// The bytes of one sync publish round trip: the request frame the client sends for `size` payload bytes and the
/// response frame the nucleus answers with (same encoder, same headers, same JSON as the real ones).
fn round_trip_frames(size: usize) -> (Vec<u8>, Vec<u8>) {
    use ggipc::rpc::{flags, Frame, MessageType};
    let topic = format!("bench/s/{}", std::process::id());
    let req = PublishToIoTCoreRequest::new(topic.as_str(), Qos::AtMostOnce, vec![b'x'; size]);
    let body = serde_json::to_vec(&req).expect("request body");
    let mut request = Frame::json(
        MessageType::ApplicationMessage,
        0,
        1,
        "aws.greengrass#PublishToIoTCoreRequest",
        body.into(),
    );
    request.operation = Some(ggipc::codec::ByteStr::from_static(
        "aws.greengrass#PublishToIoTCore",
    ));
    let response = Frame::json(
        MessageType::ApplicationMessage,
        flags::TERMINATE_STREAM,
        1,
        "aws.greengrass#PublishToIoTCoreResponse",
        bytes::Bytes::from_static(b"{}"),
    );
    let mut a = bytes::BytesMut::new();
    let mut b = bytes::BytesMut::new();
    request.encode(usize::MAX, &mut a).expect("request frame");
    response.encode(usize::MAX, &mut b).expect("response frame");
    (a.to_vec(), b.to_vec())
}

/// Reads exactly `buf.len()` bytes; `spin` polls a non-blocking socket instead of sleeping in the kernel.
fn read_all(s: &mut UnixStream, buf: &mut [u8], spin: bool) -> std::io::Result<()> {
    if !spin {
        return s.read_exact(buf);
    }
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            // Yield rather than burn the time slice: on a loaded machine the peer may need this CPU.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn write_all(s: &mut UnixStream, mut buf: &[u8], spin: bool) -> std::io::Result<()> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if spin && e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::yield_now()
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `pong SOCKET PAYLOAD MODE`: the other process of `pingpong`; answers each request frame with the response
/// frame until the socket closes.
/// Moves this process to the comma-separated CPUs in `cpus` (empty: stays where it is). The report places the
/// pong side where the nucleus runs and the ping side where the client runs.
fn pin_to(cpus: &str) {
    let list: Vec<usize> = cpus
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    if list.is_empty() {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it for indices below CPU_SETSIZE,
    // and sched_setaffinity reads it for the given size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in list.into_iter().filter(|&c| c < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!(
                "pong: cannot move to CPUs {cpus}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

fn pong(args: &[String]) {
    let path = args.get(2).cloned().unwrap_or_default();
    let size = arg(args, 3);
    let spin = args.get(4).map(String::as_str) == Some("spin");
    pin_to(
        std::env::var("GGIPC_PONG_CPUS")
            .unwrap_or_default()
            .as_str(),
    );
    let (request, response) = round_trip_frames(size);
    let mut s = UnixStream::connect(&path).expect("connect to pingpong");
    s.set_nonblocking(spin).expect("socket mode");
    let mut buf = vec![0u8; request.len()];
    while read_all(&mut s, &mut buf, spin).is_ok() {
        if write_all(&mut s, &response, spin).is_err() {
            return;
        }
    }
}

/// `pingpong PAYLOAD N MODE`: the limit line. Two processes over a Unix socket exchange the bytes of a sync
/// publish round trip (the encoded request frame for PAYLOAD bytes, the encoded response frame) N times, with
/// nothing else done: no parsing, no broker. MODE `blocking` sleeps in the kernel between messages (two
/// wake-ups per round trip, as a blocking client and an event-loop server have); `spin` polls non-blocking
/// sockets, yielding the CPU between polls (no wake-ups: the floor of what the socket itself costs, at the price
/// of two busy CPUs).
fn pingpong(args: &[String]) {
    let (size, n) = (arg(args, 2), arg(args, 3));
    let mode = args.get(4).cloned().unwrap_or_else(|| "blocking".into());
    let spin = mode == "spin";
    let (request, response) = round_trip_frames(size);
    let dir = std::env::temp_dir().join(format!("ggipc-pingpong-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let listener = std::os::unix::net::UnixListener::bind(&dir).expect("bind");
    let exe = std::env::current_exe().expect("own path");
    let mut child = std::process::Command::new(exe)
        .args(["pong", &dir.to_string_lossy(), &size.to_string(), &mode])
        .spawn()
        .expect("start the pong process");
    let (mut a, _) = listener.accept().expect("accept");
    let _ = std::fs::remove_file(&dir);
    a.set_nonblocking(spin).expect("socket mode");
    let mut back = vec![0u8; response.len()];
    let mut lat = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        write_all(&mut a, &request, spin).expect("write");
        read_all(&mut a, &mut back, spin).expect("read");
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    drop(a);
    let _ = child.wait();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let out = serde_json::json!({"mode": mode, "request_bytes": request.len(), "response_bytes": response.len(),
        "per_s": rate, "p50_us": pct(&lat, 0.5), "p90_us": pct(&lat, 0.9), "p99_us": pct(&lat, 0.99)});
    line(&format!("RESULT {out}"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("client") => client(&args),
        Some("pump") => pump(&args),
        Some("idle") => idle(&args),
        Some("pingpong") => pingpong(&args),
        Some("pong") => pong(&args),
        _ => {
            eprintln!("usage: ggipc-bench-report client|pump|idle|pingpong|pong ...");
            std::process::exit(2);
        }
    }
    std::process::exit(0);
}
