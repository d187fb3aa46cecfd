//! Component recipes (JSON or YAML): the component's name and version, its default configuration and its
//! `accessControl` policies. The whole document stays available ([`Recipe::raw`]) for launchers, which read their
//! lifecycle from it; this module is the one place that decides how a recipe file is read and what a valid name
//! and version are.
//!
//! Rules:
//! - format: a `.json` file, or text whose first non-blank character is `{`, is JSON (with JSON's error messages);
//!   anything else is YAML;
//! - keys are matched ignoring ASCII case, as the nucleus does;
//! - `ComponentName` is required and must not be blank;
//! - `ComponentVersion` is optional (a local recipe may leave it out; [`Recipe::version_or_default`] is then
//!   [`Recipe::DEFAULT_VERSION`]); when present it is a non-blank string or a number (YAML's `1.0`).

use super::policy::{AccessControl, PolicyError};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// A recipe that cannot be used, naming the file and the field.
#[derive(Debug)]
pub struct RecipeError {
    pub file: Option<PathBuf>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecipeError {}

impl RecipeError {
    /// An error about `field` (a dotted path such as `Manifests[0].Lifecycle.Run`).
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> RecipeError {
        RecipeError {
            file: None,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Names the file, unless the error already names one.
    pub fn in_file(mut self, path: &Path) -> RecipeError {
        if self.file.is_none() {
            self.file = Some(path.to_path_buf());
        }
        self
    }
}

/// A parsed recipe.
#[derive(Clone, Debug)]
pub struct Recipe {
    name: String,
    version: Option<String>,
    access_control: AccessControl,
    raw: Value,
    path: Option<PathBuf>,
}

/// Looks up `key` in an object ignoring ASCII case, as the nucleus reads recipes.
pub fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Whether recipe text is JSON: a `.json` file, or text starting with `{` (else YAML).
pub fn is_json(path: Option<&Path>, text: &str) -> bool {
    path.and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{')
}

impl Recipe {
    /// The version of a recipe without `ComponentVersion`.
    pub const DEFAULT_VERSION: &'static str = "0.0.0";

    /// Reads and parses a recipe file.
    pub fn load(path: impl AsRef<Path>) -> Result<Recipe, RecipeError> {
        let path = path.as_ref();
        let raw = Recipe::read_document(path)?;
        Ok(Recipe::from_value(raw)
            .map_err(|e| e.in_file(path))?
            .with_path(path))
    }

    /// Reads a recipe file into a document without validating it, for launchers that rewrite it first
    /// (placeholders, `{iot:thingName}`) and then call [`Recipe::from_value`] and [`Recipe::with_path`].
    pub fn read_document(path: &Path) -> Result<Value, RecipeError> {
        let text = std::fs::read_to_string(path).map_err(|e| RecipeError {
            file: Some(path.to_path_buf()),
            field: None,
            message: format!("cannot read: {e}"),
        })?;
        Recipe::parse_document(&text, is_json(Some(path), &text)).map_err(|e| e.in_file(path))
    }

    /// Parses recipe text (JSON when `json`, else YAML).
    pub fn parse(text: &str, json: bool) -> Result<Recipe, RecipeError> {
        Recipe::from_value(Recipe::parse_document(text, json)?)
    }

    fn parse_document(text: &str, json: bool) -> Result<Value, RecipeError> {
        let err = |message: String| RecipeError {
            file: None,
            field: None,
            message,
        };
        if json {
            serde_json::from_str(text).map_err(|e| err(format!("invalid JSON: {e}")))
        } else {
            serde_norway::from_str(text).map_err(|e| err(format!("invalid YAML: {e}")))
        }
    }

    /// Records the file the recipe came from.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Recipe {
        self.path = Some(path.into());
        self
    }

    /// Builds a recipe from an already parsed document.
    pub fn from_value(raw: Value) -> Result<Recipe, RecipeError> {
        let err = |field: &str, message: String| RecipeError {
            file: None,
            field: Some(field.into()),
            message,
        };
        if !raw.is_object() {
            return Err(RecipeError {
                file: None,
                field: None,
                message: "a recipe must be a mapping".into(),
            });
        }
        let name = match get_ci(&raw, "ComponentName") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(other) => {
                return Err(err(
                    "ComponentName",
                    format!("expected a non-empty string, found {other}"),
                ))
            }
            None => return Err(err("ComponentName", "missing".into())),
        };
        let version = match get_ci(&raw, "ComponentVersion") {
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(err(
                    "ComponentVersion",
                    format!("expected a non-empty string, found {other}"),
                ))
            }
        };
        let field = "ComponentConfiguration.DefaultConfiguration.accessControl";
        let access_control =
            match Self::default_configuration_of(&raw).and_then(|c| get_ci(c, "accessControl")) {
                Some(ac) => AccessControl::from_json(ac, field)
                    .map_err(|PolicyError { field, message }| err(&field, message))?,
                None => AccessControl::default(),
            };
        Ok(Recipe {
            name,
            version,
            access_control,
            raw,
            path: None,
        })
    }

