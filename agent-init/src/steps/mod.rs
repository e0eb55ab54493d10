//! Startup steps: what entrypoint.sh used to do, as an ordered list of named
//! steps that run before the command. Each logs one line with its outcome
//! and duration; the first failure stops startup with its exit code.
//!
//! Steps only prepare a [`Launch`] (environment, identity) and validate; the
//! only files they write are the ones configured (ConfigMap file copies,
//! staged credentials, a preset's directories). The two that wait (`wait`,
//! `hooks`) are futures: the init races the whole startup against SIGTERM,
//! and dropping it stops them at once.

pub mod configmap;
pub mod credentials;
pub mod env;
pub mod git;
pub mod hooks;
pub mod preset;
pub mod user;
pub mod wait;
pub mod workspace;

use std::time::Instant;

use crate::config::Config;
use crate::exit::Error;
use crate::launch::Launch;

type Sync = fn(&Config, &mut Launch) -> Result<Option<String>, Error>;

enum Step {
    Sync(Sync),
    Wait,
    Hooks,
}

/// The steps in order. ConfigMaps load before the environment check so
/// that a required variable may come from a mounted Secret; the user is
/// resolved first because later steps check and write as that user.
const STEPS: [(&str, Step); 10] = [
    ("user", Step::Sync(user::step)),
    ("configmaps", Step::Sync(configmap::step)),
    ("env", Step::Sync(env::step)),
    ("workspace", Step::Sync(workspace::step)),
    ("git", Step::Sync(git::step)),
    ("credentials", Step::Sync(credentials::step)),
    ("preset", Step::Sync(preset::step)),
    ("wait", Step::Wait),
    ("privileges", Step::Sync(user::privileges)),
    ("hooks", Step::Hooks),
];

/// Which steps run and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// For real, as the init.
    Run,
    /// `agent-init check`: no step that writes or runs anything
    /// (credentials, hooks), and each dependency is probed once instead of
    /// waited for.
    Validate,
}

/// Runs every step and returns how the command is to be started.
pub async fn run(config: &Config, mode: Mode) -> Result<Launch, Error> {
    let started = Instant::now();
    let mut launch = Launch::from_process();
    launch.dry_run = mode == Mode::Validate;
    for (name, step) in &STEPS {
        if mode == Mode::Validate && matches!(*name, "credentials" | "hooks") {
            continue;
        }
        let t = Instant::now();
        let outcome = match step {
            Step::Sync(f) => f(config, &mut launch),
            // Their futures are large (an HTTP client, a hook's pipes):
            // on the heap, and only when there is something to wait for or
            // run, so the startup future itself stays small.
            Step::Wait if wait_configured(config) => {
                Box::pin(wait::step(config, &launch, mode)).await
            }
            Step::Hooks if !config.hooks.is_empty() => Box::pin(hooks::step(config, &launch)).await,
            Step::Wait | Step::Hooks => Ok(None),
        };
        match outcome {
            Ok(Some(outcome)) => tracing::info!(step = name, ms = ms(t), "{outcome}"),
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

/// Whether the wait step has anything to wait for (else it is skipped).
fn wait_configured(config: &Config) -> bool {
    config.wait.enabled && !config.wait.urls.is_empty()
}

fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e4).round() / 10.0
}
