//! Startup steps: what entrypoint.sh used to do, as an ordered list of named
//! steps that run before the command. Each logs one line with its outcome
//! and duration; the first failure stops startup with its exit code.
//!
//! Steps only prepare a [`Launch`] (environment, identity) and validate; the
//! only files they write are the ones configured (ConfigMap file copies,
//! staged credentials). Long waits go through the init's `pause`, so a
//! SIGTERM during startup is answered at once.

pub mod configmap;
pub mod credentials;
pub mod env;
pub mod git;
pub mod hooks;
pub mod preset;
pub mod user;
pub mod wait;
pub mod workspace;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::exit::Error;

/// How the command (and hooks, and `agent-init exec`) will be started.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Launch {
    /// The complete environment of the command.
    pub env: BTreeMap<String, String>,
    /// Who it runs as; `None`: as agent-init itself.
    pub user: Option<user::Target>,
    pub no_new_privs: bool,
    /// Working directory (agent-init's own).
    pub cwd: String,
    /// `agent-init check`: validate only, write nothing.
    #[serde(skip)]
    pub dry_run: bool,
    /// Names of the variables whose values came from a mounted ConfigMap or
    /// Secret: their values are never shown, whatever the name.
    #[serde(skip)]
    pub mounted: std::collections::BTreeSet<String>,
}

impl Launch {
    pub fn from_process() -> Launch {
        Launch {
            env: std::env::vars_os()
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect(),
            user: None,
            no_new_privs: false,
            cwd: std::env::current_dir()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "/".into()),
            dry_run: false,
            mounted: Default::default(),
        }
    }

    /// The value of variable `name` as it may be shown in a log line.
    pub fn shown<'a>(&self, name: &str, value: &'a str) -> std::borrow::Cow<'a, str> {
        if self.mounted.contains(name) {
            std::borrow::Cow::Borrowed(crate::logging::REDACTED)
        } else {
            crate::logging::redact(name, value)
        }
    }

    /// The home directory of the user the command runs as.
    pub fn home(&self) -> String {
        self.env.get("HOME").cloned().unwrap_or_else(|| "/".into())
    }

    /// `~/x` relative to the command user's home; other paths unchanged.
    pub fn resolve_home(&self, p: &str) -> std::path::PathBuf {
        match p.strip_prefix("~/") {
            Some(rest) => std::path::Path::new(&self.home()).join(rest),
            None => std::path::PathBuf::from(p),
        }
    }

    /// uid and gids the command runs with.
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
}

/// Sleeps for up to the given time but returns early with
/// `Error::Interrupted` when the init is told to stop.
pub type Pause<'a> = dyn FnMut(Duration) -> Result<(), Error> + 'a;

type Step = fn(&Config, &mut Launch, &mut Pause) -> Result<Option<String>, Error>;

/// The steps in order. ConfigMaps load before the environment check so
/// that a required variable may come from a mounted Secret; the user is
/// resolved first because later steps check and write as that user.
pub const STEPS: [(&str, Step); 10] = [
    ("user", user::step),
    ("configmaps", configmap::step),
    ("env", env::step),
    ("workspace", workspace::step),
    ("git", git::step),
    ("credentials", credentials::step),
    ("preset", preset::step),
    ("wait", wait::step),
    ("privileges", user::privileges),
    ("hooks", hooks::step),
];

/// Runs every step. `only_validate` (agent-init check) skips the steps that
/// change anything or wait (credentials, hooks) and probes each dependency
/// once instead of waiting.
pub fn run(config: &Config, pause: &mut Pause, only_validate: bool) -> Result<Launch, Error> {
    let started = Instant::now();
    let mut launch = Launch::from_process();
    launch.dry_run = only_validate;
    for (name, step) in STEPS {
        if only_validate && matches!(name, "credentials" | "hooks") {
            continue;
        }
        let t = Instant::now();
        match step(config, &mut launch, pause) {
            Ok(Some(outcome)) => {
                tracing::info!(step = name, ms = ms(t), "{outcome}");
            }
            Ok(None) => tracing::debug!(step = name, "skipped: not configured"),
            Err(e) => {
                tracing::error!(step = name, ms = ms(t), "{e}");
                return Err(e);
            }
        }
    }
    tracing::info!(ms = ms(started), "ready");
    Ok(launch)
}

fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e4).round() / 10.0
}
