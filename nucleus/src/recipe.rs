//! The parts of a component recipe the launcher needs: the manifest for this platform, its lifecycle steps
//! (`Setenv`, `Install`, `Run`, `Startup`, `Shutdown`), and recipe-variable substitution.
//! Access control is parsed by `ggipc::server` from the same file.
//!
//! Manifest selection: the first manifest whose `Platform.os` is this OS (`linux`, `darwin`), `all` or `*`, or
//! that has no `Platform`; failing that, a top-level `Lifecycle`. A lifecycle step is either a string (the script)
//! or `{Script, Setenv, Timeout, SkipIf, RequiresPrivilege}` (`RequiresPrivilege` is ignored: nothing runs as
//! another user).
//!
//! Variables: `{artifacts:path}`, `{artifacts:decompressedPath}`, `{work:path}`, `{kernel:rootPath}`,
//! `{iot:thingName}`, `{configuration:/json/pointer}` (into `ComponentConfiguration.DefaultConfiguration`; objects
//! and arrays are substituted as JSON). Unknown variables are left as they are, like the nucleus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One lifecycle step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    pub script: String,
    pub setenv: BTreeMap<String, String>,
    pub timeout_secs: Option<u64>,
    pub skip_if: Option<String>,
}

/// A component as the launcher sees it.
#[derive(Clone, Debug)]
pub struct ComponentSpec {
    pub name: String,
    pub version: String,
    pub recipe_path: PathBuf,
    pub configuration: Value,
    pub setenv: BTreeMap<String, String>,
    pub install: Option<Step>,
    pub startup: Option<Step>,
    pub run: Option<Step>,
    pub shutdown: Option<Step>,
}

fn current_os() -> &'static str {
    if cfg!(target_os = "macos") {
        "darwin"
    } else if cfg!(target_os = "windows") {
        "windows"
    } else {
        "linux"
    }
}

/// Loads `path` (YAML or JSON) into a JSON value, with errors naming the file.
pub fn load_document(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read recipe: {e}", path.display()))?;
    crate::config::parse_document::<Value>(path, &text)
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    // Recipe keys are case-insensitive in the nucleus.
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn str_map(
    v: Option<&Value>,
    path: &Path,
    field: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let Some(v) = v else { return Ok(out) };
    let obj = v.as_object().ok_or_else(|| {
        format!(
            "{}: field `{field}`: expected a map of strings",
            path.display()
        )
    })?;
    for (k, v) in obj {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(format!(
                    "{}: field `{field}.{k}`: expected a string",
                    path.display()
                ))
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

fn step(v: Option<&Value>, path: &Path, field: &str) -> Result<Option<Step>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Step {
            script: s.clone(),
            ..Default::default()
        })),
        Some(obj @ Value::Object(_)) => {
            let script = match get(obj, "Script") {
                Some(Value::String(s)) => s.clone(),
                Some(_) => {
                    return Err(format!(
                        "{}: field `{field}.Script`: expected a string",
                        path.display()
                    ))
                }
                None => {
                    return Err(format!(
                        "{}: field `{field}.Script`: missing",
                        path.display()
                    ))
                }
            };
            let timeout_secs = match get(obj, "Timeout") {
                None => None,
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => Some(s.parse().map_err(|_| {
                    format!(
                        "{}: field `{field}.Timeout`: expected seconds",
                        path.display()
                    )
                })?),
                Some(_) => {
                    return Err(format!(
                        "{}: field `{field}.Timeout`: expected seconds",
                        path.display()
                    ))
                }
            };
            Ok(Some(Step {
                script,
                setenv: str_map(get(obj, "Setenv"), path, &format!("{field}.Setenv"))?,
                timeout_secs,
                skip_if: get(obj, "SkipIf")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }))
        }
        Some(_) => Err(format!(
            "{}: field `{field}`: expected a script string or a map with Script",
            path.display()
        )),
    }
}

impl ComponentSpec {
    /// Reads the lifecycle of the recipe at `path`.
    pub fn load(path: &Path) -> Result<ComponentSpec, String> {
        let doc = load_document(path)?;
        Self::from_value(path, &doc)
    }

