//! Example component that lives by its configuration and its deployments (ggipc, Rust client):
//!
//! * reports RUNNING (UpdateState),
//! * reads its `threshold` (GetConfiguration of a key path),
//! * records when it started under `status/lastStart` (UpdateConfiguration, with a timestamp),
//! * prints every configuration change with its new value (SubscribeToConfigurationUpdate),
//! * defers a deployment while it is busy (while the file its `lockFile` setting names exists in its work
//!   directory) and lets it go ahead otherwise (SubscribeToComponentUpdates, DeferComponentUpdate).
//!
//! Run it as a component: `ggipc run --command com.example.ConfigLifecycleRust=<this program>
//! examples/recipes/com.example.ConfigLifecycleRust.yaml`.
#![allow(clippy::unwrap_used)] // an example fails loudly on the first unexpected error

use std::time::SystemTime;

use ggipc::model::{
    ComponentUpdatePolicyEvents, ConfigurationUpdateEvents, DeferComponentUpdateRequest,
    GetConfigurationRequest, ReportedLifecycleState, SubscribeToConfigurationUpdateRequest,
    UpdateConfigurationRequest, UpdateStateRequest,
};
use ggipc::{Client, SubscriptionEvent};
use serde_json::{json, Value};

const DEFER_MS: i64 = 2000;

/// The value at a key path: a leaf's value, or the object there.
async fn value(client: &Client, key_path: &[String]) -> ggipc::Result<Value> {
    let response = client
        .get_configuration(GetConfigurationRequest {
            component_name: None,
            key_path: Some(key_path.to_vec()),
        })
        .await?;
    let v = response.value.unwrap_or_default();
    Ok(match key_path.last() {
        Some(last) if v.get(last).is_some() && v.as_object().is_some_and(|o| o.len() == 1) => {
            v[last].clone()
        }
        _ => v,
    })
}

fn path(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let client = Client::connect().await.unwrap();

    client
        .update_state(UpdateStateRequest {
            state: Some(ReportedLifecycleState::Running),
        })
        .await
        .unwrap();
    println!("Reported state RUNNING");

    let threshold = value(&client, &path(&["threshold"])).await.unwrap();
    println!("threshold: {threshold}");

    let started = SystemTime::now();
    let seconds = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    client
        .update_configuration(UpdateConfigurationRequest {
            key_path: Some(path(&["status"])),
            timestamp: Some(started),
            value_to_merge: Some(json!({ "lastStart": format!("{seconds} s after the epoch") })),
        })
        .await
        .unwrap();
    println!("Updated status/lastStart");

    let mut changes = client
        .subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest {
            component_name: None,
            key_path: Some(Vec::new()),
        })
        .await
        .unwrap();
    let mut updates = client
        .subscribe_to_component_updates(Default::default())
        .await
        .unwrap();
    println!("Waiting for configuration changes and deployments");

    loop {
        // until the nucleus stops the component
        tokio::select! {
            event = changes.next() => match event {
                Some(SubscriptionEvent::Message(e)) => on_change(&client, e).await,
                Some(SubscriptionEvent::Closed(e)) => {
                    eprintln!("configuration stream closed: {e:?}");
                    break;
                }
                Some(_) => {}
                None => break,
            },
            event = updates.next() => match event {
                Some(SubscriptionEvent::Message(e)) => on_update(&client, e).await,
                Some(SubscriptionEvent::Closed(e)) => {
                    eprintln!("component update stream closed: {e:?}");
                    break;
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    client.close().await;
}

async fn on_change(client: &Client, event: ConfigurationUpdateEvents) {
    let Some(key_path) = event.configuration_update_event.and_then(|e| e.key_path) else {
        return;
    };
    match value(client, &key_path).await {
        Ok(v) => println!("Configuration changed: {} = {v}", key_path.join("/")),
        Err(e) => println!("Configuration changed: {} ({e})", key_path.join("/")),
    }
}

async fn on_update(client: &Client, event: ComponentUpdatePolicyEvents) {
    if let Some(pre) = event.pre_update_event {
        let deployment = pre.deployment_id.unwrap_or_default();
        let lock_file = value(client, &path(&["lockFile"])).await.unwrap();
        let busy = std::path::Path::new(lock_file.as_str().unwrap_or_default()).exists();
        client
            .defer_component_update(DeferComponentUpdateRequest {
                deployment_id: Some(deployment.clone()),
                message: busy.then(|| "busy".to_string()),
                recheck_after_ms: Some(if busy { DEFER_MS } else { 0 }),
            })
            .await
            .unwrap();
        if busy {
            println!("Deferred deployment {deployment} by {DEFER_MS} ms");
        } else {
            println!("Acknowledged deployment {deployment}");
        }
    } else if let Some(post) = event.post_update_event {
        println!(
            "Deployment {} applied",
            post.deployment_id.unwrap_or_default()
        );
    }
}
