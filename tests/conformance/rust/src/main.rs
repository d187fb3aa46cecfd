//! Conformance scenarios for the ggipc Rust client (async API).
//!
//! `ggipc-conformance SCENARIO` prints one JSON line `{"scenario", "ok", "reason"}`; the identity comes from the
//! environment the nucleus gives.

use bytes::Bytes;
use ggipc::model::{
    BinaryMessage, ConfigurationValidityReport, ConfigurationValidityStatus, ConnectionStatus,
    DeferComponentUpdateRequest, GetConfigurationRequest, JsonMessage, PayloadFormat,
    PublishMessage, PublishToIoTCoreRequest, PublishToTopicRequest, Qos, ReportedLifecycleState,
    SendConfigurationValidityReportRequest, SubscribeToConfigurationUpdateRequest,
    SubscribeToIoTCoreRequest, SubscribeToTopicRequest, UpdateConfigurationRequest,
    UpdateStateRequest, UserProperty,
};
use ggipc::{Client, ErrorKind, LifecycleEvent, Subscription, SubscriptionEvent};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

type R = Result<String, String>;

fn check(cond: bool, what: impl Into<String>) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what.into())
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("conf/{prefix}/{:08x}{}", nanos, std::process::id())
}

async fn connect() -> Result<Client, String> {
    Client::connect().await.map_err(|e| format!("connect: {e}"))
}

fn publish(topic: &str, qos: Qos, payload: &[u8]) -> PublishToIoTCoreRequest {
    PublishToIoTCoreRequest::new(topic, qos, payload.to_vec())
}

async fn pub_ok(c: &Client, r: PublishToIoTCoreRequest) -> Result<(), String> {
    c.publish_to_iot_core(r)
        .await
        .map(|_| ())
        .map_err(|e| format!("publish: {e}"))
}

async fn sub(c: &Client, filter: &str) -> Result<Subscription, String> {
    c.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(filter, Qos::AtMostOnce))
        .await
        .map_err(|e| format!("subscribe {filter}: {e}"))
}

/// The next message on a subscription, within the deadline.
async fn next_message(s: &mut Subscription) -> Result<ggipc::model::MqttMessage, String> {
    loop {
        match timeout(T, s.next()).await {
            Err(_) => return Err("timed out waiting for an event".into()),
            Ok(None) => return Err("subscription ended".into()),
            Ok(Some(SubscriptionEvent::Message(m))) => {
                return m
                    .message
                    .ok_or_else(|| "event without a message".to_string())
            }
            Ok(Some(SubscriptionEvent::Closed(e))) => {
                return Err(format!("subscription closed: {e:?}"))
            }
            Ok(Some(_)) => continue,
        }
    }
}

/// The next event of a typed stream, within the deadline.
async fn next_event<T: ggipc::StreamEvent>(s: &mut Subscription<T>) -> Result<T, String> {
    loop {
        match timeout(T, s.next()).await {
            Err(_) => return Err("timed out waiting for an event".into()),
            Ok(None) => return Err("subscription ended".into()),
            Ok(Some(SubscriptionEvent::Message(m))) => return Ok(m),
            Ok(Some(SubscriptionEvent::Closed(e))) => {
                return Err(format!("subscription closed: {e:?}"))
            }
            Ok(Some(_)) => continue,
        }
    }
}

