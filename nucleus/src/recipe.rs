//! What the launcher reads from a recipe, on top of the core's [`Recipe`] (which alone decides how a recipe file
//! is read, what a valid name and version are, and parses `accessControl`): the manifest for this platform, its
//! lifecycle steps and artifacts, recipe-variable substitution, and GDK projects.
//!
//! Manifest selection: the first manifest whose `Platform.os` is this OS (`linux`, `darwin`), `all` or `*`, or
//! that has no `Platform`; failing that, a top-level `Lifecycle`. A lifecycle step is either a string (the script)
//! or `{Script, Setenv, Timeout, SkipIf, RequiresPrivilege}`. Steps: `Setenv` (for every step), `Install`,
//! `Startup`, `Run`, `Shutdown`, `Recover`.
//!
//! Variables: `{artifacts:path}`, `{artifacts:decompressedPath}`, `{work:path}`, `{kernel:rootPath}`,
//! `{iot:thingName}`, `{configuration:/json/pointer}` (into the component's configuration as deployed: the
//! recipe's `DefaultConfiguration` merged with the kept configuration and `--config-update`; objects and arrays
//! are substituted as JSON). A variable of one of these namespaces with an unknown key is an error naming the
//! recipe and the step when the recipe is loaded; a configuration pointer that names nothing in the deployed
//! configuration is the same error when the component is launched ([`ComponentSpec::check_variables_with`]),
//! before anything runs. Text in braces that is not such a variable (`${HOME}`, `{a:b}`, another component's
//! `{name:artifacts:path}`) is left as written.
//!
//! GDK projects (a directory with `gdk-config.json`, see [`GdkProject`]): the recipe's `{COMPONENT_NAME}`,
//! `{COMPONENT_VERSION}` and `{COMPONENT_AUTHOR}` placeholders are replaced from `gdk-config.json` before the
//! recipe is parsed, and artifacts are taken from the project instead of their S3 URIs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ggipc::server::{get_ci as get, Recipe, RecipeError};
use serde_json::Value;

/// Default timeouts in seconds of the steps that run to completion, as the nucleus has them.
pub const INSTALL_TIMEOUT_SECS: u64 = 120;
pub const STARTUP_TIMEOUT_SECS: u64 = 120;
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 15;
pub const RECOVER_TIMEOUT_SECS: u64 = 60;

/// One lifecycle step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    /// Where it is in the recipe, e.g. `Manifests[0].Lifecycle.Run` (for messages).
    pub field: String,
    pub script: String,
    pub setenv: BTreeMap<String, String>,
    pub timeout_secs: Option<u64>,
    pub skip_if: Option<String>,
    pub requires_privilege: bool,
}

/// One entry of the manifest's `Artifacts`.
#[derive(Clone, Debug, PartialEq)]
pub struct ArtifactSpec {
    pub field: String,
    pub uri: String,
    /// `Unarchive: ZIP` (the only kind the nucleus unarchives).
    pub unzip: bool,
}

impl ArtifactSpec {
    /// The artifact's file name: the URI's last path segment.
    pub fn file_name(&self) -> &str {
        self.uri
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.uri)
    }
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
    pub recover: Option<Step>,
    pub artifacts: Vec<ArtifactSpec>,
    /// The GDK project the recipe belongs to, if any.
    pub project: Option<GdkProject>,
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

