//! Live reload of mounted ConfigMaps and Secrets. The kubelet updates such
//! a directory by writing a new timestamped directory, pointing a new
//! `..data_tmp` link at it and renaming that over `..data`: one atomic
//! swap, seen here through inotify on the directory itself (create, move
//! and write events alike). After each burst of events the directory is
//! resolved again; only when `..data` points somewhere new (or, for a plain
//! directory, its contents changed) is it a swap, handled once: the files
//! copied from it (`configmaps[].files`, and credentials whose source lies
//! in it) are staged again, atomically, with the same modes and owner, and
//! `on_change = "signal:SIG"` then signals the command (its process group,
//! or it alone with `signal_target = "child"`).
//! Variables taken from it cannot change in a running process: which keys
//! changed is logged, with that warning. Nothing polls: without events the
//! task sleeps in the runtime's epoll like everything else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;

use crate::config::{Config, OnChange};
use crate::exit::Error;
use crate::launch::Launch;
use crate::state::Shared;
use crate::steps::configmap;
use crate::sys::Notify;

/// How long a burst of events may go on before the directory is looked at.
const SETTLE: Duration = Duration::from_millis(50);

/// A restart asked for by a changed directory: the variables it exports,
/// with their new values.
pub type Restart = BTreeMap<String, String>;

/// One watched directory.
struct Watched {
    label: String,
    /// Prefix of the variable names its keys become.
    prefix: String,
    dir: PathBuf,
    on_change: OnChange,
    /// Whom a `signal:` reaction reaches (`signal_target`).
    target: crate::config::SignalTarget,
    /// key → (destination, mode)
    files: Vec<(String, PathBuf, u32)>,
    /// Credentials read from inside the directory: (source, destination, mode).
    credentials: Vec<(PathBuf, PathBuf, u32)>,
    /// The keys exported as variables, as the command got them.
    exported: Option<BTreeMap<String, Vec<u8>>>,
    /// What the directory was last seen as.
    seen: Option<Identity>,
}

/// What tells one version of a directory from the next.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    /// Where `..data` points (the kubelet's layout).
    Data(PathBuf),
    /// Every key and value (a plain directory).
    Contents(BTreeMap<String, Vec<u8>>),
}

fn identity(dir: &Path) -> Option<Identity> {
    match std::fs::canonicalize(dir.join("..data")) {
        Ok(target) => Some(Identity::Data(target)),
        Err(_) => configmap::read(dir).ok().map(Identity::Contents),
    }
}

/// Whether `dir` is a subPath mount: the kubelet binds a path from inside a
/// timestamped directory of the volume there, and never updates it.
fn is_sub_path(dir: &Path) -> bool {
    let Ok(mounts) = healthcheck::mountinfo::read() else {
        return false;
    };
    let Ok(real) = std::fs::canonicalize(dir) else {
        return false;
    };
    sub_path_in(&mounts, &real)
}

fn sub_path_in(mounts: &[healthcheck::mountinfo::Mount], real: &Path) -> bool {
    healthcheck::mountinfo::mount_at(mounts, real).is_some_and(|m| {
        m.root
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with("..20"))
    })
}

