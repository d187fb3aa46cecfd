//! A component's configuration survives a restart of the nucleus (`<root>/config/<component>.json`).
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::{write_recipe, Proc};
use ggipc::model::*;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

const WAIT: Duration = Duration::from_secs(30);

fn start(root: &Path, recipe: &Path) -> Proc {
    let mut p = Proc::spawn(
        &[
            "nucleus",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--recipe",
            recipe.to_str().unwrap(),
        ],
        &[],
    );
    p.wait_line("ggipc: registered", WAIT);
    p
}

fn stop(mut p: Proc) -> String {
    p.signal(libc::SIGTERM);
    assert!(p.wait_exit(WAIT).success(), "{}", p.output());
    p.output()
}

fn client(root: &Path, component: &str) -> ggipc::blocking::Client {
    let reg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("components.json")).unwrap()).unwrap();
    ggipc::Client::builder()
        .socket_path(reg["socketPath"].as_str().unwrap())
        .auth_token(reg["components"][component]["svcuid"].as_str().unwrap())
        .connect_blocking()
        .unwrap()
}

fn read(c: &ggipc::blocking::Client) -> serde_json::Value {
    c.get_configuration(GetConfigurationRequest::default())
        .unwrap()
        .value
        .unwrap()
}

#[test]
fn configuration_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let recipe = write_recipe(
        dir.path(),
        "c.Component",
        &["PublishToIoTCore"],
        &["*"],
        None,
    );
    let p = start(&root, &recipe);
    let c = client(&root, "c.Component");
    let later = SystemTime::now() + Duration::from_secs(3600);
    c.update_configuration(UpdateConfigurationRequest {
        key_path: None,
        timestamp: Some(later),
        value_to_merge: Some(json!({"x": "changed", "n": 5})),
    })
    .unwrap();
    // Written after the change, without waiting for the stop.
    let file = root.join("config/c.Component.json");
    let deadline = Instant::now() + WAIT;
    loop {
        let saved: Option<serde_json::Value> = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if saved.is_some_and(|s| s["configuration"]["x"] == "changed") {
            break;
        }
        assert!(Instant::now() < deadline, "{} not written", file.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    drop(c);
    stop(p);

    // A new version of the recipe adds a key: it appears; the changed value stays.
    let mut r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&recipe).unwrap()).unwrap();
    r["ComponentConfiguration"]["DefaultConfiguration"]["added"] = json!(1);
    std::fs::write(&recipe, serde_json::to_vec(&r).unwrap()).unwrap();
    let p = start(&root, &recipe);
    let c = client(&root, "c.Component");
    let v = read(&c);
    assert_eq!(
        (&v["x"], &v["n"], &v["added"]),
        (&json!("changed"), &json!(5), &json!(1)),
        "{v}"
    );
    assert!(v["accessControl"].is_object());
    // The kept timestamp still refuses an older update.
    let e = c
        .update_configuration(UpdateConfigurationRequest {
            key_path: None,
            timestamp: Some(SystemTime::now()),
            value_to_merge: Some(json!({"x": "older"})),
        })
        .unwrap_err();
    assert_eq!(e.kind(), ggipc::ErrorKind::FailedUpdateConditionCheckError);
    drop(c);
    stop(p);

    // A damaged file stops the start and says which and what to do.
    std::fs::write(&file, b"{not json").unwrap();
    let mut p = Proc::spawn(
        &[
            "nucleus",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--recipe",
            recipe.to_str().unwrap(),
        ],
        &[],
    );
    let st = p.wait_exit(WAIT);
    assert_eq!(st.code(), Some(2), "{}", p.output());
    assert!(
        p.output().contains(&format!("{}: ", file.display()))
            && p.output()
                .contains("delete it to start c.Component from its recipe's DefaultConfiguration"),
        "{}",
        p.output()
    );
}