async fn local_pubsub() -> R {
    let c = connect().await?;
    let topic = unique("local");
    let mut s = c
        .subscribe_to_topic(SubscribeToTopicRequest {
            topic: Some(topic.clone()),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("subscribe {topic}: {e}"))?;
    let json = serde_json::json!({"s": "\u{fc}"});
    let all: Vec<u8> = (0..=255u8).collect();
    for message in [
        PublishMessage {
            json_message: Some(JsonMessage {
                message: Some(json.clone()),
                ..Default::default()
            }),
            ..Default::default()
        },
        PublishMessage {
            binary_message: Some(BinaryMessage {
                message: Some(all.clone()),
                ..Default::default()
            }),
            ..Default::default()
        },
    ] {
        c.publish_to_topic(PublishToTopicRequest {
            topic: Some(topic.clone()),
            publish_message: Some(message),
        })
        .await
        .map_err(|e| format!("publish: {e}"))?;
    }
    let j = next_event(&mut s).await?;
    let b = next_event(&mut s).await?;
    check(
        j.binary_message.is_none(),
        "first event has a binary message",
    )?;
    let jm = j.json_message.ok_or("first event is not a JSON message")?;
    check(
        jm.message.as_ref() == Some(&json),
        format!("JSON message {:?}", jm.message),
    )?;
    check(
        jm.context.and_then(|c| c.topic).as_deref() == Some(topic.as_str()),
        "JSON context",
    )?;
    check(b.json_message.is_none(), "second event has a JSON message")?;
    let bm = b
        .binary_message
        .ok_or("second event is not a binary message")?;
    check(
        bm.message.as_deref() == Some(all.as_slice()),
        "binary message differs",
    )?;
    check(
        bm.context.and_then(|c| c.topic).as_deref() == Some(topic.as_str()),
        "binary context",
    )?;
    c.close().await;
    Ok(String::new())
}

fn expect_error(r: ggipc::Result<impl std::fmt::Debug>, kind: ErrorKind, text: &str) -> R {
    match r {
        Ok(v) => Err(format!("expected {kind}, the call succeeded: {v:?}")),
        Err(e) => {
            check(e.kind() == kind, format!("expected {kind}, got {e}"))?;
            check(
                e.message().contains(text),
                format!("message {:?} does not contain {text:?}", e.message()),
            )?;
            Ok(e.to_string())
        }
    }
}

async fn mqtt5(qos: Qos) -> R {
    let c = connect().await?;
    let topic = unique("mqtt5");
    let mut s = sub(&c, &topic).await?;
    let corr = b"\x00corr\xff".to_vec();
    let mut r = publish(&topic, qos, b"hello mqtt5");
    r.retain = Some(false);
    r.user_properties = Some(vec![
        UserProperty::new("k1", "v1"),
        UserProperty::new("k2", "v2"),
    ]);
    r.message_expiry_interval_seconds = Some(3600);
    r.correlation_data = Some(corr.clone());
    r.response_topic = Some("conf/reply".into());
    r.payload_format = Some(PayloadFormat::Utf8);
    r.content_type = Some("text/plain".into());
    pub_ok(&c, r).await?;
    let m = next_message(&mut s).await?;
    check(
        m.topic_name.as_deref() == Some(topic.as_str()),
        format!("topic {:?}", m.topic_name),
    )?;
    check(m.payload.as_deref() == Some(&b"hello mqtt5"[..]), "payload")?;
    check(
        m.user_properties
            == Some(vec![
                UserProperty::new("k1", "v1"),
                UserProperty::new("k2", "v2"),
            ]),
        format!("user properties {:?}", m.user_properties),
    )?;
    check(
        m.correlation_data.as_deref() == Some(&corr[..]),
        "correlation data",
    )?;
    check(
        m.response_topic.as_deref() == Some("conf/reply"),
        "response topic",
    )?;
    check(
        m.payload_format == Some(PayloadFormat::Utf8),
        format!("payload format {:?}", m.payload_format),
    )?;
    let exp = m.message_expiry_interval_seconds;
    check(
        matches!(exp, Some(e) if e > 0 && e <= 3600),
        format!("message expiry {exp:?}"),
    )?;
    c.close().await;
    Ok(format!(
        "all fields delivered (contentType {})",
        if m.content_type.is_some() {
            "kept"
        } else {
            "dropped"
        }
    ))
}

async fn roundtrip(payload: Vec<u8>) -> R {
    let c = connect().await?;
    let topic = unique("payload");
    let mut s = sub(&c, &topic).await?;
    pub_ok(&c, publish(&topic, Qos::AtLeastOnce, &payload)).await?;
    let m = next_message(&mut s).await?;
    check(
        m.payload.as_deref() == Some(&payload[..]),
        "payload differs",
    )?;
    c.close().await;
    Ok(String::new())
}

const COMPONENT: &str = "io.ggipc.conformance.Client";

fn uid() -> String {
    unique("x").rsplit('/').next().unwrap_or("x").to_string()
}

fn at(offset_secs: i64) -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    if offset_secs >= 0 {
        now + Duration::from_secs(offset_secs as u64)
    } else {
        now - Duration::from_secs((-offset_secs) as u64)
    }
}

