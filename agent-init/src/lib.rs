//! agent-init: parse the command line, load the configuration, set up
//! logging, dispatch to the init or a subcommand, exit with its code. The
//! binary (`main.rs`) is this library's [`main`] and the allocator; the
//! library also serves the fuzz targets ([`fuzz`]).
//!
//! The modules depend on each other one way, bottom to top (the table of
//! scripts/check-layers.py, which checks both the code and this list):
//! {logging, presets} < {sys} < {launch} < {exit} < {files, output, config,
//! children, state} < {spawn} < {process} < {steps, health, exec, status} <
//! {supervise, reload} < {cli} < {init} < {fuzz} < {lib, main}
//!

// A panic in PID 1 kills the container: none outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod children;
mod cli;
mod config;
mod exec;
mod exit;
mod files;
pub mod fuzz;
mod health;
mod init;
mod launch;
mod logging;
mod output;
mod presets;
mod process;
mod reload;
mod spawn;
mod state;
mod status;
mod steps;
mod supervise;
mod sys;

use std::process::ExitCode;

pub use sys::Allocator;

use tracing::level_filters::LevelFilter;

use cli::{Invocation, Sub};
use config::{Config, Sources};
use exit::Error;
use logging::LogFormat;

/// The whole program: the binary's `main` calls this.
pub fn main() -> ExitCode {
    // The mask children get back, before anything can change it.
    sys::remember_original_mask();
    // Before anything is written: what to mask wherever it turns up.
    logging::remember_secrets_of_env(
        sys::environ().filter_map(|(k, v)| {
            Some((std::str::from_utf8(k).ok()?, std::str::from_utf8(v).ok()?))
        }),
    );
    let invocation = match cli::parse(std::env::args_os().collect()) {
        Ok(i) => i,
        Err(cli::Stop::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(cli::Stop::Usage(text)) => {
            // A bad value is echoed back: keep secrets out of that too.
            eprint!("{}", logging::scrub(&text));
            return ExitCode::from(exit::USAGE);
        }
    };
    let code = match run(invocation) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            e.code()
        }
    };
    ExitCode::from(code)
}

/// Loads the configuration, then sets up logging from it; when loading
/// fails, errors still reach standard error through a default logger.
fn load(i: &mut Invocation, quiet: bool) -> Result<config::Loaded, Error> {
    let flags = std::mem::take(&mut i.flags);
    match config::load(Sources::from_process(i.config.take(), flags)) {
        Ok(loaded) => {
            let c = &loaded.config;
            // An interactive terminal (`docker run -it IMAGE bash`) stays
            // clean: warnings and errors only, unless a level was asked for.
            let explicit = loaded.figment.find_value("log_level").is_ok();
            let level = if quiet || (!explicit && sys::stderr_is_tty()) {
                LevelFilter::WARN.min(c.log_level.filter())
            } else {
                c.log_level.filter()
            };
            logging::init(c.log_format, level);
            loaded.log_notes();
            Ok(loaded)
        }
        Err(e) => {
            logging::init(LogFormat::Text, LevelFilter::INFO);
            Err(e)
        }
    }
}

fn run(mut i: Invocation) -> Result<u8, Error> {
    match i.sub {
        Sub::Exec => {
            logging::init(LogFormat::Text, LevelFilter::INFO);
            Err(exec::run(&i.command))
        }
        Sub::Health => {
            let loaded = load(&mut i, true)?;
            let format = match i.format {
                cli::Format::Text => health::Format::Text,
                cli::Format::Json => health::Format::Json,
            };
            health::run(&loaded, loaded.config.health.probe, format)
        }
        Sub::Status => {
            logging::init(LogFormat::Text, LevelFilter::WARN);
            status::run(i.format == cli::Format::Json)
        }
        Sub::Config => {
            let loaded = load(&mut i, true)?;
            print_config(&loaded);
            Ok(0)
        }
        Sub::Check => {
            let c = load(&mut i, false)?.config;
            check(&c)?;
            println!("ok: configuration and every startup check passed");
            Ok(0)
        }
        Sub::Init => {
            let c = load(&mut i, false)
                .inspect_err(init::report_failure)?
                .config;
            let mode = if i.command.is_empty() {
                init::Mode::KeepAlive
            } else {
                init::Mode::Command(std::mem::take(&mut i.command))
            };
            init::run(mode, &c)
        }
    }
}

/// `agent-init check`: every step that validates, and the health settings.
fn check(c: &Config) -> Result<(), Error> {
    health::start_check_threads(c);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::os("starting the runtime", e))?;
    let result = runtime.block_on(steps::run(c, steps::Mode::Validate));
    runtime.shutdown_background();
    result?;
    health::HealthOptions::from_config(c)?;
    Ok(())
}

fn print_config(loaded: &config::Loaded) {
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k == "AGENT_INIT_CONFIG")
        .collect();
    match &loaded.file {
        Some(f) => println!("# configuration file: {}", f.display()),
        None => println!(
            "# no configuration file (looked for {})",
            config::file_path(None, &env).0.display()
        ),
    }
    let rows = config::effective(loaded);
    let width = rows
        .iter()
        .map(|(k, v, _)| k.len() + v.len() + 3)
        .max()
        .unwrap_or(0);
    for (key, value, source) in rows {
        let left = format!("{key} = {value}");
        let line = format!("{left:width$}  # {source}");
        println!("{}", logging::scrub(&line));
    }
}
