//! Local deployments of configuration, the nucleus' way: `ggipc run --config-update FILE`, `ggipc config set|reset`
//! and `ggipc deploy --simulate`.
//!
//! A configuration update is what a Greengrass deployment carries per component (`configurationUpdate`), in the
//! Greengrass CLI's `--update-config` form:
//! ```json
//! {"com.example.Sensor": {"RESET": ["/thresholds"], "MERGE": {"rate": 10, "thresholds": {"high": 40}}}}
//! ```
//! `MERGE` is an object (or a string holding one, as the cloud sends it); `RESET` a list of JSON pointers, `""`
//! for the whole configuration. As in the nucleus' `KernelConfigResolver`, the configuration a component gets is
//! its current one, with the `RESET` paths removed, the recipe's `DefaultConfiguration` added where nothing is set,
//! then `MERGE` merged in.
//!
//! [`deploy`] follows the nucleus' deployment: each changed component's validators get the proposed configuration
//! (SubscribeToValidateConfigurationUpdates; 20 s to answer, the nucleus' default); a rejection or a missing answer
//! fails the deployment with the nucleus' message and changes nothing. Then every SubscribeToComponentUpdates
//! stream gets a pre-update event; a component that defers (DeferComponentUpdate with `recheckAfterMs`) is asked
//! again after that time, up to a bound ([`Deployment::defer_limit`]; the nucleus would wait forever) after which
//! the deployment fails and changes nothing. Then the configurations are replaced (one
//! SubscribeToConfigurationUpdate event per changed key path) and the post-update event is sent.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ggipc::model::ConfigurationValidityStatus;
use ggipc::server::Server;
use serde_json::{Map, Value};

/// The nucleus' default time a component has to answer a validation event.
pub const VALIDATION_TIMEOUT: Duration = Duration::from_secs(20);
/// The nucleus' default time components have to answer a pre-update event (componentUpdatePolicy timeout).
pub const UPDATE_POLICY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long deferrals may postpone a local deployment in all.
pub const DEFER_LIMIT: Duration = Duration::from_secs(300);

/// One component's `configurationUpdate`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigurationUpdate {
    pub merge: Option<Map<String, Value>>,
    pub reset: Vec<String>,
}

/// Parses `{"<component>": {"MERGE": …, "RESET": […]}}`; `what` names the source in errors.
pub fn parse_updates(
    value: &Value,
    what: &str,
) -> Result<BTreeMap<String, ConfigurationUpdate>, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| format!("{what}: expected an object of component names"))?;
    let mut out = BTreeMap::new();
    for (component, ops) in obj {
        let field = |f: &str| format!("{what}: {component}.{f}");
        let ops = ops.as_object().ok_or_else(|| {
            format!("{what}: {component}: expected an object with MERGE and/or RESET")
        })?;
        let mut update = ConfigurationUpdate::default();
        for (k, v) in ops {
            match k.as_str() {
                "MERGE" => {
                    let parsed;
                    let v = match v {
                        Value::String(s) => {
                            parsed = serde_json::from_str::<Value>(s)
                                .map_err(|e| format!("{}: not JSON: {e}", field("MERGE")))?;
                            &parsed
                        }
                        v => v,
                    };
                    update.merge =
                        Some(v.as_object().cloned().ok_or_else(|| {
                            format!("{}: expected a JSON object", field("MERGE"))
                        })?);
                }
                "RESET" => {
                    let list = v.as_array().ok_or_else(|| {
                        format!("{}: expected a list of JSON pointers", field("RESET"))
                    })?;
                    for p in list {
                        let p = p.as_str().ok_or_else(|| {
                            format!("{}: expected a list of JSON pointers", field("RESET"))
                        })?;
                        if !p.is_empty() && !p.starts_with('/') {
                            return Err(format!(
                                "{}: {p:?} is not a JSON pointer (\"\" or starting with /)",
                                field("RESET")
                            ));
                        }
                        update.reset.push(p.to_owned());
                    }
                }
                other => {
                    return Err(format!(
                        "{what}: {component}: unknown operation {other:?} (MERGE or RESET)"
                    ))
                }
            }
        }
        out.insert(component.clone(), update);
    }
    Ok(out)
}

/// Reads a `--config-update` file (JSON or YAML), at most 10 MB (the nucleus' limit for a deployment document).
pub fn read_updates(
    path: &std::path::Path,
) -> Result<BTreeMap<String, ConfigurationUpdate>, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if len > 10 * 1000 * 1000 {
        return Err(format!(
            "{}: {len} bytes, more than a deployment's limit of 10 MB",
            path.display()
        ));
    }
    let value = ggipc::server::Recipe::read_document(path).map_err(|e| e.to_string())?;
    parse_updates(&value, &path.display().to_string())
}

