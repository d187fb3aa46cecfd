//! Components' configurations kept under the root, so that they survive a restart of the nucleus (as the
//! nucleus keeps its configuration store on disk).
//!
//! `<root>/config/<component>.json` (mode 0600), rewritten after each change:
//! ```json
//! {"configuration": {"rate": 9, "accessControl": {…}},
//!  "modified": [[[], 1733140000000], [["rate"], 1733143600000]]}
//! ```
//! `configuration` is the component's whole configuration; `modified` the time (Unix epoch, milliseconds) each
//! key path was last changed, so that an UpdateConfiguration with an older timestamp stays refused after a
//! restart.
//!
//! At start, a kept configuration wins over the recipe's `DefaultConfiguration`, whose keys are added only where
//! the kept one has none (a new version's new keys appear; changed values are kept, as a deployment without a
//! `RESET` does); `accessControl` always comes from the recipe. A file that cannot be read stops the start with
//! its path; deleting it starts the component from its defaults again.

use std::path::{Path, PathBuf};

use ggipc::server::Server;
use serde_json::Value;

/// Where a component's configuration is kept.
pub fn path(root: &Path, component: &str) -> PathBuf {
    root.join("config").join(format!("{component}.json"))
}

/// Adds to `kept` every key of `defaults` it does not have (recursively into objects both have).
fn add_missing(
    kept: &mut serde_json::Map<String, Value>,
    defaults: &serde_json::Map<String, Value>,
) {
    for (k, v) in defaults {
        match (kept.get_mut(k), v) {
            (None, _) => {
                kept.insert(k.clone(), v.clone());
            }
            (Some(Value::Object(inner)), Value::Object(d)) => add_missing(inner, d),
            _ => {}
        }
    }
}

/// Puts back `component`'s kept configuration, if there is one, over the defaults it was registered with.
/// Returns whether there was one.
pub fn restore(root: &Path, server: &Server, component: &str) -> Result<bool, String> {
    let file = path(root, component);
    let text = match std::fs::read(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let bad = |why: String| {
        format!(
            "{}: {why} (delete it to start {component} from its recipe's DefaultConfiguration)",
            file.display()
        )
    };
    let mut stored: Value = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let defaults = server.configuration(component).unwrap_or_default();
    if let (Some(Value::Object(kept)), Value::Object(d)) =
        (stored.get_mut("configuration"), &defaults)
    {
        kept.remove("accessControl");
        add_missing(kept, d);
    }
    server
        .restore_configuration(component, &stored)
        .map_err(bad)?;
    Ok(true)
}

/// Writes `component`'s configuration to its file.
pub fn save(root: &Path, server: &Server, component: &str) -> Result<(), String> {
    let Some(stored) = server.export_configuration(component) else {
        return Ok(());
    };
    let file = path(root, component);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let data = serde_json::to_vec_pretty(&stored).map_err(|e| e.to_string())?;
    crate::node::write_private(&file, &data)
}

/// Saves each configuration that changes, until the server's change channel closes. Changes that arrive
/// while a file is written are saved together.
pub fn spawn_saver(root: PathBuf, server: Server) -> tokio::task::JoinHandle<()> {
    let mut changes = server.configuration_changes();
    tokio::spawn(async move {
        loop {
            let first = match changes.recv().await {
                Ok(c) => c,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Missed some: save them all.
                    for c in server.components().list() {
                        if let Err(e) = save(&root, &server, &c.name) {
                            tracing::error!("{e}");
                        }
                    }
                    continue;
                }
                Err(_) => return,
            };
            let mut names = std::collections::BTreeSet::from([first]);
            while let Ok(c) = changes.try_recv() {
                names.insert(c);
            }
            for name in names {
                if let Err(e) = save(&root, &server, &name) {
                    tracing::error!("configuration of {name} not saved: {e}");
                }
            }
        }
    })
}
