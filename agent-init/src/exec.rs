//! `agent-init exec [--] CMD…` (like s6-overlay's with-contenv): runs CMD
//! with exactly the environment, user, working directory and git trust the
//! main command got, taken from the running init over its status socket —
//! the startup steps are not run again. CMD replaces this process, so
//! `docker exec -it` keeps its terminal and signals.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use crate::exit::{exec_error, Error};
use crate::launch::Launch;
use crate::{spawn, sys};

pub fn run(argv: &[OsString]) -> Error {
    let mut launch = match fetch() {
        Ok(l) => l,
        Err(e) => return e,
    };
    let me = nix::unistd::geteuid().as_raw();
    match &launch.user {
        // Already the command's user (docker exec --user, or the image's
        // USER): nothing to switch.
        Some(t) if t.uid == me => launch.user = None,
        Some(t) if me != 0 => {
            return Error::Config(format!(
                "the command runs as uid {}, but this exec runs as uid {me} and cannot switch \
                 (use docker exec --user {} or run as root)",
                t.uid, t.uid
            ))
        }
        _ => {}
    }
    let mut cmd = spawn::command(argv, &launch, sys::Placement::Inherit);
    cmd.current_dir(&launch.cwd);
    let err = cmd.exec();
    exec_error(
        argv.first()
            .map_or(std::ffi::OsStr::new(""), |a| a.as_os_str()),
        err,
    )
}

fn fetch() -> Result<Launch, Error> {
    let answer =
        healthcheck::socket::request("launch", Duration::from_secs(2)).map_err(Error::Config)?;
    let value: serde_json::Value = serde_json::from_slice(&answer)
        .map_err(|e| Error::Config(format!("bad answer from agent-init: {e}")))?;
    if let Some(err) = value.get("error").and_then(|e| e.as_str()) {
        return Err(Error::Config(format!("agent-init refused: {err}")));
    }
    serde_json::from_value(value)
        .map_err(|e| Error::Config(format!("bad launch from agent-init: {e}")))
}
