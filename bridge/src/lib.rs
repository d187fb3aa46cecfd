//! What the language bindings (Python, C/C++, Java) share, so that no binding restates a core rule.
//!
//! A binding converts its language's values and calls into what this crate takes, and its results back; it
//! owns nothing else. Here are:
//!
//! * [`Settings`]: connection options as a binding receives them, where "not given" (and an empty string)
//!   means the core's default or the component's environment, resolved by the core alone;
//!   [`millis`] and [`seconds`] turn a language's timeout into a [`Duration`](std::time::Duration) with the
//!   core's one rule and message.
//! * [`Connection`]: a connected client and the two call paths of a request/response operation — blocking on
//!   the caller's thread (the caller writes its request and reads its own answer: one thread wake-up per
//!   round trip) and asynchronous ([`start`]: polled once on the caller's thread, so requests reach the wire
//!   in call order, then finished by the runtime).
//! * [`Completer`]: one completion thread per process and binding, on which a binding runs its language's
//!   callbacks (never on a runtime worker), in order, a batch at a time under one "enter the language" scope
//!   (the GIL, a JNI attachment); it is started again in a forked child.
//! * [`watch_lifecycle`]: the client's lifecycle events, forwarded until the last one.
//! * [`operation`]: the model's operation by its shape id.
//! * [`blobs`]: blob members as bytes on the language's side and base64 in the body, with the core's encoder.
//! * [`component_socket_path`] and [`component_auth_token`]: the component's environment as the core reads it
//!   (an empty variable counts as unset), for SDK surfaces whose signature reads it themselves.

pub mod blobs;
mod completer;
mod connection;
mod settings;

pub use completer::Completer;
pub use connection::{operation, start, watch_lifecycle, Connection};
pub use ggipc::{component_auth_token, component_socket_path, SOCKET_ENV, TOKEN_ENV};
pub use settings::{millis, seconds, Settings, CONNECT_TIMEOUT, OPERATION_TIMEOUT};
