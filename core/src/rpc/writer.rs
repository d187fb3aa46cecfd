//! One writer per connection, shared by every task and thread that sends on it.
//!
//! Frames are encoded into one buffer under a lock. A sender on a plain thread (a blocking caller) writes the
//! buffer to the socket itself with a non-blocking write when nothing is being flushed: no thread hand-off on
//! the request path. A sender running on the runtime leaves the write to a background flusher task, which
//! runs as soon as the sender yields and writes everything queued by then in one syscall; the flusher also
//! takes over whenever the socket is full. Stream-id allocation happens under the same lock as the encoding,
//! so ids hit the wire in order.
//!
//! The writer owns a plain non-blocking socket and registers it with the runtime for writability only while
//! the socket is full, so the runtime is not woken each time the peer drains what was written.

use super::Frame;
use crate::codec::FrameError;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::Interest;
use tokio::sync::Notify;

/// Queued bytes above which a connection counts as congested: the server stops reading its requests and
/// drops events for it; senders may wait with [`FrameWriter::wait_for_capacity`].
pub const HIGH_WATER: usize = 4 * 1024 * 1024;

/// The connection's writer is closed (the peer went away, a write failed, or the connection was shut down).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterClosed(pub String);

impl std::fmt::Display for WriterClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection closed: {}", self.0)
    }
}

/// Result of queueing a frame.
#[derive(Debug)]
pub enum SendError {
    Closed(WriterClosed),
    Frame(FrameError),
}

/// Payloads from this size on are not copied into the queue: they stay their own segment, written with the
/// bytes around them in one vectored write.
const SEGMENT_MIN: usize = 16 * 1024;
/// Most segments handed to one `writev`.
const MAX_IOV: usize = 64;

/// What is queued for the socket, in order: whole segments, then a tail being filled. Small frames are encoded
/// into the tail; a large payload is shared (its `Bytes` cloned, not copied) between the encoded prelude and
/// headers before it and its CRC after it.
#[derive(Default)]
struct OutQueue {
    segments: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
}

impl OutQueue {
    fn with_capacity(n: usize) -> Self {
        OutQueue {
            segments: VecDeque::new(),
            tail: BytesMut::with_capacity(n),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.segments.clear();
        self.tail.clear();
        self.len = 0;
    }

    /// Queues one encoded frame; on error nothing is queued.
    fn push(&mut self, frame: &Frame, max_message_size: usize) -> Result<(), FrameError> {
        let before = self.tail.len();
        if frame.payload.len() < SEGMENT_MIN {
            frame.encode(max_message_size, &mut self.tail)?;
            self.len += self.tail.len() - before;
        } else {
            let head_crc = frame.encode_head(max_message_size, &mut self.tail)?;
            let crc = crate::codec::message_crc(head_crc, &frame.payload);
            // The tail (earlier frames included) becomes a segment, then the payload, then the CRC starts the
            // new tail.
            let head = self.tail.split().freeze();
            self.len += head.len() - before + frame.payload.len() + 4;
            self.segments.push_back(head);
            self.segments.push_back(frame.payload.clone());
            self.tail.put_u32(crc);
        }
        Ok(())
    }

    /// One vectored write of what is queued; returns the bytes written (removed from the queue).
    fn write_to(&mut self, mut sock: &std::os::unix::net::UnixStream) -> io::Result<usize> {
        let n = if self.segments.is_empty() {
            sock.write(&self.tail)?
        } else {
            let mut iov: Vec<IoSlice<'_>> =
                Vec::with_capacity(MAX_IOV.min(self.segments.len() + 1));
            iov.extend(
                self.segments
                    .iter()
                    .take(MAX_IOV - 1)
                    .map(|b| IoSlice::new(b)),
            );
            if self.segments.len() < MAX_IOV {
                iov.push(IoSlice::new(&self.tail));
            }
            sock.write_vectored(&iov)?
        };
        self.advance(n);
        Ok(n)
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.segments.front_mut() else {
                self.tail.advance(n);
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.segments.pop_front();
        }
    }

    /// Everything queued, as one buffer (tests).
    #[cfg(test)]
    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        for s in &self.segments {
            v.extend_from_slice(s);
        }
        v.extend_from_slice(&self.tail);
        v
    }
}

struct State {
    buf: OutQueue,
    flushing: bool,
    /// Frames are being produced in a batch by the connection's own task; `uncork` writes them.
    corked: bool,
    closed: Option<WriterClosed>,
    /// Highest stream id allocated by [`FrameWriter::send_new_stream`].
    last_stream_id: i32,
}

/// Serialized, coalescing writer for one connection.
pub struct FrameWriter {
    /// The connection's socket (non-blocking, shared with its reader).
    stream: super::SharedSocket,
    state: Mutex<State>,
    wake_flusher: Notify,
    drained: Notify,
    max_message_size: usize,
    high_water: usize,
}

