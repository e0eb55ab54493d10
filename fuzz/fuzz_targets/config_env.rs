//! `AGENT_INIT_*` variables: lines of `NAME=VALUE` (the prefix is added).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = text
        .lines()
        .take(16)
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    agent_init::fuzz::config(env, None, Vec::new());
});