/// Starts watching every mounted directory in `configmaps`; `launch` is the
/// command's (for the staged files' owner and home). Nothing to watch,
/// nothing started. Restarts asked for by `on_change = "restart"` arrive on
/// the returned receiver.
pub fn start(
    c: &Config,
    launch: &Launch,
    shared: Arc<Shared>,
) -> Result<Option<tokio::sync::mpsc::Receiver<Restart>>, Error> {
    let mut watched = Vec::new();
    for (i, m) in c.configmaps.iter().enumerate() {
        let label = format!("configmaps[{i}]");
        let dir = PathBuf::from(crate::config::expand(
            &m.path.to_string_lossy(),
            &format!("{label}.path"),
            &|n| launch.env.get(n).cloned(),
        )?);
        if is_sub_path(&dir) {
            tracing::warn!(
                "{label} {} is a subPath mount: the kubelet never updates those; mount the whole volume to get updates",
                dir.display()
            );
        }
        if !dir.is_dir() {
            continue;
        }
        let on_change = m.on_change;
        let files = m
            .files
            .iter()
            .map(|f| (f.key.clone(), launch.resolve_home(&f.dest), f.mode.0))
            .collect();
        let root = std::fs::canonicalize(&dir).unwrap_or(dir.clone());
        let credentials = c
            .credentials
            .iter()
            .filter(|cr| {
                std::fs::canonicalize(&cr.source).is_ok_and(|s| s.starts_with(&root))
                    || cr.source.starts_with(&dir)
            })
            .map(|cr| (cr.source.clone(), launch.resolve_home(&cr.dest), cr.mode.0))
            .collect();
        let exported = m.env.then(|| exported_keys(&dir, m));
        watched.push(Watched {
            seen: identity(&dir),
            prefix: m.prefix.clone(),
            label,
            dir,
            on_change,
            target: c.signal_target,
            files,
            credentials,
            exported,
        });
    }
    if watched.is_empty() {
        return Ok(None);
    }
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .map_err(|e| Error::os("starting inotify", std::io::Error::from(e)))?;
    let mut by_wd: Vec<(WatchDescriptor, usize)> = Vec::new();
    let flags = AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_ATTRIB;
    for (i, w) in watched.iter().enumerate() {
        match inotify.add_watch(&w.dir, flags) {
            Ok(wd) => by_wd.push((wd, i)),
            Err(e) => tracing::warn!(
                "{} {}: not watched for updates: {e}",
                w.label,
                w.dir.display()
            ),
        }
    }
    let fd = crate::sys::notify_async(inotify).map_err(|e| Error::os("watching ConfigMaps", e))?;
    let launch = launch.clone();
    let (restart_tx, restart_rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(watch(fd, by_wd, watched, launch, shared, restart_tx));
    Ok(Some(restart_rx))
}

/// The keys of `dir` that became variables, with their values.
fn exported_keys(dir: &Path, m: &crate::config::ConfigMap) -> BTreeMap<String, Vec<u8>> {
    configmap::read(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !m.files.iter().any(|f| &f.key == k))
        .collect()
}

async fn watch(
    fd: AsyncFd<Notify>,
    by_wd: Vec<(WatchDescriptor, usize)>,
    mut watched: Vec<Watched>,
    launch: Launch,
    shared: Arc<Shared>,
    restarts: tokio::sync::mpsc::Sender<Restart>,
) {
    loop {
        let mut touched = vec![false; watched.len()];
        // Wait for the first event, then let the burst settle.
        if !drain(&fd, &by_wd, &mut touched).await {
            return;
        }
        tokio::time::sleep(SETTLE).await;
        let _ = read_ready(&fd, &by_wd, &mut touched);
        for (w, _) in watched.iter_mut().zip(&touched).filter(|(_, t)| **t) {
            changed(w, &launch, &shared, &restarts);
        }
    }
}

/// Waits until events are there and reads them; false when the watch is
/// broken for good.
async fn drain(
    fd: &AsyncFd<Notify>,
    by_wd: &[(WatchDescriptor, usize)],
    touched: &mut [bool],
) -> bool {
    loop {
        let mut guard = match fd.readable().await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!("watching ConfigMaps: {e}; updates are no longer seen");
                return false;
            }
        };
        match read_ready(fd, by_wd, touched) {
            Ok(true) => return true,
            Ok(false) => guard.clear_ready(),
            Err(e) => {
                tracing::error!("watching ConfigMaps: {e}; updates are no longer seen");
                return false;
            }
        }
    }
}