impl FrameWriter {
    /// Creates the writer for `stream` (non-blocking) and spawns its background flusher on the current tokio
    /// runtime.
    pub fn spawn(stream: super::SharedSocket, max_message_size: usize) -> Arc<FrameWriter> {
        let w = Arc::new(FrameWriter {
            stream,
            state: Mutex::new(State {
                buf: OutQueue::with_capacity(8 * 1024),
                flushing: false,
                corked: false,
                closed: None,
                last_stream_id: 0,
            }),
            wake_flusher: Notify::new(),
            drained: Notify::new(),
            max_message_size,
            high_water: HIGH_WATER,
        });
        let weak = Arc::downgrade(&w);
        tokio::spawn(async move {
            loop {
                let Some(w) = weak.upgrade() else { return };
                if !w.flush_pending().await {
                    return;
                }
            }
        });
        w
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one frame and writes it now if the socket takes it.
    pub fn send(&self, frame: &Frame) -> Result<(), SendError> {
        let mut st = self.lock();
        if let Some(c) = &st.closed {
            return Err(SendError::Closed(c.clone()));
        }
        st.buf
            .push(frame, self.max_message_size)
            .map_err(SendError::Frame)?;
        self.write_now(st);
        Ok(())
    }

    /// Allocates the next stream id (1, 2, 3 …), queues the frame `build(id)`, and lets `register` record the
    /// stream before anything is written (so a fast response always finds it). If the frame cannot be encoded
    /// the id is not consumed, so the wire never shows a gap.
    pub fn send_new_stream(
        &self,
        build: impl FnOnce(i32) -> Frame,
        register: impl FnOnce(i32),
    ) -> Result<i32, SendError> {
        let mut st = self.lock();
        if let Some(c) = &st.closed {
            return Err(SendError::Closed(c.clone()));
        }
        let id = st.last_stream_id.checked_add(1).ok_or_else(|| {
            SendError::Closed(WriterClosed(
                "stream ids exhausted on this connection".into(),
            ))
        })?;
        let frame = build(id);
        st.buf
            .push(&frame, self.max_message_size)
            .map_err(SendError::Frame)?;
        st.last_stream_id = id;
        register(id);
        self.write_now(st);
        Ok(id)
    }

    fn write_now(&self, st: MutexGuard<'_, State>) {
        if st.flushing || st.corked {
            return;
        }
        if crate::runtime::in_async_context() {
            // On a runtime thread, more frames usually follow from the same tick (pipelined requests, a batch
            // of responses, fan-out of events): let the flusher task write them all at once when this task
            // yields. A blocking caller (not on a runtime thread) writes right away: no hand-off.
            return self.defer(st);
        }
        self.write_queued(st);
    }

    /// Leaves the write to the flusher task.
    fn defer(&self, mut st: MutexGuard<'_, State>) {
        st.flushing = true;
        drop(st);
        self.wake_flusher.notify_one();
    }

    /// Holds writes back while the caller produces a batch of frames (e.g. the answers to everything one read
    /// brought in); [`uncork`](Self::uncork) then writes the batch from the caller's task, sparing the
    /// hand-off to the flusher. Frames other tasks queue meanwhile go out with the batch.
    pub fn cork(&self) {
        self.lock().corked = true;
    }

    /// Ends a batch started with [`cork`](Self::cork) and writes what is queued now.
    pub fn uncork(&self) {
        let mut st = self.lock();
        st.corked = false;
        if st.flushing || st.buf.is_empty() {
            return;
        }
        self.write_queued(st);
    }

    /// Writes the queue to the socket until it is empty or full (then the flusher takes over).
    fn write_queued(&self, mut st: MutexGuard<'_, State>) {
        while !st.buf.is_empty() {
            match st.buf.write_to(&self.stream) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return self.defer(st),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.write_failed(st, e),
            }
        }
        if st.buf.tail.capacity() > 1024 * 1024 {
            st.buf = OutQueue::with_capacity(8 * 1024);
        }
    }

    /// A write failed for good: the writer is closed and what was queued is dropped.
    fn write_failed(&self, mut st: MutexGuard<'_, State>, e: io::Error) {
        st.closed = Some(WriterClosed(format!("write failed: {e}")));
        st.buf.clear();
        drop(st);
        self.drained.notify_waiters();
    }