fn str_map(v: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, RecipeError> {
    let mut out = BTreeMap::new();
    let Some(v) = v else { return Ok(out) };
    let obj = v
        .as_object()
        .ok_or_else(|| RecipeError::field(field, "expected a map of strings"))?;
    for (k, v) in obj {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(RecipeError::field(
                    format!("{field}.{k}"),
                    "expected a string",
                ))
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

fn step(v: Option<&Value>, field: &str) -> Result<Option<Step>, RecipeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Step {
            field: field.to_owned(),
            script: s.clone(),
            ..Default::default()
        })),
        Some(obj @ Value::Object(_)) => {
            let script = match get(obj, "Script") {
                Some(Value::String(s)) => s.clone(),
                Some(_) => {
                    return Err(RecipeError::field(
                        format!("{field}.Script"),
                        "expected a string",
                    ))
                }
                None => return Err(RecipeError::field(format!("{field}.Script"), "missing")),
            };
            let bad_timeout = || {
                RecipeError::field(
                    format!("{field}.Timeout"),
                    "expected a whole number of seconds",
                )
            };
            let timeout_secs = match get(obj, "Timeout") {
                None => None,
                Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(bad_timeout)?),
                Some(Value::String(s)) => Some(s.trim().parse().map_err(|_| bad_timeout())?),
                Some(_) => return Err(bad_timeout()),
            };
            let requires_privilege = match get(obj, "RequiresPrivilege") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
                Some(_) => {
                    return Err(RecipeError::field(
                        format!("{field}.RequiresPrivilege"),
                        "expected true or false",
                    ))
                }
            };
            let skip_if = match get(obj, "SkipIf") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => {
                    let mut parts = s.split_whitespace();
                    match (parts.next(), parts.next()) {
                        (Some("onpath" | "exists"), Some(_)) => Some(s.clone()),
                        _ => {
                            return Err(RecipeError::field(
                                format!("{field}.SkipIf"),
                                format!("expected `onpath EXE` or `exists FILE`, found {s:?}"),
                            ))
                        }
                    }
                }
                Some(_) => {
                    return Err(RecipeError::field(
                        format!("{field}.SkipIf"),
                        "expected a string",
                    ))
                }
            };
            Ok(Some(Step {
                field: field.to_owned(),
                script,
                setenv: str_map(get(obj, "Setenv"), &format!("{field}.Setenv"))?,
                timeout_secs,
                skip_if,
                requires_privilege,
            }))
        }
        Some(_) => Err(RecipeError::field(
            field,
            "expected a script string or a map with Script",
        )),
    }
}

fn artifacts(v: Option<&Value>, field: &str) -> Result<Vec<ArtifactSpec>, RecipeError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let list = v
        .as_array()
        .ok_or_else(|| RecipeError::field(field, "expected a list"))?;
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let uri = match get(a, "URI") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => {
                return Err(RecipeError::field(
                    format!("{f}.URI"),
                    "expected a non-empty string",
                ))
            }
        };
        let unzip = match get(a, "Unarchive") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("zip") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("none") => false,
            Some(other) => {
                return Err(RecipeError::field(
                    format!("{f}.Unarchive"),
                    format!("expected ZIP or NONE, found {other}"),
                ))
            }
        };
        out.push(ArtifactSpec {
            field: f,
            uri,
            unzip,
        });
    }
    Ok(out)
}

