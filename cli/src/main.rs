//! The `shmbus` binary: see the library's docs (`shmbus_cli`) for the subcommands.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    shmbus_cli::run(std::env::args_os())
}
