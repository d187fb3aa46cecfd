//! Security: tokens (wrong, empty, very long, from an unregistered component, from a previous nucleus run,
//! another component's), constant-time token comparison, the socket's permissions, a table of policy cases
//! through the real IPC path (ggipc's decision and the Java nucleus' literal matching, docs/PROTOCOL.md §5.3), and no
//! secret in the nucleus' logs.

use bytes::BytesMut;
use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::server::{
    AccessControl, ComponentRegistry, FilterAuthorization, MemoryBroker, Server, ServerConfig,
};
use ggipc::ErrorKind;
use ggipc_reliability::*;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn server(
    dir: &TempDir,
    name: &str,
    mode: FilterAuthorization,
) -> (Server, ggipc::server::ServerHandle) {
    let config = ServerConfig {
        filter_authorization: mode,
        ..ServerConfig::new(dir.path().join(name))
    };
    let s = Server::new(config, Arc::new(MemoryBroker::new()));
    let h = s.spawn().unwrap();
    (s, h)
}

async fn connect_kind(socket: &std::path::Path, token: &str) -> Result<ggipc::Client, ErrorKind> {
    client(socket, token, false).await.map_err(|e| e.kind())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens() {
    let dir = TempDir::new("tokens");
    let (s, h) = server(&dir, "ipc.socket", FilterAuthorization::Strict);
    let socket = h.socket_path().to_path_buf();
    let a = AccessControl::from_rules(&[(MQTT, &[PUB], &["a/#"])]).unwrap();
    let b = AccessControl::from_rules(&[(MQTT, &[PUB], &["b/#"])]).unwrap();
    let ta = s.components().register("com.sec.A", a);
    let tb = s.components().register("com.sec.B", b.clone());
    let mut rows = Vec::new();

    // Wrong: same length, last character changed; and a random token.
    let mut wrong = ta.clone().into_bytes();
    *wrong.last_mut().unwrap() ^= 1;
    let wrong = String::from_utf8(wrong).unwrap();
    assert_eq!(
        connect_kind(&socket, &wrong).await.err(),
        Some(ErrorKind::AccessDenied)
    );
    assert_eq!(
        connect_kind(&socket, &ggipc::server::generate_svcuid())
            .await
            .err(),
        Some(ErrorKind::AccessDenied)
    );
    rows.push("wrong token (last character flipped; random) | refused: CONNECT_ACK without ACCEPTED, client error AccessDenied");
    // Empty.
    assert_eq!(
        connect_kind(&socket, "").await.err(),
        Some(ErrorKind::AccessDenied)
    );
    rows.push("empty token | refused (AccessDenied)");
    // A valid token as a prefix/suffix of a longer one, and with whitespace.
    for t in [
        format!("{ta}x"),
        format!(" {ta}"),
        ta[..ta.len() - 1].to_string(),
        ta.to_lowercase(),
    ] {
        if t != ta {
            assert_eq!(
                connect_kind(&socket, &t).await.err(),
                Some(ErrorKind::AccessDenied),
                "{t:?}"
            );
        }
    }
    rows.push("valid token with a character appended, a space prepended, the last character removed, lower-cased | refused (AccessDenied)");
    // Very long: 1 MiB (within the frame limit), then 20 MiB (beyond it: the server closes without reading it all).
    let long = "A".repeat(1 << 20);
    assert_eq!(
        connect_kind(&socket, &long).await.err(),
        Some(ErrorKind::AccessDenied)
    );
    {
        let mut raw = tokio::net::UnixStream::connect(&socket).await.unwrap();
        let frame = raw::encode(&ggipc::rpc::connect_frame(&"B".repeat(20 << 20)));
        let wrote = tokio::time::timeout(Duration::from_secs(10), raw.write_all(&frame)).await;
        // Either the write fails (peer closed) or it completes and the server then closes; never accepted.
        let mut buf = BytesMut::new();
        let mut chunk = [0u8; 4096];
        let accepted = loop {
            match tokio::time::timeout(Duration::from_secs(10), raw.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break false,
                Ok(Ok(n)) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if let Ok(Some(m)) =
                        ggipc::codec::decode(&mut buf, &ggipc::codec::Limits::default())
                    {
                        let f = ggipc::rpc::Frame::from_message(m).unwrap();
                        break f.flags & ggipc::rpc::flags::CONNECTION_ACCEPTED != 0;
                    }
                }
                Err(_) => panic!(
                    "the server neither answered nor closed a 20 MiB CONNECT (write: {wrote:?})"
                ),
            }
        };
        assert!(!accepted);
    }
    rows.push("very long token: 1 MiB | refused (AccessDenied); 20 MiB (beyond the 16 MiB frame limit): connection closed, nothing allocated beyond the limit");
    // Unregistered component: its token stops working.
    let tc = s
        .components()
        .register("com.sec.C", AccessControl::allow_all_mqtt());
    let kept = connect_kind(&socket, &tc).await.unwrap();
    assert!(s.components().unregister("com.sec.C"));
    assert_eq!(
        connect_kind(&socket, &tc).await.err(),
        Some(ErrorKind::AccessDenied)
    );
    let r = kept
        .publish_to_iot_core(PublishToIoTCoreRequest::new("c/x", Qos::AtLeastOnce, "x"))
        .await;
    assert_eq!(
        r.err().map(|e| e.kind()),
        Some(ErrorKind::UnauthorizedError)
    );
    rows.push("token of a component since unregistered | refused for new connections; its open connection loses every permission (UnauthorizedError)");
    // Re-registration replaces the token.
    let tb2 = s.components().register("com.sec.B", b);
    assert_eq!(
        connect_kind(&socket, &tb).await.err(),
        Some(ErrorKind::AccessDenied)
    );
    connect_kind(&socket, &tb2).await.unwrap();
    rows.push("token of a previous registration of the same component | refused (AccessDenied)");
    // Another component's token gives exactly that component's rights, never a union; a second CONNECT on a
    // connection (to switch identity) is a protocol error.
    let as_a = connect_kind(&socket, &ta).await.unwrap();
    as_a.publish_to_iot_core(PublishToIoTCoreRequest::new("a/x", Qos::AtLeastOnce, "x"))
        .await
        .unwrap();
    let r = as_a
        .publish_to_iot_core(PublishToIoTCoreRequest::new("b/x", Qos::AtLeastOnce, "x"))
        .await;
    assert_eq!(
        r.err().map(|e| e.kind()),
        Some(ErrorKind::UnauthorizedError)
    );
    {
        let (mut s2, ok) = raw::handshake(&socket, &ta).await;
        assert!(ok);
        s2.write_all(&raw::encode(&ggipc::rpc::connect_frame(&tb2)))
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        let mut chunk = [0u8; 4096];
        let mut got_error = false;
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), s2.read(&mut chunk))
                .await
                .unwrap()
                .unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Ok(Some(m)) = ggipc::codec::decode(&mut buf, &ggipc::codec::Limits::default())
            {
                let f = ggipc::rpc::Frame::from_message(m).unwrap();
                got_error |= f.message_type == ggipc::rpc::MessageType::ProtocolError;
            }
        }
        assert!(
            got_error,
            "a second CONNECT is answered with PROTOCOL_ERROR, then the connection closes"
        );
    }
    rows.push("another component's token (replayed by a different process) | authenticates as that component with exactly its policies, never a union; a second CONNECT to switch identity: PROTOCOL_ERROR and close");

    // The real nucleus keeps its tokens across restarts of the same root (so that reconnecting clients
    // resume); a token of the same component issued by another nucleus root is refused.
    let ndir = TempDir::new("tokens-n");
    let recipes = vec![write_recipe(ndir.path(), "com.sec.N", &["n/#"], &[])];
    let mut n = Nucleus::start(ndir.path(), &recipes, &["--broker", "memory"]);
    let first = n.token("com.sec.N");
    n.restart();
    assert_eq!(first, n.token("com.sec.N"), "token kept across a restart");
    connect_kind(&n.socket(), &first).await.unwrap();
    let odir = TempDir::new("tokens-o");
    let orecipes = vec![write_recipe(odir.path(), "com.sec.N", &["n/#"], &[])];
    let other = Nucleus::start(odir.path(), &orecipes, &["--broker", "memory"]);
    assert_ne!(other.token("com.sec.N"), first);
    assert_eq!(
        connect_kind(&n.socket(), &other.token("com.sec.N"))
            .await
            .err(),
        Some(ErrorKind::AccessDenied)
    );
    let kept_file = std::fs::read_dir(ndir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("token"))
        })
        .map(|p| {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is readable by others", p.display());
            format!(
                "`{}` mode {mode:o}",
                p.file_name().unwrap().to_string_lossy()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    rows.push(Box::leak(
        format!(
            "the same component's token issued by another `ggipc nucleus` root | refused (AccessDenied); after a restart of the same root the token is kept ({kept_file}) so reconnecting clients resume"
        )
        .into_boxed_str(),
    ));
    // The refused attempts did not disturb the connections that were accepted.
    assert!(kept.is_connected() && as_a.is_connected());
    for r in rows {
        let (what, outcome) = r.split_once(" | ").unwrap();
        report("tokens", &format!("| {what} | {outcome} |"));
    }
    h.shutdown().await.unwrap();
}

/// Timing of `ComponentRegistry::authenticate` does not depend on how long a prefix of the token matches.
/// Tokens of 4 KiB make an early-exit comparison visible (the control below shows the method detects one).
#[test]
fn token_comparison_is_constant_time() {
    const LEN: usize = 4096;
    let reg = ComponentRegistry::new();
    let token: String = (0..LEN).map(|i| (b'A' + (i % 26) as u8) as char).collect();
    reg.register_with_token("com.sec.T", AccessControl::default(), token.clone());
    let differ_at = |i: usize| {
        let mut b = token.clone().into_bytes();
        b[i] = b'#';
        String::from_utf8(b).unwrap()
    };
    let candidates = [differ_at(0), differ_at(LEN / 2), differ_at(LEN - 1)];
    let measure = |f: &dyn Fn(&str) -> bool, t: &str| {
        let start = Instant::now();
        for _ in 0..200 {
            assert!(!std::hint::black_box(f(std::hint::black_box(t))));
        }
        start.elapsed().as_nanos() as u64
    };
    let ours = |t: &str| reg.authenticate(t).is_some();
    let naive = |t: &str| {
        t.as_bytes()
            .iter()
            .zip(token.as_bytes())
            .all(|(a, b)| a == b)
            && t.len() == token.len()
    };
    let medians = |f: &dyn Fn(&str) -> bool| -> Vec<u64> {
        let mut samples: Vec<Vec<u64>> = vec![Vec::new(); candidates.len()];
        for _ in 0..301 {
            for (k, c) in candidates.iter().enumerate() {
                samples[k].push(measure(f, c));
            }
        }
        samples
            .into_iter()
            .map(|mut s| {
                s.sort_unstable();
                s[s.len() / 2] / 200
            })
            .collect()
    };
    let ours_ns = medians(&ours);
    let naive_ns = medians(&naive);
    let ratio =
        |v: &[u64]| *v.iter().max().unwrap() as f64 / (*v.iter().min().unwrap()).max(1) as f64;
    report(
        "timing",
        &format!(
            "| token comparison timing, 4 KiB token, mismatch at byte 0 / 2048 / 4095, median of 301 × 200 calls | ggipc `authenticate`: {:?} ns (max/min {:.2}); control, early-exit comparison: {:?} ns (max/min {:.2}) | independent of the matching prefix |",
            ours_ns,
            ratio(&ours_ns),
            naive_ns,
            ratio(&naive_ns)
        ),
    );
    assert!(
        ratio(&naive_ns) > 2.0,
        "the control should show an early-exit comparison: {naive_ns:?}"
    );
    assert!(
        ratio(&ours_ns) < 1.3,
        "authenticate time depends on the matching prefix: {ours_ns:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_permissions() {
    let dir = TempDir::new("perm");
    let recipes = vec![write_recipe(dir.path(), "com.sec.P", &["p/#"], &[])];
    let n = Nucleus::start(dir.path(), &recipes, &["--broker", "memory"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&n.socket()), 0o600, "ipc.socket");
    assert_eq!(
        mode(&dir.path().join("components.json")),
        0o600,
        "components.json holds the tokens"
    );
    let (_s, h) = server(&dir, "core.socket", FilterAuthorization::Strict);
    assert_eq!(mode(h.socket_path()), 0o600, "core ServerConfig default");
    // Another user, holding a valid token, cannot even connect.
    let other = if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::process::CommandExt;
        let out = std::process::Command::new(ggipc_bin())
            .args(["pub", "-t", "p/x", "-m", "hi"])
            .env("SVCUID", n.token("com.sec.P"))
            .env(
                "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT",
                n.socket(),
            )
            .uid(65534)
            .gid(65534)
            .output();
        match out {
            Ok(o) => {
                assert!(
                    !o.status.success(),
                    "user 65534 published through a 0600 socket"
                );
                let root = dir.path().to_string_lossy().to_string();
                format!(
                    "user 65534 with a valid token: refused ({})",
                    String::from_utf8_lossy(&o.stderr)
                        .replace(&root, "<root>")
                        .trim()
                        .lines()
                        .last()
                        .unwrap_or("")
                )
            }
            Err(e) => format!("(another user not tested: {e})"),
        }
    } else {
        "(another user not tested: not running as root)".to_string()
    };
    report(
        "tokens",
        &format!("| socket permissions | `ipc.socket` 0600, `components.json` 0600, core `ServerConfig` default 0600; {other} |"),
    );
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Decision {
    Allow,
    Deny,
    Reject,
}

struct Case {
    resources: &'static [&'static str],
    subscribe: bool,
    topic: String,
    /// Acceptable decisions (the safe outcome).
    expected: &'static [Decision],
    note: &'static str,
}

/// Cases where ggipc's decision is known to differ from the expected one (core defects, reported): the table
/// shows them, and the test fails once they are fixed so that this list is kept current.
/// (policy resources, subscribe, topic). None open; fixed: a publish topic with NUL was authorized and
/// accepted (MQTT forbids U+0000; a broker receiving it closed the bridge's connection).
const KNOWN_DEFECTS: &[(&[&str], bool, &str)] = &[];

fn case(
    resources: &'static [&'static str],
    subscribe: bool,
    topic: impl Into<String>,
    expected: &'static [Decision],
    note: &'static str,
) -> Case {
    Case {
        resources,
        subscribe,
        topic: topic.into(),
        expected,
        note,
    }
}

async fn decide(c: &ggipc::Client, subscribe: bool, topic: &str) -> (Decision, String) {
    let r = if subscribe {
        c.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(topic, Qos::AtLeastOnce))
            .await
            .map(|s| s.close())
    } else {
        c.publish_to_iot_core(PublishToIoTCoreRequest::new(topic, Qos::AtLeastOnce, "x"))
            .await
            .map(|_| ())
    };
    match r {
        Ok(()) => (Decision::Allow, String::new()),
        Err(e) if e.kind() == ErrorKind::UnauthorizedError => (Decision::Deny, String::new()),
        Err(e) => (Decision::Reject, format!("{:?}: {}", e.kind(), e)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_table() {
    use Decision::*;
    const NOT: &[Decision] = &[Deny, Reject];
    let long = format!("long/{}", "x".repeat(300));
    let huge = format!("long/{}", "x".repeat(70_000));
    let cases = vec![
        case(&["a/+"], false, "a/b", &[Allow], ""),
        case(&["a/+"], false, "a/b/c", NOT, "`+` is one level"),
        case(&["a/#"], false, "a", &[Allow], "`a/#` covers its parent"),
        case(&["a/*"], false, "a/b/c", &[Allow], "`*` crosses levels"),
        case(&["a/+"], false, "a/+", NOT, "wildcard in a publish topic"),
        case(
            &["my/${*}/x"],
            false,
            "my/*/x",
            &[Allow],
            "`${*}` is a literal `*`",
        ),
        case(&["my/${*}/x"], false, "my/a/x", NOT, "`${*}` is not a glob"),
        case(&["${?}"], false, "?", &[Allow], "`${?}` is a literal `?`"),
        case(
            &["a/?"],
            false,
            "a/?",
            NOT,
            "bare `?`: resource invalid, dropped",
        ),
        case(
            &["a/${x}"],
            false,
            "a/${x}",
            NOT,
            "unknown `${…}`: resource invalid, dropped",
        ),
        case(
            &["#"],
            false,
            "$aws/things/t1/shadow/update",
            &[Allow],
            "policy `#` covers `$` topics (as the nucleus)",
        ),
        case(
            &["$aws/things/t1/shadow/#"],
            false,
            "$aws/things/t1/shadow/update",
            &[Allow],
            "",
        ),
        case(
            &["$aws/things/t1/shadow/#"],
            false,
            "$aws/things/t2/shadow/update",
            NOT,
            "another thing's shadow",
        ),
        case(
            &["$aws/things/t1/shadow/#"],
            false,
            "$AWS/things/t1/shadow/update",
            NOT,
            "case matters",
        ),
        case(&["a/+"], false, "", NOT, "empty topic"),
        case(
            &["*"],
            false,
            long.clone(),
            NOT,
            "305 characters > IoT Core's 256",
        ),
        case(&["*"], false, huge.clone(), NOT, "70,005 characters"),
        case(&["a/+"], false, "a/b\u{0}", NOT, "NUL in a topic"),
        case(
            &["a/b"],
            false,
            "a/b\u{0}",
            NOT,
            "NUL suffix must not pass as `a/b`",
        ),
        case(
            &["sensors/temp"],
            false,
            "sens\u{043e}rs/temp",
            NOT,
            "Cyrillic `о` look-alike",
        ),
        case(
            &["a/+"],
            false,
            "a/b\u{ff0f}c",
            &[Allow, Reject],
            "fullwidth `／` is not a level separator: one level",
        ),
        case(
            &["a/b"],
            false,
            "a\u{ff0f}b",
            NOT,
            "fullwidth `／` is not `/`",
        ),
        case(&["a/b"], false, "A/b", NOT, "case matters"),
        case(&["a/b"], false, "a/b ", NOT, "trailing space"),
        case(
            &["a/b"],
            false,
            "a/b/",
            NOT,
            "trailing `/` is another topic",
        ),
        case(&[], false, "a", NOT, "no policy"),
        case(&["a/+"], true, "a/b", &[Allow], ""),
        case(&["a/+"], true, "a/+", &[Allow], "same filter"),
        case(
            &["a/+"],
            true,
            "a/#",
            NOT,
            "`a/#` reaches `a/b/c`, which `a/+` denies",
        ),
        case(&["+"], true, "#", NOT, "`#` reaches every level"),
        case(&["sensors/+"], true, "sensors/#", NOT, "as above"),
        case(&["a/+/#"], true, "a/#", NOT, "`a/#` also matches `a`"),
        case(&["a/#"], true, "a/+/c", &[Allow], ""),
        case(&["a/+/c"], true, "a/#", NOT, ""),
        case(&["a/b"], true, "a/+", NOT, ""),
        case(
            &["a/*"],
            true,
            "a/#",
            NOT,
            "`a/#` also matches `a`, which `a/*` does not",
        ),
        case(&["a/*"], true, "a/+/#", &[Allow], "`*` crosses levels"),
        case(&["*"], true, "#", &[Allow], ""),
        case(&["#"], true, "$aws/things/x/shadow/#", &[Allow], ""),
        case(
            &["$aws/things/t1/shadow/#"],
            true,
            "$aws/things/+/shadow/#",
            NOT,
            "every thing's shadow",
        ),
        case(&["a/b"], true, "", NOT, "empty filter"),
        case(&["*"], true, "a/#/b", NOT, "`#` not last: invalid filter"),
        case(
            &["*"],
            true,
            "a/b+",
            &[Allow, Reject],
            "`+` inside a level: invalid MQTT filter",
        ),
        case(&["a/+"], true, "a/b\u{0}", NOT, "NUL in a filter"),
        case(&["*"], true, huge.clone(), NOT, "70,005 characters"),
        case(
            &["sensors/temp"],
            true,
            "sens\u{043e}rs/temp",
            NOT,
            "Cyrillic look-alike",
        ),
    ];
    let dir = TempDir::new("policy");
    let (ours, h1) = server(&dir, "strict.socket", FilterAuthorization::Strict);
    let (nucleus, h2) = server(&dir, "literal.socket", FilterAuthorization::Literal);
    let mut rows = Vec::new();
    let mut wrong = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let ops: &[&str] = &["*"];
        let access = if c.resources.is_empty() {
            AccessControl::default()
        } else {
            AccessControl::from_rules(&[(MQTT, ops, c.resources)]).unwrap()
        };
        let name = format!("com.sec.P{i}");
        let t1 = ours.components().register(&name, access.clone());
        let t2 = nucleus.components().register(&name, access);
        let c1 = client(h1.socket_path(), &t1, false).await.unwrap();
        let c2 = client(h2.socket_path(), &t2, false).await.unwrap();
        let (got, why) = decide(&c1, c.subscribe, &c.topic).await;
        let (lit, _) = decide(&c2, c.subscribe, &c.topic).await;
        let known = KNOWN_DEFECTS
            .iter()
            .any(|(r, sub, t)| *r == c.resources && *sub == c.subscribe && *t == c.topic);
        let defect = !c.expected.contains(&got);
        if defect != known {
            wrong.push(format!(
                "{i}: {:?} {:?} → {got:?} {why} (known defect: {known})",
                c.resources, c.topic
            ));
        }
        // Both connections are still served after the decision.
        assert!(c1.is_connected() && c2.is_connected());
        let shown = if c.topic.len() > 40 {
            format!("{}… ({} chars)", &c.topic[..12], c.topic.chars().count())
        } else {
            c.topic.escape_debug().to_string()
        };
        let fmt = |d: &[Decision]| {
            d.iter()
                .map(|d| format!("{d:?}").to_lowercase())
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let nucleus_cell = if lit == got {
            "same".to_string()
        } else {
            format!("**{}**", fmt(&[lit]))
        };
        rows.push(format!(
            "| {} | `{}` | {} | `{shown}` | {} | {}{} | {nucleus_cell} | {} |",
            i + 1,
            c.resources.join("`, `"),
            if c.subscribe { "subscribe" } else { "publish" },
            fmt(c.expected),
            fmt(&[got]),
            if why.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    why.replace('|', "/").chars().take(90).collect::<String>()
                )
            },
            if defect {
                format!("**DEFECT**: {}", c.note)
            } else {
                c.note.to_string()
            }
        ));
    }
    // Non-UTF-8 bytes in the topic: only a raw peer can send them.
    {
        let t = ours
            .components()
            .register("com.sec.Raw", AccessControl::allow_all_mqtt());
        let (mut s, ok) = raw::handshake(h1.socket_path(), &t).await;
        assert!(ok);
        let mut body = br#"{"topicName":"a/"#.to_vec();
        body.extend_from_slice(b"\xff\xfe");
        body.extend_from_slice(br#"","qos":"1","payload":"eA=="}"#);
        let mut f = raw::publish(1, "x", b"");
        f.payload = body.into();
        s.write_all(&raw::encode(&f)).await.unwrap();
        let mut buf = BytesMut::new();
        let mut chunk = [0u8; 4096];
        let reply = loop {
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed without an answer");
            buf.extend_from_slice(&chunk[..n]);
            if let Ok(Some(m)) = ggipc::codec::decode(&mut buf, &ggipc::codec::Limits::default()) {
                break ggipc::rpc::Frame::from_message(m).unwrap();
            }
        };
        assert_eq!(
            reply.message_type,
            ggipc::rpc::MessageType::ApplicationError,
            "non-UTF-8 topic refused"
        );
        let text = String::from_utf8_lossy(&reply.payload).to_string();
        // The same connection keeps working.
        s.write_all(&raw::encode(&raw::publish(2, "a/b", b"x")))
            .await
            .unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        rows.push(format!(
            "| {} | `*` | publish | `a/\\xff\\xfe` (raw bytes, not UTF-8) | reject | reject ({}) | — | only a raw peer can send it; the connection keeps working |",
            rows.len() + 1,
            text.chars().take(80).collect::<String>().replace('|', "/")
        ));
    }
    for r in &rows {
        report("policy", r);
    }
    h1.shutdown().await.unwrap();
    h2.shutdown().await.unwrap();
    assert!(
        wrong.is_empty(),
        "decisions differing from the expected ones:\n{}",
        wrong.join("\n")
    );
}

/// Nothing secret in the nucleus' logs: no component token appears at the default level, at `debug` or at
/// `trace`, whatever the clients do (valid and invalid tokens, publishes, subscriptions, refused requests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_logs() {
    let mut levels = Vec::new();
    for level in ["info", "debug", "trace"] {
        let dir = TempDir::new("logs");
        let recipes = vec![write_recipe(dir.path(), "com.sec.L", &["l/#"], &["l/#"])];
        let mut n = Nucleus::start(
            dir.path(),
            &recipes,
            &["--broker", "memory", "--log", level],
        );
        let token = n.token("com.sec.L");
        let bogus = format!("{}WRONG", &token[..token.len() / 2]);
        let c = client(&n.socket(), &token, false).await.unwrap();
        let mut sub = c
            .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("l/#", Qos::AtLeastOnce))
            .await
            .unwrap();
        c.publish_to_iot_core(PublishToIoTCoreRequest::new("l/x", Qos::AtLeastOnce, "x"))
            .await
            .unwrap();
        let _ = sub.next().await;
        let _ = c
            .publish_to_iot_core(PublishToIoTCoreRequest::new(
                "denied",
                Qos::AtLeastOnce,
                "x",
            ))
            .await;
        assert!(client(&n.socket(), &bogus, false).await.is_err());
        assert!(client(&n.socket(), "", false).await.is_err());
        c.close().await;
        n.stop();
        let log = n.log_text();
        assert!(!log.is_empty());
        let half = &token[..token.len() / 2];
        assert!(
            !log.contains(&token),
            "{level}: the token appears in the log"
        );
        assert!(
            !log.contains(half),
            "{level}: half of the token appears in the log"
        );
        assert!(
            !log.contains(&bogus),
            "{level}: a presented (wrong) token appears in the log"
        );
        levels.push(format!("{level} ({} lines)", log.lines().count()));
    }
    report(
        "tokens",
        &format!(
            "| secrets in the nucleus' log: valid and wrong tokens presented, publish, subscribe, refused publish, at {} | no token, no half token, no presented wrong token in any log |",
            levels.join(", ")
        ),
    );
}
