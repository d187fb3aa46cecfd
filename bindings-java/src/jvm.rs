//! The cached VM, classes and method ids, error mapping and the panic/JNI-failure guard.

use std::any::Any;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use jni::objects::{GlobalRef, JClass, JMethodID, JObject, JStaticMethodID, JThrowable, JValue};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jint, JNI_ERR, JNI_VERSION_1_8};
use jni::{JNIEnv, JavaVM};

/// Method ids and classes the native side calls, looked up once in `JNI_OnLoad` (so that they resolve through
/// the class loader that loaded the library, not the system loader of an attached native thread).
pub(crate) struct Cache {
    pub errors_class: GlobalRef,
    pub errors_from_native: JStaticMethodID,
    pub future_complete: JMethodID,
    pub future_fail: JMethodID,
    pub bridge_on_event: JMethodID,
    pub bridge_on_error: JMethodID,
    pub bridge_on_closed: JMethodID,
    pub bridge_on_dropped: JMethodID,
    pub lifecycle_on_disconnect: JMethodID,
}

static VM: OnceLock<JavaVM> = OnceLock::new();
static CACHE: OnceLock<Cache> = OnceLock::new();

pub(crate) fn vm() -> &'static JavaVM {
    VM.get().expect("JNI_OnLoad ran before any native call")
}

pub(crate) fn cache() -> &'static Cache {
    CACHE.get().expect("JNI_OnLoad ran before any native call")
}

fn build_cache(env: &mut JNIEnv) -> jni::errors::Result<Cache> {
    let errors = env.find_class("io/ggipc/internal/Errors")?;
    let errors_from_native = env.get_static_method_id(
        &errors,
        "fromNative",
        "(ILjava/lang/String;[B)Ljava/lang/Throwable;",
    )?;
    let future = env.find_class("io/ggipc/internal/NativeFuture")?;
    let future_complete = env.get_method_id(&future, "completeNative", "([B)V")?;
    let future_fail = env.get_method_id(&future, "failNative", "(Ljava/lang/Throwable;)V")?;
    let bridge = env.find_class("io/ggipc/internal/StreamBridge")?;
    let bridge_on_event = env.get_method_id(&bridge, "onEvent", "([B)V")?;
    let bridge_on_error = env.get_method_id(&bridge, "onError", "(Ljava/lang/Throwable;)V")?;
    let bridge_on_closed = env.get_method_id(&bridge, "onClosed", "(Ljava/lang/Throwable;)V")?;
    let bridge_on_dropped = env.get_method_id(&bridge, "onDropped", "(J)V")?;
    let lifecycle = env.find_class("io/ggipc/internal/LifecycleBridge")?;
    let lifecycle_on_disconnect =
        env.get_method_id(&lifecycle, "onDisconnect", "(ILjava/lang/Throwable;)V")?;
    Ok(Cache {
        errors_class: env.new_global_ref(errors)?,
        errors_from_native,
        future_complete,
        future_fail,
        bridge_on_event,
        bridge_on_error,
        bridge_on_closed,
        bridge_on_dropped,
        lifecycle_on_disconnect,
    })
}

/// Caches the VM and the ids the library calls back into.
///
/// # Safety
/// Called by the JVM when the library is loaded.
#[no_mangle]
#[allow(non_snake_case)]
pub extern "system" fn JNI_OnLoad(vm: JavaVM, _reserved: *mut c_void) -> jint {
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        let mut env = vm.get_env().map_err(|e| e.to_string())?;
        let cache = match build_cache(&mut env) {
            Ok(c) => c,
            Err(e) => {
                // Leave no pending exception behind: the load itself reports the failure.
                if env.exception_check().unwrap_or(false) {
                    let _ = env.exception_describe();
                    let _ = env.exception_clear();
                }
                return Err(e.to_string());
            }
        };
        let _ = CACHE.set(cache);
        let _ = VM.set(vm);
        Ok(())
    }));
    match r {
        Ok(Ok(())) => JNI_VERSION_1_8,
        Ok(Err(e)) => {
            eprintln!("ggipc_jni: JNI_OnLoad failed: {e}");
            JNI_ERR
        }
        Err(_) => {
            eprintln!("ggipc_jni: JNI_OnLoad panicked");
            JNI_ERR
        }
    }
}

/// Why a native call failed.
pub(crate) enum Failure {
    /// A ggipc error: thrown as the mapped Java exception.
    Ggipc(ggipc::Error),
    /// A JNI call failed; if it left a Java exception pending, that one is thrown.
    Jni(jni::errors::Error),
}

impl From<ggipc::Error> for Failure {
    fn from(e: ggipc::Error) -> Self {
        Failure::Ggipc(e)
    }
}

impl From<jni::errors::Error> for Failure {
    fn from(e: jni::errors::Error) -> Self {
        Failure::Jni(e)
    }
}

pub(crate) type NResult<T> = Result<T, Failure>;

