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

/// A command's environment: read like the map it is; changed only through
/// [`Env::insert`] and [`Env::extend`], so it knows whether it is still the
/// one agent-init inherited (a process then gets `environ` as it is, with
/// no copy built for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "BTreeMap<String, String>", into = "BTreeMap<String, String>")]
pub struct Env {
    vars: BTreeMap<String, String>,
    /// Whether `vars` (with `raw_env`) is exactly agent-init's own
    /// environment.
    inherited: bool,
}

impl Env {
    pub fn insert(&mut self, name: String, value: String) {
        if self.vars.get(&name) != Some(&value) {
            self.inherited = false;
            self.vars.insert(name, value);
        }
    }

    pub fn extend(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        for (name, value) in vars {
            self.insert(name, value);
        }
    }

    /// Whether this is still agent-init's own environment, unchanged.
    pub fn inherited(&self) -> bool {
        self.inherited
    }
}

impl std::ops::Deref for Env {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.vars
    }
}

impl<'a> IntoIterator for &'a Env {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.vars.iter()
    }
}

/// An environment from elsewhere (a configuration, another process): to be
/// set as it is, never taken for agent-init's own.
impl From<BTreeMap<String, String>> for Env {
    fn from(vars: BTreeMap<String, String>) -> Env {
        Env {
            vars,
            inherited: false,
        }
    }
}

impl From<Env> for BTreeMap<String, String> {
    fn from(env: Env) -> Self {
        env.vars
    }
}

impl Default for Env {
    fn default() -> Env {
        Env::from(BTreeMap::new())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Launch {
    /// The environment of the command, as text: every variable whose name
    /// and value are UTF-8, and all that agent-init sets.
    pub env: Env,
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
        let mut env = BTreeMap::new();
        let mut raw_env = Vec::new();
        // A name given twice: the command gets one copy, as agent-init
        // reads it (the last), not `environ` as it is.
        let mut inherited = true;
        for (k, v) in crate::sys::environ() {
            match (std::str::from_utf8(k), std::str::from_utf8(v)) {
                (Ok(k), Ok(v)) => {
                    inherited &= env.insert(k.to_string(), v.to_string()).is_none();
                }
                _ => raw_env.push((k.to_vec(), v.to_vec())),
            }
        }
        Launch {
            env: Env {
                vars: env,
                inherited,
            },
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
