use super::*;
use proptest::prelude::*;

fn sample() -> Message {
    Message {
        headers: vec![
            Header::new(
                "content-type",
                HeaderValue::String("application/json".into()),
            ),
            Header::new("n", HeaderValue::Int32(7)),
        ],
        payload: Bytes::from_static(b"{'foo':'bar'}"),
    }
}

fn encoded(msg: &Message) -> BytesMut {
    let mut buf = BytesMut::new();
    encode(msg, DEFAULT_MAX_MESSAGE_SIZE, &mut buf).unwrap();
    buf
}

#[test]
fn streaming_decode_across_every_split_point() {
    let msg = sample();
    let mut two = encoded(&msg);
    two.extend_from_slice(&encoded(&msg));
    let bytes = two.freeze();
    for split in 0..=bytes.len() {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in [&bytes[..split], &bytes[split..]] {
            buf.extend_from_slice(chunk);
            while let Some(m) = decode(&mut buf, &Limits::default()).unwrap() {
                out.push(m);
            }
        }
        assert_eq!(out, vec![msg.clone(), msg.clone()], "split at {split}");
        assert!(buf.is_empty());
    }
}

#[test]
fn one_byte_at_a_time() {
    let msg = sample();
    let bytes = encoded(&msg);
    let mut buf = BytesMut::new();
    let mut got = None;
    for (i, b) in bytes.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        let r = decode(&mut buf, &Limits::default()).unwrap();
        if i + 1 < bytes.len() {
            assert!(r.is_none());
        } else {
            got = r;
        }
    }
    assert_eq!(got, Some(msg));
}

#[test]
fn prelude_crc_checked_before_lengths() {
    let mut bytes = encoded(&sample());
    bytes[0] = 0x7f; // claims ~2 GiB; must be rejected by CRC, not allocated
    let err = decode(&mut bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, FrameError::PreludeCrcMismatch { .. }),
        "{err}"
    );
}

fn with_prelude(total: u32, headers: u32) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u32(total);
    b.put_u32(headers);
    let crc = crc32fast::hash(&b[..8]);
    b.put_u32(crc);
    b
}

#[test]
fn oversized_claim_rejected_without_allocation() {
    let mut b = with_prelude(u32::MAX, 0);
    let err = decode(&mut b, &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        FrameError::MessageTooLarge {
            total_length: u32::MAX as usize,
            max: DEFAULT_MAX_MESSAGE_SIZE
        }
    );
    assert!(b.capacity() < 1024);
    let small = Limits {
        max_message_size: 64,
        ..Limits::default()
    };
    let mut b = with_prelude(65, 0);
    assert!(matches!(
        decode(&mut b, &small),
        Err(FrameError::MessageTooLarge {
            total_length: 65,
            max: 64
        })
    ));
}

#[test]
fn length_rules() {
    let mut b = with_prelude(15, 0);
    assert_eq!(
        decode(&mut b, &Limits::default()).unwrap_err(),
        FrameError::MessageTooShort { total_length: 15 }
    );
    let mut b = with_prelude(20, 5);
    assert_eq!(
        decode(&mut b, &Limits::default()).unwrap_err(),
        FrameError::HeadersLengthInvalid {
            headers_length: 5,
            total_length: 20
        }
    );
}

#[test]
fn message_crc_mismatch() {
    let mut bytes = encoded(&sample());
    let n = bytes.len();
    bytes[n - 6] ^= 1;
    assert!(matches!(
        decode(&mut bytes, &Limits::default()),
        Err(FrameError::MessageCrcMismatch { .. })
    ));
}

/// Builds a message whose header block is `block`, with correct CRCs.
fn raw_with_block(block: &[u8]) -> BytesMut {
    let total = (OVERHEAD + block.len()) as u32;
    let mut b = with_prelude(total, block.len() as u32);
    b.extend_from_slice(block);
    let crc = crc32fast::hash(&b);
    b.put_u32(crc);
    b
}

#[test]
fn header_rules() {
    let l = Limits::default();
    assert_eq!(
        decode(&mut raw_with_block(&[1, b'a', 42]), &l).unwrap_err(),
        FrameError::UnknownHeaderType(42)
    );
    assert_eq!(
        decode(&mut raw_with_block(&[0, 0]), &l).unwrap_err(),
        FrameError::EmptyHeaderName
    );
    assert_eq!(
        decode(&mut raw_with_block(&[5, b'a']), &l).unwrap_err(),
        FrameError::HeaderTruncated
    );
    assert_eq!(
        decode(&mut raw_with_block(&[1, b'a', 4, 0, 0]), &l).unwrap_err(),
        FrameError::HeaderTruncated
    );
    assert_eq!(
        decode(&mut raw_with_block(&[1, b'a', 7, 0, 2, 0xff, 0xfe]), &l).unwrap_err(),
        FrameError::InvalidUtf8
    );
    assert_eq!(
        decode(&mut raw_with_block(&[1, b'a', 6, 0x80, 0x00]), &l).unwrap_err(),
        FrameError::HeaderValueTooLong { len: 32768 }
    );
    let mut many = Vec::new();
    for _ in 0..3 {
        many.extend_from_slice(&[1, b'a', 0]);
    }
    let two = Limits {
        max_headers: 2,
        ..l
    };
    assert_eq!(
        decode(&mut raw_with_block(&many), &two).unwrap_err(),
        FrameError::TooManyHeaders { max: 2 }
    );
    assert_eq!(
        decode(&mut raw_with_block(&many), &l)
            .unwrap()
            .unwrap()
            .headers
            .len(),
        3
    );
}

