//! The preset step: fills in a CLI preset's variables (only those not set
//! already, so the user can override each one) and creates the directories
//! its CLI requires.

use crate::config::Config;
use crate::exit::Error;
use crate::launch::Launch;

pub fn step(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
    let Some(preset) = c.preset else {
        return Ok(None);
    };
    let mut set = Vec::new();
    let mut kept = Vec::new();
    for (name, value) in preset.env {
        if launch.env.contains_key(*name) {
            kept.push(*name);
            continue;
        }
        let value = if *value == "~" {
            launch.home()
        } else {
            launch.resolve_home(value).to_string_lossy().into_owned()
        };
        launch.env.insert(name.to_string(), value);
        set.push(*name);
    }
    let mut outcome = format!(
        "{}: set {}",
        preset.name,
        if set.is_empty() {
            "nothing".into()
        } else {
            set.join(", ")
        }
    );
    if !kept.is_empty() {
        outcome.push_str(&format!("; kept the user's {}", kept.join(", ")));
    }
    for var in preset.dirs {
        let Some(dir) = launch.env.get(*var).map(std::path::PathBuf::from) else {
            continue;
        };
        if dir.exists() || launch.dry_run {
            continue;
        }
        match crate::files::create_dirs(&dir, launch) {
            Ok(()) => outcome.push_str(&format!("; created {var} {}", dir.display())),
            // A read-only home: the CLI will say so itself; startup goes on.
            Err(e) => tracing::warn!(step = "preset", "{var}: {e}"),
        }
    }
    Ok(Some(outcome))
}
