//! What the server keeps of configurations: the size bound, the numbers-as-doubles switch, and the exported
//! form an owner stores across restarts.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::Fixture;
use ggipc::model::*;
use ggipc::server::Recipe;
use ggipc::ErrorKind;
use serde_json::json;
use std::time::{Duration, SystemTime};

fn recipe(name: &str) -> Recipe {
    Recipe::from_value(json!({
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentConfiguration": {"DefaultConfiguration": {"rate": 5, "name": "x"}}
    }))
    .unwrap()
}

fn update(value: serde_json::Value, at: SystemTime) -> UpdateConfigurationRequest {
    UpdateConfigurationRequest {
        key_path: None,
        timestamp: Some(at),
        value_to_merge: Some(value),
    }
}

async fn read(c: &ggipc::Client) -> serde_json::Value {
    c.get_configuration(GetConfigurationRequest::default())
        .await
        .unwrap()
        .value
        .unwrap()
}

#[tokio::test]
async fn an_update_beyond_the_size_bound_is_refused_and_changes_nothing() {
    let fx = Fixture::start_with(|c| c.max_configuration_bytes = 200).await;
    let token = fx.server.register_recipe(&recipe("com.example.A"));
    let c = fx.client(&token).await;
    let mut changes = fx.server.configuration_changes();
    let now = SystemTime::now();
    c.update_configuration(update(json!({"small": "y"}), now))
        .await
        .unwrap();
    assert_eq!(changes.recv().await.unwrap(), "com.example.A");
    let e = c
        .update_configuration(update(json!({"big": "z".repeat(300), "rate": 6}), now))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgumentsError);
    assert!(
        e.message()
            .starts_with("Configuration of com.example.A would be ")
            && e.message()
                .ends_with(" bytes, more than the limit of 200 bytes"),
        "{}",
        e.message()
    );
    // Nothing of the refused update was kept.
    assert_eq!(
        read(&c).await,
        json!({"rate": 5, "name": "x", "small": "y"})
    );
    assert!(changes.try_recv().is_err());
    // The tool path has the same bound.
    let e = fx
        .server
        .update_configuration(
            "com.example.A",
            &[],
            json!({"big": "z".repeat(300)}).as_object().unwrap().clone(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgumentsError);
}

#[tokio::test]
async fn numbers_are_kept_as_sent_unless_the_nucleus_doubles_are_asked_for() {
    for (doubles, want) in [(false, "5"), (true, "5.0")] {
        let fx = Fixture::start_with(|c| c.configuration_numbers_as_doubles = doubles).await;
        let token = fx.server.register_recipe(&recipe("com.example.A"));
        let c = fx.client(&token).await;
        c.update_configuration(update(json!({"n": 5, "list": [1, 2.5]}), SystemTime::now()))
            .await
            .unwrap();
        let v = read(&c).await;
        assert_eq!(v["n"].to_string(), want, "doubles={doubles}");
        assert_eq!(
            v["list"].to_string(),
            if doubles { "[1.0,2.5]" } else { "[1,2.5]" }
        );
        // The recipe's defaults are not touched by the switch.
        assert_eq!(v["rate"].to_string(), "5");
    }
}

#[tokio::test]
async fn an_exported_configuration_restores_values_and_timestamps() {
    let fx = Fixture::start().await;
    let token = fx.server.register_recipe(&recipe("com.example.A"));
    let c = fx.client(&token).await;
    let later = SystemTime::now() + Duration::from_secs(3600);
    c.update_configuration(update(json!({"rate": 9}), later))
        .await
        .unwrap();
    let stored = fx.server.export_configuration("com.example.A").unwrap();
    assert_eq!(stored["configuration"], json!({"rate": 9, "name": "x"}));

    // A second server (the nucleus after a restart) gets it back, with the key's time.
    let mut fx2 = Fixture::start().await;
    let token2 = fx2.server.register_recipe(&recipe("com.example.A"));
    fx2.server
        .restore_configuration("com.example.A", &stored)
        .unwrap();
    let c2 = fx2.client(&token2).await;
    assert_eq!(read(&c2).await, json!({"rate": 9, "name": "x"}));
    let e = c2
        .update_configuration(update(json!({"rate": 1}), SystemTime::now()))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::FailedUpdateConditionCheckError,
            "Proposed timestamp is older than the config's latest modified timestamp"
        )
    );
    for bad in [
        json!({"configuration": 5}),
        json!({"modified": []}),
        json!("x"),
    ] {
        assert!(fx2
            .server
            .restore_configuration("com.example.A", &bad)
            .is_err());
    }
    fx2.stop().await;
}

#[tokio::test]
async fn the_default_bound_is_10_mb() {
    // With the server's defaults: 6 MB fits, another 6 MB would pass 10 MB and is refused, the first kept.
    let fx = Fixture::start().await;
    let token = fx.server.register_recipe(&recipe("com.example.A"));
    let c = fx.client(&token).await;
    let six_mb = "x".repeat(6_000_000);
    let now = SystemTime::now();
    c.update_configuration(update(json!({"first": six_mb}), now))
        .await
        .unwrap();
    let e = c
        .update_configuration(update(json!({"second": six_mb}), now))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgumentsError);
    assert!(
        e.message()
            .ends_with(" bytes, more than the limit of 10000000 bytes"),
        "{}",
        e.message()
    );
    let whole = read(&c).await;
    assert_eq!(whole["first"].as_str().map(str::len), Some(6_000_000));
    assert!(whole.get("second").is_none());
}