impl ComponentSpec {
    /// Reads the recipe at `path` (a recipe file, a GDK project directory or its `gdk-config.json`) as the
    /// nucleus does: GDK placeholders, then `{iot:thingName}` in `ComponentConfiguration`, then the core's
    /// parsing (name, version, access control), then the lifecycle. Errors name the file and the field.
    pub fn load(path: &Path, thing_name: &str) -> Result<(Recipe, ComponentSpec), String> {
        let project = GdkProject::find(path)?;
        let recipe_path = match &project {
            Some(p) => p.recipe.clone(),
            None if path.is_dir() => project_recipe(path)?,
            None => path.to_owned(),
        };
        let mut raw = Recipe::read_document(&recipe_path).map_err(|e| e.to_string())?;
        if let Some(p) = &project {
            p.substitute(&mut raw);
            if let Some((field, placeholder)) = find_placeholder(&raw, String::new()) {
                return Err(RecipeError::field(
                    field,
                    format!(
                        "unknown GDK placeholder {placeholder} (known: {{COMPONENT_NAME}}, \
                         {{COMPONENT_VERSION}}, {{COMPONENT_AUTHOR}})"
                    ),
                )
                .in_file(&recipe_path)
                .to_string());
            }
        }
        if let Some(cc) = raw.as_object_mut().and_then(|o| {
            o.iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case("ComponentConfiguration"))
                .map(|(_, v)| v)
        }) {
            substitute_thing_name(cc, thing_name);
        }
        let recipe = Recipe::from_value(raw)
            .map_err(|e| e.in_file(&recipe_path).to_string())?
            .with_path(&recipe_path);
        let mut spec =
            ComponentSpec::from_recipe(&recipe).map_err(|e| e.in_file(&recipe_path).to_string())?;
        spec.project = project;
        Ok((recipe, spec))
    }

    /// The launcher's view of a parsed recipe.
    pub fn from_recipe(recipe: &Recipe) -> Result<ComponentSpec, RecipeError> {
        let doc = recipe.raw();
        let configuration = recipe
            .default_configuration()
            .cloned()
            .unwrap_or(Value::Object(Default::default()));

        let mut lifecycle: Option<(&Value, String)> = None;
        let mut manifest_artifacts: Option<(&Value, String)> = None;
        if let Some(manifests) = get(doc, "Manifests") {
            let list = manifests
                .as_array()
                .ok_or_else(|| RecipeError::field("Manifests", "expected a list"))?;
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
                    manifest_artifacts =
                        get(m, "Artifacts").map(|a| (a, format!("Manifests[{i}].Artifacts")));
                    break;
                }
            }
            if lifecycle.is_none() && !list.is_empty() && get(doc, "Lifecycle").is_none() {
                return Err(RecipeError::field(
                    "Manifests",
                    format!("no manifest for platform {} (or all)", current_os()),
                ));
            }
        }
        if lifecycle.is_none() {
            lifecycle = get(doc, "Lifecycle").map(|l| (l, "Lifecycle".to_owned()));
        }
        let empty = Value::Object(Default::default());
        let (lc, mut field) = lifecycle.unwrap_or((&empty, "Lifecycle".to_owned()));
        // Old-style lifecycle keyed by platform selection: {linux: {Run: …}} / {all: {…}}.
        let lc = match get(lc, current_os()).map(|l| (l, current_os())) {
            Some((l, key)) => {
                field = format!("{field}.{key}");
                l
            }
            None => match get(lc, "all") {
                Some(l) => {
                    field = format!("{field}.all");
                    l
                }
                None => lc,
            },
        };
        if !lc.is_object() {
            return Err(RecipeError::field(field, "expected a map"));
        }
        let (art, art_field) = match &manifest_artifacts {
            Some((a, f)) => (Some(*a), f.clone()),
            None => (None, String::new()),
        };
        let spec = ComponentSpec {
            name: recipe.name().to_owned(),
            version: recipe.version_or_default().to_owned(),
            recipe_path: recipe.path().map(Path::to_owned).unwrap_or_default(),
            configuration,
            setenv: str_map(get(lc, "Setenv"), &format!("{field}.Setenv"))?,
            install: step(get(lc, "Install"), &format!("{field}.Install"))?,
            startup: step(get(lc, "Startup"), &format!("{field}.Startup"))?,
            run: step(get(lc, "Run"), &format!("{field}.Run"))?,
            shutdown: step(get(lc, "Shutdown"), &format!("{field}.Shutdown"))?,
            recover: step(get(lc, "Recover"), &format!("{field}.Recover"))?,
            artifacts: artifacts(art, &art_field)?,
            project: None,
        };
        spec.check_variables()?;
        Ok(spec)
    }

    /// Every variable in every step must be known (bad placeholders are found before anything runs); the
    /// configuration pointers are checked at launch, against the configuration as deployed.
    fn check_variables(&self) -> Result<(), RecipeError> {
        let vars = Variables {
            configuration: self.configuration.clone(),
            configuration_at_launch: true,
            ..Default::default()
        };
        self.check_variables_with(&vars)
    }

    /// Every variable in every step must resolve with `vars` (the launch's values, the deployed configuration
    /// included); the error names the step.
    pub fn check_variables_with(&self, vars: &Variables) -> Result<(), RecipeError> {
        let err = |field: String, message: String| RecipeError::field(field, message);
        let steps = [
            &self.install,
            &self.startup,
            &self.run,
            &self.shutdown,
            &self.recover,
        ];
        for s in steps.into_iter().flatten() {
            let texts = std::iter::once((s.field.clone(), &s.script)).chain(
                s.setenv
                    .iter()
                    .map(|(k, v)| (format!("{}.Setenv.{k}", s.field), v)),
            );
            for (field, text) in texts {
                vars.try_substitute(text).map_err(|e| err(field, e))?;
            }
        }
        for (k, v) in &self.setenv {
            vars.try_substitute(v)
                .map_err(|e| err(format!("Setenv.{k}"), e))?;
        }
        Ok(())
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

/// The recipe of a project directory without `gdk-config.json`: `recipe.yaml`, `recipe.yml` or `recipe.json`.
fn project_recipe(dir: &Path) -> Result<PathBuf, String> {
    ["recipe.yaml", "recipe.yml", "recipe.json"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "{}: a directory given as a recipe must hold gdk-config.json or recipe.yaml/recipe.json",
                dir.display()
            )
        })
}

