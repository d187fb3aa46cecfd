//! RestartComponent, StopComponent, GetComponentDetails, ListComponents (the Greengrass CLI's answers) and
//! ValidateAuthorizationToken (the nucleus'), through the Rust client.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::Fixture;
use ggipc::model::*;
use ggipc::server::{AccessControl, LifecycleCommand, Recipe};
use ggipc::ErrorKind;
use serde_json::json;
use std::time::Duration;

const CLI: &str = "aws.greengrass.Cli";

fn recipe(name: &str, version: &str) -> Recipe {
    Recipe::from_value(json!({
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": version,
        "ComponentConfiguration": {"DefaultConfiguration": {"rate": 5}}
    }))
    .unwrap()
}

fn restart(name: &str) -> RestartComponentRequest {
    RestartComponentRequest {
        component_name: Some(name.to_string()),
    }
}

#[tokio::test]
async fn restart_and_stop_follow_the_cli_rules() {
    let fx = Fixture::start().await;
    fx.server
        .register_recipe(&recipe("com.example.Target", "1.2.3"));
    let granted = AccessControl::from_rules(&[(
        CLI,
        &[
            "aws.greengrass#RestartComponent",
            "aws.greengrass#StopComponent",
        ],
        &["com.example.Target"],
    )])
    .unwrap();
    let admin = fx
        .server
        .components()
        .register("com.example.Admin", granted);
    let other = fx
        .server
        .components()
        .register("com.example.Other", AccessControl::default());
    let cli = fx
        .server
        .components()
        .register("greengrass-cli#1", AccessControl::default());
    let a = fx.client(&admin).await;

    // Validation first, then authorization, then the lookup.
    for body in [
        RestartComponentRequest::default(),
        RestartComponentRequest {
            component_name: Some(String::new()),
        },
    ] {
        let e = a.restart_component(body).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.message()),
            (
                ErrorKind::InvalidArgumentsError,
                "Component name cannot be empty"
            )
        );
    }
    let o = fx.client(&other).await;
    let e = o.restart_component(restart("no.Such")).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::UnauthorizedError,
            "Principal com.example.Other is not authorized to perform aws.greengrass.Cli:aws.greengrass#RestartComponent on resource no.Such"
        )
    );
    let c = fx.client(&cli).await;
    let e = c.restart_component(restart("no.Such")).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::ResourceNotFoundError,
            "Component with name no.Such not found in Greengrass"
        )
    );

    // Never started (NEW): nothing to restart.
    let r = a
        .restart_component(restart("com.example.Target"))
        .await
        .unwrap();
    assert_eq!(r.restart_status, Some(RequestStatus::Failed));

    // Started and run by an owner that listens: the request reaches it.
    let mut commands = fx.server.lifecycle_commands();
    fx.server
        .set_lifecycle_state("com.example.Target", LifecycleState::Running);
    let r = a
        .restart_component(restart("com.example.Target"))
        .await
        .unwrap();
    assert_eq!(r.restart_status, Some(RequestStatus::Succeeded));
    let got = tokio::time::timeout(Duration::from_secs(5), commands.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        ("com.example.Target".to_string(), LifecycleCommand::Restart)
    );
    let s = a
        .stop_component(StopComponentRequest {
            component_name: Some("com.example.Target".into()),
        })
        .await
        .unwrap();
    assert_eq!(s.stop_status, Some(RequestStatus::Succeeded));
    let got = tokio::time::timeout(Duration::from_secs(5), commands.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        ("com.example.Target".to_string(), LifecycleCommand::Stop)
    );
    // The grant is per operation: Admin may not read details.
    let e = a
        .get_component_details(GetComponentDetailsRequest {
            component_name: Some("com.example.Target".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnauthorizedError);
}

#[tokio::test]
async fn details_and_list_show_version_state_and_configuration() {
    let fx = Fixture::start().await;
    let token = fx
        .server
        .register_recipe(&recipe("com.example.Target", "1.2.3"));
    let cli = fx
        .server
        .components()
        .register("aws.greengrass.Cli", AccessControl::default());
    let c = fx.client(&cli).await;
    let get = || GetComponentDetailsRequest {
        component_name: Some("com.example.Target".into()),
    };
    let d = c.get_component_details(get()).await.unwrap();
    assert_eq!(
        d.component_details,
        Some(ComponentDetails {
            component_name: Some("com.example.Target".into()),
            version: Some("1.2.3".into()),
            state: Some(LifecycleState::New),
            configuration: Some(json!({"rate": 5})),
        })
    );
    // UpdateState sets the state the nucleus shows.
    let t = fx.client(&token).await;
    let mut changes = fx.server.lifecycle_changes();
    t.update_state(UpdateStateRequest {
        state: Some(ReportedLifecycleState::Errored),
    })
    .await
    .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), changes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        ("com.example.Target".to_string(), LifecycleState::Errored)
    );
    let d = c.get_component_details(get()).await.unwrap();
    assert_eq!(
        d.component_details.unwrap().state,
        Some(LifecycleState::Errored)
    );
    let l = c
        .list_components(ListComponentsRequest::default())
        .await
        .unwrap();
    let names: Vec<_> = l
        .components
        .unwrap()
        .into_iter()
        .map(|d| d.component_name.unwrap())
        .collect();
    assert_eq!(names, ["aws.greengrass.Cli", "com.example.Target"]);
    // ListComponents needs a grant on `*`.
    let e = t
        .list_components(ListComponentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::UnauthorizedError,
            "Principal com.example.Target is not authorized to perform aws.greengrass.Cli:aws.greengrass#ListComponents on resource *"
        )
    );
}

