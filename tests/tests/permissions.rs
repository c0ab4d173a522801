//! Permissions: a domain shared with a group gives every folder, file and shared-memory
//! object to that group and nothing to the world, and a process of another user in the
//! group can subscribe; a process outside the group is refused with a clear error.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use shmbus::os::process;
use shmbus::os::shm::Permissions;
use shmbus::service::OverflowPolicy;
use shmbus::{Config, Node, Service};
use shmbus_tests::{Counted, checksum, config, leftovers};

/// A group id no account uses, for the cross-user part (only root can hand it out).
const SHARED_GID: u32 = 47_011;
/// The `nobody` user.
const OTHER_UID: u32 = 65_534;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if path.is_dir() {
            walk(&path, out);
        }
    }
}

/// Every object and file of the domain, with its mode and group, must be group-shared and
/// closed to the world.
fn check_modes(config: &Config, root: &Path, gid: u32) -> usize {
    let mut paths = vec![root.to_owned()];
    walk(root, &mut paths);
    for name in config.objects().unwrap() {
        paths.push(Path::new(shmbus::os::shm::SHM_DIR).join(name.file_name()));
    }
    for path in &paths {
        let meta = std::fs::metadata(path).unwrap();
        let mode = meta.mode() & 0o7777;
        let expected = if meta.is_dir() { 0o2770 } else { 0o660 };
        assert_eq!(mode, expected, "{} has mode {mode:o}", path.display());
        assert_eq!(
            meta.gid(),
            gid,
            "{} has group {}",
            path.display(),
            meta.gid()
        );
    }
    paths.len()
}

fn spawn_as(uid: u32, gid: u32, domain: &str, root: &Path, role: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pubsub-child"))
        .args([role, domain, root.to_str().unwrap(), "shared/topic"])
        .uid(uid)
        .gid(gid)
        .env("SHMBUS_GROUP", SHARED_GID.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pubsub-child")
}

#[test]
fn a_group_domain_is_shared_with_the_group_and_closed_to_others() {
    let as_root = process::euid() == 0;
    // Without root, the test can still share with its own group (chgrp to one's own group
    // is allowed); with root, it shares with a group the other user is put in.
    let gid = if as_root { SHARED_GID } else { process::egid() };
    let domain = format!("perm_{}", std::process::id());
    let root = std::env::temp_dir().join(format!("shmbus-perm-{}", std::process::id()));
    let config = config(&domain, &root).with_permissions(Permissions::Group { gid });
    {
        let node = Node::builder()
            .name("owner")
            .config(config.clone())
            .create()
            .unwrap();
        let service = Service::publish_subscribe::<Counted>(&node, "shared/topic")
            .subscriber_buffer(64)
            .overflow(OverflowPolicy::Block)
            .create()
            .unwrap();
        let publisher = service
            .publisher()
            .send_timeout(Duration::from_secs(120))
            .create()
            .unwrap();
        let subscriber = service.subscriber().create().unwrap();
        // Folders, node token, lock file, service object and data segment.
        assert!(check_modes(&config, &root, gid) >= 7);
        // (It would hold up the lossless stream below.)
        drop(subscriber);
        if as_root {
            // A user outside the group cannot even register a node.
            let outsider = spawn_as(OTHER_UID, OTHER_UID, &domain, &root, "subscribe-lossless")
                .wait_with_output()
                .unwrap();
            assert!(!outsider.status.success());
            let said = String::from_utf8_lossy(&outsider.stderr);
            assert!(
                said.contains("Permission denied") || said.contains("EACCES"),
                "{said}"
            );
            // A member of the group subscribes and receives everything.
            let mut member = spawn_as(OTHER_UID, SHARED_GID, &domain, &root, "subscribe-lossless");
            let mut stdout = std::io::BufReader::new(member.stdout.take().unwrap());
            let mut line = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
            assert_eq!(line.trim(), "ready");
            // Its node token belongs to it, and to the group.
            check_modes(&config, &root, gid);
            for seq in 1..=1000 {
                publisher
                    .send_copy(&Counted {
                        seq,
                        checksum: checksum(seq),
                    })
                    .unwrap();
            }
            publisher
                .send_copy(&Counted {
                    seq: 0,
                    checksum: 0,
                })
                .unwrap();
            line.clear();
            std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
            assert_eq!(line.trim(), "ok 1000 0");
            drop(member.stdin.take());
            assert!(member.wait().unwrap().success());
        }
    }
    assert!(leftovers(&config).is_empty(), "{:?}", leftovers(&config));
    // The group's folder in /dev/shm stays for the group (see `shmbus::os::shm`), empty;
    // the test removes it.
    let group_folder = Path::new(shmbus::os::shm::SHM_DIR).join(config.prefix());
    if let Ok(entries) = std::fs::read_dir(&group_folder) {
        assert_eq!(
            entries.count(),
            0,
            "{} is not empty",
            group_folder.display()
        );
        std::fs::remove_dir(&group_folder).unwrap();
    }
    assert!(
        !root.exists(),
        "the runtime folder {} is left",
        root.display()
    );
}
