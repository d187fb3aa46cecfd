//! Recipe and policy parsing on arbitrary JSON/YAML (see `ggipc_fuzz_server::recipe`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ggipc_fuzz_server::recipe(data));
