//! The CLI presets' data: for each agent CLI, the documented environment
//! that makes it behave in a container (telemetry and auto-update off,
//! non-interactive trust, config directories) and the executable the health
//! check looks for. Applied by the `preset` startup step.

#[derive(Debug, PartialEq, Eq)]
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