    fn default_configuration_of(raw: &Value) -> Option<&Value> {
        get_ci(raw, "ComponentConfiguration").and_then(|c| get_ci(c, "DefaultConfiguration"))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ComponentVersion` as written, if any.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// `ComponentVersion`, or [`Recipe::DEFAULT_VERSION`] when the recipe has none.
    pub fn version_or_default(&self) -> &str {
        self.version.as_deref().unwrap_or(Self::DEFAULT_VERSION)
    }

    pub fn access_control(&self) -> &AccessControl {
        &self.access_control
    }

    /// `ComponentConfiguration.DefaultConfiguration`, if any.
    pub fn default_configuration(&self) -> Option<&Value> {
        Self::default_configuration_of(&self.raw)
    }

    /// The whole recipe document.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The file the recipe was loaded from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
RecipeFormatVersion: '2020-01-25'
ComponentName: com.example.IoTCorePublisherCpp
ComponentVersion: 1.0.0
ComponentConfiguration:
  DefaultConfiguration:
    accessControl:
      aws.greengrass.ipc.mqttproxy:
        com.example.IoTCorePublisherCpp:mqttproxy:1:
          policyDescription: Allows access to publish to all topics.
          operations:
            - aws.greengrass#PublishToIoTCore
          resources:
            - "*"
Manifests:
  - Lifecycle:
      Run: "{artifacts:path}/greengrassv2_iotcore_publisher"
"#;

    #[test]
    fn yaml_and_json_recipes_agree() {
        let y = Recipe::parse(YAML, false).unwrap();
        assert_eq!(y.name(), "com.example.IoTCorePublisherCpp");
        assert_eq!(y.version(), Some("1.0.0"));
        assert_eq!(y.access_control().policies.len(), 1);
        let j = Recipe::parse(&serde_json::to_string(y.raw()).unwrap(), true).unwrap();
        assert_eq!(j.access_control(), y.access_control());
        assert!(y.access_control().is_authorized(
            "aws.greengrass.ipc.mqttproxy",
            "aws.greengrass#PublishToIoTCore",
            "any/topic",
            false,
            Default::default()
        ));
    }

    #[test]
    fn errors_name_the_field() {
        let e = Recipe::parse("ComponentVersion: 1.0.0", false).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("ComponentName"));
        let e = Recipe::parse(
            r#"{"ComponentName":"x","ComponentConfiguration":{"DefaultConfiguration":{"accessControl":{"aws.greengrass.ipc.mqttproxy":{"p":{"operations":"*","resources":[1]}}}}}}"#,
            true,
        )
        .unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("ComponentConfiguration.DefaultConfiguration.accessControl.aws.greengrass.ipc.mqttproxy.p.resources[0]")
        );
        assert!(Recipe::parse("{", true)
            .unwrap_err()
            .message
            .starts_with("invalid JSON"));
        let dir = tempfile::tempdir().unwrap();
        let e = Recipe::load(dir.path().join("missing.yaml")).unwrap_err();
        assert!(e.to_string().contains("missing.yaml: cannot read"));
    }

    // The cases on which the core and the launcher used to disagree.

    #[test]
    fn blank_names_and_versions_are_refused() {
        for text in [
            "ComponentName: '   '",
            "ComponentName: ''",
            "ComponentName: 5",
        ] {
            let e = Recipe::parse(text, false).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("ComponentName"), "{text}");
        }
        let e = Recipe::parse("ComponentName: a\nComponentVersion: ' '", false).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("ComponentVersion"));
        assert!(e.message.contains("non-empty"), "{e}");
    }

    #[test]
    fn a_missing_version_is_the_default_version() {
        let r = Recipe::parse("ComponentName: a", false).unwrap();
        assert_eq!(r.version(), None);
        assert_eq!(r.version_or_default(), Recipe::DEFAULT_VERSION);
        let r = Recipe::parse("ComponentName: a\nComponentVersion: 1.5", false).unwrap();
        assert_eq!(r.version_or_default(), "1.5");
    }

    #[test]
    fn json_is_detected_by_extension_or_content() {
        assert!(is_json(Some(Path::new("r.JSON")), "ComponentName: a"));
        assert!(is_json(
            Some(Path::new("r.yaml")),
            "  \n{\"ComponentName\": \"a\"}"
        ));
        assert!(!is_json(Some(Path::new("r.yaml")), "ComponentName: a"));
        assert!(!is_json(None, "ComponentName: a"));
        // A JSON document in a .yaml file gets JSON's message.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.yaml");
        std::fs::write(&p, "{\"ComponentName\": \"a\",}").unwrap();
        let e = Recipe::load(&p).unwrap_err();
        assert!(e.to_string().contains("r.yaml: invalid JSON"), "{e}");
        std::fs::write(&p, "{\"ComponentName\": \"a\"}").unwrap();
        let r = Recipe::load(&p).unwrap();
        assert_eq!((r.name(), r.path()), ("a", Some(p.as_path())));
    }
}
