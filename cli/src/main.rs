//! The `shmbus` command line tool.
//!
//! Not implemented yet: its subcommands arrive with issues 2/7 (`idl`) and 7/7 (`list`,
//! `inspect`, `echo`, `clean`). Until then it says so and exits with status 2.

fn main() {
    eprintln!("shmbus: no subcommand is implemented yet (the IDL compiler arrives with issue 2/7)");
    std::process::exit(2);
}
