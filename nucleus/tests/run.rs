//! `ggipc run`: the demo recipes end to end, lifecycle, environment and variables, exits, Ctrl-C.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{write_recipe, Proc};

/// The example components (cargo examples of this crate), built on demand.
fn example_bins() -> (PathBuf, PathBuf) {
    let dir = common::ggipc_bin().parent().unwrap().join("examples");
    let (p, s) = (dir.join("publisher"), dir.join("subscriber"));
    if !p.exists() || !s.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args([
                "build",
                "-p",
                "ggipc-nucleus",
                "--example",
                "publisher",
                "--example",
                "subscriber",
            ])
            .status()
            .unwrap();
        assert!(st.success());
    }
    (p, s)
}

#[test]
fn demo_recipes_exchange_messages_and_show_the_denied_publish() {
    let (publisher, subscriber) = example_bins();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    for (bin, name) in [
        (&publisher, "com.example.IoTCorePublisherRust"),
        (&subscriber, "com.example.IoTCoreSubscriberRust"),
    ] {
        let art = root.join("packages/artifacts").join(name).join("1.0.0");
        std::fs::create_dir_all(&art).unwrap();
        std::fs::copy(bin, art.join(bin.file_name().unwrap())).unwrap();
    }
    let recipes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/recipes");
    let pr = recipes.join("com.example.IoTCorePublisherRust.yaml");
    let sr = recipes.join("com.example.IoTCoreSubscriberRust.yaml");
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--thing-name",
            "t1",
            "--exit-when-done",
            pr.to_str().unwrap(),
            sr.to_str().unwrap(),
        ],
        &[],
    );
    let st = p.wait_exit(Duration::from_secs(60));
    let out = p.output();
    assert!(st.success(), "{out}");
    assert!(
        out.contains("[com.example.IoTCoreSubscriberRust] subscriber done: 10 messages received"),
        "{out}"
    );
    assert!(
        out.contains("received on demo/t1/messages: Hello from the publisher, message 10 of 10"),
        "{out}"
    );
    assert!(
        out.contains(
            "publish to forbidden/topic denied as expected: UnauthorizedError: Not Authorized"
        ),
        "{out}"
    );
    assert!(
        out.contains("ggipc: com.example.IoTCorePublisherRust exited with code 0"),
        "{out}"
    );
}

#[test]
fn lifecycle_environment_variables_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    // Install writes a file into the work dir; Run reports the environment and variables, then exits 3.
    let recipe = dir.path().join("life.yaml");
    std::fs::write(
        &recipe,
        r#"
ComponentName: life.Component
ComponentVersion: 2.0.0
ComponentConfiguration:
  DefaultConfiguration:
    greeting: hello
    nested: {a: 1}
Manifests:
  - Platform: {os: windows}
    Lifecycle: {Run: "exit 99"}
  - Platform: {os: all}
    Lifecycle:
      Setenv: {FROM_SETENV: "{configuration:/greeting}"}
      Install: "echo installed > marker"
      Run:
        Script: >-
          echo "thing={iot:thingName} work={work:path} art={artifacts:path} cfg={configuration:/greeting}
          json={configuration:/nested} env=$FROM_SETENV step=$STEP_ENV svcuid=${#SVCUID}
          sock=$AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT marker=$(cat marker) pwd=$(pwd)"; exit 3
        Setenv: {STEP_ENV: step}
"#,
    )
    .unwrap();
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--thing-name",
            "dev1",
            "--exit-when-done",
            recipe.to_str().unwrap(),
        ],
        &[],
    );
    let st = p.wait_exit(Duration::from_secs(30));
    let out = p.output();
    assert_eq!(st.code(), Some(1), "{out}");
    let work = root.join("work/life.Component");
    let line = out
        .lines()
        .find(|l| l.starts_with("[life.Component] thing="))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("thing=dev1"), "{line}");
    assert!(line.contains(&format!("work={}", work.display())), "{line}");
    assert!(
        line.contains(&format!("art={}", dir.path().display())),
        "recipe dir is the artifacts fallback: {line}"
    );
    // The object is substituted as JSON ({"a":1}); the double-quoted echo then eats its quotes.
    assert!(
        line.contains("cfg=hello") && line.contains("json={a:1}"),
        "{line}"
    );
    assert!(line.contains("env=hello step=step svcuid=16"), "{line}");
    assert!(
        line.contains(&format!("sock={}", root.join("ipc.socket").display())),
        "{line}"
    );
    assert!(
        line.contains("marker=installed") && line.contains(&format!("pwd={}", work.display())),
        "{line}"
    );
    // Exiting non-zero is an error: restarted (Run only, Install ran once), BROKEN at the third.
    assert_eq!(out.matches("[life.Component] thing=").count(), 3, "{out}");
    assert!(
        out.contains(&format!(
            "ggipc: life.Component is BROKEN: {}: Manifests[1].Lifecycle.Run: exited with code 3 (error 3 of 3",
            recipe.display()
        )),
        "{out}"
    );
}

