//! `tamma-bench plugin inspect LIB`. How `run` and the worker find plugins is the
//! library's (`tamma_bench::plugins`).

use super::print_json;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tamma_bench::plugin::PROTOCOL;
use tamma_bench::plugin::ffi::ABI_MAJOR;
use tamma_bench::plugin::host::PluginLibrary;

use super::Exit;

/// Arguments of `plugin`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// The `plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load a plugin library, check that it fits this host (ABI, protocol) and print its
    /// manifest as JSON.
    Inspect {
        /// The library (`libNAME.so`, `libNAME.dylib`, `NAME.dll`).
        #[arg(value_name = "LIB")]
        library: PathBuf,
    },
}

/// Runs `plugin`.
pub fn execute(args: &PluginArgs) -> Result<Exit> {
    match &args.command {
        PluginCommand::Inspect { library } => {
            let library = PluginLibrary::open(library)?;
            print_json(library.manifest())?;
            eprintln!(
                "{}: compatible with this host (ABI v{ABI_MAJOR}, protocol {PROTOCOL})",
                library.path().display()
            );
            Ok(Exit::Success)
        }
    }
}
