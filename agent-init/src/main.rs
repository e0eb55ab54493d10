//! agent-init: parse the command line, load the configuration, set up
//! logging, dispatch to the init or a subcommand, exit with its code.

mod cli;
mod config;
mod exec;
mod exit;
mod health;
mod init;
mod logging;
mod steps;
mod sys;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Sub};
use exit::Error;

/// musl's allocator is small but slow with the many small allocations of
/// argument parsing and configuration loading; dlmalloc cuts startup time
/// (measured by `make bench`) at a few KiB of code.
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> ExitCode {
    // Before anything is written: what to mask wherever it turns up.
    logging::remember_secrets_of_env(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => exit::USAGE,
            };
            // A bad value is echoed back: keep secrets out of that too.
            let text = e.render().to_string();
            let text = logging::scrub(&text);
            if code == 0 {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            return ExitCode::from(code);
        }
    };
    let code = match run(&mut cli) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            e.code()
        }
    };
    ExitCode::from(code)
}

/// Sets up logging from the configuration; before that (or when loading it
/// fails) errors still reach standard error through the default logger.
fn load(config: Option<&std::path::Path>, flags: config::Flags) -> Result<config::Config, Error> {
    match config::load(config, flags) {
        Ok(loaded) => {
            let c = loaded.config;
            logging::init(
                c.log_format,
                c.log_level
                    .parse()
                    .unwrap_or(tracing::level_filters::LevelFilter::INFO),
            );
            Ok(c)
        }
        Err(e) => {
            logging::init(
                cli::LogFormat::Text,
                tracing::level_filters::LevelFilter::INFO,
            );
            Err(e)
        }
    }
}

fn run(cli: &mut Cli) -> Result<u8, Error> {
    match cli.subcommand.take() {
        Some(Sub::Health(args)) => {
            logging::init(
                cli::LogFormat::Text,
                tracing::level_filters::LevelFilter::WARN,
            );
            health::run(&args)
        }
        Some(Sub::Config(args)) => {
            let loaded = config::load(args.init.config.as_deref(), args.init.layer(&args.health))
                .inspect_err(|_| {
                logging::init(
                    cli::LogFormat::Text,
                    tracing::level_filters::LevelFilter::INFO,
                )
            })?;
            print_config(&loaded);
            Ok(0)
        }
        Some(Sub::Check(args)) => {
            let c = load(args.init.config.as_deref(), args.init.layer(&args.health))?;
            steps::run(
                &c,
                &mut |d| {
                    std::thread::sleep(d);
                    Ok(())
                },
                true,
            )?;
            health::HealthOptions::from_config(&c)?;
            println!("ok: configuration and every startup check passed");
            Ok(0)
        }
        Some(Sub::Exec(args)) => {
            logging::init(
                cli::LogFormat::Text,
                tracing::level_filters::LevelFilter::INFO,
            );
            Err(exec::run(&args.command))
        }
        None => {
            let c = load(cli.init.config.as_deref(), cli.init.layer(&cli.health))?;
            init::run(cli.mode(), &c)
        }
    }
}

fn print_config(loaded: &config::Loaded) {
    match &loaded.file {
        Some(f) => println!("# configuration file: {}", f.display()),
        None => println!(
            "# no configuration file (looked for {})",
            config::file_path(None).0.display()
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
