//! `shmbus doctor`: checks what shmbus needs of this machine and says what to change —
//! `/dev/shm` (mounted, tmpfs, its size and free space), the runtime folder (ours, not
//! writable by others), the file-descriptor and memory-mapping limits, the kernel's
//! `futex_waitv`, and leftovers of dead nodes. Exit 0 when all is well, 1 otherwise.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;
use shmbus::node::NodeState;
use shmbus::os::{futex, system};
use shmbus::{Node, Service};

use crate::common::{Global, Result};
use crate::render::bytes;

/// `/dev/shm` smaller than this is a likely trap (a container's default is 64 MiB).
const SMALL_SHM: u64 = 256 << 20;
/// Fewer open files than this run out with many services and peers.
const FEW_FILES: u64 = 1024;
/// Fewer mappings than this (the usual default is 65530) limit large systems.
const FEW_MAPS: u64 = 65530;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warning,
    Problem,
}

struct Finding {
    check: &'static str,
    status: Status,
    detail: String,
    fix: Option<String>,
}

impl Finding {
    fn ok(check: &'static str, detail: String) -> Self {
        Self {
            check,
            status: Status::Ok,
            detail,
            fix: None,
        }
    }

    fn bad(check: &'static str, status: Status, detail: String, fix: String) -> Self {
        Self {
            check,
            status,
            detail,
            fix: Some(fix),
        }
    }
}

fn shm_findings(out: &mut Vec<Finding>) {
    const CHECK: &str = "/dev/shm";
    match system::filesystem(Path::new("/dev/shm")) {
        Err(errno) => out.push(Finding::bad(
            CHECK,
            Status::Problem,
            format!("cannot be read: {errno}"),
            "mount a tmpfs there: `mount -t tmpfs -o size=1g tmpfs /dev/shm` (as root), or run the container with `--shm-size`".into(),
        )),
        Ok(fs) => {
            if !fs.is_tmpfs {
                out.push(Finding::bad(
                    CHECK,
                    Status::Warning,
                    "is not a tmpfs: shared memory may be written to disk".into(),
                    "mount a tmpfs on /dev/shm".into(),
                ));
            }
            if fs.size < SMALL_SHM {
                out.push(Finding::bad(
                    CHECK,
                    Status::Warning,
                    format!("is only {} (a container's default is 64 MiB): large messages and many publishers will not fit", bytes(fs.size)),
                    "give it more: `docker run --shm-size=1g`, `shm_size:` in compose, or remount with `size=`".into(),
                ));
            } else {
                out.push(Finding::ok(
                    CHECK,
                    format!("tmpfs of {}, {} free", bytes(fs.size), bytes(fs.available)),
                ));
            }
            if fs.size > 0 && fs.available < fs.size / 10 {
                out.push(Finding::bad(
                    CHECK,
                    Status::Warning,
                    format!("only {} of {} free", bytes(fs.available), bytes(fs.size)),
                    "remove leftovers (`shmbus clean`, or other programs' objects) or enlarge it".into(),
                ));
            }
        }
    }
}

