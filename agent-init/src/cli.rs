//! The command line, read from the option table (`config::options`): each
//! flag, its help, its environment twin and default come from there, and
//! so does `--help`. Parsing turns argv into an [`Invocation`] whose flags
//! are the top configuration layer; nothing here has side effects, and
//! nothing imports it but `main`.
//!
//! Flags take `--flag VALUE` or `--flag=VALUE`; the first argument that is
//! not a flag (or everything after `--`) is the command, so the command's
//! own flags are never read as ours.

use std::ffi::OsString;
use std::path::PathBuf;

use figment::value::{Dict, Value};

use crate::config::options::{self, Kind, Opt, HEALTH, INIT};
use crate::config::Flags;

const ABOUT: &str = "A small, static PID 1 for AI-coding-agent containers: reaps zombies, \
forwards signals to the command's process group and exits with its code.";

const AFTER_HELP: &str = "\
Modes:
  agent-init [OPTIONS] -- CMD [ARGS...]   command mode: run CMD as the only direct
                                         child, forward signals, reap zombies, exit
                                         with CMD's code (128+N if killed by signal N)
  agent-init [OPTIONS] CMD [ARGS...]      the same, when CMD is not a subcommand name
  agent-init [OPTIONS]                    keep-alive mode: stay up for `docker exec`,
                                         reap orphans, exit 0 on SIGTERM/SIGINT

Exit codes:
  CMD's own code, or 128+N when CMD was killed by signal N (or when startup
  was interrupted by signal N)
  64 usage error       69 dependency unavailable   70 internal error
  71 OS error          75 startup hook failed      78 configuration error
  126 CMD not executable                            127 CMD not found

Configuration:
  Later wins: defaults < /etc/agent-init/config.toml (or --config) <
  AGENT_INIT_* environment variables (nested keys joined by __, e.g.
  AGENT_INIT_WORKSPACE__PATH) < flags. `agent-init config` shows each value
  and where it came from.";

/// Which part of agent-init runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    /// The init: the command, or keep-alive.
    Init,
    Health,
    Config,
    Check,
    Exec,
    Status,
}

/// How `health` prints (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub struct Invocation {
    pub sub: Sub,
    /// `--config PATH`.
    pub config: Option<PathBuf>,
    /// The flags given, as the top configuration layer.
    pub flags: Flags,
    pub format: Format,
    /// The command (init) or what `exec` runs; empty for keep-alive.
    pub command: Vec<OsString>,
}

/// Why parsing stopped: text for standard output (help, version, exit 0)
/// or a usage error for standard error (exit 64).
#[derive(Debug)]
pub enum Stop {
    Print(String),
    Usage(String),
}

const SUBCOMMANDS: [(&str, Sub, &str); 6] = [
    (
        "health",
        Sub::Health,
        "Check the container's health for a Docker HEALTHCHECK or a Kubernetes probe: exit 0 healthy, 1 unhealthy; one line per check, failing first",
    ),
    ("healthcheck", Sub::Health, "The same as health"),
    (
        "config",
        Sub::Config,
        "Print the effective configuration and where each value came from",
    ),
    (
        "check",
        Sub::Check,
        "Run every startup validation without starting the command (for CI or a `docker build` smoke test); exit 0 when all pass",
    ),
    (
        "status",
        Sub::Status,
        "Show what the running init supervises: the command, services and jobs, with state, pid, uptime, restarts and last exit or run; exit 69 when no init answers",
    ),
    (
        "exec",
        Sub::Exec,
        "Run CMD with exactly the environment, user and git trust the main command got, taken from the running init (use with `docker exec`)",
    ),
];

/// Parses argv (with the program name first).
pub fn parse(argv: Vec<OsString>) -> Result<Invocation, Stop> {
    let mut args = argv.into_iter().skip(1).peekable();
    let mut parser = Parser::new(&mut args);
    while let Some(arg) = args.next() {
        if parser.argument(arg, &mut args)? == Flow::Done {
            break;
        }
    }
    parser.finish()
}

/// The arguments after argv[0].
type Args = std::iter::Peekable<std::iter::Skip<std::vec::IntoIter<OsString>>>;

