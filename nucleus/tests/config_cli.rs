//! `ggipc run --config-update`, `ggipc config get|set|reset` and `ggipc deploy --simulate` against a running
//! nucleus, with a component (this test, through the Rust client) validating, watching and deferring.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::{write_recipe, Proc};
use ggipc::model::*;
use ggipc::SubscriptionEvent;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn client(root: &Path, component: &str) -> ggipc::Client {
    let reg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("components.json")).unwrap()).unwrap();
    ggipc::Client::builder()
        .socket_path(reg["socketPath"].as_str().unwrap())
        .auth_token(reg["components"][component]["svcuid"].as_str().unwrap())
        .connect()
        .await
        .unwrap()
}

/// Runs `ggipc ARGS…`; returns (exit code, stdout + stderr).
fn ggipc(args: &[&str]) -> tokio::task::JoinHandle<(Option<i32>, String)> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::spawn(async move {
        let out = tokio::time::timeout(
            WAIT,
            tokio::process::Command::new(env!("CARGO_BIN_EXE_ggipc"))
                .args(&args)
                .output(),
        )
        .await
        .unwrap()
        .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    })
}

async fn next<T: ggipc::StreamEvent + std::fmt::Debug>(sub: &mut ggipc::Subscription<T>) -> T {
    match tokio::time::timeout(WAIT, sub.next()).await {
        Ok(Some(SubscriptionEvent::Message(m))) => m,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_tools_follow_the_deployment_flow() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let r = root.to_str().unwrap().to_owned();
    let recipe = write_recipe(
        dir.path(),
        "c.Component",
        &["PublishToIoTCore"],
        &["*"],
        Some("echo \"x={configuration:/x}\"; exec sleep 1000"),
    );
    let update = dir.path().join("update.yaml");
    std::fs::write(&update, "c.Component:\n  MERGE:\n    x: merged\n").unwrap();
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            &r,
            "--mqtt-port",
            "0",
            "--config-update",
            update.to_str().unwrap(),
            recipe.to_str().unwrap(),
        ],
        &[],
    );
    // The deployment's MERGE is what the recipe's variables and the component see.
    p.wait_line("[c.Component] x=merged", WAIT);
    let c = client(&root, "c.Component").await;

    // config set: the validator is asked first; accepted, the change is made and watchers are told.
    let mut validate = c
        .subscribe_to_validate_configuration_updates(Default::default())
        .await
        .unwrap();
    let mut watch = c
        .subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest::default())
        .await
        .unwrap();
    let set = ggipc(&["config", "set", "--root", &r, "c.Component", "x", "\"v2\""]);
    let ev = next(&mut validate)
        .await
        .validate_configuration_update_event
        .unwrap();
    assert_eq!(ev.configuration.as_ref().unwrap()["x"], json!("v2"));
    c.send_configuration_validity_report(SendConfigurationValidityReportRequest {
        configuration_validity_report: Some(ConfigurationValidityReport {
            status: Some(ConfigurationValidityStatus::Accepted),
            deployment_id: ev.deployment_id.clone(),
            message: None,
        }),
    })
    .await
    .unwrap();
    let (code, out) = set.await.unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("c.Component accepted the configuration"),
        "{out}"
    );
    let changed = next(&mut watch).await.configuration_update_event.unwrap();
    assert_eq!(changed.key_path, Some(vec!["x".to_string()]));

    // Rejected: the caller is told why, nothing changes.
    let set = ggipc(&["config", "set", "--root", &r, "c.Component", "x", "\"bad\""]);
    let ev = next(&mut validate)
        .await
        .validate_configuration_update_event
        .unwrap();
    c.send_configuration_validity_report(SendConfigurationValidityReportRequest {
        configuration_validity_report: Some(ConfigurationValidityReport {
            status: Some(ConfigurationValidityStatus::Rejected),
            deployment_id: ev.deployment_id.clone(),
            message: Some("x must not be bad".into()),
        }),
    })
    .await
    .unwrap();
    let (code, out) = set.await.unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Components reported that their to-be-deployed configuration is invalid { name = c.Component, message = x must not be bad }"),
        "{out}"
    );
    let (code, out) = ggipc(&["config", "get", "--root", &r, "c.Component", "x"])
        .await
        .unwrap();
    assert_eq!((code, out.trim()), (Some(0), "\"v2\""));

    // No validator any more: reset goes straight to the recipe's default.
    drop(validate);
    let (code, out) = ggipc(&["config", "reset", "--root", &r, "c.Component", "x"])
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{out}");
    let changed = next(&mut watch).await.configuration_update_event.unwrap();
    assert_eq!(changed.key_path, Some(vec!["x".to_string()]));
    let v = c
        .get_configuration(GetConfigurationRequest {
            component_name: None,
            key_path: Some(vec!["x".into()]),
        })
        .await
        .unwrap();
    assert_eq!(v.value, Some(json!({"x": "config-value"})));

    // deploy --simulate: pre-update event, a deferral honoured (asked again after it), post-update event.
    let mut updates = c
        .subscribe_to_component_updates(Default::default())
        .await
        .unwrap();
    let deploy = ggipc(&["deploy", "--simulate", "--root", &r, "c.Component"]);
    let pre = next(&mut updates).await.pre_update_event.unwrap();
    c.defer_component_update(DeferComponentUpdateRequest {
        deployment_id: pre.deployment_id.clone(),
        message: Some("busy".into()),
        recheck_after_ms: Some(200),
    })
    .await
    .unwrap();
    let again = next(&mut updates).await.pre_update_event.unwrap();
    assert_eq!(again.deployment_id, pre.deployment_id);
    c.defer_component_update(DeferComponentUpdateRequest {
        deployment_id: pre.deployment_id.clone(),
        message: None,
        recheck_after_ms: Some(0),
    })
    .await
    .unwrap();
    let post = next(&mut updates).await.post_update_event.unwrap();
    assert_eq!(post.deployment_id, pre.deployment_id);
    let (code, out) = deploy.await.unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("c.Component deferred the update by 200 ms: busy"),
        "{out}"
    );

    // Deferring beyond the bound fails the deployment.
    let deploy = ggipc(&[
        "deploy",
        "--simulate",
        "--root",
        &r,
        "--defer-limit",
        "1",
        "c.Component",
    ]);
    let pre = next(&mut updates).await.pre_update_event.unwrap();
    c.defer_component_update(DeferComponentUpdateRequest {
        deployment_id: pre.deployment_id.clone(),
        message: None,
        recheck_after_ms: Some(5000),
    })
    .await
    .unwrap();
    let (code, out) = deploy.await.unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("components kept deferring the update for more than 1 s"),
        "{out}"
    );

    // A validator that never answers: the deployment fails when the validation time is up; nothing changes.
    let validate = c
        .subscribe_to_validate_configuration_updates(Default::default())
        .await
        .unwrap();
    let update = dir.path().join("never.json");
    std::fs::write(&update, r#"{"c.Component": {"MERGE": {"x": "never"}}}"#).unwrap();
    let (code, out) = ggipc(&[
        "deploy",
        "--simulate",
        "--root",
        &r,
        "--validation-timeout",
        "1",
        "--config-update",
        update.to_str().unwrap(),
    ])
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Error while waiting for validation report for one or more components: c.Component did not report"),
        "{out}"
    );
    let (_, out) = ggipc(&["config", "get", "--root", &r, "c.Component", "x"])
        .await
        .unwrap();
    assert_eq!(out.trim(), "\"config-value\"");
    drop(validate);

    // Bad input: each a clear error, nothing sent or changed.
    for (args, want) in [
        (
            vec![
                "config",
                "set",
                "--root",
                &r,
                "c.Component",
                "x",
                "not json",
            ],
            "VALUE \"not json\" is not JSON",
        ),
        (
            vec!["config", "set", "--root", &r, "c.Component", "/", "5"],
            "must be a JSON object",
        ),
        (
            vec!["config", "set", "--root", &r, "no.Such", "x", "1"],
            "component no.Such is not registered",
        ),
        (
            vec!["config", "get", "--root", &r, "c.Component", "missing"],
            "c.Component: no key /missing",
        ),
    ] {
        let (code, out) = ggipc(&args).await.unwrap();
        assert_ne!(code, Some(0), "{args:?}: {out}");
        assert!(out.contains(want), "{args:?}: {out}");
    }
    drop((c, watch, updates));
    p.signal(libc::SIGINT);
    assert!(p.wait_exit(WAIT).success(), "{}", p.output());
}

#[test]
fn a_bad_config_update_file_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "c.Component", &[], &["*"], Some("true"));
    for (text, want) in [
        (
            "c.Component: {MERGE: 5}",
            "c.Component.MERGE: expected a JSON object",
        ),
        ("c.Component: {RESET: [x]}", "is not a JSON pointer"),
        (
            "c.Component: {REPLACE: {}}",
            "unknown operation \"REPLACE\"",
        ),
        (
            "no.Such: {MERGE: {a: 1}}",
            "component no.Such is not registered",
        ),
    ] {
        let update = dir.path().join("u.yaml");
        std::fs::write(&update, text).unwrap();
        let mut p = Proc::spawn(
            &[
                "run",
                "--root",
                dir.path().join("root").to_str().unwrap(),
                "--mqtt-port",
                "0",
                "--config-update",
                update.to_str().unwrap(),
                recipe.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(p.wait_exit(WAIT).code(), Some(2), "{}", p.output());
        assert!(p.output().contains(want), "{text}: {}", p.output());
    }
}
