//! Component recipes (JSON or YAML): the component's name and version, its default configuration and its
//! `accessControl` policies. The whole document stays available ([`Recipe::raw`]) for launchers.

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

impl Recipe {
    /// Reads and parses a recipe file; `.json` is JSON, anything else is tried as YAML (a superset of JSON).
    pub fn load(path: impl AsRef<Path>) -> Result<Recipe, RecipeError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| RecipeError {
            file: Some(path.to_path_buf()),
            field: None,
            message: format!("cannot read: {e}"),
        })?;
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let mut r = Recipe::parse(&text, json).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })?;
        r.path = Some(path.to_path_buf());
        Ok(r)
    }

    /// Parses recipe text (JSON when `json`, else YAML).
    pub fn parse(text: &str, json: bool) -> Result<Recipe, RecipeError> {
        let err = |field: Option<&str>, message: String| RecipeError {
            file: None,
            field: field.map(str::to_string),
            message,
        };
        let raw: Value = if json {
            serde_json::from_str(text).map_err(|e| err(None, format!("invalid JSON: {e}")))?
        } else {
            serde_norway::from_str(text).map_err(|e| err(None, format!("invalid YAML: {e}")))?
        };
        Recipe::from_value(raw)
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
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(err(
                    "ComponentVersion",
                    format!("expected a string, found {other}"),
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

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
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
}
