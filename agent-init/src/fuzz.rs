//! Entry points for the fuzz targets (`fuzz/`): each takes arbitrary input
//! through the same code the binary runs on it, and must end in a value or
//! an error, never a panic, a hang or an overflowed stack.

use std::ffi::OsString;
use std::path::Path;

use crate::config::{self, Sources};

/// The configuration loader: variables (names and values), the file's
/// text, and the command line, as the init reads them.
pub fn config(env: Vec<(String, String)>, file: Option<&str>, args: Vec<OsString>) {
    // Each run's secrets only: the list would grow with every input.
    #[cfg(fuzzing)]
    healthcheck::mask::forget_all();
    let mut argv = vec![OsString::from("agent-init")];
    argv.extend(args);
    let flags = match crate::cli::parse(argv) {
        Ok(mut i) => std::mem::take(&mut i.flags),
        Err(_) => config::Flags::new(),
    };
    let path = std::env::temp_dir().join(format!("agent-init-fuzz-{}.toml", std::process::id()));
    let file = file.and_then(|text| std::fs::write(&path, text).ok().map(|()| path.clone()));
    let env = env
        .into_iter()
        .map(|(k, v)| (format!("{}{k}", config::ENV_PREFIX), v))
        .collect();
    if let Ok(loaded) = config::load(Sources {
        file,
        env,
        not_text: Vec::new(),
        flags,
    }) {
        let _ = config::effective(&loaded);
        let _ = crate::health::HealthOptions::from_config(&loaded.config);
    }
}

/// The command line alone.
pub fn args(args: Vec<OsString>) {
    let mut argv = vec![OsString::from("agent-init")];
    argv.extend(args);
    let _ = crate::cli::parse(argv);
}

/// A `.env` file's text.
pub fn dotenv(text: &str) {
    let _ = crate::steps::configmap::parse_env_text(text, Path::new("fuzz.env"));
}

/// What a client sends on the status socket; the answer must be one JSON
/// object.
pub fn status_request(bytes: &[u8]) -> bool {
    let answer = crate::init::serve::answer_bytes(bytes);
    serde_json::from_slice::<serde_json::Value>(&answer).is_ok_and(|v| v.is_object())
}

/// The head of a request to the probe endpoint.
pub fn probe_request(bytes: &[u8]) -> Option<&'static str> {
    crate::health::probe_for(bytes).map(|p| p.name())
}

/// Text that may hold secrets, on its way out: masked, and as a quoted
/// line, one bounded line.
pub fn mask(text: &str) -> bool {
    let line = healthcheck::mask::one_line(text, 400);
    let _ = healthcheck::mask::safe_cut(text.as_bytes(), 64);
    !line.contains('\n') && line.chars().count() <= 401
}
