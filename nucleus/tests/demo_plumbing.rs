//! `scripts/demo.sh --all-languages --stand-ins`: the all-languages demo's recipes, start gating, go signal and
//! summary, with the Python, Java and C++ examples replaced by `ggipc pub`/`ggipc sub` printing the same lines
//! (the real demo builds every binding, which is too slow for this suite).
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn all_languages_demo_plumbing() {
    let bin_dir = common::ggipc_bin().parent().unwrap().to_owned();
    let examples = bin_dir.join("examples");
    if !examples.join("publisher").exists() || !examples.join("subscriber").exists() {
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
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new("bash")
        .arg(repo.join("scripts/demo.sh"))
        .args(["--all-languages", "--stand-ins"])
        .env("GGIPC_BIN_DIR", &bin_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The demo bounds its own waits (180 s each); this bounds the whole.
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("scripts/demo.sh --all-languages --stand-ins did not finish within 240 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for line in [
        "Python publisher  (my/topic): 1 publish(es) reported, reached the Python, Java, C++, Rust subscriber(s); exited with code 0",
        "Java   publisher  (my/topic, test/topic/cpp): 2 publish(es) reported, reached the Python, Java, C++, Rust subscriber(s); exited with code 0",
        "Rust   publisher  (my/topic, test/topic/cpp): 2 publish(es) reported, reached the Python, Java, C++, Rust subscriber(s); exited with code 0",
        "C++    publisher  (my/topic, test/topic/cpp):",
        "Python subscriber (my/topic): received from Python x1, Java x1, C++ x1, Rust x1; stopped",
        "C++    subscriber (my/topic, test/topic/cpp): received from Python x1, Java x2, C++ ",
        "Java   subscriber (my/topic, test/topic/cpp): received from Python x1, Java x2, C++ ",
        "Rust   subscriber (my/topic, test/topic/cpp): received from Python x1, Java x2, C++ ",
        "== demo OK: every publisher reached every subscriber on its topics",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains("MISSING"), "{text}");
}
