//! `shmbus`: the command-line tool of shmbus.
//!
//! ```text
//! shmbus list                      # the services of the domain (or: list nodes)
//! shmbus inspect robot/odometry    # one service: QoS, types, ports, objects
//! shmbus echo robot/odometry       # print its samples, decoded through its descriptor
//! shmbus pub robot/cmd '{"speed": 0.5}'
//! shmbus call planner/plan '{"goal": [1, 2]}'
//! shmbus hz robot/odometry         # rate, periods, missed samples, bytes per second
//! shmbus record 'robot/**' -o run.mcap   # into MCAP: Foxglove opens it
//! shmbus replay run.mcap --rate 2
//! shmbus clean --dry-run           # what dead nodes left behind
//! shmbus doctor                    # is this machine fit for shmbus?
//! shmbus idl compile robot.idl -I idl -o src/generated/
//! ```
//!
//! Subcommands live in one module each. None needs the services' Rust types: they read the
//! descriptors the services store. The library part ([`run`]) lets other programs — the
//! tour — run a subcommand in their own process.
#![forbid(unsafe_code)]

mod call;
mod clean;
mod common;
mod doctor;
mod echo;
mod hz;
mod idl;
mod inspect;
mod list;
mod publish;
mod record;
mod render;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use common::Global;

/// Zero-copy IPC over shared memory: see and talk to any running shmbus system.
#[derive(Debug, Parser)]
#[command(
    name = "shmbus",
    version,
    about,
    propagate_version = true,
    after_help = "Exit status: 0 success (and Ctrl-C of a command that runs until stopped); 1 a \
                  failure (a missing service, invalid input, a timeout, a problem `doctor` \
                  found, IDL with errors); 2 a bad command line.\n\n\
                  The domain is --domain, else SHMBUS_DOMAIN, else `default`; SHMBUS_ROOT \
                  sets the runtime folder and SHMBUS_GROUP a group domain, as for programs."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the services of the domain, or its nodes.
    List(list::ListArgs),
    /// Show one service: pattern, QoS, types with their layout, ports and their nodes,
    /// objects and their sizes.
    Inspect(inspect::InspectArgs),
    /// Print the samples of a publish-subscribe service, decoded through its descriptor.
    Echo(echo::EchoArgs),
    /// Publish values given as JSON to a publish-subscribe service.
    Pub(publish::PubArgs),
    /// Send a request given as JSON to a request-response service and print its responses.
    Call(call::CallArgs),
    /// Measure the rate of a publish-subscribe service: periods, missed samples, bytes/s.
    Hz(hz::HzArgs),
    /// Record services into an MCAP file (OMG IDL schemas, CDR messages) that Foxglove and
    /// the mcap tools open.
    Record(record::RecordArgs),
    /// Replay an MCAP file that `shmbus record` wrote into the domain.
    Replay(record::ReplayArgs),
    /// Remove what dead nodes left behind: their ports, chunks, unused services, objects,
    /// tokens and lock files.
    Clean(clean::CleanArgs),
    /// Check this machine for what shmbus needs, and say what to change.
    Doctor,
    /// Compile or check OMG IDL files (Rust types for shmbus messages).
    #[command(subcommand)]
    Idl(idl::IdlCommand),
}

/// Runs the command line `args` (the program's name first), as the `shmbus` binary does.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let global = &cli.global;
    let result = match cli.command {
        Command::Idl(command) => return idl::run(command),
        Command::List(args) => list::run(global, &args),
        Command::Inspect(args) => inspect::run(global, &args),
        Command::Echo(args) => echo::run(global, &args),
        Command::Pub(args) => publish::run(global, &args),
        Command::Call(args) => call::run(global, &args),
        Command::Hz(args) => hz::run(global, &args),
        Command::Record(args) => record::record(global, &args),
        Command::Replay(args) => record::replay(global, &args),
        Command::Clean(args) => clean::run(global, &args),
        Command::Doctor => doctor::run(global),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
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
