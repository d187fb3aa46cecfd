//! `ggipc pub --local` / `ggipc sub --local` (local pub/sub between components) and `ggipc sub --status`
//! against a running nucleus.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::{NucleusProc, Proc};
use std::time::Duration;

fn recipe(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let recipe = serde_json::json!({
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {
            "accessControl": {
                "aws.greengrass.ipc.pubsub": {
                    format!("{name}:pubsub:1"): {"operations": ["*"], "resources": ["local/*"]}
                },
                "aws.greengrass.ipc.mqttproxy": {
                    format!("{name}:mqttproxy:1"): {
                        "operations": ["aws.greengrass#SubscribeToIoTCoreConnectionStatus"],
                        "resources": ["*"]
                    }
                }
            }
        }},
        "Manifests": [{"Platform": {"os": "linux"}, "Lifecycle": {}}]
    });
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(&recipe).unwrap()).unwrap();
    p
}

#[test]
fn local_messages_and_connection_status_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = [recipe(dir.path(), "cli.A"), recipe(dir.path(), "cli.B")];
    let n = NucleusProc::start(&dir.path().join("root"), &recipes, &[]);
    let sock = n.socket.display().to_string();
    let env = |c: &str| {
        vec![
            ("SVCUID".to_string(), n.svcuids[c].clone()),
            (
                "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT".to_string(),
                sock.clone(),
            ),
        ]
    };
    let env_a = env("cli.A");
    let env_b = env("cli.B");
    let env_a: Vec<(&str, &str)> = env_a
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let env_b: Vec<(&str, &str)> = env_b
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    let mut sub = Proc::spawn(
        &["sub", "--local", "-t", "local/#", "-C", "2", "-v"],
        &env_b,
    );
    sub.wait_line("ggipc sub: subscribed to local/#", Duration::from_secs(10));
    let mut json = Proc::spawn(
        &[
            "pub",
            "--local",
            "--json",
            "-t",
            "local/j",
            "-m",
            r#"{"n": 1}"#,
        ],
        &env_a,
    );
    assert!(
        json.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        json.output()
    );
    let mut bin = Proc::spawn(
        &["pub", "--local", "-t", "local/b", "-m", "raw bytes"],
        &env_a,
    );
    assert!(
        bin.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        bin.output()
    );
    assert!(
        sub.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        sub.output()
    );
    assert!(
        sub.seen.iter().any(|l| l == r#"local/j {"n":1}"#),
        "{}",
        sub.output()
    );
    assert!(
        sub.seen.iter().any(|l| l == "local/b raw bytes"),
        "{}",
        sub.output()
    );

    // Refusals carry the nucleus' words and fail the command.
    let mut denied = Proc::spawn(&["pub", "--local", "-t", "other/x", "-m", "x"], &env_a);
    assert!(!denied.wait_exit(Duration::from_secs(20)).success());
    assert!(
        denied.output().contains("Principal cli.A is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource other/x"),
        "{}",
        denied.output()
    );
    let mut not_json = Proc::spawn(
        &["pub", "--local", "--json", "-t", "local/x", "-m", "{"],
        &env_a,
    );
    assert!(!not_json.wait_exit(Duration::from_secs(20)).success());
    assert!(
        not_json
            .output()
            .contains("--json: the payload is not JSON"),
        "{}",
        not_json.output()
    );

    // The embedded broker: connected.
    let mut status = Proc::spawn(&["sub", "--status", "-C", "1"], &env_a);
    assert!(
        status.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        status.output()
    );
    assert!(
        status.seen.iter().any(|l| l == "CONNECTED"),
        "{}",
        status.output()
    );
}
