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

fn update(
    path: &[&str],
    value: serde_json::Value,
    at: std::time::SystemTime,
) -> UpdateConfigurationRequest {
    UpdateConfigurationRequest {
        key_path: (!path.is_empty()).then(|| path.iter().map(|s| s.to_string()).collect()),
        timestamp: Some(at),
        value_to_merge: Some(value),
    }
}

async fn next_path(sub: &mut ggipc::Subscription<ConfigurationUpdateEvents>) -> Vec<String> {
    match tokio::time::timeout(std::time::Duration::from_secs(5), sub.next()).await {
        Ok(Some(ggipc::SubscriptionEvent::Message(e))) => {
            let e = e.configuration_update_event.unwrap();
            assert_eq!(e.component_name.as_deref(), Some("com.example.U"));
            e.key_path.unwrap()
        }
        other => panic!("expected a configuration event, got {other:?}"),
    }
}

#[tokio::test]
async fn updates_merge_with_timestamps_and_tell_the_watchers() {
    use std::time::{Duration, SystemTime};
    let fx = Fixture::start().await;
    let token = fx.server.register_recipe(&recipe("com.example.U"));
    let c = fx.client(&token).await;
    let mut all = c
        .subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest::default())
        .await
        .unwrap();
    let mut sensor = c
        .subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest {
            component_name: None,
            key_path: Some(vec!["sensor".into()]),
        })
        .await
        .unwrap();
    let t1 = SystemTime::now() + Duration::from_secs(1);
    c.update_configuration(update(
        &["sensor"],
        json!({"topic": "s/2", "thresholds": {"low": 1}}),
        t1,
    ))
    .await
    .unwrap();
    let got = c
        .get_configuration(get(None, &["sensor"]))
        .await
        .unwrap()
        .value
        .unwrap();
    assert_eq!(
        got,
        json!({"topic": "s/2", "thresholds": {"high": 30.5, "low": 1}})
    );
    // One event per changed value, with its path, to each watcher of a path above it.
    let mut seen = vec![next_path(&mut all).await, next_path(&mut all).await];
    seen.sort();
    assert_eq!(
        seen,
        vec![vec!["sensor", "thresholds", "low"], vec!["sensor", "topic"]]
    );
    let mut seen = vec![next_path(&mut sensor).await, next_path(&mut sensor).await];
    seen.sort();
    assert_eq!(
        seen,
        vec![vec!["sensor", "thresholds", "low"], vec!["sensor", "topic"]]
    );
    // An update that changes nothing sends nothing; the next change is the next event.
    c.update_configuration(update(&[], json!({"rate": 5}), t1))
        .await
        .unwrap();
    c.update_configuration(update(&[], json!({"rate": 6}), t1))
        .await
        .unwrap();
    assert_eq!(next_path(&mut all).await, vec!["rate"]);
    // An older timestamp is refused, with the nucleus' error.
    let e = c
        .update_configuration(update(
            &["sensor"],
            json!({"topic": "old"}),
            t1 - Duration::from_secs(60),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::FailedUpdateConditionCheckError,
            "Proposed timestamp is older than the config's latest modified timestamp"
        )
    );
    assert_eq!(
        c.get_configuration(get(None, &["sensor", "topic"]))
            .await
            .unwrap()
            .value,
        Some(json!({"topic": "s/2"}))
    );
    // A new key path is created.
    c.update_configuration(update(&["new", "deep"], json!({"x": true}), t1))
        .await
        .unwrap();
    assert_eq!(
        c.get_configuration(get(None, &["new", "deep", "x"]))
            .await
            .unwrap()
            .value,
        Some(json!({"x": true}))
    );
    // Tools change it the same way, and watchers hear it.
    fx.server
        .update_configuration(
            "com.example.U",
            &["sensor".into()],
            json!({"topic": "s/9"}).as_object().unwrap().clone(),
        )
        .unwrap();
    loop {
        if next_path(&mut sensor).await == vec!["sensor", "topic"] {
            break;
        }
    }
}

#[tokio::test]
async fn bad_updates_get_the_nucleus_answers() {
    let fx = Fixture::start().await;
    let token = fx.server.register_recipe(&recipe("com.example.U"));
    let c = fx.client(&token).await;
    let now = std::time::SystemTime::now();
    let cases: Vec<(UpdateConfigurationRequest, ErrorKind, &str)> = vec![
        (
            UpdateConfigurationRequest {
                timestamp: None,
                ..update(&[], json!({"a": 1}), now)
            },
            ErrorKind::InvalidArgumentsError,
            "Timestamp is required",
        ),
        (
            UpdateConfigurationRequest {
                value_to_merge: None,
                ..update(&[], json!({}), now)
            },
            ErrorKind::InvalidArgumentsError,
            "ValueToMerge is required",
        ),
        (
            update(&[], json!({"accessControl": {}}), now),
            ErrorKind::InvalidArgumentsError,
            "Config update is not allowed for following fields [accessControl]",
        ),
        (
            update(&["accessControl", "x"], json!({"a": 1}), now),
            ErrorKind::InvalidArgumentsError,
            "Config update is not allowed for following fields [accessControl]",
        ),
        (
            update(&[], json!([1]), now),
            ErrorKind::InvalidArgumentsError,
            "ValueToMerge must be a JSON object",
        ),
    ];
    for (req, kind, message) in cases {
        let e = c.update_configuration(req).await.unwrap_err();
        assert_eq!((e.kind(), e.message()), (kind, message));
    }
    let e = c
        .subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest {
            component_name: Some("no.Such".into()),
            key_path: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::ResourceNotFoundError, "Key not found")
    );
    let e = c
        .subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest {
            component_name: None,
            key_path: Some(vec!["missing".into()]),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResourceNotFoundError);
}
