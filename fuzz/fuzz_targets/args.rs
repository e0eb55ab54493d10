//! The command line: words separated by NUL bytes (any bytes in a word),
//! parsed and loaded as the top configuration layer.
#![no_main]
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let words: Vec<std::ffi::OsString> = data
        .split(|b| *b == 0)
        .take(32)
        .map(|w| std::ffi::OsString::from_vec(w.to_vec()))
        .collect();
    agent_init::fuzz::args(words.clone());
    agent_init::fuzz::config(Vec::new(), None, words);
});
