//! Trust: only our own folders, files and objects are used, two users never meet by
//! accident, and a full `/dev/shm` is an error at creation.
//!
//! The cross-user parts need root, as CI has (it runs child processes as the unprivileged
//! users 65534 `nobody` and 65533); without root they say on standard error that they were
//! skipped. The small-`/dev/shm` part also needs a mount namespace of its own (`unshare -m`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use shmbus::node::NodeCreateError;
use shmbus::os::dir::FolderError;
use shmbus::os::process;
use shmbus::os::trust::Reason;
use shmbus::service::{LockError, OsError, ServiceOpenOrCreateError};
use shmbus::{Config, Node, Service};
use shmbus_tests::{Counted, Setup};

const NOBODY: u32 = 65_534;
const OTHER: u32 = 65_533;

fn as_root(test: &str) -> bool {
    let root = process::euid() == 0;
    if !root {
        eprintln!("skipped the cross-user part of {test}: it needs root (CI runs as root)");
    }
    root
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown (as root)");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A child of `pubsub-child`, run as `uid` (and its group), with a clean environment of
/// shmbus variables, its output read line by line.
struct Other {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Other {
    fn start(uid: u32, env: &[(&str, &str)], args: &[&str]) -> Self {
        Self::start_in_group(uid, uid, env, args)
    }

    fn start_in_group(uid: u32, gid: u32, env: &[(&str, &str)], args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pubsub-child"));
        command
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("SHMBUS_ROOT")
            .env_remove("SHMBUS_DOMAIN")
            .env_remove("SHMBUS_PREFIX")
            .env_remove("SHMBUS_GROUP")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .uid(uid)
            .gid(gid);
        let mut child = command.spawn().expect("spawn pubsub-child");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut other = Self { child, stdout };
        assert_eq!(other.line(), "ready", "the child did not start");
        other
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read child output");
        line.trim().to_owned()
    }

    fn say(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{text}").expect("write to child");
    }

    fn finish(mut self) {
        drop(self.child.stdin.take());
        assert!(self.child.wait().expect("wait").success(), "child failed");
    }
}

impl Drop for Other {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn scratch(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("shmbus-trust-{tag}-{}", std::process::id()))
}

fn node_error(config: Config) -> NodeCreateError {
    Node::builder()
        .name("victim")
        .config(config)
        .create()
        .expect_err("the node must be refused")
}

#[test]
fn a_runtime_folder_open_to_others_or_of_another_user_is_refused() {
    // Ours, but world-writable: anybody could rename files in it.
    let open = scratch("open");
    std::fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    let setup = Setup::new("trust", "open_folder");
    let config = setup.config.clone().with_runtime_dir(&open).unwrap();
    let error = node_error(config.clone());
    let text = error.to_string();
    assert!(
        matches!(&error, NodeCreateError::Folder(FolderError::Untrusted { source, .. }) if source.reason == Reason::OpenToOthers),
        "{text}"
    );
    assert!(text.contains(&open.display().to_string()), "{text}");
    assert!(
        text.contains("mode 0777") && text.contains("SHMBUS_ROOT"),
        "{text}"
    );
    // Nothing was made in it.
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
    std::fs::remove_dir(&open).unwrap();

    if !as_root("a_runtime_folder_open_to_others_or_of_another_user_is_refused") {
        return;
    }
    // Made beforehand by another user, as `/tmp/shmbus-<uid>` could be: refused whatever
    // its mode, with its owner named.
    for mode in [0o777, 0o700] {
        let theirs = scratch(&format!("theirs{mode:o}"));
        std::fs::create_dir(&theirs).unwrap();
        chown(&theirs, NOBODY, NOBODY);
        chmod(&theirs, mode);
        let error = node_error(config.clone().with_runtime_dir(&theirs).unwrap());
        let text = error.to_string();
        assert!(
            matches!(&error, NodeCreateError::Folder(FolderError::Untrusted { source, .. }) if source.reason == Reason::OtherOwner),
            "{text}"
        );
        assert!(text.contains("owned by uid 65534"), "{text}");
        assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
        std::fs::remove_dir(&theirs).unwrap();
    }
    setup.assert_clean();
}

/// The 64-bit id naming a service's objects and lock file: FNV-1a over the pattern byte
/// and the name (`service::name`), as documented there.
fn object_id(pattern: u8, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(pattern).chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[test]
fn links_planted_where_lock_files_and_tokens_go_are_not_followed() {
    let setup = Setup::new("trust", "links");
    let precious = scratch("precious");
    std::fs::write(&precious, b"precious").unwrap();
    {
        let node = Node::builder()
            .name("owner")
            .config(setup.config.clone())
            .create()
            .unwrap();
        // Keeps the services folder in place.
        let _kept = Service::publish_subscribe::<Counted>(&node, "trust/kept")
            .open_or_create()
            .unwrap();
        let services = setup.config.domain_dir().join("services");
        let lock = services.join(format!("{:016x}.ps.lock", object_id(1, "trust/victim")));
        std::os::unix::fs::symlink(&precious, &lock).unwrap();
        let error = Service::publish_subscribe::<Counted>(&node, "trust/victim")
            .open_or_create()
            .expect_err("a planted lock file must not be used");
        assert!(
            matches!(
                &error,
                ServiceOpenOrCreateError::Lock(LockError::Os {
                    source: OsError::Probe(_),
                    ..
                })
            ),
            "{error}"
        );
        std::fs::remove_file(&lock).unwrap();
        // A link among the node tokens is neither locked, nor read, nor removed.
        let token = setup
            .config
            .domain_dir()
            .join("nodes/00000000deadbeef.node");
        std::os::unix::fs::symlink(&precious, &token).unwrap();
        let listed = Node::list(&setup.config).unwrap();
        assert!(listed.iter().all(|n| n.name != "precious"));
        node.cleanup_dead_nodes().unwrap();
        assert!(
            token.symlink_metadata().is_ok(),
            "the planted link was removed"
        );
        std::fs::remove_file(&token).unwrap();
    }
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious");
    std::fs::remove_file(&precious).unwrap();
    setup.assert_clean();
}

#[test]
fn a_world_writable_service_object_of_another_user_is_refused() {
    if !as_root("a_world_writable_service_object_of_another_user_is_refused") {
        return;
    }
    let setup = Setup::new("trust", "foreign_object");
    // The other user's runtime folder (its own) and our object prefix, on purpose.
    let theirs = scratch("foreign-root");
    let prefix = setup.config.prefix();
    let mut other = Other::start(
        NOBODY,
        &[("SHMBUS_PREFIX", &prefix)],
        &[
            "own-service",
            &setup.domain,
            theirs.to_str().unwrap(),
            "trust/topic",
        ],
    );
    let object = setup.config.objects().ok().into_iter().flatten().next();
    assert!(object.is_none(), "another user's object is listed as ours");
    let path = Path::new("/dev/shm").join(format!(
        "{}ps.{:016x}",
        setup.config.shm_prefix(),
        object_id(1, "trust/topic")
    ));
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), NOBODY);
    chmod(&path, 0o666);
    {
        let node = Node::builder()
            .name("victim")
            .config(setup.config.clone())
            .create()
            .unwrap();
        let error = Service::publish_subscribe::<Counted>(&node, "trust/topic")
            .open_or_create()
            .expect_err("another user's object must not be joined");
        let text = error.to_string();
        assert!(text.contains("owned by uid 65534 (nobody)"), "{text}");
        assert!(text.contains("mode 0666"), "{text}");
        // Our cleanup leaves it alone.
        node.cleanup_dead_nodes().unwrap();
        assert!(path.exists());
    }
    other.child.kill().unwrap();
    let _ = other.child.wait();
    // The other user's leftovers are theirs; this test removes them as root.
    for entry in std::fs::read_dir("/dev/shm").unwrap().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(&setup.config.shm_prefix())
        {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    std::fs::remove_dir_all(&theirs).unwrap();
    setup.assert_clean();
}

#[test]
fn two_users_default_domains_never_meet() {
    if !as_root("two_users_default_domains_never_meet") {
        return;
    }
    // Both users use the default prefix and runtime folder, and the same domain and
    // service name: each publisher must reach only its own user's subscriber.
    let domain = format!("twousers{}", std::process::id());
    let service = "robot/scan";
    let users = [NOBODY, OTHER];
    let mut subscribers: Vec<Other> = users
        .iter()
        .map(|&uid| Other::start(uid, &[], &["receive-tagged", &domain, "-", service, "20"]))
        .collect();
    let mut publishers: Vec<Other> = users
        .iter()
        .map(|&uid| Other::start(uid, &[], &["publish-tagged", &domain, "-", service, "20"]))
        .collect();
    for uid in users {
        let prefix = format!("/dev/shm/shmbus-{uid}.{domain}.ps.");
        let found = std::fs::read_dir("/dev/shm")
            .unwrap()
            .flatten()
            .filter(|e| e.path().display().to_string().starts_with(&prefix))
            .count();
        assert_eq!(found, 1, "user {uid} has its own service object");
    }
    for publisher in &mut publishers {
        publisher.say("go");
    }
    for (uid, subscriber) in users.iter().zip(&mut subscribers) {
        assert_eq!(
            subscriber.line(),
            format!("got 20 [{uid}] from 1 publisher(s)"),
            "user {uid} received another user's samples"
        );
    }
    for publisher in &mut publishers {
        assert_eq!(publisher.line(), "sent");
    }
    for other in publishers.into_iter().chain(subscribers) {
        other.finish();
    }
    for uid in users {
        let left = std::fs::read_dir("/dev/shm")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("shmbus-{uid}.{domain}."))
            })
            .count();
        assert_eq!(left, 0, "user {uid} left objects");
        let folder = PathBuf::from(format!("/tmp/shmbus-{uid}/{domain}"));
        assert!(!folder.exists(), "{} is left", folder.display());
    }
}

