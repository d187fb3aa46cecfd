//! The completer: one attached daemon thread (the support layer's [`Completer`]) that completes Java futures and
//! delivers lifecycle events, so that no Java code ever runs on a runtime worker.

use ggipc_bridge::Completer;
use jni::objects::{GlobalRef, JValue};

use crate::jvm::{cache, call_void, callback, error_throwable};

/// Work for the completer.
pub(crate) enum Job {
    /// Complete a `NativeFuture` with the response JSON (`None`: no body, as when a stream was accepted), or
    /// fail it with the mapped error.
    Complete {
        future: GlobalRef,
        result: Result<Option<bytes::Bytes>, ggipc::Error>,
    },
    /// Tell a `LifecycleBridge` that the connection is gone.
    Disconnected {
        bridge: GlobalRef,
        reason: Option<ggipc::Error>,
    },
}

/// The completion thread (`ggipc-jni-completer`, attached to the JVM as a daemon on its first job).
static COMPLETER: Completer<Job> = Completer::new(
    "ggipc-jni-completer",
    |batch| batch(),
    |job| callback("completer", |env| run(env, job)),
);

fn run(env: &mut jni::JNIEnv, job: Job) -> jni::errors::Result<()> {
    let c = cache();
    let r = match job {
        Job::Complete {
            future,
            result: Ok(body),
        } => {
            let arr = match &body {
                Some(b) => crate::client::response_array(env, b)?,
                None => jni::objects::JByteArray::from(jni::objects::JObject::null()),
            };
            call_void(
                env,
                future.as_obj(),
                c.future_complete,
                &[JValue::Object(&arr)],
            )
        }
        Job::Complete {
            future,
            result: Err(e),
        } => {
            let t = error_throwable(env, &e)?;
            call_void(env, future.as_obj(), c.future_fail, &[JValue::Object(&t)])
        }
        Job::Disconnected { bridge, reason } => {
            let (code, t) = match &reason {
                Some(e) => (e.kind().code() as i32, error_throwable(env, e)?),
                None => (0, jni::objects::JObject::null()),
            };
            call_void(
                env,
                bridge.as_obj(),
                c.lifecycle_on_disconnect,
                &[JValue::Int(code), JValue::Object(&t)],
            )
        }
    };
    if env.exception_check()? {
        // A future's dependents threw: report it and go on with the next job.
        env.exception_describe()?;
        env.exception_clear()?;
    }
    r
}

/// Queues a job for the completer.
pub(crate) fn submit(job: Job) {
    COMPLETER.submit(job);
}