fn run_checks(global: &Global) -> Result<Vec<Finding>> {
    let config = global.config()?;
    let mut out = Vec::new();
    shm_findings(&mut out);

    const FOLDER: &str = "runtime folder";
    let dir = config.runtime_dir();
    match config.find_domain_folder() {
        Ok(Some(_)) => out.push(Finding::ok(
            FOLDER,
            format!("{} is ours and closed to others", dir.display()),
        )),
        Ok(None) => out.push(Finding::ok(
            FOLDER,
            format!(
                "{} (not created yet: no node has run in this domain)",
                dir.display()
            ),
        )),
        Err(error) => out.push(Finding::bad(
            FOLDER,
            Status::Problem,
            error.to_string(),
            "remove it or fix its owner and mode, or set SHMBUS_ROOT to a folder of yours".into(),
        )),
    }

    const FILES: &str = "open files";
    match system::open_file_limit() {
        (Some(soft), hard) if soft < FEW_FILES => out.push(Finding::bad(
            FILES,
            Status::Warning,
            format!("the limit is {soft}: a process with many services and peers can run out"),
            format!(
                "raise it: `ulimit -n {}` (the hard limit is {})",
                hard.map_or(65536, |h| h.min(65536)),
                hard.map_or_else(|| "unlimited".to_owned(), |h| h.to_string())
            ),
        )),
        (soft, _) => out.push(Finding::ok(
            FILES,
            format!(
                "limit {}",
                soft.map_or_else(|| "unlimited".to_owned(), |s| s.to_string())
            ),
        )),
    }

    const MAPS: &str = "memory mappings";
    match system::max_map_count() {
        Some(n) if n < FEW_MAPS => out.push(Finding::bad(
            MAPS,
            Status::Warning,
            format!("vm.max_map_count is {n}: every port maps one segment per peer"),
            "raise it: `sysctl -w vm.max_map_count=262144`".into(),
        )),
        Some(n) => out.push(Finding::ok(MAPS, format!("vm.max_map_count {n}"))),
        None => out.push(Finding::ok(MAPS, "vm.max_map_count cannot be read".into())),
    }

    const KERNEL: &str = "kernel";
    let release = system::kernel_release();
    if futex::wait_any_supported() {
        out.push(Finding::ok(
            KERNEL,
            format!("{release}, futex_waitv available"),
        ));
    } else {
        out.push(Finding::bad(
            KERNEL,
            Status::Warning,
            format!("{release} has no futex_waitv (or a seccomp filter refuses it): wait sets fail; single ports still wait"),
            "use Linux 5.16 or later, or allow futex_waitv in the seccomp profile".into(),
        ));
    }

    const LEFTOVERS: &str = "dead nodes";
    let nodes = Node::list(&config)?;
    let dead: Vec<_> = nodes
        .iter()
        .filter(|n| n.state == NodeState::Dead)
        .collect();
    let services = Service::list(&config)?;
    let damaged = services.iter().filter(|s| s.is_err()).count();
    let with_dead = services
        .iter()
        .flatten()
        .filter(|s| {
            s.nodes
                .iter()
                .any(|(_, state)| *state != Some(NodeState::Alive))
        })
        .count();
    if dead.is_empty() && with_dead == 0 {
        out.push(Finding::ok(
            LEFTOVERS,
            format!("none in domain {:?}", config.domain()),
        ));
    } else {
        let names: Vec<&str> = dead.iter().map(|n| n.name.as_str()).collect();
        out.push(Finding::bad(
            LEFTOVERS,
            Status::Warning,
            format!(
                "{} dead node(s) ({}) left entries in {with_dead} service(s) of domain {:?}",
                dead.len(),
                names.join(", "),
                config.domain()
            ),
            "run `shmbus clean` (any new node of the domain cleans up too)".into(),
        ));
    }
    if damaged > 0 {
        out.push(Finding::bad(
            "services",
            Status::Problem,
            format!("{damaged} service(s) cannot be read (see `shmbus list`)"),
            "stop the programs using them and run `shmbus clean`, or remove their objects from /dev/shm".into(),
        ));
    }
    Ok(out)
}

pub(crate) fn run(global: &Global) -> Result<ExitCode> {
    let findings = run_checks(global)?;
    let healthy = findings.iter().all(|f| f.status == Status::Ok);
    if global.json {
        let out = json!({
            "healthy": healthy,
            "findings": findings.iter().map(|f| json!({
                "check": f.check,
                "status": match f.status { Status::Ok => "ok", Status::Warning => "warning", Status::Problem => "problem" },
                "detail": f.detail,
                "fix": f.fix,
            })).collect::<Vec<_>>(),
        });
        println!("{out}");
    } else {
        for f in &findings {
            let mark = match f.status {
                Status::Ok => "ok     ",
                Status::Warning => "WARNING",
                Status::Problem => "PROBLEM",
            };
            println!("{mark}  {:<16} {}", f.check, f.detail);
            if let Some(fix) = &f.fix {
                println!("         {:<16} -> {fix}", "");
            }
        }
        println!(
            "{}",
            if healthy {
                "all is well"
            } else {
                "see the lines marked WARNING or PROBLEM"
            }
        );
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