fn path(keys: &[&str]) -> Option<Vec<String>> {
    Some(keys.iter().map(|k| k.to_string()).collect())
}

fn get(keys: &[&str]) -> GetConfigurationRequest {
    GetConfigurationRequest {
        component_name: None,
        key_path: path(keys),
    }
}

fn upd(
    keys: Option<&[&str]>,
    ts: Option<std::time::SystemTime>,
    v: Option<serde_json::Value>,
) -> UpdateConfigurationRequest {
    UpdateConfigurationRequest {
        key_path: keys.and_then(path),
        timestamp: ts,
        value_to_merge: v,
    }
}

async fn value(c: &Client, keys: &[&str]) -> Result<serde_json::Value, String> {
    c.get_configuration(get(keys))
        .await
        .map_err(|e| format!("get {keys:?}: {e}"))?
        .value
        .ok_or_else(|| "a response without a value".to_string())
}

/// Asks the runner for a deployment (tests/conformance/run.py, TRIGGER).
fn trigger(what: &str) {
    println!("TRIGGER {what}");
}

async fn config_scenario(scenario: &str) -> R {
    let c = connect().await?;
    let out = match scenario {
        "config_get" => {
            let r = c
                .get_configuration(GetConfigurationRequest::default())
                .await
                .map_err(|e| format!("get: {e}"))?;
            check(
                r.component_name.as_deref() == Some(COMPONENT),
                format!("componentName {:?}", r.component_name),
            )?;
            let v = r.value.unwrap_or_default();
            check(
                v["settings"]["topic"] == "conf/settings"
                    && v["settings"]["rate"] == 5
                    && v["settings"]["nested"] == json!({"flag": true}),
                format!("whole configuration {v}"),
            )?;
            let leaf = c
                .get_configuration(GetConfigurationRequest {
                    component_name: Some(COMPONENT.into()),
                    key_path: path(&["settings", "topic"]),
                })
                .await
                .map_err(|e| format!("get leaf: {e}"))?
                .value;
            check(
                leaf == Some(json!({"topic": "conf/settings"})),
                format!("leaf {leaf:?}"),
            )?;
            let obj = value(&c, &["settings", "nested"]).await?;
            check(obj == json!({"flag": true}), format!("object {obj}"))?;
            String::new()
        }
        "config_update" => {
            let id = uid();
            let mut w = c
                .subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest {
                    component_name: None,
                    key_path: path(&["scratch"]),
                })
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            c.update_configuration(upd(
                Some(&["scratch", &id]),
                Some(at(0)),
                Some(json!({"value": "one"})),
            ))
            .await
            .map_err(|e| format!("update: {e}"))?;
            let want = vec!["scratch".to_string(), id.clone(), "value".to_string()];
            let mut seen = Vec::new();
            while seen.iter().filter(|p| **p == want).count() < 1 {
                let ev = next_event(&mut w)
                    .await?
                    .configuration_update_event
                    .ok_or("an event without configurationUpdateEvent")?;
                check(
                    ev.component_name.as_deref() == Some(COMPONENT),
                    format!("event componentName {:?}", ev.component_name),
                )?;
                seen.push(ev.key_path.unwrap_or_default());
            }
            let got = value(&c, &["scratch", &id, "value"]).await?;
            check(
                got == json!({"value": "one"}),
                format!("after the update {got}"),
            )?;
            c.update_configuration(upd(
                None,
                Some(at(0)),
                Some(json!({"scratch": {id.clone(): {"value": "two"}}})),
            ))
            .await
            .map_err(|e| format!("root update: {e}"))?;
            while seen.iter().filter(|p| **p == want).count() < 2 {
                let ev = next_event(&mut w)
                    .await?
                    .configuration_update_event
                    .ok_or("an event without configurationUpdateEvent")?;
                seen.push(ev.key_path.unwrap_or_default());
            }
            let got = value(&c, &["scratch", &id]).await?;
            check(
                got == json!({"value": "two"}),
                format!("after the root update {got}"),
            )?;
            check(
                seen.iter()
                    .all(|p| p.len() >= 2 && p[0] == "scratch" && p[1] == id),
                format!("events {seen:?}"),
            )?;
            format!("events {seen:?}")
        }
        "config_update_refused" => {
            let id = uid();
            let k: &[&str] = &["scratch", &id];
            for (ts, v) in [(at(0), "a"), (at(3600), "future")] {
                c.update_configuration(upd(Some(k), Some(ts), Some(json!({ "value": v }))))
                    .await
                    .map_err(|e| format!("update {v}: {e}"))?;
            }
            let r = expect_error(
                c.update_configuration(upd(Some(k), Some(at(0)), Some(json!({"value": "older"}))))
                    .await,
                ErrorKind::FailedUpdateConditionCheckError,
                "Proposed timestamp is older than the config's latest modified timestamp",
            )?;
            let got = value(&c, &["scratch", &id, "value"]).await?;
            check(
                got == json!({"value": "future"}),
                format!("after the refused update {got}"),
            )?;
            r
        }
        "config_invalid" => {
            let r = expect_error(
                c.update_configuration(upd(Some(&["scratch"]), None, Some(json!({"a": "b"}))))
                    .await,
                ErrorKind::InvalidArgumentsError,
                "Timestamp is required",
            )?;
            expect_error(
                c.update_configuration(upd(Some(&["scratch"]), Some(at(0)), None))
                    .await,
                ErrorKind::InvalidArgumentsError,
                "ValueToMerge is required",
            )?;
            for (keys, v) in [
                (None, json!({"accessControl": {}})),
                (Some(&["accessControl", "x"][..]), json!({"a": "b"})),
            ] {
                expect_error(
                    c.update_configuration(upd(keys, Some(at(0)), Some(v)))
                        .await,
                    ErrorKind::InvalidArgumentsError,
                    "Config update is not allowed for following fields [accessControl]",
                )?;
            }
            expect_error(
                c.get_configuration(get(&["settings", "missing"])).await,
                ErrorKind::ResourceNotFoundError,
                "Key not found",
            )?;
            expect_error(
                c.get_configuration(GetConfigurationRequest {
                    component_name: Some("no.Such.Component".into()),
                    key_path: None,
                })
                .await,
                ErrorKind::ResourceNotFoundError,
                "Key not found",
            )?;
            expect_error(
                c.subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest {
                    component_name: None,
                    key_path: path(&["missing"]),
                })
                .await
                .map(|_| ()),
                ErrorKind::ResourceNotFoundError,
                "Key not found",
            )?;
            format!("{r} (and the others)")
        }
        "config_validate" => {
            let mut w = c
                .subscribe_to_validate_configuration_updates(Default::default())
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            trigger("validate");
            let ev = next_event(&mut w)
                .await?
                .validate_configuration_update_event
                .ok_or("an event without validateConfigurationUpdateEvent")?;
            let id = ev
                .deployment_id
                .ok_or("a validation event without deploymentId")?;
            let conf = ev.configuration.unwrap_or_default();
            check(
                conf["scratch"]["validated"] == "yes"
                    && conf["settings"]["topic"] == "conf/settings",
                format!("proposed configuration {conf}"),
            )?;
            c.send_configuration_validity_report(SendConfigurationValidityReportRequest {
                configuration_validity_report: Some(ConfigurationValidityReport {
                    status: Some(ConfigurationValidityStatus::Rejected),
                    deployment_id: Some(id.clone()),
                    message: Some("conformance rejects".into()),
                }),
            })
            .await
            .map_err(|e| format!("report: {e}"))?;
            format!("deployment {id} rejected")
        }
        "update_state" => {
            c.update_state(UpdateStateRequest {
                state: Some(ReportedLifecycleState::Running),
            })
            .await
            .map_err(|e| format!("update state: {e}"))?;
            expect_error(
                c.update_state(UpdateStateRequest { state: None }).await,
                ErrorKind::InvalidArgumentsError,
                "State is required",
            )?
        }
        "lifecycle_invalid" => {
            let defer = || DeferComponentUpdateRequest {
                deployment_id: Some("d-none".into()),
                message: None,
                recheck_after_ms: Some(1000),
            };
            let r = expect_error(
                c.defer_component_update(defer()).await,
                ErrorKind::InvalidArgumentsError,
                "Component is not subscribed to component update events",
            )?;
            for (id, text) in [
                (
                    Some("d-none".to_string()),
                    "Validation request either timed out or was never made",
                ),
                (
                    None,
                    "Cannot accept configuration validity report, the deployment ID provided was null",
                ),
            ] {
                expect_error(
                    c.send_configuration_validity_report(SendConfigurationValidityReportRequest {
                        configuration_validity_report: Some(ConfigurationValidityReport {
                            status: Some(ConfigurationValidityStatus::Accepted),
                            deployment_id: id,
                            message: None,
                        }),
                    })
                    .await,
                    ErrorKind::InvalidArgumentsError,
                    text,
                )?;
            }
            let _updates = c
                .subscribe_to_component_updates(Default::default())
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            expect_error(
                c.defer_component_update(defer()).await,
                ErrorKind::ServiceError,
                "Time limit to respond to PreComponentUpdateEvent exceeded",
            )?;
            format!("{r} (and the others)")
        }
        "component_updates" => {
            let mut w = c
                .subscribe_to_component_updates(Default::default())
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            trigger("deploy");
            let pre = next_event(&mut w)
                .await?
                .pre_update_event
                .ok_or("the first event is not a pre-update event")?;
            let id = pre
                .deployment_id
                .ok_or("a pre-update event without deploymentId")?;
            check(
                pre.is_ggc_restarting == Some(false),
                format!("isGgcRestarting {:?}", pre.is_ggc_restarting),
            )?;
            c.defer_component_update(DeferComponentUpdateRequest {
                deployment_id: Some(id.clone()),
                message: Some("conformance busy".into()),
                recheck_after_ms: Some(500),
            })
            .await
            .map_err(|e| format!("defer: {e}"))?;
            let again = next_event(&mut w)
                .await?
                .pre_update_event
                .ok_or("the second event is not a pre-update event")?;
            check(
                again.deployment_id.as_deref() == Some(id.as_str()),
                format!("second event for {:?}", again.deployment_id),
            )?;
            c.defer_component_update(DeferComponentUpdateRequest {
                deployment_id: Some(id.clone()),
                message: None,
                recheck_after_ms: Some(0),
            })
            .await
            .map_err(|e| format!("acknowledge: {e}"))?;
            let post = next_event(&mut w)
                .await?
                .post_update_event
                .ok_or("the third event is not a post-update event")?;
            check(
                post.deployment_id.as_deref() == Some(id.as_str()),
                format!("post-update event for {:?}", post.deployment_id),
            )?;
            format!("deployment {id}: deferred once, then post-update")
        }
        _ => return Err("unknown scenario".into()),
    };
    c.close().await;
    Ok(out)
}

