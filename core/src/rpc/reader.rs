//! The read side of a connection: bytes off the socket, whole messages out.
//!
//! Small frames are read through one growing `BytesMut`, many per `read(2)`, and split off it as `Bytes` (no
//! copy). A large frame, one from [`pool::MIN`](crate::pool::MIN) bytes on once its prelude has been
//! checked, is read straight into a recycled buffer of exactly its size instead. It comes back to the pool when
//! the message's last `Bytes` is dropped. Read through the shared buffer, each large frame would need a fresh
//! allocation (the previous frame's `Bytes` still holds the old one while its handler runs), and so fresh pages,
//! and the buffer would be regrown and copied on the way. Reads into a large frame stop at its end, so the next
//! frame's bytes go to the shared buffer.

use crate::codec::{self, FrameError, Limits, Message};
use crate::pool;
use bytes::BytesMut;
use std::os::unix::net::UnixStream;

/// A connection's read buffer (see the module).
pub struct ReadBuf {
    buf: BytesMut,
    /// The large frame being read: its bytes so far, in a buffer with room for all `large_total` of them.
    large: Option<Vec<u8>>,
    large_total: usize,
}

impl Default for ReadBuf {
    fn default() -> Self {
        ReadBuf::new()
    }
}

impl ReadBuf {
    pub fn new() -> ReadBuf {
        ReadBuf {
            buf: BytesMut::with_capacity(16 * 1024),
            large: None,
            large_total: 0,
        }
    }

    /// One non-blocking `read(2)` from `sock` (`Ok(0)`: end of stream). Returns `WouldBlock` when nothing is there.
    pub fn read_from(&mut self, sock: &UnixStream) -> std::io::Result<usize> {
        let large = match self.large.as_mut() {
            Some(l) if l.len() < self.large_total => l,
            // No large frame, or a whole one not decoded yet: what follows goes to the shared buffer (never a
            // zero-length read, which would look like the end of the stream).
            _ => return super::read_buf(sock, &mut self.buf),
        };
        let want = self.large_total - large.len();
        let n = super::read_into(sock, &mut large.spare_capacity_mut()[..want])?;
        // SAFETY: `read_into` initialized the first `n` bytes of the spare capacity (`n <= want`).
        unsafe { large.set_len(large.len() + n) };
        Ok(n)
    }

    /// The next whole message, `Ok(None)` until one has been read; the checks and errors of
    /// [`codec::decode`].
    pub fn decode(&mut self, limits: &Limits) -> Result<Option<Message>, FrameError> {
        if let Some(large) = &self.large {
            if large.len() < self.large_total {
                return Ok(None);
            }
            let frame = self.large.take().unwrap_or_default();
            return codec::decode_frame(pool::into_bytes(frame), limits).map(Some);
        }
        let Some(total) = codec::check_prelude(&self.buf, limits)? else {
            return Ok(None);
        };
        if self.buf.len() >= total || total < pool::MIN {
            return codec::decode(&mut self.buf, limits);
        }
        // A large frame, not all here: the buffer holds its start and nothing after it.
        let mut large = pool::buffer(total);
        large.extend_from_slice(&self.buf);
        self.buf.clear();
        self.large = Some(large);
        self.large_total = total;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{Frame, MessageType};
    use std::io::Write;

    fn encoded(payload_len: usize, fill: u8, id: i32) -> Vec<u8> {
        let f = Frame::json(
            MessageType::ApplicationMessage,
            0,
            id,
            "x#Y",
            vec![fill; payload_len].into(),
        );
        let mut b = BytesMut::new();
        f.encode(usize::MAX, &mut b).unwrap();
        b.to_vec()
    }

    /// Small and large frames back to back, written in pieces of every kind of size, come out whole and in
    /// order; a large frame's read stops at its end.
    #[test]
    fn small_and_large_frames_in_any_pieces() {
        let sizes = [10usize, 200_000, 5, 70_000, 65_536, 1, 131_072, 3];
        let mut wire = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            wire.extend(encoded(n, i as u8, i as i32 + 1));
        }
        for piece in [1usize, 7, 4096, 65_537, 1 << 20] {
            let (mut a, b) = UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            b.set_nonblocking(true).unwrap();
            let mut rb = ReadBuf::new();
            let limits = Limits::default();
            let mut got = Vec::new();
            let mut written = 0;
            while got.len() < sizes.len() {
                if written < wire.len() {
                    // At most `piece` bytes, as many as the socket takes (one thread: it must not block).
                    let end = (written + piece).min(wire.len());
                    match a.write(&wire[written..end]) {
                        Ok(n) => written += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                loop {
                    match rb.read_from(&b) {
                        Ok(0) => panic!("end of stream"),
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{e}"),
                    }
                    while let Some(m) = rb.decode(&limits).unwrap() {
                        got.push(Frame::from_message(m).unwrap());
                    }
                }
                while let Some(m) = rb.decode(&limits).unwrap() {
                    got.push(Frame::from_message(m).unwrap());
                }
            }
            for (i, (f, &n)) in got.iter().zip(&sizes).enumerate() {
                assert_eq!(f.stream_id, i as i32 + 1, "piece {piece}");
                assert_eq!(f.payload.len(), n, "piece {piece}");
                assert!(f.payload.iter().all(|&x| x == i as u8), "piece {piece}");
            }
        }
    }

    /// A large frame over the limit is refused from its prelude, before anything is allocated for it; a bad
    /// CRC at the end of a large frame is found.
    #[test]
    fn a_large_frame_keeps_the_codecs_checks() {
        let limits = Limits {
            max_message_size: 100_000,
            ..Limits::default()
        };
        let (mut a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let mut rb = ReadBuf::new();
        a.write_all(&encoded(150_000, 1, 1)[..4096]).unwrap();
        rb.read_from(&b).unwrap();
        assert!(matches!(
            rb.decode(&limits),
            Err(FrameError::MessageTooLarge { .. })
        ));
        assert!(rb.large.is_none());

        let mut rb = ReadBuf::new();
        let mut bad = encoded(90_000, 2, 1);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        a.set_nonblocking(true).unwrap();
        let mut written = 0;
        let mut result = Ok(None);
        while matches!(result, Ok(None)) {
            match a.write(&bad[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            match rb.read_from(&b) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            result = rb.decode(&limits);
        }
        assert!(result.is_err(), "{result:?}");
    }
}
