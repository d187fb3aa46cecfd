//! Configuration validation and component-update events, driven from the server as a deployment would.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::Fixture;
use ggipc::model::*;
use ggipc::server::Recipe;
use ggipc::{ErrorKind, SubscriptionEvent};
use serde_json::json;
use std::time::Duration;

fn register(fx: &Fixture, name: &str) -> String {
    fx.server.register_recipe(
        &Recipe::from_value(json!({"ComponentName": name, "ComponentVersion": "1.0.0"})).unwrap(),
    )
}

async fn next<T: ggipc::StreamEvent + std::fmt::Debug>(sub: &mut ggipc::Subscription<T>) -> T {
    match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
        Ok(Some(SubscriptionEvent::Message(m))) => m,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn report(
    deployment: Option<&str>,
    status: ConfigurationValidityStatus,
) -> SendConfigurationValidityReportRequest {
    SendConfigurationValidityReportRequest {
        configuration_validity_report: Some(ConfigurationValidityReport {
            status: Some(status),
            deployment_id: deployment.map(str::to_string),
            message: Some("rate too high".into()),
        }),
    }
}

#[tokio::test]
async fn a_validator_answers_the_deployment() {
    let fx = Fixture::start().await;
    let c = fx.client(&register(&fx, "com.example.V")).await;
    assert!(fx
        .server
        .validate_configuration("com.example.V", "d0", json!({}), Duration::from_secs(1))
        .await
        .unwrap()
        .is_none());
    let mut sub = c
        .subscribe_to_validate_configuration_updates(Default::default())
        .await
        .unwrap();
    let server = fx.server.clone();
    let pending = tokio::spawn(async move {
        server
            .validate_configuration(
                "com.example.V",
                "d1",
                json!({"rate": 99}),
                Duration::from_secs(5),
            )
            .await
    });
    let ev = next(&mut sub)
        .await
        .validate_configuration_update_event
        .unwrap();
    assert_eq!(ev.deployment_id.as_deref(), Some("d1"));
    assert_eq!(ev.configuration, Some(json!({"rate": 99})));
    c.send_configuration_validity_report(report(Some("d1"), ConfigurationValidityStatus::Rejected))
        .await
        .unwrap();
    let answer = pending.await.unwrap().unwrap().unwrap();
    assert_eq!(answer.status, Some(ConfigurationValidityStatus::Rejected));
    assert_eq!(answer.message.as_deref(), Some("rate too high"));
    // Late or unknown reports, and a missing deployment id, get the nucleus' answers.
    let e = c
        .send_configuration_validity_report(report(
            Some("d1"),
            ConfigurationValidityStatus::Accepted,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::InvalidArgumentsError,
            "Validation request either timed out or was never made"
        )
    );
    let e = c
        .send_configuration_validity_report(report(None, ConfigurationValidityStatus::Accepted))
        .await
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Cannot accept configuration validity report, the deployment ID provided was null"
    );
    // A validator that never answers is bounded by the deployment's timeout.
    let e = fx
        .server
        .validate_configuration("com.example.V", "d2", json!({}), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn components_defer_updates_within_the_time_allowed() {
    let fx = Fixture::start().await;
    let a = fx.client(&register(&fx, "com.example.A")).await;
    let b = fx.client(&register(&fx, "com.example.B")).await;
    let e = a
        .defer_component_update(DeferComponentUpdateRequest {
            deployment_id: Some("d".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::InvalidArgumentsError,
            "Component is not subscribed to component update events"
        )
    );
    let mut sub_a = a
        .subscribe_to_component_updates(Default::default())
        .await
        .unwrap();
    let mut sub_b = b
        .subscribe_to_component_updates(Default::default())
        .await
        .unwrap();
    let server = fx.server.clone();
    let pending = tokio::spawn(async move {
        server
            .pre_component_update("dep-1", false, Duration::from_secs(2))
            .await
    });
    let ev = next(&mut sub_a).await.pre_update_event.unwrap();
    assert_eq!(
        (ev.deployment_id.as_deref(), ev.is_ggc_restarting),
        (Some("dep-1"), Some(false))
    );
    next(&mut sub_b).await.pre_update_event.unwrap();
    a.defer_component_update(DeferComponentUpdateRequest {
        deployment_id: Some("dep-1".into()),
        message: Some("busy".into()),
        recheck_after_ms: Some(60_000),
    })
    .await
    .unwrap();
    // B never answers: the deployment goes on after its timeout with A's deferral only.
    let deferred = pending.await.unwrap();
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0].0, "com.example.A");
    assert_eq!(deferred[0].1.recheck_after_ms, Some(60_000));
    // Too late now.
    let e = b
        .defer_component_update(DeferComponentUpdateRequest {
            deployment_id: Some("dep-1".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::ServiceError,
            "Time limit to respond to PreComponentUpdateEvent exceeded"
        )
    );
    let e = a
        .defer_component_update(DeferComponentUpdateRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Cannot defer the update, the deployment ID provided was null"
    );
    fx.server.post_component_update("dep-1");
    let post = next(&mut sub_a).await.post_update_event.unwrap();
    assert_eq!(post.deployment_id.as_deref(), Some("dep-1"));
}