/// Whether the arguments go on.
#[derive(PartialEq, Eq)]
enum Flow {
    More,
    /// The rest is the command.
    Done,
}

/// One command line on its way to an [`Invocation`].
struct Parser {
    /// "agent-init" or "agent-init health", for messages.
    name: String,
    sub: Sub,
    /// Which options the subcommand takes.
    scope: u8,
    inv: Invocation,
    /// Repeated list flags, gathered: (option, flag as given, items).
    lists: Vec<(&'static Opt, String, Vec<String>)>,
}

impl Parser {
    /// Takes the subcommand's name off `args`, if it is one.
    fn new(args: &mut Args) -> Parser {
        let known = args.peek().and_then(|a| a.to_str()).and_then(|name| {
            SUBCOMMANDS
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(n, sub, _)| (*n, *sub))
        });
        let (name, sub) = match known {
            Some((name, sub)) => {
                args.next();
                (format!("agent-init {name}"), sub)
            }
            None => ("agent-init".to_string(), Sub::Init),
        };
        let scope = match sub {
            Sub::Health => HEALTH,
            // Takes only --format: it reads the running init, not a configuration.
            Sub::Status => 0,
            _ => INIT,
        };
        Parser {
            name,
            sub,
            scope,
            inv: Invocation {
                sub,
                config: None,
                flags: Flags::new(),
                format: Format::Text,
                command: Vec::new(),
            },
            lists: Vec::new(),
        }
    }

    fn usage(&self, msg: &str) -> Stop {
        usage(&self.name, msg)
    }

