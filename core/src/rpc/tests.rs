use super::*;
use crate::codec::{decode_message, Limits};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut b = BytesMut::new();
    frame
        .encode(codec::DEFAULT_MAX_MESSAGE_SIZE, &mut b)
        .unwrap();
    b.to_vec()
}

#[test]
fn connect_frame_matches_java_style_vector() {
    // G1j: CONNECT with compact JSON, token TESTTOKEN123.
    let expected = hex("0000007400000048117750c4083a76657273696f6e070005302e312e300d3a6d6573736167652d7479706504000000040e3a6d6573736167652d666c61677304000000000a3a73747265616d2d696404000000007b2261757468546f6b656e223a2254455354544f4b454e313233227d50010063");
    assert_eq!(encode(&connect_frame("TESTTOKEN123")), expected);
}

#[test]
fn ping_response_echoes_user_headers() {
    // G14 -> G15
    let ping = hex("000000570000004277c3ec0e06782d70696e67070001310d3a6d6573736167652d7479706504000000020e3a6d6573736167652d666c61677304000000000a3a73747265616d2d6964040000000070696e672122650a0c");
    let pong = hex("000000570000004277c3ec0e06782d70696e67070001310d3a6d6573736167652d7479706504000000030e3a6d6573736167652d666c61677304000000000a3a73747265616d2d6964040000000070696e6721835c8ee2");
    let f = Frame::from_message(decode_message(&ping, &Limits::default()).unwrap()).unwrap();
    assert_eq!(f.message_type, MessageType::Ping);
    assert_eq!(encode(&ping_response(&f)), pong);
}

#[test]
fn protocol_error_matches_c_library_bytes() {
    let g19 = hex("000000ea0000005862f6d9d10d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d7479706504000000060e3a6d6573736167652d666c61677304000000000a3a73747265616d2d696404000000007b20226d657373616765223a202273747265616d2d69642076616c756573206d757374206265206d6f6e6f746f6e6963616c6c7920696e6372656d656e74696e672e2041206e65772073747265616d2d6964206172726976656420746861742077617320696e6372656d656e746564206279206d6f7265207468616e20312e22207d00dd2d05");
    assert_eq!(
        encode(&connection_error(
            MessageType::ProtocolError,
            errors::STREAM_ID_GAP
        )),
        g19
    );
}

#[test]
fn reserved_header_rules() {
    let m = |hs: Vec<Header>| Message {
        headers: hs,
        payload: Bytes::new(),
    };
    let i = |n: &'static str, v: i32| Header::with_static(n, HeaderValue::Int32(v));
    assert_eq!(
        Frame::from_message(m(vec![i(names::MESSAGE_TYPE, 0), i(names::STREAM_ID, 1)])),
        Err(RpcViolation::MissingFields)
    );
    // Reserved fields must be int32.
    let wrong_type = vec![
        Header::with_static(names::MESSAGE_TYPE, HeaderValue::Int64(0)),
        i(names::MESSAGE_FLAGS, 0),
        i(names::STREAM_ID, 1),
    ];
    assert_eq!(
        Frame::from_message(m(wrong_type)),
        Err(RpcViolation::MissingFields)
    );
    let f = |t, s| {
        m(vec![
            i(names::MESSAGE_TYPE, t),
            i(names::MESSAGE_FLAGS, 0),
            i(names::STREAM_ID, s),
        ])
    };
    assert_eq!(
        Frame::from_message(f(8, 0)),
        Err(RpcViolation::InvalidMessageType)
    );
    assert_eq!(
        Frame::from_message(f(0, 0)),
        Err(RpcViolation::InvalidMessageType)
    );
    assert_eq!(
        Frame::from_message(f(2, 3)),
        Err(RpcViolation::NonZeroStreamId)
    );
    assert_eq!(
        Frame::from_message(f(0, -1)),
        Err(RpcViolation::NonZeroStreamId)
    );
    assert_eq!(
        Frame::from_message(f(2, 0)).unwrap().message_type,
        MessageType::Ping
    );
}

/// Bytes a non-blocking socket takes before `WouldBlock` while its peer reads nothing.
fn fill(sock: &std::os::unix::net::UnixStream) -> usize {
    use std::io::Write;
    let chunk = vec![0u8; 64 * 1024];
    let mut total = 0;
    let mut s = sock;
    loop {
        match s.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("write: {e}"),
        }
    }
}

#[test]
fn a_wider_send_buffer_holds_more_than_one_large_frame_unread() {
    use std::os::unix::net::UnixStream;
    let (a, _a_peer) = UnixStream::pair().unwrap();
    let (b, _b_peer) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    set_send_buffer(&b, SEND_BUFFER).unwrap();
    let (default, widened) = (fill(&a), fill(&b));
    // Two frames of a 128 KiB payload (175,024 bytes each) fit even where `wmem_max` is the usual 208 KiB.
    assert!(
        widened >= 2 * 175_024,
        "{widened} bytes (default {default})"
    );
    assert!(widened > default, "{widened} bytes, default {default}");
}

#[test]
fn a_send_buffer_on_something_not_a_socket_is_an_error() {
    let f = std::fs::File::open("/dev/null").unwrap();
    let e = set_send_buffer(&f, SEND_BUFFER).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTSOCK));
}

#[test]
fn stream_ids_hash_apart() {
    use std::hash::BuildHasher;
    let b = std::hash::BuildHasherDefault::<StreamIdHasher>::default();
    let hashes: Vec<u64> = (1..=4096).map(|id: i32| b.hash_one(id)).collect();
    let distinct: std::collections::HashSet<u64> = hashes.iter().copied().collect();
    assert_eq!(distinct.len(), hashes.len());
    // The table's buckets (low bits) and control bytes (top 7 bits) both spread sequential ids.
    let low: std::collections::HashSet<u64> = hashes[..1024].iter().map(|h| h & 1023).collect();
    let top: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
    assert!(low.len() > 900, "{} of 1024 buckets", low.len());
    assert_eq!(top.len(), 128);
    let mut m = StreamMap::default();
    for id in 1..=1000 {
        m.insert(id, id * 2);
    }
    assert!((1..=1000).all(|id| m.remove(&id) == Some(id * 2)));
}
