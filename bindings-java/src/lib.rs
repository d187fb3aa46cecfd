//! `libggipc_jni`: the JNI library behind the `io.ggipc:ggipc` jar.
//!
//! The Java side (`io.ggipc.internal.Native`) declares the entry points; this crate only converts arguments,
//! owns handles, maps errors and hands results back. Protocol, defaults and validation live in `ggipc`.
//!
//! Threads:
//! - calls from Java run on the caller's thread; the synchronous ones wait there (never on a runtime worker);
//! - futures are completed by one attached daemon thread, the *completer* ([`completer`]), never by a runtime
//!   worker, so whatever Java chains on a future cannot stall I/O;
//! - stream events reach Java on the subscription's dispatcher thread (owned by `ggipc`), attached to the JVM
//!   permanently as a daemon; events of one subscription arrive in order.
//!
//! Every entry point runs inside [`guard`]: a Rust panic or a JNI failure becomes a pending Java exception and the
//! entry point returns a default value; nothing unwinds into the JVM.

mod client;
mod completer;
mod jvm;
mod testing;

pub use jvm::JNI_OnLoad;
