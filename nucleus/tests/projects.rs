//! `ggipc run` on projects as they are laid out in practice: the GDK example project (venv Install, artifacts
//! from the project, placeholders), restarts after errors and `Recover`, step timeouts, recipes the launcher
//! cannot run, ZIP artifacts from `greengrass-build/`, and `--watch`.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::Proc;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/gdk")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Runs python3 with `code`; panics with its output if it fails.
fn python(code: &str, args: &[&Path]) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python3 is needed by this test");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A wheel named `ggipc` whose `clientv2.publish_to_iot_core` publishes with `ggipc pub` (the binary under test),
/// so the example runs in its own venv without building the real Python binding, and still goes through the
/// nucleus' authentication and its recipe's policy.
fn stand_in_wheel(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let wheel = dir.join("ggipc-0.0.0-py3-none-any.whl");
    python(
        r#"
import sys, zipfile
files = {
    "ggipc/__init__.py": "",
    "ggipc/greengrasscoreipc/__init__.py": "",
    "ggipc/greengrasscoreipc/model.py": "class QOS:\n    AT_MOST_ONCE = '0'\n    AT_LEAST_ONCE = '1'\n",
    "ggipc/greengrasscoreipc/clientv2.py": (
        "import os, subprocess\n"
        "class GreengrassCoreIPCClientV2:\n"
        "    def publish_to_iot_core(self, *, topic_name, qos, payload):\n"
        "        subprocess.run([os.environ['GGIPC_TEST_BIN'], 'pub', '-t', topic_name, '-q', qos, '-m', payload], check=True)\n"
        "    def close(self):\n"
        "        pass\n"
    ),
    "ggipc-0.0.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: ggipc\nVersion: 0.0.0\n",
    "ggipc-0.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
files["ggipc-0.0.0.dist-info/RECORD"] = "".join(f"{n},,\n" for n in files) + "ggipc-0.0.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, t in files.items():
        z.writestr(n, t)
"#,
        &[&wheel],
    );
    wheel
}

#[test]
fn gdk_python_project_installs_its_venv_and_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("hello-python");
    copy_dir(&example("hello-python"), &proj);
    let wheels = dir.path().join("wheels");
    stand_in_wheel(&wheels);
    let root = dir.path().join("root");
    let bin = common::ggipc_bin();
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--thing-name",
            "laptop1",
            "--exit-when-done",
            proj.to_str().unwrap(),
        ],
        &[
            ("PIP_FIND_LINKS", wheels.to_str().unwrap()),
            ("PIP_NO_INDEX", "1"),
            ("GGIPC_TEST_BIN", bin.to_str().unwrap()),
        ],
    );
    let st = p.wait_exit(Duration::from_secs(180));
    let out = p.output();
    assert!(st.success(), "{out}");
    let name = "com.example.GdkHelloPython";
    for i in 1..=3 {
        assert!(
            out.contains(&format!(
                "[{name}] published to hello/laptop1: Hello from a GDK project ({i}/3)"
            )),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!("ggipc: {name} exited with code 0")),
        "{out}"
    );
    // Install made the venv in the work directory; the project itself is the unarchived zip.
    assert!(root
        .join("work")
        .join(name)
        .join("venv/bin/python")
        .exists());
    let unarchived = root
        .join("packages/artifacts-unarchived")
        .join(name)
        .join("1.0.0/hello-python");
    assert_eq!(
        std::fs::canonicalize(&unarchived).unwrap(),
        std::fs::canonicalize(&proj).unwrap()
    );
    // Nothing was written into the project.
    let mut files: Vec<String> = std::fs::read_dir(&proj)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "gdk-config.json",
            "main.py",
            "recipe.yaml",
            "requirements.txt"
        ]
    );
}

fn run_recipe(dir: &Path, recipe: &str, extra: &[&str]) -> (std::process::ExitStatus, String) {
    let path = dir.join("r.yaml");
    std::fs::write(&path, recipe).unwrap();
    let root = dir.join("root");
    let mut args = vec![
        "run",
        "--root",
        root.to_str().unwrap(),
        "--mqtt-port",
        "0",
        "--exit-when-done",
    ];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    let mut p = Proc::spawn(&args, &[]);
    let st = p.wait_exit(Duration::from_secs(60));
    (st, p.output())
}

#[test]
fn a_failing_run_is_recovered_and_restarted_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    // Run fails twice (its count is in the work directory), then succeeds; Recover runs after each error.
    let (st, out) = run_recipe(
        dir.path(),
        r#"
ComponentName: flaky.Component
Lifecycle:
  Install: "echo 0 > count; echo installed"
  Recover: "echo recovering after $(cat count)"
  Run: |
    n=$(( $(cat count) + 1 )); echo $n > count; echo "attempt $n"
    [ $n -ge 3 ]
"#,
        &[],
    );
    assert!(st.success(), "{out}");
    assert!(out.contains("[flaky.Component] attempt 3"), "{out}");
    assert!(
        out.contains("[flaky.Component] recovering after 1"),
        "{out}"
    );
    assert!(
        out.contains("[flaky.Component] recovering after 2"),
        "{out}"
    );
    assert!(
        out.contains(
            "flaky.Component errored: {}: Lifecycle.Run: exited with code 1 (error 1 of 3; running Recover, then restarting)"
                .replace("{}", &dir.path().join("r.yaml").display().to_string())
                .as_str()
        ),
        "{out}"
    );
    // Install ran once: a restart after a Run error starts again from Startup/Run.
    assert_eq!(
        out.matches("[flaky.Component] installed").count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("ggipc: flaky.Component exited with code 0"),
        "{out}"
    );
}

