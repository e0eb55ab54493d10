//! Per-CLI presets: the documented environment that makes each agent CLI
//! behave in a container (telemetry and auto-update off, non-interactive
//! trust, config directories). A preset only fills in variables that are
//! not set already, so the user can override each one.

use super::{Launch, Pause};
use crate::config::Config;
use crate::exit::Error;

pub struct Preset {
    pub name: &'static str,
    /// The executable the health check looks for.
    pub cli: &'static str,
    /// Variables set when absent; `~/` is the command user's home.
    pub env: &'static [(&'static str, &'static str)],
    /// Variables naming a directory the CLI requires to exist: created for
    /// the command's user when missing.
    pub dirs: &'static [&'static str],
}

/// npm-installed CLIs: no "update available" banners from npm itself.
const NPM: [(&str, &str); 2] = [
    ("NO_UPDATE_NOTIFIER", "1"),
    ("NPM_CONFIG_UPDATE_NOTIFIER", "false"),
];

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "claude",
        cli: "claude",
        env: &[
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
            ("DISABLE_BUG_COMMAND", "1"),
            ("CLAUDE_CONFIG_DIR", "~/.claude"),
            NPM[0],
            NPM[1],
        ],
        dirs: &[],
    },
    Preset {
        name: "codex",
        cli: "codex",
        env: &[("CODEX_HOME", "~/.codex"), NPM[0], NPM[1]],
        // codex warns at every start when CODEX_HOME does not exist.
        dirs: &["CODEX_HOME"],
    },
    Preset {
        name: "gemini",
        cli: "gemini",
        env: &[
            ("GEMINI_CLI_TRUST_WORKSPACE", "true"),
            ("GEMINI_CLI_HOME", "~"),
            NPM[0],
            NPM[1],
        ],
        dirs: &[],
    },
    Preset {
        name: "qwen",
        cli: "qwen",
        env: &[NPM[0], NPM[1]],
        dirs: &[],
    },
    Preset {
        name: "opencode",
        cli: "opencode",
        env: &[("OPENCODE_DISABLE_AUTOUPDATE", "true"), NPM[0], NPM[1]],
        dirs: &[],
    },
    Preset {
        name: "openhands",
        cli: "openhands",
        env: &[("PYTHONUNBUFFERED", "1")],
        dirs: &[],
    },
    Preset {
        name: "aider",
        cli: "aider",
        env: &[
            ("AIDER_ANALYTICS_DISABLE", "true"),
            ("AIDER_CHECK_UPDATE", "false"),
            ("PYTHONUNBUFFERED", "1"),
        ],
        dirs: &[],
    },
];

pub fn lookup(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

pub fn names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn step(c: &Config, launch: &mut Launch, _: &mut Pause) -> Result<Option<String>, Error> {
    let Some(preset) = c.preset.as_deref().and_then(lookup) else {
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
        match super::configmap::create_dirs(&dir, launch) {
            Ok(()) => outcome.push_str(&format!("; created {var} {}", dir.display())),
            // A read-only home: the CLI will say so itself; startup goes on.
            Err(e) => tracing::warn!(step = "preset", "{var}: {e}"),
        }
    }
    Ok(Some(outcome))
}
