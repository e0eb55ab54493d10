//! Who the command runs as: `user = "NAME[:GROUP]"` or `"UID[:GID]"`,
//! resolved against /etc/passwd and /etc/group (supplementary groups, HOME,
//! USER). The switch itself happens between fork and exec (see `sys`).

use nix::unistd::{Gid, Group, Uid, User};

use crate::config::Config;
use crate::exit::Error;
use crate::launch::{Identity, Launch};

pub fn resolve(spec: &str) -> Result<Identity, Error> {
    let bad = |msg: String| Error::Config(format!("user `{spec}`: {msg}"));
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = match u.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)).ok().flatten(),
        Err(_) => Some(
            User::from_name(u)
                .map_err(|e| bad(format!("reading /etc/passwd: {e}")))?
                .ok_or_else(|| bad(format!("no user `{u}` in /etc/passwd")))?,
        ),
    };
    let uid = match (&entry, u.parse::<u32>()) {
        (_, Ok(uid)) => uid,
        (Some(e), _) => e.uid.as_raw(),
        // A name either resolves or is an error above.
        (None, Err(_)) => return Err(bad(format!("no user `{u}` in /etc/passwd"))),
    };
    let gid = match g {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => Group::from_name(g)
                .map_err(|e| bad(format!("reading /etc/group: {e}")))?
                .ok_or_else(|| bad(format!("no group `{g}` in /etc/group")))?
                .gid
                .as_raw(),
        },
        None => match &entry {
            Some(e) => e.gid.as_raw(),
            None => uid,
        },
    };
    let groups = match &entry {
        Some(e) => {
            let cname =
                std::ffi::CString::new(e.name.as_str()).map_err(|_| bad("bad name".into()))?;
            nix::unistd::getgrouplist(&cname, Gid::from_raw(gid))
                .unwrap_or_default()
                .into_iter()
                .map(Gid::as_raw)
                .filter(|g| *g != gid)
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Identity {
        uid,
        gid,
        groups,
        name: entry.as_ref().map(|e| e.name.clone()),
        home: entry.as_ref().map(|e| e.dir.to_string_lossy().into_owned()),
    })
}

/// Resolves the configured user first: later steps check and write as it.
pub fn step(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
    let Some(spec) = &c.user else {
        return Ok(None);
    };
    let target = switch_to(launch, spec, "user")?;
    Ok(Some(format!(
        "command will run as uid {} gid {} groups {:?}{}",
        target.uid,
        target.gid,
        target.groups,
        target
            .name
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default()
    )))
}

/// Makes `launch` run as user `spec` (named by `key` in errors): its
/// identity, HOME, USER and LOGNAME. Only root may switch to another uid.
pub fn switch_to(launch: &mut Launch, spec: &str, key: &str) -> Result<Identity, Error> {
    // The top-level key is `user`, which resolve's messages name already.
    let named = |e: Error| match key {
        "user" => e,
        _ => Error::Config(format!("{key}: {e}")),
    };
    let target = resolve(spec).map_err(named)?;
    let me = nix::unistd::geteuid().as_raw();
    if me != 0 && me != target.uid {
        return Err(named(Error::Config(format!(
            "user `{spec}`: agent-init runs as uid {me}, not root, and cannot switch to uid {}",
            target.uid
        ))));
    }
    if let Some(home) = &target.home {
        launch.env.insert("HOME".into(), home.clone());
    }
    if let Some(name) = &target.name {
        launch.env.insert("USER".into(), name.clone());
        launch.env.insert("LOGNAME".into(), name.clone());
    }
    launch.user = Some(target.clone());
    Ok(target)
}

/// Records the privilege changes the spawn will make (see `sys`).
pub fn privileges(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
    launch.no_new_privs = c.no_new_privs;
    let me = nix::unistd::geteuid().as_raw();
    let nnp = if c.no_new_privs {
        ", no_new_privs set"
    } else {
        ""
    };
    Ok(match &launch.user {
        None if !c.no_new_privs => None,
        None => Some("no_new_privs set before exec".into()),
        Some(t) if t.uid != me => Some(format!(
            "dropping to uid {} gid {} before exec{nnp}",
            t.uid, t.gid
        )),
        Some(_) => Some(format!("already running as the command's user{nnp}")),
    })
}