#[test]
fn two_users_of_a_group_meet_in_the_groups_default_domain() {
    if !as_root("two_users_of_a_group_meet_in_the_groups_default_domain") {
        return;
    }
    // Group mode derives the prefix (`shmbus-g<gid>`) and the runtime folder
    // (`/tmp/shmbus-g<gid>`) from the group: its members meet there on purpose.
    const GROUP: u32 = 47_012;
    let domain = format!("group{}", std::process::id());
    let group = GROUP.to_string();
    let env = [("SHMBUS_GROUP", group.as_str())];
    let mut subscriber = Other::start_in_group(
        NOBODY,
        GROUP,
        &env,
        &["receive-tagged", &domain, "-", "team/topic", "10"],
    );
    let mut publisher = Other::start_in_group(
        OTHER,
        GROUP,
        &env,
        &["publish-tagged", &domain, "-", "team/topic", "10"],
    );
    let folder = PathBuf::from(format!("/tmp/shmbus-g{GROUP}"));
    let shm_folder = PathBuf::from(format!("/dev/shm/shmbus-g{GROUP}"));
    for dir in [&folder, &shm_folder] {
        let meta = std::fs::metadata(dir).unwrap();
        assert_eq!((meta.gid(), meta.mode() & 0o7777), (GROUP, 0o2770));
    }
    publisher.say("go");
    assert_eq!(
        subscriber.line(),
        format!("got 10 [{OTHER}] from 1 publisher(s)")
    );
    assert_eq!(publisher.line(), "sent");
    publisher.finish();
    subscriber.finish();
    // Whoever left last removed everything, whoever made it; the group's two folders stay
    // (in sticky /tmp and /dev/shm only their maker could remove them), empty.
    let objects = PathBuf::from(format!("/dev/shm/shmbus-g{GROUP}"));
    for dir in [&folder, &objects] {
        let left: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
        let _ = std::fs::remove_dir(dir);
    }
}