    /// Background part: waits to be woken, then writes until the buffer is empty. Returns false once closed.
    async fn flush_pending(&self) -> bool {
        self.wake_flusher.notified().await;
        loop {
            {
                let mut st = self.lock();
                if st.closed.is_some() {
                    return false;
                }
                if st.buf.is_empty() {
                    st.flushing = false;
                    drop(st);
                    self.drained.notify_waiters();
                    return true;
                }
                let before = st.buf.len();
                match st.buf.write_to(&self.stream) {
                    Ok(_) => {
                        if before > self.high_water && st.buf.len() <= self.high_water {
                            // Below the mark again: senders waiting for capacity may go on.
                            self.drained.notify_waiters();
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.write_failed(st, e);
                        return false;
                    }
                }
            }
            if let Err(e) = self.writable().await {
                self.close(WriterClosed(format!("socket error: {e}")));
                return false;
            }
        }
    }

    /// Waits until the socket can take more bytes (registered with the runtime only for this wait).
    async fn writable(&self) -> io::Result<()> {
        // The reader may have the descriptor registered: wait on a duplicate, for this wait only.
        let fd = super::register(Arc::new(self.stream.try_clone()?), Interest::WRITABLE)?;
        let _ready = fd.writable().await?;
        Ok(())
    }

    /// Bytes queued but not yet written.
    pub fn buffered(&self) -> usize {
        self.lock().buf.len()
    }

    /// True when more than the high-water mark is queued (a slow or stalled reader on the other side).
    pub fn is_congested(&self) -> bool {
        self.buffered() > self.high_water
    }

    /// Waits until the queue is below the high-water mark (or the writer is closed).
    pub async fn wait_for_capacity(&self) {
        loop {
            let notified = self.drained.notified();
            {
                let st = self.lock();
                if st.closed.is_some() || st.buf.len() <= self.high_water {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Waits until everything queued has been handed to the socket (or the writer is closed).
    pub async fn flushed(&self) {
        loop {
            let notified = self.drained.notified();
            {
                let st = self.lock();
                if st.closed.is_some() || (st.buf.is_empty() && !st.flushing) {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Marks the writer closed with `reason`; queued bytes are dropped and later sends fail.
    pub fn close(&self, reason: WriterClosed) {
        let mut st = self.lock();
        if st.closed.is_none() {
            st.closed = Some(reason);
        }
        st.buf.clear();
        drop(st);
        self.wake_flusher.notify_one();
        self.drained.notify_waiters();
    }

    /// The reason the writer closed, if it did.
    pub fn closed_reason(&self) -> Option<WriterClosed> {
        self.lock().closed.clone()
    }

    /// Highest stream id allocated so far.
    pub fn last_stream_id(&self) -> i32 {
        self.lock().last_stream_id
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Closed(c) => c.fmt(f),
            SendError::Frame(e) => write!(f, "message cannot be encoded: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::rpc::MessageType;

    fn frame(payload_len: usize, id: i32) -> Frame {
        let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7 % 251) as u8).collect();
        Frame::json(
            MessageType::ApplicationMessage,
            0,
            id,
            "aws.greengrass#IoTCoreMessage",
            payload.into(),
        )
    }

    /// Small and large frames queue as exactly the bytes `Frame::encode` writes, in order, however the socket
    /// takes them.
    #[test]
    fn segmented_queue_holds_the_encoded_frames() {
        let frames: Vec<Frame> = [0, 10, SEGMENT_MIN - 1, SEGMENT_MIN, 200_000, 5, 70_000]
            .iter()
            .enumerate()
            .map(|(i, n)| frame(*n, i as i32 + 1))
            .collect();
        let mut q = OutQueue::with_capacity(64);
        let mut want = BytesMut::new();
        for f in &frames {
            q.push(f, usize::MAX).unwrap();
            f.encode(usize::MAX, &mut want).unwrap();
        }
        assert_eq!(q.len(), want.len());
        assert_eq!(q.to_vec(), want.to_vec());
        assert!(q.segments.len() >= 6, "large payloads stay segments");
        // Drain through a socket pair in odd-sized steps.
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            got
        });
        while !q.is_empty() {
            let before = q.len();
            let n = q.write_to(&a).unwrap();
            assert_eq!(q.len(), before - n);
        }
        drop(a);
        assert_eq!(reader.join().unwrap(), want.to_vec());
        let mut round = BytesMut::from(&want[..]);
        let limits = crate::codec::Limits::default();
        for f in &frames {
            let m = crate::codec::decode(&mut round, &limits).unwrap().unwrap();
            assert_eq!(m.payload, f.payload);
        }
    }

    #[test]
    fn a_frame_over_the_limit_queues_nothing() {
        let mut q = OutQueue::with_capacity(64);
        q.push(&frame(10, 1), usize::MAX).unwrap();
        let len = q.len();
        assert!(matches!(
            q.push(&frame(100_000, 2), 50_000),
            Err(FrameError::MessageTooLarge { .. })
        ));
        assert!(q.push(&frame(100, 3), 120).is_err());
        assert_eq!(q.len(), len);
        assert_eq!(q.to_vec().len(), len);
    }

    use std::io::Read;
}