#[test]
fn a_step_that_times_out_gives_up_after_three_errors_naming_recipe_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let (st, out) = run_recipe(
        dir.path(),
        "ComponentName: slow.Component\nManifests:\n  - Lifecycle:\n      Install: {Script: 'echo installing; sleep 30', Timeout: 1}\n      Run: echo never\n",
        &[],
    );
    assert_eq!(st.code(), Some(1), "{out}");
    let recipe = dir.path().join("r.yaml");
    assert!(
        out.contains(&format!(
            "slow.Component is BROKEN: {}: Manifests[0].Lifecycle.Install: timed out after 1 s (its Timeout) (error 3 of 3",
            recipe.display()
        )),
        "{out}"
    );
    assert_eq!(
        out.matches("[slow.Component] installing").count(),
        3,
        "{out}"
    );
    assert!(!out.contains("never"), "{out}");
}

#[test]
fn recipes_the_launcher_cannot_run_stop_the_start_with_the_recipe_step_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("r.yaml");
    // A missing artifact: the message says where it was looked for.
    let (st, out) = run_recipe(
        dir.path(),
        "ComponentName: a.Component\nComponentVersion: 1.0.0\nManifests:\n  - Lifecycle: {Run: '{artifacts:path}/tool'}\n    Artifacts:\n      - URI: s3://bucket/a/1.0.0/tool\n",
        &[],
    );
    assert_eq!(st.code(), Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "{}: Manifests[0].Artifacts[0] (s3://bucket/a/1.0.0/tool): artifact tool not found; looked in: ",
            recipe.display()
        )),
        "{out}"
    );
    // A variable that does not resolve.
    let (st, out) = run_recipe(
        dir.path(),
        "ComponentName: a.Component\nLifecycle:\n  Run: 'python3 {artifacts:decompressedpath}/main.py'\n",
        &[],
    );
    assert_eq!(st.code(), Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "{}: Lifecycle.Run: bad recipe variable {{artifacts:decompressedpath}}: the artifacts namespace has path and decompressedPath",
            recipe.display()
        )),
        "{out}"
    );
    // A configuration key that is not there.
    let (st, out) = run_recipe(
        dir.path(),
        "ComponentName: a.Component\nComponentConfiguration: {DefaultConfiguration: {topic: t}}\nLifecycle:\n  Run: {Script: 'echo $T', Setenv: {T: '{configuration:/topc}'}}\n",
        &[],
    );
    assert_eq!(st.code(), Some(2), "{out}");
    assert!(
        out.contains("Lifecycle.Run.Setenv.T: bad recipe variable {configuration:/topc}"),
        "{out}"
    );
    assert!(out.contains("r.yaml: Lifecycle.Run.Setenv.T"), "{out}");
    assert!(!out.contains("echo $T"), "the step must not run: {out}");
}

#[test]
fn configuration_variables_read_the_deployed_configuration() {
    // `{configuration:/…}` reads the configuration as deployed: a key that only `--config-update` adds
    // resolves at launch, and a deployed value wins over the recipe's default.
    let dir = tempfile::tempdir().unwrap();
    let update = dir.path().join("update.yaml");
    std::fs::write(
        &update,
        "a.Component: {MERGE: {added: {level: 7}, topic: deployed/t}}\n",
    )
    .unwrap();
    let recipe = "ComponentName: a.Component\nComponentConfiguration: {DefaultConfiguration: {topic: t}}\n\
                  Lifecycle:\n  Run: {Script: 'echo \"level=$L topic={configuration:/topic} whole={configuration:/added}\"', \
                  Setenv: {L: '{configuration:/added/level}'}}\n";
    let (st, out) = run_recipe(
        dir.path(),
        recipe,
        &["--config-update", update.to_str().unwrap()],
    );
    assert!(st.success(), "{out}");
    // (the object is substituted as JSON; the shell's double quotes then drop its quotes)
    assert!(
        out.contains("level=7 topic=deployed/t whole={level:7}"),
        "{out}"
    );
    // Without the update the key names nothing: the start stops before anything runs, naming recipe and step.
    let fresh = tempfile::tempdir().unwrap();
    let (st, out) = run_recipe(fresh.path(), recipe, &[]);
    assert_eq!(st.code(), Some(2), "{out}");
    assert!(
        out.contains("r.yaml: Lifecycle.Run: bad recipe variable {configuration:/added}: the component's configuration"),
        "{out}"
    );
    assert!(!out.contains("level="), "the step must not run: {out}");
}

