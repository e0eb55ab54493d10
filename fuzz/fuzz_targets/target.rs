//! What a wait or a check points at: `tcp://`, `http(s)://`, `mcp+http(s)://`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    healthcheck::mask::forget_all();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(target) = healthcheck::target::parse(text) {
            let _ = target.to_string();
        }
        let _ = healthcheck::target::without_userinfo(text);
    }
});
