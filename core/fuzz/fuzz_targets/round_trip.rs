//! decode(encode(m)) == m for arbitrary messages.
#![no_main]
use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use ggipc::codec::{decode, encode, Header, HeaderValue, Limits, Message};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum V {
    Bool(bool),
    Byte(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Buf(Vec<u8>),
    Str(String),
    Ts(i64),
    Uuid([u8; 16]),
}

fuzz_target!(|input: (Vec<(String, V)>, Vec<u8>)| {
    let (hs, payload) = input;
    let headers: Vec<Header> = hs
        .into_iter()
        .map(|(n, v)| {
            let value = match v {
                V::Bool(b) => HeaderValue::Bool(b),
                V::Byte(b) => HeaderValue::Byte(b),
                V::I16(x) => HeaderValue::Int16(x),
                V::I32(x) => HeaderValue::Int32(x),
                V::I64(x) => HeaderValue::Int64(x),
                V::Buf(b) => HeaderValue::ByteBuf(Bytes::from(b)),
                V::Str(s) => HeaderValue::String(s.into()),
                V::Ts(x) => HeaderValue::Timestamp(x),
                V::Uuid(u) => HeaderValue::Uuid(u),
            };
            Header::new(n, value)
        })
        .collect();
    let msg = Message { headers, payload: Bytes::from(payload) };
    let mut buf = BytesMut::new();
    if encode(&msg, 1 << 20, &mut buf).is_ok() {
        let back = decode(&mut buf, &Limits::default()).expect("own encoding decodes").expect("whole message");
        assert_eq!(back, msg);
    }
});