    /// One argument: the command (and with it the rest), `--`, help,
    /// version, or an option.
    fn argument(&mut self, arg: OsString, args: &mut Args) -> Result<Flow, Stop> {
        let Some(text) = arg.to_str() else {
            let msg = format!("unexpected argument '{}'", arg.to_string_lossy());
            return self.command(arg, args, || msg);
        };
        if text == "--" {
            self.inv.command.extend(args);
            return Ok(Flow::Done);
        }
        match text {
            "-h" | "--help" => return Err(Stop::Print(help(self.sub, &self.name, self.scope))),
            "-V" | "--version" if self.sub == Sub::Init => {
                return Err(Stop::Print(format!(
                    "agent-init {}\n",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            _ => {}
        }
        if !text.starts_with('-') || text == "-" {
            let text = text.to_string();
            return self.command(arg, args, || format!("unexpected argument '{text}' found"));
        }
        let text = text.to_string();
        self.option(&text, args)?;
        Ok(Flow::More)
    }

    /// `arg` and everything after it are the command, where the
    /// subcommand takes one; else the error `msg` says.
    fn command(
        &mut self,
        arg: OsString,
        args: &mut Args,
        msg: impl FnOnce() -> String,
    ) -> Result<Flow, Stop> {
        if !takes_command(self.sub) {
            return Err(self.usage(&msg()));
        }
        self.inv.command.push(arg);
        self.inv.command.extend(args);
        Ok(Flow::Done)
    }

    /// An option (`--flag`, `--flag=value`, `--flag value`).
    fn option(&mut self, text: &str, args: &mut Args) -> Result<(), Stop> {
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (text, None),
        };
        if self.sub == Sub::Exec {
            return Err(self.usage(&format!(
                "unexpected argument '{text}' found (put the command after --)"
            )));
        }
        if flag == "--config" && self.sub != Sub::Status {
            self.inv.config = Some(PathBuf::from(self.value(flag, inline, args, "PATH")?));
            return Ok(());
        }
        if flag == "--format" && matches!(self.sub, Sub::Health | Sub::Status) {
            self.inv.format = match self.value(flag, inline, args, "text|json")?.as_str() {
                "text" => Format::Text,
                "json" => Format::Json,
                other => {
                    return Err(self.usage(&format!(
                        "invalid value '{other}' for '--format <text|json>': use text or json"
                    )))
                }
            };
            return Ok(());
        }
        let scope = self.scope;
        let opt = flag.strip_prefix("--").and_then(|f| {
            options::OPTIONS
                .iter()
                .find(|o| o.flag == Some(f) && o.scope & scope != 0)
        });
        let Some(opt) = opt else {
            return Err(self.usage(&format!(
                "unexpected argument '{flag}' found\n\n  tip: to pass '{flag}' as a value, use '-- {flag}'"
            )));
        };
        self.setting(opt, flag, inline, args)
    }

    /// What option `opt` (given as `flag`) sets.
    fn setting(
        &mut self,
        opt: &'static Opt,
        flag: &str,
        inline: Option<String>,
        args: &mut Args,
    ) -> Result<(), Stop> {
        match opt.kind {
            Kind::Switch => {
                if inline.is_some() {
                    return Err(self.usage(&format!("{flag} takes no value")));
                }
                self.inv.flags.set(opt.key, flag, true);
            }
            Kind::Value => {
                let v = self.value(flag, inline, args, opt.value)?;
                self.inv.flags.set(opt.key, flag, v.as_str());
            }
            Kind::Map => {
                let pair = self.value(flag, inline, args, opt.value)?;
                let Some((k, v)) = pair.split_once('=') else {
                    return Err(self.usage(&format!("{flag} `{pair}` is not {}", opt.value)));
                };
                self.inv
                    .flags
                    .set(&format!("{}.{}", opt.key, k.trim()), flag, v.trim());
            }
            Kind::List | Kind::Paths => {
                let v = self.value(flag, inline, args, opt.value)?;
                let items: Vec<String> = if opt.key == "health.skip" {
                    v.split(',').map(|s| s.trim().to_string()).collect()
                } else {
                    vec![v]
                };
                match self.lists.iter_mut().find(|(o, _, _)| o.key == opt.key) {
                    Some((_, _, all)) => all.extend(items),
                    None => self.lists.push((opt, flag.to_string(), items)),
                }
            }
        }
        Ok(())
    }

    /// The value of `flag`: given inline (`--flag=value`) or the next
    /// argument.
    fn value(
        &self,
        flag: &str,
        inline: Option<String>,
        args: &mut Args,
        placeholder: &str,
    ) -> Result<String, Stop> {
        if let Some(v) = inline {
            return Ok(v);
        }
        match args.next() {
            Some(v) => v
                .into_string()
                .map_err(|v| self.usage(&format!("the value of {flag} is not UTF-8: {v:?}"))),
            None => Err(self.usage(&format!(
                "a value is required for '{flag} <{placeholder}>' but none was supplied"
            ))),
        }
    }

    /// Repeated flags form one list, which replaces the file's.
    fn finish(mut self) -> Result<Invocation, Stop> {
        for (opt, flag, items) in std::mem::take(&mut self.lists) {
            if opt.kind == Kind::Paths {
                let tables: Vec<Value> = items
                    .iter()
                    .map(|p| {
                        let mut d = Dict::new();
                        d.insert("path".into(), p.as_str().into());
                        d.into()
                    })
                    .collect();
                self.inv.flags.set(opt.key, &flag, tables);
            } else {
                self.inv.flags.set(opt.key, &flag, items);
            }
        }
        if self.sub == Sub::Exec && self.inv.command.is_empty() {
            return Err(
                self.usage("the command to run is missing: agent-init exec -- CMD [ARGS...]")
            );
        }
        Ok(self.inv)
    }
}

fn takes_command(sub: Sub) -> bool {
    matches!(sub, Sub::Init | Sub::Exec)
}

fn synopsis(name: &str) -> String {
    match name {
        "agent-init" => {
            "agent-init [OPTIONS] [--] [CMD [ARGS...]]\n       agent-init <SUBCOMMAND> [OPTIONS]"
                .into()
        }
        "agent-init exec" => "agent-init exec [--] CMD [ARGS...]".into(),
        other => format!("{other} [OPTIONS]"),
    }
}

fn usage(name: &str, message: &str) -> Stop {
    Stop::Usage(format!(
        "error: {message}\n\nUsage: {}\n\nFor more information, try '--help'.\n",
        synopsis(name)
    ))
}

/// `--help`, generated from the option table.
fn help(sub: Sub, name: &str, scope: u8) -> String {
    let mut out = String::new();
    let about = match sub {
        Sub::Init => ABOUT,
        _ => SUBCOMMANDS
            .iter()
            .find(|(_, s, _)| *s == sub)
            .map_or("", |(_, _, a)| *a),
    };
    out.push_str(about);
    out.push_str(&format!("\n\nUsage: {}\n", synopsis(name)));
    if sub == Sub::Init {
        out.push_str("\nSubcommands:\n");
        for (n, _, about) in SUBCOMMANDS.iter().filter(|(n, _, _)| *n != "healthcheck") {
            out.push_str(&format!("  {n:<8} {about}\n"));
        }
    }
    if sub != Sub::Exec {
        out.push_str("\nOptions:\n");
        let mut entries: Vec<(String, String)> = Vec::new();
        if sub != Sub::Status {
            entries.push((
                "--config <PATH>".into(),
                "Configuration file (TOML) [env: AGENT_INIT_CONFIG] [default: /etc/agent-init/config.toml]".into(),
            ));
        }
        if matches!(sub, Sub::Health | Sub::Status) {
            entries.push((
                "--format <text|json>".into(),
                "Output format [default: text]".into(),
            ));
        }
        for o in options::OPTIONS.iter().filter(|o| o.scope & scope != 0) {
            let Some(flag) = o.flag else { continue };
            let left = match o.kind {
                Kind::Switch => format!("--{flag}"),
                _ => format!("--{flag} <{}>", o.value),
            };
            let mut text = format!("{} [env: {}]", o.help, options::env_name(o.key));
            if !matches!(o.default, "" | "[]" | "{}") {
                text.push_str(&format!(" [default: {}]", o.default));
            }
            entries.push((left, text));
        }
        entries.push(("-h, --help".into(), "Print help".into()));
        if sub == Sub::Init {
            entries.push(("-V, --version".into(), "Print version".into()));
        }
        for (left, text) in entries {
            out.push_str(&format!("  {left}\n"));
            for line in wrap(&text, 70) {
                out.push_str(&format!("          {line}\n"));
            }
        }
    }
    if sub == Sub::Init {
        out.push('\n');
        out.push_str(AFTER_HELP);
        out.push('\n');
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines
            .last_mut()
            .map(|l| (l.len(), l))
            .filter(|(len, _)| len + word.len() < width);
        match line {
            Some((0, l)) => l.push_str(word),
            Some((_, l)) => {
                l.push(' ');
                l.push_str(word);
            }
            None => lines.push(word.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Invocation, Stop> {
        let argv = std::iter::once("agent-init")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        parse(argv)
    }

    fn parse_ok(args: &[&str]) -> Invocation {
        parse_args(args).unwrap_or_else(|e| panic!("{args:?}: {e:?}"))
    }

    fn usage_error(args: &[&str]) -> String {
        match parse_args(args) {
            Err(Stop::Usage(text)) => text,
            Err(Stop::Print(text)) => panic!("{args:?} printed {text}"),
            Ok(_) => panic!("{args:?} parsed"),
        }
    }

    #[test]
    fn command_after_double_dash() {
        let i = parse_ok(&["--", "sh", "-c", "exit 3"]);
        assert_eq!(i.sub, Sub::Init);
        assert_eq!(i.command, ["sh", "-c", "exit 3"]);
    }

    #[test]
    fn command_without_double_dash() {
        let i = parse_ok(&["--grace-period", "2", "bash", "-l"]);
        assert_eq!(i.command, ["bash", "-l"]);
        assert!(!i.flags.is_empty());
        let i = parse_ok(&["--grace-period=2", "bash"]);
        assert_eq!(i.command, ["bash"]);
    }

    #[test]
    fn command_flags_are_not_ours() {
        assert_eq!(
            parse_ok(&["ls", "--grace-period", "-l"]).command,
            ["ls", "--grace-period", "-l"]
        );
        assert_eq!(parse_ok(&["bash", "--", "x"]).command, ["bash", "--", "x"]);
    }

    #[test]
    fn no_command_is_keep_alive() {
        assert!(parse_ok(&[]).command.is_empty());
        assert!(parse_ok(&["--"]).command.is_empty());
    }

    #[test]
    fn subcommands_and_their_flags() {
        let i = parse_ok(&[
            "health", "--probe", "liveness", "--format", "json", "--skip", "mcp,cli",
        ]);
        assert_eq!((i.sub, i.format), (Sub::Health, Format::Json));
        assert_eq!(parse_ok(&["healthcheck"]).sub, Sub::Health);
        assert_eq!(parse_ok(&["exec", "--", "env"]).command, ["env"]);
        assert_eq!(parse_ok(&["exec", "env", "-i"]).command, ["env", "-i"]);
        assert_eq!(parse_ok(&["check", "--workspace", "/w"]).sub, Sub::Check);
        // After `--`, a subcommand's name is a command.
        assert_eq!(parse_ok(&["--", "health"]).command, ["health"]);
    }

    #[test]
    fn every_flag_of_the_table_parses() {
        for o in options::OPTIONS {
            let Some(flag) = o.flag else { continue };
            let sub: &[&str] = if o.scope & INIT != 0 {
                &[]
            } else {
                &["health"]
            };
            let mut args: Vec<&str> = sub.to_vec();
            let long = format!("--{flag}");
            args.push(&long);
            if o.kind != Kind::Switch {
                args.push(if o.kind == Kind::Map { "mcp=1s" } else { "1" });
            }
            parse_ok(&args);
        }
    }

    #[test]
    fn usage_errors_name_what_is_wrong() {
        assert!(
            usage_error(&["--no-such-flag"]).contains("unexpected argument '--no-such-flag' found")
        );
        assert!(usage_error(&["--grace-period"])
            .contains("a value is required for '--grace-period <DURATION>'"));
        assert!(usage_error(&["--deep=yes", "--", "x"]).contains("--deep takes no value"));
        assert!(usage_error(&["health", "--format", "xml"]).contains("invalid value 'xml'"));
        assert!(usage_error(&["health", "--probe"]).contains("a value is required"));
        // A health-only flag is not the init's.
        assert!(usage_error(&["--probe", "liveness"]).contains("'--probe'"));
        assert!(usage_error(&["exec"]).contains("the command to run is missing"));
        assert!(usage_error(&["config", "extra"]).contains("unexpected argument 'extra'"));
    }

    #[test]
    fn help_lists_every_flag_of_its_scope_with_env_and_default() {
        let Err(Stop::Print(text)) = parse_args(&["--help"]) else {
            panic!()
        };
        for o in options::OPTIONS
            .iter()
            .filter(|o| o.scope & INIT != 0 && o.flag.is_some())
        {
            assert!(
                text.contains(&format!("--{}", o.flag.unwrap_or_default())),
                "{}",
                o.key
            );
            assert!(text.contains(&options::env_name(o.key)), "{}", o.key);
        }
        assert!(text.contains("[default: 8s]"), "{text}");
        let Err(Stop::Print(text)) = parse_args(&["health", "-h"]) else {
            panic!()
        };
        assert!(
            text.contains("--probe <liveness|readiness|startup>"),
            "{text}"
        );
        let Err(Stop::Print(v)) = parse_args(&["--version"]) else {
            panic!()
        };
        assert!(v.starts_with("agent-init "));
    }

    #[test]
    fn repeated_flags_make_one_list() {
        let i = parse_ok(&[
            "--wait",
            "tcp://a:1",
            "--wait=tcp://b:2",
            "--configmap",
            "/c",
            "--",
            "x",
        ]);
        let f = format!("{:?}", i.flags);
        assert!(
            f.contains("tcp://a:1") && f.contains("tcp://b:2") && f.contains("/c"),
            "{f}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 400, timeout: 5000, ..Default::default() })]

        /// Whatever flags and values are given, parsing and loading end in
        /// a configuration or an error: never a panic, never a hang.
        #[test]
        fn any_flags_load_or_are_refused(
            flags in proptest::collection::vec((0..options::OPTIONS.len(), crate::config::load::properties::value()), 0..6)
        ) {
            let mut argv = Vec::new();
            for (i, v) in flags {
                if let Some(flag) = options::OPTIONS[i].flag {
                    argv.push(format!("--{flag}"));
                    if options::OPTIONS[i].kind != Kind::Switch {
                        argv.push(v);
                    }
                }
            }
            argv.extend(["--".to_string(), "true".to_string()]);
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            let flags = parse_args(&args).map(|i| i.flags).unwrap_or_default();
            crate::config::load::properties::load_all(Vec::new(), None, flags);
        }
    }
}
