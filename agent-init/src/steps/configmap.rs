//! Mounted Kubernetes ConfigMaps and Secrets, read the way the kubelet lays
//! them out: each key is a symlink `KEY -> ..data/KEY`, `..data` is a
//! symlink to a timestamped directory `..2025_01_01_00_00_00.123`, and an
//! update swaps `..data` atomically. We resolve `..data` once (one
//! consistent snapshot), skip every dot entry, follow key symlinks but never
//! out of the mounted directory, and never log a value. A plain file is read
//! as a `.env` file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Launch, Pause};
use crate::config::{parse_mode, Config, ConfigMap};
use crate::exit::Error;

/// Reads every key of a mounted directory (or `.env` file): key → bytes.
pub fn read(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let meta =
        std::fs::metadata(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    if meta.is_file() {
        return read_env_file(path);
    }
    let root = std::fs::canonicalize(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    // One snapshot: keys are read through the directory `..data` points to
    // now, so a concurrent atomic swap cannot mix old and new values.
    let data = root.join("..data");
    let snapshot = match std::fs::canonicalize(&data) {
        Ok(d) if d.starts_with(&root) => Some(d),
        Ok(d) => {
            return Err(Error::Config(format!(
                "{}: ..data points outside the mounted directory ({})",
                path.display(),
                d.display()
            )))
        }
        Err(_) => None,
    };
    let mut out = BTreeMap::new();
    let entries =
        std::fs::read_dir(&root).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let source = match &snapshot {
            Some(d) if d.join(&name).exists() => d.join(&name),
            _ => root.join(&name),
        };
        let real = std::fs::canonicalize(&source)
            .map_err(|e| Error::Config(format!("{}/{name}: {e}", path.display())))?;
        if !real.starts_with(&root) {
            return Err(Error::Config(format!(
                "{}/{name} links outside the mounted directory (to {}); refusing to follow it",
                path.display(),
                real.display()
            )));
        }
        if !real.is_file() {
            continue;
        }
        let bytes = std::fs::read(&real)
            .map_err(|e| Error::Config(format!("{}/{name}: {e}", path.display())))?;
        out.insert(name, bytes);
    }
    Ok(out)
}

/// KEY=VALUE lines; `export ` prefixes, comments, blank lines and one level
/// of single or double quotes are understood.
fn read_env_file(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line.split_once('=').ok_or_else(|| {
            Error::Config(format!("{}:{}: expected KEY=VALUE", path.display(), n + 1))
        })?;
        let v = v.trim();
        let v = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(a, b)| v.strip_prefix(*a).and_then(|x| x.strip_suffix(*b)))
            .unwrap_or(v);
        out.insert(k.trim().to_string(), v.as_bytes().to_vec());
    }
    Ok(out)
}

pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Writes `bytes` to `dest` atomically (temp file + rename) with `mode`,
/// owned by the command's user; parent directories are created for it.
pub fn install(dest: &Path, bytes: &[u8], mode: u32, launch: &Launch) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let (owner, group) = owner_of(launch);
    let parent = dest.parent().unwrap_or(Path::new("/"));
    create_dirs(parent, launch)?;
    let tmp = parent.join(format!(
        ".{}.agent-init.tmp",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    let finish = || -> Result<(), String> {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", tmp.display()))?;
        if nix::unistd::geteuid().is_root() {
            nix::unistd::chown(&tmp, owner, group)
                .map_err(|e| format!("chown {}: {e}", tmp.display()))?;
        }
        std::fs::rename(&tmp, dest).map_err(|e| format!("renaming to {}: {e}", dest.display()))
    };
    finish().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn owner_of(launch: &Launch) -> (Option<nix::unistd::Uid>, Option<nix::unistd::Gid>) {
    let (uid, gids) = launch.ids();
    (
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gids[0])),
    )
}

/// Creates `dir` and its missing parents, private (0700) and owned by the
/// command's user.
pub fn create_dirs(dir: &Path, launch: &Launch) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let (owner, group) = owner_of(launch);
    let mut missing = Vec::new();
    let mut p = dir;
    while !p.exists() {
        missing.push(p.to_path_buf());
        p = p.parent().unwrap_or(Path::new("/"));
    }
    for d in missing.iter().rev() {
        std::fs::create_dir(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).ok();
        nix::unistd::chown(d, owner, group).ok();
    }
    Ok(())
}

fn load_one(i: usize, m: &ConfigMap, launch: &mut Launch) -> Result<String, Error> {
    let label = format!("configmaps[{i}] {}", m.path.display());
    if !m.path.exists() && m.optional {
        return Ok(format!("{}: absent (optional)", m.path.display()));
    }
    let keys = read(&m.path)?;
    for f in &m.files {
        let bytes = keys.get(&f.key).ok_or_else(|| {
            Error::Config(format!(
                "{label}: key `{}` (files) is not in the directory",
                f.key
            ))
        })?;
        let mode = f
            .mode
            .as_deref()
            .map(parse_mode)
            .transpose()
            .map_err(Error::Config)?
            .unwrap_or(0o600);
        let dest = launch.resolve_home(&f.dest);
        if launch.dry_run {
            continue;
        }
        install(&dest, bytes, mode, launch)
            .map_err(|e| Error::Config(format!("{label}: key `{}`: {e}", f.key)))?;
    }
    let mut exported = Vec::new();
    if m.env {
        for (key, bytes) in &keys {
            if m.files.iter().any(|f| &f.key == key) {
                continue;
            }
            let name = format!("{}{key}", m.prefix);
            if !valid_env_name(&name) {
                return Err(Error::Config(format!(
                    "{label}: key `{key}` is not a valid environment variable name \
                     (list it under files, or set env = false)"
                )));
            }
            let value = String::from_utf8(bytes.clone()).map_err(|_| {
                Error::Config(format!(
                    "{label}: key `{key}` is not UTF-8 text; copy it to a file instead"
                ))
            })?;
            crate::logging::remember_mounted_values([value.as_str()]);
            launch.mounted.insert(name.clone());
            launch.env.insert(name.clone(), value);
            exported.push(name);
        }
    }
    Ok(format!(
        "{}: {} keys, exported {}{}",
        m.path.display(),
        keys.len(),
        if exported.is_empty() {
            "none".to_string()
        } else {
            exported.join(", ")
        },
        if m.files.is_empty() {
            String::new()
        } else {
            format!(", {} copied to files", m.files.len())
        }
    ))
}

pub fn step(c: &Config, launch: &mut Launch, _: &mut Pause) -> Result<Option<String>, Error> {
    if c.configmaps.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for (i, m) in c.configmaps.iter().enumerate() {
        let mut m = m.clone();
        m.path = PathBuf::from(crate::config::expand(
            &m.path.to_string_lossy(),
            &format!("configmaps[{i}].path"),
            &|n| launch.env.get(n).cloned(),
        )?);
        parts.push(load_one(i, &m, launch)?);
    }
    Ok(Some(parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert!(valid_env_name("ANTHROPIC_API_KEY"));
        assert!(valid_env_name("_x1"));
        assert!(!valid_env_name("settings.json"));
        assert!(!valid_env_name("1ABC"));
        assert!(!valid_env_name(""));
    }
}
