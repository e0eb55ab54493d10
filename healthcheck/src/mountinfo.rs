//! /proc/self/mountinfo, parsed: which paths are mount points, with what
//! options, and where the cgroup hierarchies are mounted.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The path inside the mounted filesystem that appears at `mount_point`.
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Per-mount options ("rw,nosuid,…").
    pub options: String,
    pub fstype: String,
    /// Per-filesystem options ("rw,memory" for a cgroup v1 hierarchy).
    pub super_options: String,
}

impl Mount {
    pub fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

pub fn read() -> Result<Vec<Mount>, String> {
    Ok(parse(&read_text()?))
}

/// The mount whose mount point is exactly `path` (the last one wins), read
/// from /proc/self/mountinfo: only that line is parsed whole.
pub fn read_mount_at(path: &Path) -> Result<Option<Mount>, String> {
    use std::os::unix::ffi::OsStrExt;
    let text = read_text()?;
    let wanted = path.as_os_str().as_bytes();
    let found = text.lines().rev().find(|line| {
        // The fifth field is the mount point, escaped (\040 for a space).
        let Some(field) = line.split(' ').nth(4) else {
            return false;
        };
        if field.contains('\\') {
            unescape(field).as_bytes() == wanted
        } else {
            field.as_bytes() == wanted
        }
    });
    Ok(found.and_then(parse_line))
}

/// The whole table in one read: /proc files have no size to go by, and
/// growing a buffer from nothing takes one small read after another.
fn read_text() -> Result<String, String> {
    use std::io::Read;
    let err = |e: std::io::Error| format!("reading /proc/self/mountinfo: {e}");
    let mut f = std::fs::File::open("/proc/self/mountinfo").map_err(err)?;
    let mut text = String::with_capacity(64 * 1024);
    f.read_to_string(&mut text).map_err(err)?;
    Ok(text)
}

pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    Some(Mount {
        root: PathBuf::from(unescape(l.get(3)?)),
        mount_point: PathBuf::from(unescape(l.get(4)?)),
        options: l.get(5)?.to_string(),
        fstype: r.first()?.to_string(),
        super_options: r.get(2).unwrap_or(&"").to_string(),
    })
}

/// mountinfo escapes space, tab, newline and backslash as \ooo octal.
fn unescape(s: &str) -> String {
    let mut rest = s.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    while let Some((&first, tail)) = rest.split_first() {
        let octal = match tail {
            [a, b, c, ..]
                if first == b'\\' && [a, b, c].iter().all(|d| (b'0'..=b'7').contains(*d)) =>
            {
                let v =
                    (u16::from(a - b'0') << 6) | (u16::from(b - b'0') << 3) | u16::from(c - b'0');
                u8::try_from(v).ok()
            }
            _ => None,
        };
        match (octal, tail.get(3..)) {
            (Some(v), Some(after)) => {
                out.push(v);
                rest = after;
            }
            _ => {
                out.push(first);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount whose mount point is exactly `path` (the last one wins, as the
/// kernel shows stacked mounts in order).
pub fn mount_at<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.mount_point == path)
}

/// The mount that contains `path` (longest mount-point prefix).
pub fn mount_containing<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .rev()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_at_a_path_is_found_without_parsing_every_line() {
        let mounts = read().unwrap();
        let root = mount_at(&mounts, Path::new("/")).cloned();
        assert_eq!(read_mount_at(Path::new("/")).unwrap(), root);
        assert_eq!(read_mount_at(Path::new("/no/such/mount")).unwrap(), None);
    }

    const SAMPLE: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
31 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
40 22 254:1 /projects/a /workspace ro,relatime shared:5 - ext4 /dev/vdb rw
41 22 0:50 / /with\\040space rw - tmpfs tmpfs rw,size=1024k
";

    #[test]
    fn parses_fields_and_escapes() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 5);
        let ws = mount_at(&m, Path::new("/workspace")).unwrap();
        assert_eq!(ws.root, Path::new("/projects/a"));
        assert!(ws.read_only());
        assert_eq!(ws.fstype, "ext4");
        assert!(mount_at(&m, Path::new("/with space")).is_some());
        assert_eq!(m[1].super_options, "rw,memory");
        let inner = mount_containing(&m, Path::new("/workspace/src/x")).unwrap();
        assert_eq!(inner.mount_point, Path::new("/workspace"));
        let root = mount_containing(&m, Path::new("/etc")).unwrap();
        assert_eq!(root.mount_point, Path::new("/"));
    }
}