#[test]
fn failing_install_marks_broken_and_command_override_runs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "ComponentName: b.Component\nLifecycle:\n  Install: exit 7\n  Run: echo never\n",
    )
    .unwrap();
    let ok = write_recipe(
        dir.path(),
        "o.Component",
        &["PublishToIoTCore"],
        &["*"],
        Some("exit 5"),
    );
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--exit-when-done",
            "--command",
            "o.Component=echo overridden; exit 0",
            broken.to_str().unwrap(),
            ok.to_str().unwrap(),
        ],
        &[],
    );
    let st = p.wait_exit(Duration::from_secs(30));
    let out = p.output();
    assert_eq!(st.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "b.Component is BROKEN: {}: Lifecycle.Install: exited with code 7 (error 3 of 3",
            broken.display()
        )),
        "{out}"
    );
    assert!(!out.contains("never"), "{out}");
    assert!(
        out.contains("[o.Component] overridden") && out.contains("o.Component exited with code 0"),
        "{out}"
    );

    // An override for an unknown component is an error.
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--command",
            "nope=true",
            ok.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(30)).code(), Some(2));
    assert!(p.output().contains("nope"), "{}", p.output());
}

#[test]
fn ctrl_c_stops_running_components() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let a = write_recipe(
        dir.path(),
        "a.Component",
        &["PublishToIoTCore"],
        &["*"],
        Some("echo up; exec sleep 1000"),
    );
    // This one ignores SIGTERM: it is killed after the grace period.
    let b = write_recipe(
        dir.path(),
        "b.Component",
        &["PublishToIoTCore"],
        &["*"],
        Some("trap '' TERM; echo up; while :; do sleep 1; done"),
    );
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--stop-timeout",
            "1",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        &[],
    );
    p.wait_line("[a.Component] up", Duration::from_secs(20));
    p.wait_line("[b.Component] up", Duration::from_secs(20));
    p.signal(libc::SIGINT);
    let st = p.wait_exit(Duration::from_secs(20));
    let out = p.output();
    assert!(st.success(), "{out}");
    assert!(
        out.contains("ggipc: a.Component stopped") && out.contains("ggipc: b.Component stopped"),
        "{out}"
    );
    assert!(!root.join("components.json").exists());
}

#[test]
fn the_config_lifecycle_example_runs_as_a_component() {
    // examples/rust/config_lifecycle.rs under `ggipc run`, checked by the driver every language's example shares.
    let bin = common::ggipc_bin()
        .parent()
        .unwrap()
        .join("examples/config_lifecycle");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args([
            "build",
            "-p",
            "ggipc-nucleus",
            "--example",
            "config_lifecycle",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let out = Command::new("python3")
        .arg(examples.join("run_config_lifecycle.py"))
        .arg("--ggipc")
        .arg(common::ggipc_bin())
        .arg("--command")
        .arg(&bin)
        .arg(examples.join("recipes/com.example.ConfigLifecycleRust.yaml"))
        .env_remove("SVCUID")
        .env_remove("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
