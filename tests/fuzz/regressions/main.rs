//! Replays every input kept under `regressions/<target>/` (crashes found by fuzzing, and a few hand-written
//! hostile cases) through the fuzz target bodies. A file that crashed once must pass here forever.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    // `REPLAY_ONLY=<part of a file name>` replays just the matching inputs.
    if let Ok(only) = std::env::var("REPLAY_ONLY") {
        entries.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(&only))
        });
    }
    for p in entries {
        let data = std::fs::read(&p).unwrap();
        eprintln!("replaying {}", p.display());
        run(&data);
        n += 1;
    }
    n
}

#[test]
fn server_rpc_regressions() {
    let n = replay("server_rpc", ggipc_fuzz_server::server_rpc);
    assert!(n > 0 || std::env::var_os("REPLAY_ONLY").is_some());
}

#[test]
fn recipe_regressions() {
    let n = replay("recipe", ggipc_fuzz_server::recipe);
    assert!(n > 0 || std::env::var_os("REPLAY_ONLY").is_some());
}

/// Inputs that reproduce known server defects (see `docs/RELIABILITY.md`): each must still fail. When one
/// stops failing, the defect is fixed: move the file to `regressions/server_rpc/`.
#[test]
fn server_rpc_known_defects_still_fail() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/server_rpc-known");
    // None at the moment: the directory exists only while a known defect is open.
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        let data = std::fs::read(&p).unwrap();
        let failed = std::panic::catch_unwind(|| ggipc_fuzz_server::server_rpc(&data)).is_err();
        assert!(
            failed,
            "{} no longer fails: the defect is fixed, move it to regressions/server_rpc/",
            p.display()
        );
    }
}