#[tokio::test]
async fn validate_authorization_token_is_for_stream_manager() {
    let fx = Fixture::start().await;
    let comp = fx
        .server
        .register_recipe(&recipe("com.example.Client", "1.0.0"));
    let sm = fx
        .server
        .components()
        .register("aws.greengrass.StreamManager", AccessControl::default());
    let s = fx.client(&sm).await;
    let ok = s
        .validate_authorization_token(ValidateAuthorizationTokenRequest {
            token: Some(comp.clone()),
        })
        .await
        .unwrap();
    assert_eq!(ok.is_valid, Some(true));
    for (token, message) in [
        (None, "Invalid authentication token"),
        (Some("NOTATOKEN"), "Authentication token not found"),
        (Some(""), "Authentication token not found"),
    ] {
        let e = s
            .validate_authorization_token(ValidateAuthorizationTokenRequest {
                token: token.map(str::to_string),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::InvalidTokenError, message)
        );
    }
    let c = fx.client(&comp).await;
    let e = c
        .validate_authorization_token(ValidateAuthorizationTokenRequest {
            token: Some(sm.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::UnauthorizedError,
            "com.example.Client is not authorized to perform aws.greengrass#ValidateAuthorizationToken"
        )
    );
}

#[tokio::test]
async fn pause_and_resume_follow_the_nucleus_rules() {
    let fx = Fixture::start().await;
    fx.server
        .register_recipe(&recipe("com.example.Target", "1.0.0"));
    let granted = AccessControl::from_rules(&[(
        "aws.greengrass.ipc.lifecycle",
        &[
            "aws.greengrass#PauseComponent",
            "aws.greengrass#ResumeComponent",
        ],
        &["com.example.Target", "no.Such"],
    )])
    .unwrap();
    let op = fx.server.components().register("com.example.Op", granted);
    let c = fx.client(&op).await;
    let pause = |name: &str| PauseComponentRequest {
        component_name: Some(name.to_string()),
    };
    let check = |e: ggipc::Error, kind: ErrorKind, message: &str| {
        assert_eq!((e.kind(), e.message()), (kind, message));
    };
    check(
        c.pause_component(PauseComponentRequest::default())
            .await
            .unwrap_err(),
        ErrorKind::InvalidArgumentsError,
        "Component name is required.",
    );
    check(
        c.pause_component(pause("com.example.Op")).await.unwrap_err(),
        ErrorKind::UnauthorizedError,
        "Principal com.example.Op is not authorized to perform aws.greengrass.ipc.lifecycle:aws.greengrass#PauseComponent on resource com.example.Op",
    );
    check(
        c.pause_component(pause("no.Such")).await.unwrap_err(),
        ErrorKind::ResourceNotFoundError,
        "Component no.Such not found",
    );
    check(
        c.pause_component(pause("com.example.Target"))
            .await
            .unwrap_err(),
        ErrorKind::InvalidArgumentsError,
        "Component com.example.Target is not running",
    );
    fx.server
        .set_lifecycle_state("com.example.Target", LifecycleState::Running);
    // Running, but nobody runs it here.
    check(
        c.pause_component(pause("com.example.Target"))
            .await
            .unwrap_err(),
        ErrorKind::ServiceError,
        "Failed to pause component com.example.Target due to : it is not run by this nucleus",
    );
    let mut commands = fx.server.lifecycle_commands();
    c.pause_component(pause("com.example.Target"))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), commands.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.1, LifecycleCommand::Pause);
    let resume = || ResumeComponentRequest {
        component_name: Some("com.example.Target".into()),
    };
    c.resume_component(resume()).await.unwrap();
    check(
        c.resume_component(resume()).await.unwrap_err(),
        ErrorKind::InvalidArgumentsError,
        "Component com.example.Target is not paused",
    );
}
