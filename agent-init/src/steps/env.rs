//! The environment step: variables set in the configuration (with ${VAR}
//! and ${VAR:-default} expanded) and the required ones present. A
//! requirement `A|B|file:PATH` is met by any one alternative. Only names
//! are ever logged.

use crate::config::{expand, valid_env_name, Config};
use crate::exit::Error;
use crate::launch::Launch;

pub fn step(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
    if !c.env.enabled || (c.env.set.is_empty() && c.env.require.is_empty()) {
        return Ok(None);
    }
    for (name, value) in &c.env.set {
        debug_assert!(valid_env_name(name), "checked at load");
        let v = expand(&value.0, &format!("env.set.{name}"), &|n| {
            launch.env.get(n).cloned()
        })?;
        // Masked from here on, wherever it turns up.
        crate::logging::remember_secrets_of_env([(name, &v)]);
        launch.env.insert(name.clone(), v);
    }
    let mut missing = Vec::new();
    let mut met = Vec::new();
    for req in &c.env.require {
        let found = req
            .split('|')
            .map(str::trim)
            .find(|alt| match alt.strip_prefix("file:") {
                Some(path) => std::fs::File::open(launch.resolve_home(path)).is_ok(),
                None => launch.env.get(*alt).is_some_and(|v| !v.is_empty()),
            });
        match found {
            Some(alt) => met.push(alt.to_string()),
            None => missing.push(req.replace('|', " or ")),
        }
    }
    if !missing.is_empty() {
        return Err(Error::Config(format!(
            "required environment not set (or empty): {}",
            missing.join(", ")
        )));
    }
    Ok(Some(format!(
        "{} variables set, required present: {}",
        c.env.set.len(),
        if met.is_empty() {
            "none required".into()
        } else {
            met.join(", ")
        }
    )))
}