/// A JSON pointer's key path (`~1` is `/`, `~0` is `~`).
pub fn pointer_path(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn merge_into(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (k, v) in src {
        match (dst.get_mut(k), v) {
            (Some(Value::Object(d)), Value::Object(s)) => merge_into(d, s),
            _ => {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

fn add_missing(dst: &mut Map<String, Value>, defaults: &Map<String, Value>) {
    for (k, v) in defaults {
        match (dst.get_mut(k), v) {
            (None, _) => {
                dst.insert(k.clone(), v.clone());
            }
            (Some(Value::Object(d)), Value::Object(s)) => add_missing(d, s),
            _ => {}
        }
    }
}

/// The configuration `update` gives a component whose configuration is `current` and whose recipe's defaults
/// are `defaults`.
pub fn resolve(
    current: &Value,
    defaults: &Value,
    update: &ConfigurationUpdate,
) -> Result<Value, String> {
    let mut config = current.as_object().cloned().unwrap_or_default();
    for pointer in &update.reset {
        if pointer.is_empty() {
            config.clear();
            continue;
        }
        let path = pointer_path(pointer);
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        // Lists cannot be reset into (the nucleus skips such pointers; we refuse them).
        let mut probe = &config;
        for key in parents {
            match probe.get(key) {
                Some(Value::Object(m)) => probe = m,
                Some(Value::Array(_)) => {
                    return Err(format!(
                        "RESET {pointer}: points into a list; a deployment resets keys, not list elements"
                    ))
                }
                _ => break,
            }
        }
        let mut node = Some(&mut config);
        for key in parents {
            node = match node.and_then(|n| n.get_mut(key)) {
                Some(Value::Object(m)) => Some(m),
                _ => None,
            };
        }
        if let Some(n) = node {
            n.remove(last);
        }
    }
    if let Value::Object(d) = defaults {
        add_missing(&mut config, d);
    }
    if let Some(m) = &update.merge {
        merge_into(&mut config, m);
    }
    Ok(Value::Object(config))
}

/// One local deployment.
pub struct Deployment {
    pub id: String,
    pub updates: BTreeMap<String, ConfigurationUpdate>,
    /// Each component's recipe `DefaultConfiguration`.
    pub defaults: BTreeMap<String, Value>,
    pub validation_timeout: Duration,
    pub update_policy_timeout: Duration,
    /// How long deferrals may postpone it in all.
    pub defer_limit: Duration,
}

/// What happened, line by line (printed by the CLI), or why it failed.
pub type Report = Vec<String>;

/// Runs a deployment against the server: validation, component-update events with deferrals, then the
/// configurations. On failure nothing is changed; the error says why, after the lines of what happened.
pub async fn deploy(server: &Server, d: &Deployment) -> Result<Report, (Report, String)> {
    let mut log = Vec::new();
    // Resolve every configuration first: a bad update changes nothing.
    let mut proposed = BTreeMap::new();
    for (component, update) in &d.updates {
        let Some(current) = server.configuration(component) else {
            return Err((log, format!("component {component} is not registered")));
        };
        let defaults = d.defaults.get(component).cloned().unwrap_or(Value::Null);
        let new = resolve(&current, &defaults, update)
            .map_err(|e| (Vec::new(), format!("{component}: {e}")))?;
        if new != current {
            proposed.insert(component.clone(), new);
        } else {
            log.push(format!("{component}: configuration unchanged"));
        }
    }
    // Validation, as DynamicComponentConfigurationValidator.
    for (component, config) in &proposed {
        match server
            .validate_configuration(component, &d.id, config.clone(), d.validation_timeout)
            .await
        {
            Ok(None) => {}
            Ok(Some(report)) if report.status == Some(ConfigurationValidityStatus::Accepted) => {
                log.push(format!("{component} accepted the configuration"));
            }
            Ok(Some(report)) => {
                return Err((
                    log,
                    format!(
                        "Components reported that their to-be-deployed configuration is invalid {{ name = {component}, message = {} }}",
                        report.message.unwrap_or_default()
                    ),
                ))
            }
            Err(e) => {
                return Err((
                    log,
                    format!(
                        "Error while waiting for validation report for one or more components: {}",
                        e.message()
                    ),
                ))
            }
        }
    }
    // Component updates, with deferrals.
    let started = Instant::now();
    loop {
        let deferred = server
            .pre_component_update(&d.id, false, d.update_policy_timeout)
            .await;
        let wait = deferred
            .iter()
            .filter_map(|(c, r)| {
                let ms = r.recheck_after_ms.unwrap_or(0);
                (ms > 0).then(|| {
                    log.push(format!(
                        "{c} deferred the update by {ms} ms{}",
                        r.message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ));
                    Duration::from_millis(ms as u64)
                })
            })
            .max();
        let Some(wait) = wait else { break };
        if started.elapsed() + wait > d.defer_limit {
            return Err((
                log,
                format!(
                    "components kept deferring the update for more than {} s; deployment {} not applied",
                    d.defer_limit.as_secs(),
                    d.id
                ),
            ));
        }
        tokio::time::sleep(wait).await;
    }
    for (component, config) in proposed {
        match server.replace_configuration(&component, config) {
            Ok(n) => log.push(format!(
                "{component}: configuration updated ({n} key paths changed)"
            )),
            Err(e) => return Err((log, format!("{component}: {}", e.message()))),
        }
    }
    server.post_component_update(&d.id);
    Ok(log)
}

/// A new deployment id: `local-` and 16 random characters.
pub fn new_id() -> String {
    format!("local-{}", ggipc::server::generate_svcuid().to_lowercase())
}
