//! `shmbus`: the command-line tool of shmbus.
//!
//! ```text
//! shmbus idl compile robot.idl -I idl -o src/generated/
//! shmbus idl check robot.idl
//! ```
//!
//! Subcommands live in one module each. Exit status: 0 on
//! success (warnings included), 1 when the input has errors or a file cannot be read or
//! written, 2 for a bad command line (clap's convention).
#![forbid(unsafe_code)]

mod idl;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Zero-copy IPC over shared memory: tools.
#[derive(Debug, Parser)]
#[command(name = "shmbus", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile or check OMG IDL files (Rust types for shmbus messages).
    #[command(subcommand)]
    Idl(idl::IdlCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Idl(command) => idl::run(command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
