//! agent-init: parse the command line, set up logging, run, exit.

mod cli;
mod exit;
mod health;
mod init;
mod logging;
mod sys;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let mut cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => exit::USAGE,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    logging::init(cli.init.log_format, cli.init.log_level);
    if let Some(cli::Sub::Health(args)) = &cli.subcommand {
        return ExitCode::from(health::run(args));
    }
    let mode = cli.mode();
    let settings = init::Settings {
        grace_period: cli.init.grace_period,
        signal_target: cli.init.signal_target,
        health_endpoint: cli
            .init
            .health_listen
            .map(|addr| (addr, cli.health.clone(), cli.init.health_cache)),
    };
    match init::run(mode, &settings) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(e.code())
        }
    }
}
