//! Helpers shared by every `extern "C"` entry point: the panic boundary, pointer
//! casts and C string conversions. No entry point handles raw pointers any other way.

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{ggipc_error, Error};

/// Runs `f` inside a panic boundary. A panic becomes an error object of kind
/// `GGIPC_ERROR_KIND_INTERNAL`; it never unwinds into the caller.
pub(crate) fn boundary<F>(f: F) -> *mut ggipc_error
where
    F: FnOnce() -> Result<(), Error>,
{
    // The outcome becomes the returned pointer inside the boundary, so only a pointer crosses it (not the
    // whole `Result`, which the compiler would copy on every call).
    let outcome = catch_unwind(AssertUnwindSafe(|| match f() {
        Ok(()) => std::ptr::null_mut(),
        Err(e) => e.into_raw(),
    }));
    outcome.unwrap_or_else(|panic| Error::from_panic(panic).into_raw())
}

/// Runs `f` inside a panic boundary for entry points that cannot report an
/// error object; a panic yields `default`.
pub(crate) fn boundary_or<T, F>(default: T, f: F) -> T
where
    F: FnOnce() -> T,
{
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// Borrows a shared reference from a C pointer, or reports `what` as NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` for the duration of the call.
pub(crate) unsafe fn try_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: the caller promises `ptr` is NULL or valid.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::null_argument(what))
}

/// Borrows an exclusive reference from a C pointer, or reports `what` as NULL.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` not used by anyone else during the call.
pub(crate) unsafe fn try_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller promises `ptr` is NULL or valid and unaliased.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::null_argument(what))
}

/// Moves a value to the heap and hands ownership to C.
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes ownership back from C and drops the value; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or was produced by [`into_raw`] for the same `T` and not freed yet.
pub(crate) unsafe fn free_raw<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: per the contract above.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Writes `value` through the out-parameter `out` (already checked non-NULL).
///
/// # Safety
/// `out` is valid for writes.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: per the contract above.
    unsafe { out.write(value) };
}

/// Borrows a NUL-terminated UTF-8 C string.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::null_argument(what));
    }
    // A short ASCII string (a topic, a key) is measured and checked in one pass; `strlen` and then the UTF-8
    // check cost about three times as much for one of ten bytes. Anything longer or not ASCII goes the
    // general way.
    for len in 0..SHORT_ASCII {
        // SAFETY: per the contract above: the bytes up to the NUL are readable, and we stop at the NUL.
        let b = unsafe { *ptr.add(len) } as u8;
        if b == 0 {
            // SAFETY: the `len` bytes before the NUL are readable and ASCII, so UTF-8.
            return Ok(unsafe {
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr.cast::<u8>(), len))
            });
        }
        if !b.is_ascii() {
            break;
        }
    }
    // SAFETY: per the contract above.
    let cstr = unsafe { CStr::from_ptr(ptr) };
    cstr.to_str()
        .map_err(|_| Error::invalid_argument(format!("{what} is not valid UTF-8")))
}

/// The length up to which [`str_arg`] takes its one-pass way for ASCII.
const SHORT_ASCII: usize = 64;

/// Borrows `count` elements at `ptr` (a buffer, a view's list), which may be NULL only when `count` is 0.
///
/// # Safety
/// `ptr` is NULL or points to `count` elements valid for the call.
pub(crate) unsafe fn slice_arg<'a, T>(
    ptr: *const T,
    count: usize,
    what: &str,
) -> Result<&'a [T], Error> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::null_argument(what));
    }
    // SAFETY: per the contract above.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// Copies a byte buffer given as pointer and length; `(NULL, 0)` is the empty buffer. A large copy goes into a
/// recycled buffer (`ggipc_core::model::blob_from`); the paths that send it give it back once it is encoded.
///
/// # Safety
/// `ptr` is NULL (then `len` must be 0) or points to `len` readable bytes.
pub(crate) unsafe fn bytes_arg(ptr: *const u8, len: usize, what: &str) -> Result<Vec<u8>, Error> {
    // SAFETY: per the contract above.
    Ok(ggipc_core::model::blob_from(unsafe {
        slice_arg(ptr, len, what)
    }?))
}

/// Borrows an optional C string: NULL is `None`.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract above.
    unsafe { str_arg(ptr, what) }.map(Some)
}

/// Copies an optional buffer: NULL with length 0 is `None` (absent), a non-NULL
/// pointer with length 0 is the present but empty buffer.
///
/// # Safety
/// As [`bytes_arg`].
pub(crate) unsafe fn opt_bytes_arg(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<Option<Vec<u8>>, Error> {
    if ptr.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: per the contract above.
    unsafe { bytes_arg(ptr, len, what) }.map(Some)
}

/// Converts a Rust string into a C string, cutting it at the first interior NUL
/// (MQTT strings may not contain U+0000, so this only affects malformed input).
pub(crate) fn c_string(s: &str) -> CString {
    let bytes = s.as_bytes();
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

/// Optional destructor for a `userdata` pointer.
pub type ggipc_free_userdata_fn = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// A `userdata` pointer with its optional destructor. The destructor runs exactly
/// once, when the library drops its last reference.
pub(crate) struct UserData {
    ptr: *mut c_void,
    free: ggipc_free_userdata_fn,
    armed: AtomicBool,
}

// SAFETY: the C API documents that `userdata` is handed to callbacks on library
// threads; the caller promises it may be used from any thread.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never dereferences it, it only passes it back.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: ggipc_free_userdata_fn) -> Self {
        Self {
            ptr,
            free,
            armed: AtomicBool::new(true),
        }
    }

    /// Hands ownership back to the caller: the destructor will not run.
    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let (Some(free), true) = (self.free, self.armed.load(Ordering::SeqCst)) {
            // SAFETY: the caller supplied this destructor for this pointer.
            unsafe { free(self.ptr) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn arg(bytes: &[u8]) -> Result<String, String> {
        let c = CString::new(bytes).unwrap();
        // SAFETY: a live NUL-terminated string.
        unsafe { str_arg(c.as_ptr(), "topicName") }
            .map(str::to_owned)
            .map_err(|e| {
                let c = e.to_c();
                // SAFETY: a live error.
                unsafe { CStr::from_ptr(crate::error::ggipc_error_get_message(&c)) }
                    .to_string_lossy()
                    .into_owned()
            })
    }

    #[test]
    fn strings_short_and_long_ascii_or_not_read_alike() {
        let long = "t/".repeat(SHORT_ASCII);
        for ok in [
            "",
            "a/b",
            "caf\u{e9}/x",
            long.as_str(),
            &format!("{long}\u{e9}"),
        ] {
            assert_eq!(arg(ok.as_bytes()), Ok(ok.to_owned()));
        }
        let bad = "topicName is not valid UTF-8".to_owned();
        assert_eq!(arg(b"a/\xff"), Err(bad.clone()));
        let mut long_bad = long.into_bytes();
        long_bad.push(0xff);
        assert_eq!(arg(&long_bad), Err(bad));
        // SAFETY: NULL is allowed.
        assert!(unsafe { str_arg(std::ptr::null(), "topicName") }.is_err());
    }
}
