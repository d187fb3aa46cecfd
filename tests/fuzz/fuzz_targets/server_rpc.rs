//! Arbitrary frame sequences on one connection to an in-process server (see `ggipc_fuzz_server::server_rpc`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ggipc_fuzz_server::server_rpc(data));
