//! GetConfiguration and UpdateState, with the Java nucleus' answers.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::Fixture;
use ggipc::model::*;
use ggipc::server::Recipe;
use ggipc::ErrorKind;
use serde_json::json;

fn recipe(name: &str) -> Recipe {
    Recipe::from_value(json!({
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {
            "rate": 5,
            "sensor": {"topic": "s/1", "thresholds": {"high": 30.5}},
            "tags": ["a", "b"]
        }}
    }))
    .unwrap()
}

fn get(component: Option<&str>, path: &[&str]) -> GetConfigurationRequest {
    GetConfigurationRequest {
        component_name: component.map(str::to_string),
        key_path: (!path.is_empty()).then(|| path.iter().map(|s| s.to_string()).collect()),
    }
}

#[tokio::test]
async fn configuration_is_read_as_the_nucleus_answers() {
    let fx = Fixture::start().await;
    let token = fx.server.register_recipe(&recipe("com.example.A"));
    fx.server.register_recipe(&recipe("com.example.B"));
    let c = fx.client(&token).await;
    let all = c.get_configuration(get(None, &[])).await.unwrap();
    assert_eq!(all.component_name.as_deref(), Some("com.example.A"));
    assert_eq!(all.value.as_ref().unwrap()["sensor"]["topic"], json!("s/1"));
    // A path ending at a value answers {"<key>": value}; at an object, the object.
    let leaf = c
        .get_configuration(get(None, &["sensor", "topic"]))
        .await
        .unwrap();
    assert_eq!(leaf.value, Some(json!({"topic": "s/1"})));
    let list = c.get_configuration(get(None, &["tags"])).await.unwrap();
    assert_eq!(list.value, Some(json!({"tags": ["a", "b"]})));
    let obj = c
        .get_configuration(get(None, &["sensor", "thresholds"]))
        .await
        .unwrap();
    assert_eq!(obj.value, Some(json!({"high": 30.5})));
    // Another component's configuration.
    let other = c
        .get_configuration(get(Some("com.example.B"), &["rate"]))
        .await
        .unwrap();
    assert_eq!(other.component_name.as_deref(), Some("com.example.B"));
    assert_eq!(other.value, Some(json!({"rate": 5})));
    // What a tool sets is what components read.
    fx.server
        .set_configuration("com.example.B", json!({"rate": 7}));
    let other = c
        .get_configuration(get(Some("com.example.B"), &["rate"]))
        .await
        .unwrap();
    assert_eq!(other.value, Some(json!({"rate": 7})));
    for (component, path) in [
        (Some("no.Such"), vec![]),
        (None, vec!["missing"]),
        (None, vec!["rate", "deeper"]),
    ] {
        let e = c
            .get_configuration(get(component, &path))
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::ResourceNotFoundError, "Key not found"),
            "{path:?}"
        );
    }
}

#[tokio::test]
async fn reported_states_are_recorded_and_followed() {
    let fx = Fixture::start().await;
    let token = fx.server.register_recipe(&recipe("com.example.S"));
    let c = fx.client(&token).await;
    let mut reports = fx.server.reported_states();
    assert_eq!(fx.server.reported_state("com.example.S"), None);
    for state in [
        ReportedLifecycleState::Running,
        ReportedLifecycleState::Errored,
    ] {
        c.update_state(UpdateStateRequest { state: Some(state) })
            .await
            .unwrap();
        assert_eq!(fx.server.reported_state("com.example.S"), Some(state));
        assert_eq!(
            reports.recv().await.unwrap(),
            ("com.example.S".to_string(), state)
        );
    }
    let e = c
        .update_state(UpdateStateRequest { state: None })
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::InvalidArgumentsError, "State is required")
    );
    let e = c
        .call(
            &UPDATE_STATE,
            bytes::Bytes::from_static(br#"{"state": "SLEEPING"}"#),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::InvalidArgumentsError,
            "Invalid ReportedLifecycleState value: SLEEPING"
        )
    );
}
