//! `agent-init exec [--] CMD…` (like s6-overlay's with-contenv): runs CMD
//! with exactly the environment, user, working directory and git trust the
//! main command got, taken from the running init over its status socket —
//! the startup steps are not run again. CMD replaces this process, so
//! `docker exec -it` keeps its terminal and signals.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::SigSet;

use crate::exit::Error;
use crate::steps::Launch;
use crate::sys;

pub fn run(argv: &[OsString]) -> Error {
    let launch = match fetch() {
        Ok(l) => l,
        Err(e) => return e,
    };
    let (program, args) = argv.split_first().expect("clap requires a command");
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(&launch.env)
        .current_dir(&launch.cwd);
    let me = nix::unistd::geteuid().as_raw();
    let identity = match &launch.user {
        Some(t) if t.uid != me => {
            if me != 0 {
                return Error::Config(format!(
                    "the command runs as uid {}, but this exec runs as uid {me} and cannot switch \
                     (use docker exec --user {} or run as root)",
                    t.uid, t.uid
                ));
            }
            Some(sys::Identity {
                uid: t.uid,
                gid: t.gid,
                groups: t.groups.clone(),
            })
        }
        _ => None,
    };
    sys::place_child(
        &mut cmd,
        sys::Placement::Inherit,
        SigSet::empty(),
        identity,
        launch.no_new_privs,
    );
    let err = cmd.exec();
    crate::init::exec_error(program, err)
}

fn fetch() -> Result<Launch, Error> {
    let answer =
        healthcheck::status::request("launch", Duration::from_secs(2)).map_err(Error::Config)?;
    let value: serde_json::Value = serde_json::from_slice(&answer)
        .map_err(|e| Error::Config(format!("bad answer from agent-init: {e}")))?;
    if let Some(err) = value.get("error").and_then(|e| e.as_str()) {
        return Err(Error::Config(format!("agent-init refused: {err}")));
    }
    serde_json::from_value(value)
        .map_err(|e| Error::Config(format!("bad launch from agent-init: {e}")))
}
