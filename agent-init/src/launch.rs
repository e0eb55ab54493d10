//! How the command is started: its complete environment, who it runs as,
//! where. The startup steps build a [`Launch`]; the command, hooks,
//! services and `agent-init exec` are all started from one.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who a process runs as: applied between fork and exec (see `sys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// The user's name and home, when /etc/passwd knows the uid.
    pub name: Option<String>,
    pub home: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Launch {
    /// The environment of the command, as text: every variable whose name
    /// and value are UTF-8, and all that agent-init sets.
    pub env: BTreeMap<String, String>,
    /// The variables inherited whose name or value is not UTF-8, byte for
    /// byte: passed on as they came (a variable of the same name in `env`
    /// replaces one here).
    #[serde(default)]
    pub raw_env: Vec<(Vec<u8>, Vec<u8>)>,
    /// Who it runs as; `None`: as agent-init itself.
    pub user: Option<Identity>,
    pub no_new_privs: bool,
    /// Working directory (where agent-init was started).
    pub cwd: String,
    /// `agent-init check`: validate only, write nothing.
    #[serde(skip)]
    pub dry_run: bool,
    /// Names of the variables whose values came from a mounted ConfigMap or
    /// Secret: their values are never shown, whatever the name.
    #[serde(skip)]
    pub mounted: BTreeSet<String>,
}

impl Launch {
    pub fn from_process() -> Launch {
        use std::os::unix::ffi::OsStringExt;
        let mut env = BTreeMap::new();
        let mut raw_env = Vec::new();
        for (k, v) in std::env::vars_os() {
            match (k.into_string(), v.into_string()) {
                (Ok(k), Ok(v)) => {
                    env.insert(k, v);
                }
                (k, v) => raw_env.push((
                    k.map_or_else(OsStringExt::into_vec, String::into_bytes),
                    v.map_or_else(OsStringExt::into_vec, String::into_bytes),
                )),
            }
        }
        Launch {
            env,
            raw_env,
            user: None,
            no_new_privs: false,
            cwd: std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "/".into()),
            dry_run: false,
            mounted: BTreeSet::new(),
        }
    }

    /// The home directory of the user the command runs as.
    pub fn home(&self) -> String {
        self.env.get("HOME").cloned().unwrap_or_else(|| "/".into())
    }

    /// `~/x` relative to the command user's home; other paths unchanged.
    pub fn resolve_home(&self, p: &str) -> PathBuf {
        match p.strip_prefix("~/") {
            Some(rest) => Path::new(&self.home()).join(rest),
            None => PathBuf::from(p),
        }
    }

    /// uid and gids (primary first) the command runs with.
    pub fn ids(&self) -> (u32, Vec<u32>) {
        match &self.user {
            Some(t) => {
                let mut gids = vec![t.gid];
                gids.extend(&t.groups);
                (t.uid, gids)
            }
            None => {
                let mut gids = vec![nix::unistd::getegid().as_raw()];
                gids.extend(
                    nix::unistd::getgroups()
                        .unwrap_or_default()
                        .iter()
                        .map(|g| g.as_raw()),
                );
                (nix::unistd::geteuid().as_raw(), gids)
            }
        }
    }

    /// The uid the command runs as.
    pub fn uid(&self) -> u32 {
        self.user
            .as_ref()
            .map(|t| t.uid)
            .unwrap_or_else(|| nix::unistd::geteuid().as_raw())
    }

    /// The value of variable `name` as it may be shown in a log line.
    pub fn shown<'a>(&self, name: &str, value: &'a str) -> Cow<'a, str> {
        if self.mounted.contains(name) {
            Cow::Borrowed(crate::logging::REDACTED)
        } else {
            crate::logging::redact(name, value)
        }
    }
}
