//! Hosts the log-sidecar policy module the way Kubewarden's policy-server and
//! kwctl host waPC policies, for the end-to-end tests and for converting
//! manifests. See `cli::USAGE` for the commands.

mod access;
mod admission;
mod bench;
mod cli;
mod convert;
mod engine;
mod error;
mod host;
mod input;
mod policy;
mod request;
mod run;
mod session;

use std::process::ExitCode;

use cli::Command;
use error::Failure;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = cli::parse(&args).and_then(|command| match command {
        Command::Help => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        Command::Run(args) => run::run(&args),
        Command::Convert(args) => convert::convert(&args),
        Command::Bench(args) => bench::bench(&args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", error::error_line(&failure));
            if matches!(failure, Failure::Usage(_)) {
                eprintln!("\n{}", cli::USAGE);
            }
            ExitCode::from(failure.exit_code())
        }
    }
}
