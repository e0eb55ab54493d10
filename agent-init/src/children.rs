//! The init's children and who waits for each: on every SIGCHLD the init
//! calls [`reap`], which collects every exited child with waitpid(-1) and
//! hands each status to whoever asked for that pid with [`watch`] (the
//! command, a hook, a service). Nobody waits on a child any other way:
//! per-pid waits (tokio::process, std's `wait`) race with waitpid(-1).

use std::collections::BTreeMap;
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::sync::oneshot;

static WAITERS: Mutex<BTreeMap<i32, oneshot::Sender<WaitStatus>>> = Mutex::new(BTreeMap::new());

/// Asks for the exit status of child `pid`. Call it right after the spawn,
/// before the init's loop runs again (which it cannot do in between: the
/// loop is one thread), so no exit can be missed.
pub fn watch(pid: i32) -> oneshot::Receiver<WaitStatus> {
    let (tx, rx) = oneshot::channel();
    WAITERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pid, tx);
    rx
}

/// Collects every exited child and delivers the statuses asked for;
/// returns the pids nobody asked for (orphans the init adopted), with
/// `name` each with its command's name.
pub fn reap(name: bool) -> Vec<(i32, WaitStatus, Option<String>)> {
    let mut unclaimed = Vec::new();
    loop {
        // Named: a look at the next exited child without reaping it, while
        // its /proc entry still says what it was.
        let mut command = None;
        let mut target = -1;
        if name {
            match crate::sys::next_exited() {
                Ok(Some(pid)) => {
                    target = pid;
                    if !WAITERS
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .contains_key(&pid)
                    {
                        command = crate::sys::command_name(pid);
                    }
                }
                Ok(None) => break,
                Err(_) => {}
            }
        }
        match waitpid(Pid::from_raw(target), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => break,
            Ok(status) => {
                let Some(pid) = status.pid().map(Pid::as_raw) else {
                    continue;
                };
                let waiter = WAITERS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&pid);
                match waiter {
                    // A waiter that gave up (dropped) still got its child reaped.
                    Some(tx) => {
                        let _ = tx.send(status);
                    }
                    None => unclaimed.push((pid, status, command)),
                }
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) => break,
            Err(e) => {
                tracing::error!("waitpid failed: {e}");
                break;
            }
        }
    }
    unclaimed
}
