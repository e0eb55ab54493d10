//! Credentials staging: a credentials file mounted read-only (a Secret, a
//! bind mount of ~/.claude/.credentials.json) is copied to where the CLI
//! wants it writable, in the command user's home, mode 0600 by default.
//! The original is only ever read.

use crate::config::Config;
use crate::exit::Error;
use crate::files::install;
use crate::launch::Launch;

pub fn step(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
    if c.credentials.is_empty() {
        return Ok(None);
    }
    let mut staged = Vec::new();
    for (i, cred) in c.credentials.iter().enumerate() {
        let label = format!("credentials[{i}]");
        let dest = launch.resolve_home(&cred.dest);
        let bytes = match std::fs::read(&cred.source) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && cred.optional => {
                staged.push(format!("{} absent (optional)", cred.source.display()));
                continue;
            }
            Err(e) => {
                return Err(Error::Config(format!(
                    "{label}: reading {}: {e}",
                    cred.source.display()
                )))
            }
        };
        crate::logging::remember_file_secrets(&bytes);
        // Mounted straight at the destination: nothing to stage.
        if let (Ok(a), Ok(b)) = (
            std::fs::canonicalize(&cred.source),
            std::fs::canonicalize(&dest),
        ) {
            if a == b {
                staged.push(format!("{} already in place", dest.display()));
                continue;
            }
        }
        let mode = cred.mode.0;
        install(&dest, &bytes, mode, launch).map_err(|e| {
            Error::Config(format!(
                "{label}: {e} (is the home directory writable? mount a tmpfs or volume there)"
            ))
        })?;
        staged.push(format!(
            "{} -> {} ({:o})",
            cred.source.display(),
            dest.display(),
            mode
        ));
    }
    Ok(Some(staged.join("; ")))
}