/// Reads what events there are without waiting; whether there were any.
fn read_ready(
    fd: &AsyncFd<Notify>,
    by_wd: &[(WatchDescriptor, usize)],
    touched: &mut [bool],
) -> Result<bool, nix::Error> {
    let mut any = false;
    loop {
        match fd.get_ref().get().read_events() {
            Ok(events) if events.is_empty() => return Ok(any),
            Ok(events) => {
                any = true;
                for e in events {
                    if let Some(t) = by_wd
                        .iter()
                        .find(|(wd, _)| *wd == e.wd)
                        .and_then(|(_, i)| touched.get_mut(*i))
                    {
                        *t = true;
                    }
                }
            }
            Err(nix::Error::EAGAIN) => return Ok(any),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Looks at a directory that had events; handles a real change once.
fn changed(
    w: &mut Watched,
    launch: &Launch,
    shared: &Shared,
    restarts: &tokio::sync::mpsc::Sender<Restart>,
) {
    let now = identity(&w.dir);
    if now.is_none() || now == w.seen {
        return;
    }
    // A plain directory's identity is its contents, read just now.
    let keys = match &now {
        Some(Identity::Contents(keys)) => keys.clone(),
        _ => match configmap::read(&w.dir) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!("{} changed but cannot be read: {e}", w.label);
                w.seen = now;
                return;
            }
        },
    };
    w.seen = now;
    let restaged = w.restage(&keys, launch);
    w.compare_exported(&keys);
    tracing::info!(
        "{} {} updated: {restaged} file(s) staged again",
        w.label,
        w.dir.display()
    );
    w.react(shared, restarts);
}

impl Watched {
    /// Stages the files and credentials from the directory again; returns
    /// how many were. What cannot be keeps its last content.
    fn restage(&self, keys: &BTreeMap<String, Vec<u8>>, launch: &Launch) -> usize {
        let mut restaged = 0;
        for (key, dest, mode) in &self.files {
            match keys.get(key) {
                Some(bytes) => {
                    crate::logging::remember_file_secrets(bytes);
                    match crate::files::install(dest, bytes, *mode, launch) {
                        Ok(()) => restaged += 1,
                        Err(e) => tracing::warn!("{}: key `{key}`: {e}", self.label),
                    }
                }
                None => tracing::warn!(
                    "{}: key `{key}` is gone from {}; {} keeps its last content",
                    self.label,
                    self.dir.display(),
                    dest.display()
                ),
            }
        }
        for (source, dest, mode) in &self.credentials {
            match std::fs::read(source) {
                Ok(bytes) => {
                    crate::logging::remember_file_secrets(&bytes);
                    match crate::files::install(dest, &bytes, *mode, launch) {
                        Ok(()) => restaged += 1,
                        Err(e) => tracing::warn!("{}: {e}", self.label),
                    }
                }
                Err(e) => tracing::warn!(
                    "{}: {}: {e}; {} keeps its last content",
                    self.label,
                    source.display(),
                    dest.display()
                ),
            }
        }
        restaged
    }

    /// Compares the keys exported as variables with what the command got:
    /// new values join the mask; a change the command cannot see (no
    /// restart) is said.
    fn compare_exported(&mut self, keys: &BTreeMap<String, Vec<u8>>) {
        let Some(before) = &mut self.exported else {
            return;
        };
        let after: BTreeMap<String, Vec<u8>> = keys
            .iter()
            .filter(|(k, _)| !self.files.iter().any(|(f, _, _)| f == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let differ: Vec<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !differ.is_empty() {
            for v in after.values() {
                if let Ok(text) = std::str::from_utf8(v) {
                    crate::logging::remember_mounted_values([text]);
                }
            }
            let names: Vec<&str> = differ.iter().map(|k| k.as_str()).collect();
            if self.on_change != OnChange::Restart {
                tracing::warn!(
                    "{} {}: keys {} changed; the command still sees their old values (a running process's environment cannot change)",
                    self.label,
                    self.dir.display(),
                    names.join(", ")
                );
            }
        }
        *before = after;
    }

    /// What `on_change` asks for beyond the restage: a restart (with the
    /// new values) or a signal to the command.
    fn react(&self, shared: &Shared, restarts: &tokio::sync::mpsc::Sender<Restart>) {
        match self.on_change {
            OnChange::Restage => {}
            OnChange::Restart => {
                let env: Restart = self
                    .exported
                    .iter()
                    .flatten()
                    .filter_map(|(k, v)| {
                        Some((
                            format!("{}{k}", self.prefix),
                            String::from_utf8(v.clone()).ok()?,
                        ))
                    })
                    .collect();
                if restarts.try_send(env).is_err() {
                    tracing::debug!("{}: a restart is already pending", self.label);
                }
            }
            OnChange::Signal(signo) => match shared.command_pid() {
                Some(pid) => {
                    crate::process::Target::new(pid, self.target).signal(signo);
                    tracing::info!(
                        "{}: sent {} to the command",
                        self.label,
                        crate::sys::signal_name(signo)
                    );
                }
                None => tracing::debug!("{}: no command to signal", self.label),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_path_mount_is_told_from_the_mount_table() {
        let table = "\
30 20 0:50 / /etc/agent/config ro,relatime - tmpfs tmpfs rw
31 20 8:1 /var/lib/kubelet/pods/p/volumes/kubernetes.io~configmap/cfg/..2026_11_28_10_00_00.1/app /etc/app ro - ext4 /dev/sda1 rw
";
        let mounts = healthcheck::mountinfo::parse(table);
        assert!(!sub_path_in(&mounts, Path::new("/etc/agent/config")));
        assert!(sub_path_in(&mounts, Path::new("/etc/app")));
        assert!(!sub_path_in(&mounts, Path::new("/elsewhere")));
    }
}
