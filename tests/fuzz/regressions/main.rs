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
    assert!(replay("server_rpc", ggipc_fuzz_server::server_rpc) > 0);
}

#[test]
fn recipe_regressions() {
    assert!(replay("recipe", ggipc_fuzz_server::recipe) > 0);
}