    pub fn from_value(path: &Path, doc: &Value) -> Result<ComponentSpec, String> {
        if !doc.is_object() {
            return Err(format!("{}: a recipe must be a map", path.display()));
        }
        let name = get(doc, "ComponentName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                format!(
                    "{}: field `ComponentName`: missing or not a string",
                    path.display()
                )
            })?
            .to_owned();
        let version = match get(doc, "ComponentVersion") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            None => "0.0.0".to_owned(),
            Some(_) => {
                return Err(format!(
                    "{}: field `ComponentVersion`: expected a string",
                    path.display()
                ))
            }
        };
        let configuration = get(doc, "ComponentConfiguration")
            .and_then(|c| get(c, "DefaultConfiguration"))
            .cloned()
            .unwrap_or(Value::Object(Default::default()));

        let mut lifecycle: Option<(&Value, String)> = None;
        if let Some(manifests) = get(doc, "Manifests") {
            let list = manifests
                .as_array()
                .ok_or_else(|| format!("{}: field `Manifests`: expected a list", path.display()))?;
            for (i, m) in list.iter().enumerate() {
                let os = get(m, "Platform")
                    .and_then(|p| get(p, "os"))
                    .and_then(Value::as_str);
                let fits = match os {
                    None => true,
                    Some(os) => {
                        os == "*"
                            || os.eq_ignore_ascii_case("all")
                            || os.eq_ignore_ascii_case(current_os())
                    }
                };
                if fits {
                    if let Some(l) = get(m, "Lifecycle") {
                        lifecycle = Some((l, format!("Manifests[{i}].Lifecycle")));
                    } else {
                        lifecycle = get(doc, "Lifecycle").map(|l| (l, "Lifecycle".to_owned()));
                    }
                    break;
                }
            }
            if lifecycle.is_none() && !list.is_empty() && get(doc, "Lifecycle").is_none() {
                return Err(format!(
                    "{}: field `Manifests`: no manifest for platform {} (or all)",
                    path.display(),
                    current_os()
                ));
            }
        }
        if lifecycle.is_none() {
            lifecycle = get(doc, "Lifecycle").map(|l| (l, "Lifecycle".to_owned()));
        }
        let empty = Value::Object(Default::default());
        let (lc, field) = lifecycle.unwrap_or((&empty, "Lifecycle".to_owned()));
        // Old-style lifecycle keyed by platform selection: {linux: {Run: …}} / {all: {…}}.
        let lc = get(lc, current_os())
            .or_else(|| get(lc, "all"))
            .unwrap_or(lc);
        if !lc.is_object() {
            return Err(format!(
                "{}: field `{field}`: expected a map",
                path.display()
            ));
        }
        Ok(ComponentSpec {
            name,
            version,
            recipe_path: path.to_owned(),
            configuration,
            setenv: str_map(get(lc, "Setenv"), path, &format!("{field}.Setenv"))?,
            install: step(get(lc, "Install"), path, &format!("{field}.Install"))?,
            startup: step(get(lc, "Startup"), path, &format!("{field}.Startup"))?,
            run: step(get(lc, "Run"), path, &format!("{field}.Run"))?,
            shutdown: step(get(lc, "Shutdown"), path, &format!("{field}.Shutdown"))?,
        })
    }

    /// The recipe's directory (artifacts fallback for local development).
    pub fn recipe_dir(&self) -> PathBuf {
        self.recipe_path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .to_owned()
    }
}

/// Values for the recipe variables of one component.
#[derive(Clone, Debug, Default)]
pub struct Variables {
    pub artifacts_path: PathBuf,
    pub decompressed_path: PathBuf,
    pub work_path: PathBuf,
    pub root_path: PathBuf,
    pub thing_name: String,
    pub configuration: Value,
}

impl Variables {
    /// Replaces `{namespace:key}` occurrences; unknown ones stay as written.
    pub fn substitute(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let inner = &after[..end];
            match self.lookup(inner) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push('{');
                    out.push_str(inner);
                    out.push('}');
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn lookup(&self, var: &str) -> Option<String> {
        let (ns, key) = var.split_once(':')?;
        match (ns, key) {
            ("artifacts", "path") => Some(self.artifacts_path.display().to_string()),
            ("artifacts", "decompressedPath") => Some(self.decompressed_path.display().to_string()),
            ("work", "path") => Some(self.work_path.display().to_string()),
            ("kernel", "rootPath") => Some(self.root_path.display().to_string()),
            ("iot", "thingName") => Some(self.thing_name.clone()),
            ("configuration", ptr) => {
                let v = self.configuration.pointer(ptr)?;
                Some(match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_linux_manifest_and_parses_steps() {
        let doc: Value = serde_norway::from_str(
            r#"
ComponentName: com.example.X
ComponentVersion: 1.0.0
ComponentConfiguration:
  DefaultConfiguration:
    topic: my/topic
    n: 3
Manifests:
  - Platform: {os: windows}
    Lifecycle: {Run: "win.exe"}
  - Platform: {os: linux}
    Lifecycle:
      Setenv: {A: "1"}
      Install: {Script: "make", Timeout: 30}
      Run: "python3 -u {artifacts:path}/main.py {configuration:/topic} {configuration:/n}"
"#,
        )
        .unwrap();
        let spec = ComponentSpec::from_value(Path::new("r.yaml"), &doc).unwrap();
        assert_eq!(spec.name, "com.example.X");
        assert_eq!(spec.setenv.get("A").unwrap(), "1");
        assert_eq!(spec.install.as_ref().unwrap().timeout_secs, Some(30));
        let vars = Variables {
            artifacts_path: "/art".into(),
            configuration: spec.configuration.clone(),
            ..Default::default()
        };
        assert_eq!(
            vars.substitute(&spec.run.unwrap().script),
            "python3 -u /art/main.py my/topic 3"
        );
        assert_eq!(vars.substitute("{unknown:x} {x}"), "{unknown:x} {x}");
    }

    #[test]
    fn errors_name_file_and_field() {
        let doc: Value = serde_json::from_str(
            r#"{"ComponentName": "a", "Manifests": [{"Lifecycle": {"Run": 5}}]}"#,
        )
        .unwrap();
        let e = ComponentSpec::from_value(Path::new("bad.json"), &doc).unwrap_err();
        assert!(
            e.contains("bad.json") && e.contains("Manifests[0].Lifecycle.Run"),
            "{e}"
        );
        let doc: Value = serde_json::from_str(r#"{"ComponentVersion": "1"}"#).unwrap();
        let e = ComponentSpec::from_value(Path::new("bad.json"), &doc).unwrap_err();
        assert!(e.contains("ComponentName"), "{e}");
    }
}
