use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = a1c_jobs::cli::Cli::parse();
    match a1c_jobs::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