/// Builds the Java exception for a ggipc error through `Errors.fromNative`.
pub(crate) fn throwable<'l>(
    env: &mut JNIEnv<'l>,
    code: u32,
    message: &str,
    body: Option<&serde_json::Value>,
) -> jni::errors::Result<JObject<'l>> {
    let c = cache();
    let msg = env.new_string(message)?;
    let body = match body.and_then(|b| serde_json::to_vec(b).ok()) {
        Some(bytes) => env.byte_array_from_slice(&bytes)?,
        None => jni::objects::JByteArray::from(JObject::null()),
    };
    let class: &JClass = c.errors_class.as_obj().into();
    // SAFETY: the method id belongs to this class and the arguments match its signature (ILjava/lang/String;[B).
    let obj = unsafe {
        env.call_static_method_unchecked(
            class,
            c.errors_from_native,
            ReturnType::Object,
            &[
                JValue::Int(code as jint).as_jni(),
                JValue::Object(&msg).as_jni(),
                JValue::Object(&body).as_jni(),
            ],
        )
    }?
    .l()?;
    env.delete_local_ref(msg)?;
    env.delete_local_ref(body)?;
    Ok(obj)
}

/// The Java exception for a ggipc error.
pub(crate) fn error_throwable<'l>(
    env: &mut JNIEnv<'l>,
    e: &ggipc::Error,
) -> jni::errors::Result<JObject<'l>> {
    let body = if e.kind().is_modeled() {
        e.body()
    } else {
        None
    };
    throwable(env, e.kind().code(), &describe(e), body)
}

/// The message shown to Java: the server's words for modeled errors, else kind and message.
fn describe(e: &ggipc::Error) -> String {
    if e.kind().is_modeled() {
        e.message().to_string()
    } else if e.message().is_empty() {
        e.kind().name().to_string()
    } else {
        e.message().to_string()
    }
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Throws `code`/`message` as the mapped Java exception; falls back to a plain RuntimeException.
fn throw_mapped(env: &mut JNIEnv, code: u32, message: &str, body: Option<&serde_json::Value>) {
    if env.exception_check().unwrap_or(true) {
        return;
    }
    match throwable(env, code, message, body) {
        Ok(t) if !t.is_null() => {
            let _ = env.throw(JThrowable::from(t));
        }
        _ => {
            if !env.exception_check().unwrap_or(true) {
                let _ = env.throw_new("java/lang/RuntimeException", message);
            }
        }
    }
}

/// Runs a native entry point: a panic or a failure becomes a pending Java exception and `R::default()` is
/// returned.
pub(crate) fn guard<'l, R: Default>(
    env: &mut JNIEnv<'l>,
    f: impl FnOnce(&mut JNIEnv<'l>) -> NResult<R>,
) -> R {
    match catch_unwind(AssertUnwindSafe(|| f(env))) {
        Ok(Ok(r)) => r,
        Ok(Err(Failure::Ggipc(e))) => {
            let body = if e.kind().is_modeled() {
                e.body()
            } else {
                None
            };
            throw_mapped(env, e.kind().code(), &describe(&e), body);
            R::default()
        }
        Ok(Err(Failure::Jni(e))) => {
            // JavaException means one is already pending: let it propagate as it is.
            if !env.exception_check().unwrap_or(true) {
                throw_mapped(
                    env,
                    ggipc::ErrorKind::Internal.code(),
                    &format!("ggipc JNI failure: {e}"),
                    None,
                );
            }
            R::default()
        }
        Err(p) => {
            throw_mapped(
                env,
                ggipc::ErrorKind::Internal.code(),
                &format!("panic in ggipc native code: {}", panic_message(p.as_ref())),
                None,
            );
            R::default()
        }
    }
}

/// Runs a callback into Java on a library thread: panics are caught, Java exceptions thrown by the callee are
/// reported and cleared (the Java side already catches user exceptions, so this is a last line of defence).
pub(crate) fn callback(what: &str, f: impl FnOnce(&mut JNIEnv) -> jni::errors::Result<()>) {
    let r = catch_unwind(AssertUnwindSafe(|| -> jni::errors::Result<()> {
        let mut env = vm().attach_current_thread_as_daemon()?;
        let r = env.with_local_frame(16, |env| f(env));
        if env.exception_check().unwrap_or(false) {
            let _ = env.exception_describe();
            let _ = env.exception_clear();
        }
        r
    }));
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("ggipc_jni: {what}: JNI failure: {e}"),
        Err(p) => eprintln!("ggipc_jni: {what}: panic: {}", panic_message(p.as_ref())),
    }
}

/// Calls a `void` instance method with a cached id.
pub(crate) fn call_void(
    env: &mut JNIEnv,
    obj: &JObject,
    mid: JMethodID,
    args: &[JValue],
) -> jni::errors::Result<()> {
    let raw: Vec<jni::sys::jvalue> = args.iter().map(|a| a.as_jni()).collect();
    // SAFETY: every cached id is called with arguments matching the signature it was looked up with.
    unsafe { env.call_method_unchecked(obj, mid, ReturnType::Primitive(Primitive::Void), &raw) }?;
    Ok(())
}
