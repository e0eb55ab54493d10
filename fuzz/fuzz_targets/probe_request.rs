//! The head of a request to the probe endpoint.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = agent_init::fuzz::probe_request(data);
});