async fn run(scenario: &str) -> R {
    match scenario {
        s if s.starts_with("config_")
            || s == "update_state"
            || s == "lifecycle_invalid"
            || s == "component_updates" =>
        {
            config_scenario(s).await
        }
        "connect_good" => {
            connect().await?.close().await;
            Ok(String::new())
        }
        "connect_bad_token" => {
            let t0 = Instant::now();
            match Client::connect().await {
                Err(e) => {
                    check(
                        e.kind() == ErrorKind::AccessDenied,
                        format!("refused, but not as AccessDenied: {e}"),
                    )?;
                    Ok(format!(
                        "refused in {:.2} s with {e}",
                        t0.elapsed().as_secs_f64()
                    ))
                }
                Ok(_) => Err("a bad token was accepted".into()),
            }
        }
        "publish_qos0_mqtt5" => mqtt5(Qos::AtMostOnce).await,
        "publish_qos1_mqtt5" => mqtt5(Qos::AtLeastOnce).await,
        "wildcard" => {
            let c = connect().await?;
            let base = unique("wild");
            let mut plus = sub(&c, &format!("{base}/+/x")).await?;
            let mut hash = sub(&c, &format!("{base}/#")).await?;
            pub_ok(&c, publish(&format!("{base}/a/x"), Qos::AtLeastOnce, b"1")).await?;
            pub_ok(&c, publish(&format!("{base}/b/y"), Qos::AtLeastOnce, b"2")).await?;
            let h1 = next_message(&mut hash).await?.topic_name;
            let h2 = next_message(&mut hash).await?.topic_name;
            check(
                h1.as_deref() == Some(&format!("{base}/a/x")[..])
                    && h2.as_deref() == Some(&format!("{base}/b/y")[..]),
                "order or topics on #",
            )?;
            let p1 = next_message(&mut plus).await?.topic_name;
            check(
                p1.as_deref() == Some(&format!("{base}/a/x")[..]),
                "+/x first event",
            )?;
            check(plus.try_next().is_none(), "+/x got a second event")?;
            c.close().await;
            Ok(String::new())
        }
        "binary_payload" => roundtrip((0..=255u8).collect()).await,
        "payload_128k" => {
            roundtrip(
                (0..131072u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                    .collect(),
            )
            .await
        }
        "service_error" => {
            let c = connect().await?;
            let r = c
                .publish_to_iot_core(publish(
                    &unique("big"),
                    Qos::AtLeastOnce,
                    &vec![b'x'; 131073],
                ))
                .await;
            let out = expect_error(
                r,
                ErrorKind::ServiceError,
                "exceeds the configured limit of 131072 bytes",
            )?;
            c.close().await;
            Ok(out)
        }
        "unauthorized" => {
            let c = connect().await?;
            let r = c
                .publish_to_iot_core(publish("forbidden/x", Qos::AtMostOnce, b"x"))
                .await;
            let out = expect_error(r, ErrorKind::UnauthorizedError, "Not Authorized")?;
            let r = c
                .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
                    "forbidden/#",
                    Qos::AtMostOnce,
                ))
                .await
                .map(|_| ());
            expect_error(r, ErrorKind::UnauthorizedError, "Not Authorized")?;
            c.close().await;
            Ok(format!("{out} (publish and subscribe)"))
        }
        "invalid_arguments" => {
            let c = connect().await?;
            let mut req = publish(&unique("inv"), Qos::AtMostOnce, b"x");
            req.qos = None;
            let out = expect_error(
                c.publish_to_iot_core(req).await,
                ErrorKind::InvalidArgumentsError,
                "QoS is required",
            )?;
            c.close().await;
            Ok(out)
        }
        "server_terminate" => {
            let c = connect().await?;
            let mut s = sub(&c, &unique("term")).await?;
            pub_ok(&c, publish("conf/ctl/terminate", Qos::AtMostOnce, b"x")).await?;
            loop {
                match timeout(T, s.next()).await {
                    Err(_) => return Err("timed out waiting for the subscription to close".into()),
                    Ok(None) | Ok(Some(SubscriptionEvent::Closed(None))) => break,
                    Ok(Some(SubscriptionEvent::Closed(Some(e)))) => {
                        return Err(format!("closed with an error instead of cleanly: {e}"))
                    }
                    Ok(Some(_)) => continue,
                }
            }
            pub_ok(&c, publish(&unique("term"), Qos::AtLeastOnce, b"after")).await?;
            c.close().await;
            Ok(String::new())
        }
        "server_ping" => {
            let c = connect().await?;
            let mut life = c.lifecycle();
            pub_ok(&c, publish("conf/ctl/ping", Qos::AtMostOnce, b"x")).await?;
            let payload = timeout(T, async {
                loop {
                    match life.recv().await {
                        Ok(LifecycleEvent::Ping { payload }) => return Ok(payload),
                        Ok(_) => continue,
                        Err(e) => return Err(format!("lifecycle: {e}")),
                    }
                }
            })
            .await
            .map_err(|_| "timed out waiting for the ping".to_string())??;
            check(
                payload == Bytes::from_static(b"server-ping"),
                format!("ping payload {payload:?}"),
            )?;
            pub_ok(&c, publish(&unique("ping"), Qos::AtLeastOnce, b"after")).await?;
            c.close().await;
            Ok(String::new())
        }
        "close_while_streaming" => {
            let c = connect().await?;
            let topic = unique("flood");
            let mut s = sub(&c, &topic).await?;
            let mut tasks = Vec::new();
            for i in 0..200 {
                let c2 = c.clone();
                let t = topic.clone();
                tasks.push(tokio::spawn(async move {
                    c2.publish_to_iot_core(publish(&t, Qos::AtMostOnce, i.to_string().as_bytes()))
                        .await
                }));
            }
            next_message(&mut s).await?;
            s.close();
            for t in tasks {
                t.await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("publish while closing: {e}"))?;
            }
            pub_ok(&c, publish(&topic, Qos::AtLeastOnce, b"after close")).await?;
            let mut s2 = sub(&c, &topic).await?;
            for i in 0..200 {
                let c2 = c.clone();
                let t = topic.clone();
                tokio::spawn(async move {
                    let _ = c2
                        .publish_to_iot_core(publish(&t, Qos::AtMostOnce, i.to_string().as_bytes()))
                        .await;
                });
            }
            next_message(&mut s2).await?;
            timeout(T, c.close())
                .await
                .map_err(|_| "close did not finish".to_string())?;
            let c3 = connect().await?;
            pub_ok(
                &c3,
                publish(&topic, Qos::AtLeastOnce, b"server still serving"),
            )
            .await?;
            c3.close().await;
            Ok(String::new())
        }
        "local_pubsub" => local_pubsub().await,
        "local_pubsub_invalid" => {
            let c = connect().await?;
            let none = PublishToTopicRequest {
                topic: Some(unique("local")),
                ..Default::default()
            };
            let r = expect_error(
                c.publish_to_topic(none).await,
                ErrorKind::InvalidArgumentsError,
                "Publish message is required",
            )?;
            let denied = PublishToTopicRequest {
                topic: Some("forbidden/x".into()),
                publish_message: Some(PublishMessage {
                    binary_message: Some(BinaryMessage {
                        message: Some(b"x".to_vec()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            };
            expect_error(
                c.publish_to_topic(denied).await,
                ErrorKind::UnauthorizedError,
                "is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource forbidden/x",
            )?;
            c.close().await;
            Ok(format!("{r} (and UnauthorizedError outside the policy)"))
        }
        "connection_status" => {
            let c = connect().await?;
            let mut s = c
                .subscribe_to_iot_core_connection_status(Default::default())
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            let first = next_event(&mut s).await?;
            let status = first.connection_status_event.and_then(|e| e.status);
            check(
                status == Some(ConnectionStatus::Connected),
                format!("first status {status:?}"),
            )?;
            c.close().await;
            Ok(String::new())
        }
        _ => Err("unknown scenario".into()),
    }
}

#[tokio::main]
async fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    let (ok, reason) = match run(&scenario).await {
        Ok(r) => (true, r),
        Err(r) => (false, r),
    };
    println!(
        "{}",
        serde_json::json!({"scenario": scenario, "ok": ok, "reason": reason})
    );
    std::process::exit(0);
}