fn substitute_thing_name(v: &mut Value, thing: &str) {
    match v {
        Value::String(s) if s.contains("{iot:thingName}") => {
            *s = s.replace("{iot:thingName}", thing)
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute_thing_name(x, thing)),
        Value::Object(o) => {
            // Keys too: policy ids and topic keys may carry the variable.
            let entries: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
            for (k, mut val) in entries {
                substitute_thing_name(&mut val, thing);
                o.insert(k.replace("{iot:thingName}", thing), val);
            }
        }
        _ => {}
    }
}

/// A `{UPPER_CASE}` placeholder left in a GDK recipe (a misspelt one), with where it is.
fn find_placeholder(v: &Value, at: String) -> Option<(String, String)> {
    let in_text = |s: &str| -> Option<String> {
        let mut rest = s;
        while let Some(i) = rest.find('{') {
            let after = &rest[i + 1..];
            let end = after.find('}')?;
            let inner = &after[..end];
            // `${SHELL_VARIABLE}` in a script is the shell's.
            let shell = rest[..i].ends_with('$');
            if !shell
                && inner.len() > 1
                && inner.contains('_')
                && inner
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
            {
                return Some(format!("{{{inner}}}"));
            }
            rest = &after[end + 1..];
        }
        None
    };
    let join = |k: &str| {
        if at.is_empty() {
            k.to_owned()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Value::String(s) => in_text(s).map(|p| (at.clone(), p)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_placeholder(x, format!("{at}[{i}]"))),
        Value::Object(o) => o.iter().find_map(|(k, x)| {
            in_text(k)
                .map(|p| (join(k), p))
                .or_else(|| find_placeholder(x, join(k)))
        }),
        _ => None,
    }
}

/// A Greengrass Development Kit project: `gdk-config.json` at its root, the recipe (`recipe.yaml`/`recipe.json`)
/// beside it, build output under `greengrass-build/`.
///
/// ```json
/// {"component": {"com.example.Hello": {"author": "Me", "version": "1.0.0",
///     "build": {"build_system": "zip"}, "publish": {"bucket": "b", "region": "eu-west-1"}}},
///  "gdk_version": "1.3.0"}
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct GdkProject {
    pub dir: PathBuf,
    pub recipe: PathBuf,
    pub name: String,
    /// `version`, with `NEXT_PATCH` (known only when publishing) read as `0.0.0`.
    pub version: String,
    pub author: String,
    pub build_system: String,
    /// The zip build's archive name without `.zip` (`build.options.zip_name`, default: the directory's name).
    pub zip_name: String,
}

impl GdkProject {
    /// The project `path` is (a directory with `gdk-config.json`, that file itself, or a recipe beside it).
    pub fn find(path: &Path) -> Result<Option<GdkProject>, String> {
        let (dir, recipe) = if path.is_dir() {
            (path.to_owned(), None)
        } else if path.file_name().is_some_and(|f| f == "gdk-config.json") {
            (path.parent().map(Path::to_owned).unwrap_or_default(), None)
        } else {
            let dir = path.parent().map(Path::to_owned).unwrap_or_default();
            (dir, Some(path.to_owned()))
        };
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let config = dir.join("gdk-config.json");
        if !config.is_file() {
            return Ok(None);
        }
        let dir = crate::node::absolute(&dir)?;
        let recipe = match recipe {
            Some(r) => r,
            None => project_recipe(&dir)?,
        };
        let text = std::fs::read_to_string(&config)
            .map_err(|e| format!("{}: cannot read: {e}", config.display()))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: invalid JSON: {e}", config.display()))?;
        let err = |field: &str, msg: &str| format!("{}: {field}: {msg}", config.display());
        let components = doc
            .get("component")
            .and_then(Value::as_object)
            .ok_or_else(|| err("component", "expected a map of one component"))?;
        let mut it = components.iter();
        let (name, c) = match (it.next(), it.next()) {
            (Some(one), None) => one,
            _ => return Err(err("component", "expected exactly one component")),
        };
        let field = |k: &str| format!("component.{name}.{k}");
        let version = match c.get("version") {
            Some(Value::String(v)) if v == "NEXT_PATCH" => Recipe::DEFAULT_VERSION.to_owned(),
            Some(Value::String(v)) if !v.trim().is_empty() => v.clone(),
            _ => return Err(err(&field("version"), "expected a version or NEXT_PATCH")),
        };
        let author = c
            .get("author")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let build = c.get("build");
        let build_system = build
            .and_then(|b| b.get("build_system"))
            .and_then(Value::as_str)
            .unwrap_or("zip")
            .to_owned();
        let zip_name = build
            .and_then(|b| b.get("options"))
            .and_then(|o| o.get("zip_name"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                dir.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        Ok(Some(GdkProject {
            dir,
            recipe,
            name: name.clone(),
            version,
            author,
            build_system,
            zip_name,
        }))
    }

    /// Replaces the GDK placeholders everywhere in the recipe (keys too).
    pub fn substitute(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.substitute_str(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.substitute(x)),
            Value::Object(o) => {
                let entries: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
                for (k, mut val) in entries {
                    self.substitute(&mut val);
                    o.insert(self.substitute_str(&k), val);
                }
            }
            _ => {}
        }
    }

    fn substitute_str(&self, s: &str) -> String {
        s.replace("{COMPONENT_NAME}", &self.name)
            .replace("{COMPONENT_VERSION}", &self.version)
            .replace("{COMPONENT_AUTHOR}", &self.author)
    }

    /// Where built artifacts are: `greengrass-build/artifacts/<name>/<version>/`.
    pub fn build_artifacts(&self) -> PathBuf {
        self.dir
            .join("greengrass-build/artifacts")
            .join(&self.name)
            .join(&self.version)
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
    /// Accept any configuration pointer (the recipe is being loaded; the deployed configuration is known only
    /// at launch).
    pub configuration_at_launch: bool,
}

impl Variables {
    /// Replaces `{namespace:key}` occurrences; text that is not a variable stays as written.
    pub fn substitute(&self, s: &str) -> String {
        // Scripts are checked at load time, so what fails here was left as written.
        self.replace(s, false).unwrap_or_else(|_| s.to_owned())
    }

    /// Like [`Variables::substitute`], but a variable of a known namespace that does not resolve is an error.
    pub fn try_substitute(&self, s: &str) -> Result<String, String> {
        self.replace(s, true)
    }

    fn replace(&self, s: &str, strict: bool) -> Result<String, String> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let inner = &after[..end];
            match self.lookup(inner) {
                Lookup::Value(v) => out.push_str(&v),
                Lookup::Unknown(why) if strict => {
                    return Err(format!("bad recipe variable {{{inner}}}: {why}"))
                }
                Lookup::Unknown(_) | Lookup::NotAVariable => {
                    out.push('{');
                    out.push_str(inner);
                    out.push('}');
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup(&self, var: &str) -> Lookup {
        let Some((ns, key)) = var.split_once(':') else {
            return Lookup::NotAVariable;
        };
        let known = |keys: &str| Lookup::Unknown(format!("the {ns} namespace has {keys}"));
        match (ns, key) {
            ("artifacts", "path") => Lookup::Value(self.artifacts_path.display().to_string()),
            ("artifacts", "decompressedPath") => {
                Lookup::Value(self.decompressed_path.display().to_string())
            }
            ("artifacts", _) => known("path and decompressedPath"),
            ("work", "path") => Lookup::Value(self.work_path.display().to_string()),
            ("work", _) => known("path"),
            ("kernel", "rootPath") => Lookup::Value(self.root_path.display().to_string()),
            ("kernel", _) => known("rootPath"),
            ("iot", "thingName") => Lookup::Value(self.thing_name.clone()),
            ("iot", _) => known("thingName"),
            ("configuration", ptr) => match self.configuration.pointer(ptr) {
                Some(Value::String(s)) => Lookup::Value(s.clone()),
                Some(Value::Null) => Lookup::Value(String::new()),
                Some(other) => Lookup::Value(other.to_string()),
                None if self.configuration_at_launch => Lookup::Value(String::new()),
                None => Lookup::Unknown(format!(
                    "the component's configuration (DefaultConfiguration, kept and deployed updates) has nothing at {ptr:?}"
                )),
            },
            _ => Lookup::NotAVariable,
        }
    }
}

enum Lookup {
    Value(String),
    Unknown(String),
    NotAVariable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<ComponentSpec, RecipeError> {
        ComponentSpec::from_recipe(&Recipe::parse(text, false)?.with_path("r.yaml"))
    }

    #[test]
    fn picks_linux_manifest_and_parses_steps() {
        let spec = spec(
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
      Install: {Script: "make", Timeout: 30, RequiresPrivilege: true}
      Recover: "echo recovering"
      Run: "python3 -u {artifacts:path}/main.py {configuration:/topic} {configuration:/n} ${HOME:-x}"
    Artifacts:
      - URI: s3://bucket/com.example.X/1.0.0/code.zip
        Unarchive: ZIP
"#,
        )
        .unwrap();
        assert_eq!(spec.name, "com.example.X");
        assert_eq!(spec.setenv.get("A").unwrap(), "1");
        let install = spec.install.as_ref().unwrap();
        assert_eq!(install.timeout_secs, Some(30));
        assert!(install.requires_privilege);
        assert_eq!(install.field, "Manifests[1].Lifecycle.Install");
        assert_eq!(spec.recover.as_ref().unwrap().script, "echo recovering");
        assert_eq!(spec.artifacts.len(), 1);
        assert_eq!(spec.artifacts[0].file_name(), "code.zip");
        assert!(spec.artifacts[0].unzip);
        let vars = Variables {
            artifacts_path: "/art".into(),
            configuration: spec.configuration.clone(),
            ..Default::default()
        };
        assert_eq!(
            vars.substitute(&spec.run.unwrap().script),
            "python3 -u /art/main.py my/topic 3 ${HOME:-x}"
        );
        assert_eq!(vars.substitute("{unknown:x} {x}"), "{unknown:x} {x}");
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = spec(r#"{"ComponentName": "a", "Manifests": [{"Lifecycle": {"Run": 5}}]}"#)
            .unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("Manifests[0].Lifecycle.Run"),
            "{e}"
        );
        let e = spec("ComponentName: a\nLifecycle: {Run: {Script: x, Timeout: -1}}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Lifecycle.Run.Timeout"), "{e}");
        let e =
            spec("ComponentName: a\nLifecycle: {Run: {Script: x, SkipIf: sometimes}}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Lifecycle.Run.SkipIf"), "{e}");
    }

    #[test]
    fn bad_variables_are_refused_before_running() {
        let e = spec("ComponentName: a\nLifecycle: {Run: 'cat {artifacts:pth}/x'}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Lifecycle.Run"));
        assert!(e.message.contains("{artifacts:pth}"), "{e}");
        // A configuration pointer is checked at launch, against the configuration as deployed.
        let s = spec(
            "ComponentName: a\nComponentConfiguration: {DefaultConfiguration: {t: x}}\n\
             Lifecycle: {Install: {Script: 'echo {configuration:/topic}'}}",
        )
        .unwrap();
        let mut vars = Variables {
            configuration: s.configuration.clone(),
            ..Default::default()
        };
        let e = s.check_variables_with(&vars).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("Lifecycle.Install"));
        assert!(e.message.contains("\"/topic\""), "{e}");
        vars.configuration = serde_json::json!({"t": "x", "topic": "deployed/topic"});
        s.check_variables_with(&vars).unwrap();
        assert_eq!(
            vars.substitute("echo {configuration:/topic}"),
            "echo deployed/topic"
        );
    }

    #[test]
    fn the_core_decides_names_and_versions() {
        // A blank name is refused by the core's rule; a missing version is the core's default.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.yaml");
        std::fs::write(&p, "ComponentName: '  '\nLifecycle: {Run: x}").unwrap();
        let e = ComponentSpec::load(&p, "t").unwrap_err();
        assert!(
            e.contains("r.yaml: ComponentName: expected a non-empty"),
            "{e}"
        );
        std::fs::write(&p, "ComponentName: a\nLifecycle: {Run: x}").unwrap();
        let (r, s) = ComponentSpec::load(&p, "t").unwrap();
        assert_eq!(s.version, r.version_or_default());
        assert_eq!(s.version, Recipe::DEFAULT_VERSION);
        // JSON in a .yaml file: the core's detection, JSON's message.
        std::fs::write(&p, "{\"ComponentName\": \"a\",,}").unwrap();
        let e = ComponentSpec::load(&p, "t").unwrap_err();
        assert!(e.contains("r.yaml: invalid JSON"), "{e}");
    }

    #[test]
    fn gdk_placeholders_and_misspelt_ones() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("hello");
        std::fs::create_dir(&proj).unwrap();
        std::fs::write(
            proj.join("gdk-config.json"),
            r#"{"component": {"com.example.Hello": {"author": "Me", "version": "NEXT_PATCH",
               "build": {"build_system": "zip"}, "publish": {"bucket": "b", "region": "r"}}},
               "gdk_version": "1.3.0"}"#,
        )
        .unwrap();
        std::fs::write(
            proj.join("recipe.yaml"),
            "ComponentName: '{COMPONENT_NAME}'\nComponentVersion: '{COMPONENT_VERSION}'\n\
             ComponentPublisher: '{COMPONENT_AUTHOR}'\nManifests:\n  - Lifecycle: {Run: 'python3 main.py'}\n\
             \x20   Artifacts:\n      - URI: 's3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/hello.zip'\n\
             \x20       Unarchive: ZIP\n",
        )
        .unwrap();
        let (r, s) = ComponentSpec::load(&proj, "t").unwrap();
        assert_eq!(
            (r.name(), s.version.as_str()),
            ("com.example.Hello", "0.0.0")
        );
        let p = s.project.unwrap();
        assert_eq!((p.zip_name.as_str(), p.author.as_str()), ("hello", "Me"));
        assert_eq!(s.artifacts[0].file_name(), "hello.zip");
        std::fs::write(
            proj.join("recipe.yaml"),
            "ComponentName: '{COMPONENT_NAME}'\nComponentVersion: '{COMPONENT_VERSON}'\n",
        )
        .unwrap();
        let e = ComponentSpec::load(&proj.join("gdk-config.json"), "t").unwrap_err();
        assert!(
            e.contains("recipe.yaml: ComponentVersion: unknown GDK placeholder {COMPONENT_VERSON}"),
            "{e}"
        );
    }
}
