//! The control socket of a running nucleus, `<root>/control.socket` (mode 0600, like the IPC socket: only the
//! user who runs the nucleus), for `ggipc config` and `ggipc deploy`. Local only, one request per connection:
//! a line of JSON in, a line of JSON out.
//!
//! ```text
//! → {"get": {"component": "com.example.Sensor", "keyPath": ["thresholds"]}}
//! ← {"ok": true, "value": {"high": 30}}
//! → {"deploy": {"updates": {"com.example.Sensor": {"MERGE": {"rate": 10}}}, "components": []}}
//! ← {"ok": true, "deploymentId": "local-…", "log": ["com.example.Sensor accepted the configuration", …]}
//! ← {"ok": false, "error": "Components reported that their to-be-deployed configuration is invalid { … }", "log": […]}
//! ```
//! `deploy` may set `deferLimitSecs` and `validationTimeoutSecs`. It runs [`crate::deploy::deploy`]: validation, component-update events (deferrals honoured), then the
//! configurations. `components` names components the deployment targets without changing their configuration
//! (`ggipc deploy --simulate COMPONENT`).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ggipc::server::Server;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::deploy::{self, Deployment};

/// Largest request accepted (a deployment's 10 MB and some room).
pub const MAX_REQUEST: usize = 11 * 1000 * 1000;
/// Time a client has to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the control socket of the nucleus at `root` is.
pub fn socket_path(root: &Path) -> PathBuf {
    root.join("control.socket")
}

/// Serves the control socket until the task is aborted.
pub fn serve(
    root: &Path,
    server: Server,
    defaults: BTreeMap<String, Value>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let path = socket_path(root);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot replace {}: {e}", path.display())),
    }
    let listener = UnixListener::bind(&path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let defaults = std::sync::Arc::new(defaults);
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let server = server.clone();
            let defaults = defaults.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &server, &defaults).await {
                    tracing::warn!("control request failed: {e}");
                }
            });
        }
    }))
}

async fn answer(
    stream: UnixStream,
    server: &Server,
    defaults: &BTreeMap<String, Value>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
    let reply = match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line))
        .await
    {
        Err(_) => json!({"ok": false, "error": "no request within 10 s"}),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(_)) if !line.ends_with(b"\n") => {
            json!({"ok": false, "error": format!("request not terminated by a newline within {MAX_REQUEST} bytes")})
        }
        Ok(Ok(_)) => match serde_json::from_slice::<Value>(&line) {
            Err(e) => json!({"ok": false, "error": format!("request is not JSON: {e}")}),
            Ok(req) => handle(&req, server, defaults).await,
        },
    };
    let mut out = serde_json::to_vec(&reply).unwrap_or_default();
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

async fn handle(req: &Value, server: &Server, defaults: &BTreeMap<String, Value>) -> Value {
    if let Some(get) = req.get("get") {
        let Some(component) = get["component"].as_str() else {
            return json!({"ok": false, "error": "get: component is required"});
        };
        let Some(config) = server.configuration(component) else {
            return json!({"ok": false, "error": format!("component {component} is not registered")});
        };
        let path: Vec<String> = serde_json::from_value(get["keyPath"].clone()).unwrap_or_default();
        let mut node = &config;
        for key in &path {
            match node.get(key) {
                Some(n) if node.is_object() => node = n,
                _ => {
                    return json!({"ok": false, "error": format!("{component}: no key /{}", path.join("/"))})
                }
            }
        }
        return json!({"ok": true, "value": node});
    }
    if let Some(d) = req.get("deploy") {
        let updates = match deploy::parse_updates(
            d.get("updates").unwrap_or(&json!({})),
            "configuration update",
        ) {
            Ok(u) => u,
            Err(e) => return json!({"ok": false, "error": e}),
        };
        let mut updates = updates;
        for c in d["components"].as_array().into_iter().flatten() {
            if let Some(c) = c.as_str() {
                updates.entry(c.to_owned()).or_default();
            }
        }
        let deployment = Deployment {
            id: deploy::new_id(),
            updates,
            defaults: defaults.clone(),
            validation_timeout: d["validationTimeoutSecs"]
                .as_u64()
                .map(Duration::from_secs)
                .unwrap_or(deploy::VALIDATION_TIMEOUT),
            update_policy_timeout: deploy::UPDATE_POLICY_TIMEOUT,
            defer_limit: d["deferLimitSecs"]
                .as_u64()
                .map(Duration::from_secs)
                .unwrap_or(deploy::DEFER_LIMIT),
        };
        tracing::info!(deployment = %deployment.id, "local deployment");
        return match deploy::deploy(server, &deployment).await {
            Ok(log) => json!({"ok": true, "deploymentId": deployment.id, "log": log}),
            Err((log, error)) => {
                json!({"ok": false, "deploymentId": deployment.id, "log": log, "error": error})
            }
        };
    }
    json!({"ok": false, "error": "unknown request (get or deploy)"})
}

/// Sends one request to the nucleus at `root` and returns its answer.
pub async fn request(root: &Path, req: &Value) -> Result<Value, String> {
    let path = socket_path(root);
    let mut stream = UnixStream::connect(&path).await.map_err(|e| {
        format!(
            "{}: {e} (is `ggipc nucleus` or `ggipc run` running with --root {}?)",
            path.display(),
            root.display()
        )
    })?;
    let mut out = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    out.push(b'\n');
    stream
        .write_all(&out)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut line = Vec::new();
    // A deployment may wait for validators and deferrals.
    let within = deploy::VALIDATION_TIMEOUT + deploy::UPDATE_POLICY_TIMEOUT + deploy::DEFER_LIMIT;
    tokio::time::timeout(within, BufReader::new(stream).read_until(b'\n', &mut line))
        .await
        .map_err(|_| format!("no answer from the nucleus within {within:?}"))?
        .map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&line).map_err(|e| format!("answer from the nucleus is not JSON: {e}"))
}