#[test]
fn default_header_limit_is_1024() {
    let mut block = Vec::new();
    for _ in 0..1025 {
        block.extend_from_slice(&[1, b'a', 0]);
    }
    assert_eq!(
        decode(&mut raw_with_block(&block), &Limits::default()).unwrap_err(),
        FrameError::TooManyHeaders { max: 1024 }
    );
    assert!(decode(&mut raw_with_block(&block[3..]), &Limits::default()).is_ok());
}

#[test]
fn encoder_refuses_what_the_decoder_would() {
    let mut dst = BytesMut::new();
    let long = Header::new("x", HeaderValue::String("a".repeat(32768).into()));
    let msg = Message {
        headers: vec![long],
        payload: Bytes::new(),
    };
    assert_eq!(
        encode(&msg, DEFAULT_MAX_MESSAGE_SIZE, &mut dst),
        Err(FrameError::HeaderValueTooLong { len: 32768 })
    );
    let ok = Header::new("x", HeaderValue::ByteBuf(Bytes::from(vec![0u8; 32767])));
    let msg = Message {
        headers: vec![ok],
        payload: Bytes::new(),
    };
    assert!(encode(&msg, DEFAULT_MAX_MESSAGE_SIZE, &mut dst).is_ok());
    let msg = Message {
        headers: vec![],
        payload: Bytes::from(vec![0u8; 100]),
    };
    let mut dst2 = BytesMut::new();
    assert_eq!(
        encode(&msg, 100, &mut dst2),
        Err(FrameError::MessageTooLarge {
            total_length: 116,
            max: 100
        })
    );
    assert!(dst2.is_empty());
    let msg = Message {
        headers: vec![Header::new("", HeaderValue::Bool(true))],
        payload: Bytes::new(),
    };
    assert_eq!(
        encode(&msg, 1000, &mut dst2),
        Err(FrameError::EmptyHeaderName)
    );
}

fn arb_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        any::<bool>().prop_map(HeaderValue::Bool),
        any::<i8>().prop_map(HeaderValue::Byte),
        any::<i16>().prop_map(HeaderValue::Int16),
        any::<i32>().prop_map(HeaderValue::Int32),
        any::<i64>().prop_map(HeaderValue::Int64),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|v| HeaderValue::ByteBuf(v.into())),
        ".{0,40}".prop_map(|s: String| HeaderValue::String(s.into())),
        any::<i64>().prop_map(HeaderValue::Timestamp),
        any::<[u8; 16]>().prop_map(HeaderValue::Uuid),
    ]
}

fn arb_message() -> impl Strategy<Value = Message> {
    (
        proptest::collection::vec(("[a-z:-]{1,20}", arb_value()), 0..12),
        proptest::collection::vec(any::<u8>(), 0..2000),
    )
        .prop_map(|(hs, p)| Message {
            headers: hs.into_iter().map(|(n, v)| Header::new(n, v)).collect(),
            payload: p.into(),
        })
}

proptest! {
    #[test]
    fn round_trip(msg in arb_message()) {
        let mut buf = encoded(&msg);
        prop_assert_eq!(buf.len(), encoded_len(&msg.headers, msg.payload.len()).unwrap());
        let back = decode(&mut buf, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(back, msg);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let limits = Limits { max_message_size: 4096, ..Limits::default() };
        while let Ok(Some(_)) = decode(&mut buf, &limits) {}
        prop_assert!(buf.capacity() <= 4096 + 512);
    }

    #[test]
    fn corrupted_messages_never_panic(msg in arb_message(), idx in any::<usize>(), bit in 0u8..8) {
        let mut buf = encoded(&msg);
        let i = idx % buf.len();
        buf[i] ^= 1 << bit;
        // A single flipped bit is always caught by one of the CRCs.
        prop_assert!(decode(&mut buf, &Limits::default()).is_err());
    }
}

#[tokio::test]
async fn tokio_codec_frames_a_byte_stream() {
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::{FramedRead, FramedWrite};
    let (a, b) = tokio::io::duplex(64);
    let mut writer = FramedWrite::new(a, EventStreamCodec::default());
    let msg = sample();
    let send = msg.clone();
    let task = tokio::spawn(async move {
        use futures_sink_shim::SinkExt;
        for _ in 0..3 {
            writer.send(send.clone()).await.unwrap();
        }
        writer.get_mut().shutdown().await.unwrap();
    });
    let mut reader = FramedRead::new(b, EventStreamCodec::new(Limits::default()));
    let mut got = Vec::new();
    while let Some(m) = futures_stream_shim::next(&mut reader).await {
        got.push(m.unwrap());
    }
    task.await.unwrap();
    assert_eq!(got, vec![msg.clone(), msg.clone(), msg]);
}

/// Minimal `Sink`/`Stream` helpers so the test needs no futures crate.
mod futures_sink_shim {
    use std::future::poll_fn;
    use std::pin::Pin;

    pub trait SinkExt<T>: futures_sink::Sink<T> + Unpin + Sized {
        async fn send(&mut self, item: T) -> Result<(), Self::Error> {
            poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
            Pin::new(&mut *self).start_send(item)?;
            poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
        }
    }
    impl<T, S: futures_sink::Sink<T> + Unpin> SinkExt<T> for S {}
}

mod futures_stream_shim {
    use std::future::poll_fn;
    use std::pin::Pin;

    pub async fn next<S: futures_core::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
        poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
    }
}