#[test]
fn zip_artifacts_from_greengrass_build_are_unarchived() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    let built = proj.join("greengrass-build/artifacts/com.example.Built/2.1.0");
    std::fs::create_dir_all(&built).unwrap();
    std::fs::write(
        proj.join("gdk-config.json"),
        r#"{"component": {"com.example.Built": {"author": "a", "version": "2.1.0",
            "build": {"build_system": "custom", "custom_build_command": ["make"]}}}, "gdk_version": "1.3.0"}"#,
    )
    .unwrap();
    std::fs::write(
        proj.join("recipe.json"),
        r#"{"ComponentName": "{COMPONENT_NAME}", "ComponentVersion": "{COMPONENT_VERSION}",
            "Manifests": [{"Platform": {"os": "all"},
              "Lifecycle": {"Run": "cat {artifacts:decompressedPath}/code/hello.txt; ls {artifacts:path}"},
              "Artifacts": [{"URI": "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/code.zip", "Unarchive": "ZIP"}]}]}"#,
    )
    .unwrap();
    python(
        "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('hello.txt', 'built hello\\n')",
        &[&built.join("code.zip")],
    );
    let root = dir.path().join("root");
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--exit-when-done",
            proj.join("gdk-config.json").to_str().unwrap(),
        ],
        &[],
    );
    let st = p.wait_exit(Duration::from_secs(60));
    let out = p.output();
    assert!(st.success(), "{out}");
    assert!(out.contains("[com.example.Built] built hello"), "{out}");
    assert!(out.contains("[com.example.Built] code.zip"), "{out}");
}

#[test]
fn watch_restarts_a_component_when_its_artifacts_change() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("watched");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(
        proj.join("gdk-config.json"),
        r#"{"component": {"com.example.Watched": {"author": "a", "version": "1.0.0", "build": {"build_system": "zip"}}}, "gdk_version": "1.3.0"}"#,
    )
    .unwrap();
    std::fs::write(
        proj.join("recipe.yaml"),
        "ComponentName: '{COMPONENT_NAME}'\nComponentVersion: '{COMPONENT_VERSION}'\nManifests:\n  - Lifecycle:\n      Install: echo installing\n      Run: 'm=$(cat {artifacts:decompressedPath}/watched/msg.txt); echo \"msg=$m\"; [ $m != bad ] || exit 1; exec sleep 1000'\n    Artifacts:\n      - {URI: 's3://b/c/v/watched.zip', Unarchive: ZIP}\n",
    )
    .unwrap();
    std::fs::write(proj.join("msg.txt"), "one").unwrap();
    let root = dir.path().join("root");
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--stop-timeout",
            "2",
            "--watch",
            proj.to_str().unwrap(),
        ],
        &[],
    );
    p.wait_line("[com.example.Watched] msg=one", Duration::from_secs(30));
    std::fs::write(proj.join("msg.txt"), "second").unwrap();
    p.wait_line(
        "ggipc: com.example.Watched: artifacts changed; restarting",
        Duration::from_secs(30),
    );
    p.wait_line("[com.example.Watched] msg=second", Duration::from_secs(30));
    // A change that breaks it: three errors, BROKEN, and a wait for the fix.
    std::fs::write(proj.join("msg.txt"), "bad").unwrap();
    p.wait_line(
        "ggipc: com.example.Watched is BROKEN: ",
        Duration::from_secs(30),
    );
    p.wait_line(
        "waiting for its artifacts to change",
        Duration::from_secs(5),
    );
    std::fs::write(proj.join("msg.txt"), "fixed").unwrap();
    p.wait_line("[com.example.Watched] msg=fixed", Duration::from_secs(30));
    p.signal(libc::SIGINT);
    let st = p.wait_exit(Duration::from_secs(30));
    let out = p.output();
    assert!(st.success(), "{out}");
    // Installed at the start, after each change, and after the fix.
    assert_eq!(
        out.matches("[com.example.Watched] installing").count(),
        4,
        "{out}"
    );
    assert_eq!(
        out.matches("[com.example.Watched] msg=bad").count(),
        3,
        "{out}"
    );
    assert!(out.contains("ggipc: com.example.Watched stopped"), "{out}");
}

#[test]
fn ctrl_c_stops_a_component_still_in_install() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("r.yaml");
    std::fs::write(
        &recipe,
        "ComponentName: slow.Install\nLifecycle:\n  Install: 'echo installing; exec sleep 1000'\n  Run: echo never\n",
    )
    .unwrap();
    let root = dir.path().join("root");
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--stop-timeout",
            "2",
            recipe.to_str().unwrap(),
        ],
        &[],
    );
    p.wait_line("[slow.Install] installing", Duration::from_secs(20));
    p.signal(libc::SIGINT);
    let st = p.wait_exit(Duration::from_secs(20));
    let out = p.output();
    assert!(st.success(), "{out}");
    assert!(out.contains("ggipc: slow.Install stopped"), "{out}");
    assert!(!out.contains("never"), "{out}");
}
