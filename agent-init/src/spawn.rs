//! Building a process from a [`Launch`]: its environment, identity,
//! no_new_privs and placement (a session of its own, the terminal's
//! foreground group, or where the caller is). The command, hooks, services
//! and `agent-init exec` are all built here.

use std::ffi::OsString;
use std::process::Command;

use crate::exit::{exec_error, Error};
use crate::launch::Launch;
use crate::sys::{self, Placement};

/// A process as the launch describes it. `argv` must not be empty.
pub fn command(argv: &[OsString], launch: &Launch, placement: Placement) -> Command {
    let (program, args) = match argv.split_first() {
        Some(split) => split,
        None => (&OsString::new(), &[][..]),
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    // Unchanged, agent-init's own environment goes as it is (no copy);
    // else the bytes it was given, with what agent-init set over them.
    if !launch.env.inherited() {
        use std::os::unix::ffi::OsStrExt;
        let raw = launch.raw_env.iter().map(|(k, v)| {
            (
                std::ffi::OsStr::from_bytes(k),
                std::ffi::OsStr::from_bytes(v),
            )
        });
        cmd.env_clear().envs(raw).envs(launch.env.iter());
    }
    // The init itself leaves for `/` once the command runs (so it does not
    // pin the workspace's mount); what it starts later still starts where
    // the init was started.
    if !launch.cwd.is_empty() {
        cmd.current_dir(&launch.cwd);
    }
    sys::place_child(
        &mut cmd,
        placement,
        launch
            .user
            .as_ref()
            .map(|i| (i.uid, i.gid, i.groups.as_slice())),
        launch.no_new_privs,
    );
    cmd
}

/// Starts `cmd`. Never `wait` on the handle: every wait goes through the
/// init's reaper (waitpid(-1), see `children`); dropping it neither waits
/// nor kills.
pub fn start(mut cmd: Command, program: &std::ffi::OsStr) -> Result<std::process::Child, Error> {
    sys::spawn(&mut cmd).map_err(|e| exec_error(program, e))
}

/// Where the command goes: the terminal's foreground group when standard
/// input is a terminal (`docker run -it`), else a session of its own.
pub fn placement_for_command() -> Placement {
    if sys::stdin_is_tty() {
        Placement::ForegroundGroup
    } else {
        Placement::NewSession
    }
}
