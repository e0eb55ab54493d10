//! Mounted Kubernetes ConfigMaps and Secrets, read the way the kubelet lays
//! them out: each key is a symlink `KEY -> ..data/KEY`, `..data` is a
//! symlink to a timestamped directory `..2025_01_01_00_00_00.123`, and an
//! update swaps `..data` atomically. We resolve `..data` once (one
//! consistent snapshot), skip every dot entry, follow key symlinks but never
//! out of the mounted directory, and never log a value. A plain file is read
//! as a `.env` file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{valid_env_name, Config, ConfigMap};
use crate::exit::Error;
use crate::files::install;
use crate::launch::Launch;

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
        let name = match entry.file_name().into_string() {
            Ok(name) => name,
            Err(raw) => {
                use std::os::unix::ffi::OsStrExt;
                // No key can be named so (Kubernetes keys are
                // [-._a-zA-Z0-9]+): whatever put it there, the rest of the
                // directory is still read.
                tracing::warn!(
                    "{}: skipped the entry \"{}\": its name is not UTF-8 text, so it is no key",
                    path.display(),
                    raw.as_bytes().escape_ascii()
                );
                continue;
            }
        };
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
    parse_env_text(&text, path)
}

/// The lines of a `.env` file read from `path`: key → bytes.
pub fn parse_env_text(text: &str, path: &Path) -> Result<BTreeMap<String, Vec<u8>>, Error> {
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
        // A hook that prints the staged file must show none of it.
        crate::logging::remember_file_secrets(bytes);
        let mode = f.mode.0;
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

pub fn step(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
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
