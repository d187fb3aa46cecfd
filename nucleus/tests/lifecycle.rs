//! `ggipc run` carries out RestartComponent and StopComponent, restarts a component that reports ERRORED, and
//! shows reported states.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::{write_recipe, Proc};
use ggipc::model::*;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn client(root: &std::path::Path, component: &str) -> ggipc::blocking::Client {
    let reg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("components.json")).unwrap()).unwrap();
    ggipc::Client::builder()
        .socket_path(reg["socketPath"].as_str().unwrap())
        .auth_token(reg["components"][component]["svcuid"].as_str().unwrap())
        .connect_blocking()
        .unwrap()
}

#[test]
fn restart_stop_and_reported_errors_drive_the_launcher() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    // Each Run counts itself in its work directory.
    let target = write_recipe(
        dir.path(),
        "t.Component",
        &["PublishToIoTCore"],
        &["*"],
        Some("n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo \"run $n\"; exec sleep 1000"),
    );
    let cli = write_recipe(dir.path(), "aws.greengrass.Cli", &[], &["*"], None);
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--stop-timeout",
            "2",
            target.to_str().unwrap(),
            cli.to_str().unwrap(),
        ],
        &[],
    );
    p.wait_line("[t.Component] run 1", WAIT);
    let admin = client(&root, "aws.greengrass.Cli");
    let name = || Some("t.Component".to_string());
    let details = |c: &ggipc::blocking::Client| {
        c.get_component_details(GetComponentDetailsRequest {
            component_name: name(),
        })
        .unwrap()
        .component_details
        .unwrap()
    };
    assert_eq!(details(&admin).state, Some(LifecycleState::Running));
    assert_eq!(details(&admin).version.as_deref(), Some("1.0.0"));

    let r = admin
        .restart_component(RestartComponentRequest {
            component_name: name(),
        })
        .unwrap();
    assert_eq!(r.restart_status, Some(RequestStatus::Succeeded));
    p.wait_line(
        "t.Component: restarting on request (RestartComponent)",
        WAIT,
    );
    p.wait_line("[t.Component] run 2", WAIT);

    // UpdateState ERRORED: shown, then handled as an error (stopped, restarted, counted).
    let t = client(&root, "t.Component");
    t.update_state(UpdateStateRequest {
        state: Some(ReportedLifecycleState::Errored),
    })
    .unwrap();
    p.wait_line("ggipc: t.Component reported ERRORED", WAIT);
    p.wait_line(
        "the component reported ERRORED (UpdateState) (error 1 of 3; restarting)",
        WAIT,
    );
    p.wait_line("[t.Component] run 3", WAIT);

    let s = admin
        .stop_component(StopComponentRequest {
            component_name: name(),
        })
        .unwrap();
    assert_eq!(s.stop_status, Some(RequestStatus::Succeeded));
    p.wait_line("ggipc: t.Component stopped", WAIT);
    assert_eq!(details(&admin).state, Some(LifecycleState::Finished));

    // A stopped component starts again on request, without Install.
    let r = admin
        .restart_component(RestartComponentRequest {
            component_name: name(),
        })
        .unwrap();
    assert_eq!(r.restart_status, Some(RequestStatus::Succeeded));
    p.wait_line("t.Component: starting again on request", WAIT);
    p.wait_line("[t.Component] run 4", WAIT);

    // Not the CLI, no policy: refused with the CLI's words.
    let e = t
        .restart_component(RestartComponentRequest {
            component_name: name(),
        })
        .unwrap_err();
    assert_eq!(e.kind(), ggipc::ErrorKind::UnauthorizedError);
    drop((admin, t));
    p.signal(libc::SIGINT);
    let st = p.wait_exit(WAIT);
    assert!(st.success(), "{}", p.output());
}

/// The state letter of a process (`/proc/PID/stat`, third field): `T` when stopped.
fn proc_state(pid: &str) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.chars().next().unwrap()
}

fn wait_state(pid: &str, want: char) {
    let deadline = std::time::Instant::now() + WAIT;
    while proc_state(pid) != want {
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} never reached state {want}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn pause_and_resume_stop_and_continue_the_run_process() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let target = write_recipe(
        dir.path(),
        "t.Component",
        &["PublishToIoTCore"],
        &["*"],
        Some("echo \"pid $$\"; exec sleep 1000"),
    );
    let operator = dir.path().join("operator.json");
    std::fs::write(
        &operator,
        serde_json::to_vec(&serde_json::json!({
            "ComponentName": "o.Operator",
            "ComponentConfiguration": {"DefaultConfiguration": {"accessControl": {
                "aws.greengrass.ipc.lifecycle": {"o.Operator:lifecycle": {
                    "operations": ["aws.greengrass#PauseComponent", "aws.greengrass#ResumeComponent"],
                    "resources": ["t.Component"]}}}}}
        }))
        .unwrap(),
    )
    .unwrap();
    let mut p = Proc::spawn(
        &[
            "run",
            "--root",
            root.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--stop-timeout",
            "2",
            target.to_str().unwrap(),
            operator.to_str().unwrap(),
        ],
        &[],
    );
    let line = p.wait_line("[t.Component] pid ", WAIT);
    let pid = line.rsplit(' ').next().unwrap().to_string();
    let o = client(&root, "o.Operator");
    let name = || Some("t.Component".to_string());
    let e = o
        .resume_component(ResumeComponentRequest {
            component_name: name(),
        })
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ggipc::ErrorKind::InvalidArgumentsError,
            "Component t.Component is not paused"
        )
    );
    o.pause_component(PauseComponentRequest {
        component_name: name(),
    })
    .unwrap();
    wait_state(&pid, 'T');
    o.resume_component(ResumeComponentRequest {
        component_name: name(),
    })
    .unwrap();
    wait_state(&pid, 'S');
    // Paused, a component still stops with the nucleus.
    o.pause_component(PauseComponentRequest {
        component_name: name(),
    })
    .unwrap();
    wait_state(&pid, 'T');
    let e = o
        .pause_component(PauseComponentRequest {
            component_name: Some("o.Operator".into()),
        })
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ggipc::ErrorKind::UnauthorizedError,
            "Principal o.Operator is not authorized to perform aws.greengrass.ipc.lifecycle:aws.greengrass#PauseComponent on resource o.Operator"
        )
    );
    drop(o);
    p.signal(libc::SIGINT);
    let st = p.wait_exit(WAIT);
    assert!(st.success(), "{}", p.output());
    assert!(
        p.output().contains("ggipc: t.Component stopped"),
        "{}",
        p.output()
    );
}
