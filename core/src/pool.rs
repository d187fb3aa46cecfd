//! Recycled buffers for large bodies and frames (the JSON encoder, the base64 decoder and the frame reader use them).
//!
//! A large payload's JSON body (a 128 KiB publish is a 175 KiB body) lives from its encoding until the frame is
//! written, then is freed. Allocated fresh each time, such a buffer is new memory for the process: with glibc it
//! is either a fresh mapping or the top of the heap, which `free` hands back to the kernel once it is above the
//! trim threshold, so the next body faults its pages in again (measured: two `brk` calls and about 70 page faults
//! per 128 KiB publish of the C++ client, which ran at about half the speed it has without them). Bodies from
//! [`MIN`] bytes on are therefore encoded into buffers kept here: [`into_bytes`] wraps one so that it comes back
//! when the last `Bytes` of its frame is dropped, whichever thread drops it, and [`buffer`] / [`grow`] hand it
//! out again. Large decoded blobs come from the pool too (`json::decode_base64`); a consumer that only lends
//! them (the C binding's event callbacks) gives them back with [`give_back`].
//!
//! The pool is bounded: at most [`MAX_KEPT`] buffers of at most [`MAX_CAPACITY`] bytes each are kept (a burst of
//! pipelined publishes allocates past that and frees as before), so it holds at most 4 MiB, and only in a
//! process that sends or receives large messages.

use bytes::Bytes;
use std::sync::Mutex;

/// Bodies from this capacity on are recycled.
pub(crate) const MIN: usize = 64 * 1024;
/// Larger buffers are freed, not kept.
pub(crate) const MAX_CAPACITY: usize = 1024 * 1024;
/// Buffers kept at most.
pub(crate) const MAX_KEPT: usize = 4;

/// Kept buffers. The process has one ([`POOL`]); a test makes its own.
pub(crate) struct Pool {
    kept: Mutex<Vec<Vec<u8>>>,
}

static POOL: Pool = Pool::new();

impl Pool {
    const fn new() -> Pool {
        Pool {
            kept: Mutex::new(Vec::new()),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // The list is valid whatever a panicking holder did (it only pushes and removes whole buffers).
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A kept buffer of at least `capacity` bytes and at most twice that (a small payload handed to a user does
    /// not hold a much larger buffer), if there is one.
    fn take(&self, capacity: usize) -> Option<Vec<u8>> {
        let mut kept = self.kept();
        let i = kept
            .iter()
            .position(|b| b.capacity() >= capacity && b.capacity() / 2 <= capacity)?;
        Some(kept.swap_remove(i))
    }

    #[inline]
    fn buffer(&self, capacity: usize) -> Vec<u8> {
        if capacity >= MIN {
            if let Some(b) = self.take(capacity) {
                return b;
            }
        }
        Vec::with_capacity(capacity)
    }

    fn grow(&self, out: &mut Vec<u8>, additional: usize) {
        let needed = out.len() + additional;
        if needed >= MIN {
            if let Some(mut b) = self.take(needed) {
                b.extend_from_slice(out);
                let small = std::mem::replace(out, b);
                self.give_back(small);
                return;
            }
        }
        out.reserve(additional);
    }

    fn give_back(&self, mut b: Vec<u8>) {
        if (MIN..=MAX_CAPACITY).contains(&b.capacity()) {
            b.clear();
            let mut kept = self.kept();
            if kept.len() < MAX_KEPT {
                kept.push(b);
            }
        }
    }

    fn wrap(&'static self, body: Vec<u8>) -> Bytes {
        if body.capacity() >= MIN {
            Bytes::from_owner(Recycled(body, self))
        } else {
            Bytes::from(body)
        }
    }
}

/// An empty buffer for a body of about `capacity` bytes: a kept one when the body is large.
#[inline] // a small body's buffer is a plain allocation, also where a binding's generic encoder calls this
pub(crate) fn buffer(capacity: usize) -> Vec<u8> {
    POOL.buffer(capacity)
}

/// Makes room for `additional` more bytes in `out`, moving what it holds into a kept buffer when the result is
/// large and one fits.
pub(crate) fn grow(out: &mut Vec<u8>, additional: usize) {
    POOL.grow(out, additional)
}

/// Keeps `b` for reuse when it is large (and there is room), frees it otherwise.
pub(crate) fn give_back(b: Vec<u8>) {
    POOL.give_back(b)
}

/// The body as `Bytes`: a large buffer comes back to the pool when the last of them is dropped.
pub(crate) fn into_bytes(body: Vec<u8>) -> Bytes {
    POOL.wrap(body)
}

/// A body's buffer, returned to its pool when the last `Bytes` of it goes.
struct Recycled(Vec<u8>, &'static Pool);

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        self.1.give_back(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_come_back_small_ones_and_huge_ones_do_not() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
        // A large body's buffer comes back when the last Bytes of it is dropped, and is handed out again.
        let mut body = pool.buffer(100_000);
        body.resize(100_000, b'A');
        let (ptr, cap) = (body.as_ptr(), body.capacity());
        let bytes = pool.wrap(body);
        let slice = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(pool.kept().len(), 0, "a slice still holds it");
        drop(slice);
        assert_eq!(pool.kept().len(), 1);
        let again = pool.buffer(90_000);
        assert_eq!(
            (again.as_ptr(), again.capacity(), again.len()),
            (ptr, cap, 0)
        );
        assert_eq!(pool.kept().len(), 0);
        // A small buffer is never kept, nor one above the size bound.
        drop(pool.wrap(Vec::with_capacity(1000)));
        drop(pool.wrap(Vec::with_capacity(MAX_CAPACITY + 1)));
        assert_eq!(pool.kept().len(), 0);
        // `grow` moves what was written into a kept buffer that fits.
        pool.give_back(Vec::with_capacity(200_000));
        let mut out = b"{\"payload\":".to_vec();
        pool.grow(&mut out, 150_000);
        assert!(out.capacity() >= 200_000);
        assert_eq!(out, b"{\"payload\":");
        assert_eq!(pool.kept().len(), 0);
        // Not for a payload so small that it would hold a buffer of more than twice its size.
        pool.give_back(Vec::with_capacity(MAX_CAPACITY));
        assert!(pool.buffer(MIN).capacity() < MAX_CAPACITY);
        assert_eq!(pool.kept().len(), 1);
        pool.kept().clear();
        // At most MAX_KEPT are kept.
        for _ in 0..MAX_KEPT + 2 {
            pool.give_back(Vec::with_capacity(MIN));
        }
        assert_eq!(pool.kept().len(), MAX_KEPT);
    }
}
