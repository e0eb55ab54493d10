//! Masking on the way out: the first line names secrets to remember, the
//! rest is text to mask; a quoted line stays one bounded line.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (secrets, rest) = text.split_once('\n').unwrap_or((&text, ""));
    healthcheck::mask::forget_all();
    healthcheck::mask::remember(secrets.split('\t').take(4), 6);
    assert!(agent_init::fuzz::mask(rest));
});
