//! git trusts the workspace: `safe.directory` entries passed in the
//! command's environment (GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n /
//! GIT_CONFIG_VALUE_n, read by git at command scope), so nothing is written
//! and a read-only root filesystem is fine. Entries already in the
//! environment are kept.

use crate::config::Config;
use crate::exit::Error;
use crate::launch::Launch;

pub fn step(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
    if !c.git.enabled {
        return Ok(None);
    }
    let dirs: Vec<String> = if c.git.safe_directories.is_empty() {
        match &c.workspace.path {
            Some(p) => vec![p.to_string_lossy().into_owned()],
            None => return Ok(None),
        }
    } else {
        c.git.safe_directories.clone()
    };
    let mut n: usize = match launch.env.get("GIT_CONFIG_COUNT") {
        Some(v) => v.parse().map_err(|_| {
            Error::Config(format!(
                "GIT_CONFIG_COUNT in the environment is `{v}`, not a number"
            ))
        })?,
        None => 0,
    };
    for dir in &dirs {
        launch
            .env
            .insert(format!("GIT_CONFIG_KEY_{n}"), "safe.directory".into());
        launch
            .env
            .insert(format!("GIT_CONFIG_VALUE_{n}"), dir.clone());
        n += 1;
    }
    launch.env.insert("GIT_CONFIG_COUNT".into(), n.to_string());
    Ok(Some(format!(
        "safe.directory {} (through GIT_CONFIG_*)",
        dirs.join(", ")
    )))
}
