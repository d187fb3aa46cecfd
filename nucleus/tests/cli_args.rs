//! The CLI refuses bad option values with a clear message and exit status 2, before connecting, never with a
//! panic.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

use std::process::Command;

fn ggipc(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ggipc"))
        .args(args)
        .env(
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT",
            "/nonexistent/ipc.socket",
        )
        .env("SVCUID", "X")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn negative_or_non_finite_timeouts_are_refused() {
    for bad in ["-1", "0", "NaN", "inf"] {
        let (code, err) = ggipc(&["pub", "-t", "t", "-m", "x", "--timeout", bad]);
        assert_eq!(code, 2, "--timeout {bad}: {err}");
        assert!(
            err.contains("--timeout must be a positive, finite number of seconds"),
            "--timeout {bad}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, err) = ggipc(&["sub", "-t", "t", "--wait", "-3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--wait must be a positive"), "{err}");
}
