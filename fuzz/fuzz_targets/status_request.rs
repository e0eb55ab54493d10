//! What a client sends on the status socket: the answer is one JSON object.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(agent_init::fuzz::status_request(data));
});