#[test]
fn a_full_dev_shm_is_an_error_at_creation_that_leaves_nothing() {
    if !as_root("a_full_dev_shm_is_an_error_at_creation_that_leaves_nothing") {
        return;
    }
    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!(
            "skipped a_full_dev_shm_is_an_error_at_creation_that_leaves_nothing: no mount namespace here (unshare -m)"
        );
        return;
    }
    let setup = Setup::new("trust", "small_shm");
    // A mount namespace of its own, with a 2 MiB tmpfs over /dev/shm.
    let script = format!(
        "mount -t tmpfs -o size=2m tmpfs /dev/shm && exec {} small-dev-shm {} {} trust/shm",
        env!("CARGO_BIN_EXE_pubsub-child"),
        setup.domain,
        setup.root.display()
    );
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("refused: ") && lines[0].contains("/dev/shm has no room"),
        "{stdout}"
    );
    // 9 chunks of 16 MiB: 2 loans + 1 subscriber x (buffer 4 + borrowed 2 + 1).
    assert!(lines[0].contains("needs 144.0 MiB"), "{stdout}");
    assert!(lines[0].contains("are free"), "{stdout}");
    eprintln!("{}", lines[0]);
    assert_eq!(lines[1], "objects after the refusal: 0", "{stdout}");
    assert_eq!(lines[2], "small: Some(5)", "{stdout}");
    assert_eq!(lines[3], "left in /dev/shm: []", "{stdout}");
    setup.assert_clean();
}
