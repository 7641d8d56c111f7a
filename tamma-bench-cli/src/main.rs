//! The `tamma-bench` command line: parses the arguments, starts the Tokio runtime and
//! runs one command from [`cli`]. Results go to stdout; logs, progress and errors to
//! stderr. `tamma-bench --help` lists the commands and the exit statuses.

mod cli;

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(cli::dispatch(args)));
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) if cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
