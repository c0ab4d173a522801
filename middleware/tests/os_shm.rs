//! The `os` layer against the real kernel: shared-memory objects (create, open, size, map,
//! list, unlink, permissions), cross-process futex wake-ups through a mapping, and liveness
//! locks released by a SIGKILL. Child processes are this test binary re-run with a role in
//! `SHMBUS_OS_TEST_ROLE`. Every name carries a per-test prefix and a guard removes
//! everything the test created, even when it fails. Objects, folders and lock files that are
//! not ours (open to others, symbolic links) are refused.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use shmbus::os::dir::Folder;
use shmbus::os::lock::{self, LockCreateError, LockFile, LockProbeError, TryLock};
use shmbus::os::mmap::{MapError, Mapping, Protection};
use shmbus::os::process;
use shmbus::os::shm::{
    self, Access, Permissions, SharedMemory, ShmAllocateError, ShmCreateError, ShmName,
    ShmOpenError, ShmUnlinkError,
};
use shmbus::os::trust::Reason;
use shmbus::sync::index_queue::{self, Overflow};
use shmbus::sync::{Event, IndexQueueConsumer, IndexQueueProducer, LayoutError};

const ROLE: &str = "SHMBUS_OS_TEST_ROLE";
const OWNER: Permissions = Permissions::OwnerOnly;
const ARG: &str = "SHMBUS_OS_TEST_ARG";

/// Removes every shared-memory object with `prefix` and the scratch directory on drop.
struct Scratch {
    prefix: String,
    dir: PathBuf,
    folder: Folder,
}

impl Scratch {
    fn new(test: &str) -> Self {
        let tag = format!(
            "shmbus-test-os-{test}-{}-{:x}",
            process::pid(),
            process::random_u64().unwrap()
        );
        let dir = std::env::temp_dir().join(&tag);
        let folder = Folder::open_or_create_path(&dir, OWNER).unwrap();
        Self {
            prefix: format!("/{tag}"),
            dir,
            folder,
        }
    }

    fn name(&self, suffix: &str) -> ShmName {
        ShmName::new(format!("{}.{suffix}", self.prefix)).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for name in std::fs::read_dir(shm::SHM_DIR).unwrap().flatten() {
            let file = name.file_name().into_string().unwrap_or_default();
            if format!("/{file}").starts_with(&self.prefix) {
                let _ = std::fs::remove_file(name.path());
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn child(role: &str, arg: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(ARG, arg);
    command
}

/// Entry point of the child processes; does nothing in a normal test run.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let arg = std::env::var(ARG).unwrap();
    match role.as_str() {
        "consume" => {
            // Wait (futex, cross-process) for three indices, then exit.
            let name = ShmName::new(arg).unwrap();
            let object = SharedMemory::open(&name, Access::ReadWrite, OWNER).unwrap();
            let len = usize::try_from(object.len().unwrap()).unwrap();
            let mapping = Arc::new(Mapping::new(&object, len, Protection::ReadWrite).unwrap());
            let event = Event::open(Arc::clone(&mapping), 0).unwrap();
            let mut consumer = IndexQueueConsumer::open(Arc::clone(&mapping), 64, 4, 100).unwrap();
            for expected in [7, 8, 9] {
                let got = event
                    .wait_until(Some(Duration::from_secs(20)), || consumer.pop().unwrap())
                    .unwrap();
                assert_eq!(got, Some(expected));
            }
        }
        "hold-lock" => {
            let folder = Folder::open_path(std::path::Path::new(&arg), OWNER)
                .unwrap()
                .unwrap();
            let _lock = LockFile::create(&folder, "node.lock").unwrap();
            println!("locked");
            std::thread::sleep(Duration::from_secs(60));
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn create_open_size_list_unlink() {
    let scratch = Scratch::new("basic");
    let name = scratch.name("a");
    let object = SharedMemory::create(&name, Permissions::OwnerOnly).unwrap();
    assert_eq!(object.len().unwrap(), 0);
    object.allocate(8192).unwrap();
    assert_eq!(object.len().unwrap(), 8192);
    let mode = std::fs::metadata(format!("{}{}", shm::SHM_DIR, name))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    assert!(matches!(
        SharedMemory::create(&name, Permissions::OwnerOnly),
        Err(ShmCreateError::AlreadyExists { .. })
    ));
    let reader = SharedMemory::open(&name, Access::ReadOnly, OWNER).unwrap();
    assert_eq!(reader.len().unwrap(), 8192);
    assert!(reader.allocate(1).is_err());
    assert!(matches!(
        Mapping::new(&reader, 4096, Protection::ReadWrite),
        Err(MapError::NotWritable { .. })
    ));
    assert!(matches!(
        Mapping::new(&object, 8193, Protection::ReadWrite),
        Err(MapError::TooSmall { .. })
    ));

    assert_eq!(
        shm::list(&scratch.prefix, OWNER).unwrap(),
        vec![name.clone()]
    );
    shm::unlink(&name, OWNER).unwrap();
    assert!(matches!(
        shm::unlink(&name, OWNER),
        Err(ShmUnlinkError::NotFound { .. })
    ));
    assert!(matches!(
        SharedMemory::open(&name, Access::ReadWrite, OWNER),
        Err(ShmOpenError::NotFound { .. })
    ));
    assert!(shm::list(&scratch.prefix, OWNER).unwrap().is_empty());
}

#[test]
fn group_permissions_ignore_the_umask() {
    let scratch = Scratch::new("group");
    let gid = std::fs::metadata(&scratch.dir).unwrap().gid();
    let name = scratch.name("g");
    let _object = SharedMemory::create(&name, Permissions::Group { gid }).unwrap();
    let meta = std::fs::metadata(format!("{}{}", shm::SHM_DIR, name)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid);
}

#[test]
fn two_mappings_share_memory_and_read_only_is_refused_for_writers() {
    let scratch = Scratch::new("share");
    let name = scratch.name("q");
    let object = SharedMemory::create(&name, Permissions::OwnerOnly).unwrap();
    object.allocate(4096).unwrap();
    let first = Mapping::new(&object, 4096, Protection::ReadWrite).unwrap();
    let second = Mapping::new(&object, 4096, Protection::ReadWrite).unwrap();
    assert_ne!(first.as_ptr(), second.as_ptr());
    let mut producer = IndexQueueProducer::create(&first, 0, 8, 100).unwrap();
    let mut consumer = IndexQueueConsumer::open(&second, 0, 8, 100).unwrap();
    producer.push(42, Overflow::Reject).unwrap();
    assert_eq!(consumer.pop().unwrap(), Some(42));

    let read_only = SharedMemory::open(&name, Access::ReadOnly, OWNER).unwrap();
    let view = Mapping::new(&read_only, 4096, Protection::ReadOnly).unwrap();
    assert!(matches!(
        IndexQueueConsumer::open(&view, 0, 8, 100),
        Err(index_queue::IndexQueueOpenError::Layout(
            LayoutError::ReadOnly { .. }
        ))
    ));
}

#[test]
fn futex_wakes_a_child_process() {
    let scratch = Scratch::new("futex");
    let name = scratch.name("ev");
    let object = SharedMemory::create(&name, Permissions::OwnerOnly).unwrap();
    let len = 64 + index_queue::size_of(4);
    object.allocate(len as u64).unwrap();
    let mapping = Mapping::new(&object, len, Protection::ReadWrite).unwrap();
    let event = Event::create(&mapping, 0).unwrap();
    let mut producer = IndexQueueProducer::create(&mapping, 64, 4, 100).unwrap();
    let mut consumer = child("consume", name.as_str())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    for index in [7, 8, 9] {
        // Give the child a chance to fall asleep, so real FUTEX_WAKEs are exercised.
        std::thread::sleep(Duration::from_millis(20));
        producer.push(index, Overflow::Reject).unwrap();
        event.notify().unwrap();
    }
    assert!(consumer.wait().unwrap().success());
    assert!(producer.is_empty());
}

#[test]
fn lock_is_released_when_its_owner_is_killed() {
    let scratch = Scratch::new("lock");
    let folder = &scratch.folder;
    let path = scratch.dir.join("node.lock");
    assert!(matches!(
        lock::try_lock(folder, "node.lock").unwrap(),
        TryLock::Missing
    ));

    let mut owner = child("hold-lock", scratch.dir.to_str().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(owner.stdout.take().unwrap());
    while !line.contains("locked") {
        line.clear();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "child exited early"
        );
    }
    assert!(matches!(
        lock::try_lock(folder, "node.lock").unwrap(),
        TryLock::Held
    ));
    assert!(matches!(
        LockFile::create(folder, "node.lock"),
        Err(LockCreateError::AlreadyExists { .. })
    ));

    owner.kill().unwrap();
    owner.wait().unwrap();
    let TryLock::Acquired(cleaner) = lock::try_lock(folder, "node.lock").unwrap() else {
        panic!("the dead owner's lock should be free");
    };
    // While the cleaner holds it, nobody else can take it.
    assert!(matches!(
        lock::try_lock(folder, "node.lock").unwrap(),
        TryLock::Held
    ));
    cleaner.remove().unwrap();
    assert!(matches!(
        lock::try_lock(folder, "node.lock").unwrap(),
        TryLock::Missing
    ));

    let mine = LockFile::create(folder, "node.lock").unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(matches!(
        lock::try_lock(folder, "node.lock").unwrap(),
        TryLock::Held
    ));
    mine.remove().unwrap();
    assert!(!path.exists());
}

#[test]
fn lock_files_that_are_links_or_open_to_others_are_refused() {
    let scratch = Scratch::new("planted");
    let folder = &scratch.folder;
    // A link planted where a lock file goes: neither followed by a creator nor a prober.
    let target = scratch.dir.join("target");
    std::fs::write(&target, b"precious").unwrap();
    std::os::unix::fs::symlink(&target, scratch.dir.join("a.lock")).unwrap();
    assert!(matches!(
        LockFile::create(folder, "a.lock"),
        Err(LockCreateError::AlreadyExists { .. })
    ));
    assert!(matches!(
        lock::try_lock(folder, "a.lock"),
        Err(LockProbeError::Os { .. })
    ));
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    // A lock file others may write is not trusted to say anything.
    let open = scratch.dir.join("b.lock");
    std::fs::write(&open, b"").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    let error = lock::try_lock(folder, "b.lock").unwrap_err();
    assert!(
        matches!(&error, LockProbeError::Untrusted { source, .. } if source.reason == Reason::OpenToOthers),
        "{error}"
    );
}

#[test]
fn objects_open_to_others_or_planted_links_are_refused() {
    let scratch = Scratch::new("trust");
    let name = scratch.name("open");
    let object = SharedMemory::create(&name, OWNER).unwrap();
    object.allocate(4096).unwrap();
    let path = format!("{}{}", shm::SHM_DIR, name);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let error = SharedMemory::open(&name, Access::ReadWrite, OWNER).unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(&error, ShmOpenError::NotOurs { source, .. } if source.reason == Reason::OpenToOthers),
        "{text}"
    );
    assert!(
        text.contains("mode 0666") && text.contains("rm /dev/shm/"),
        "{text}"
    );
    // Listing and removing skip it too.
    assert!(shm::list(&scratch.prefix, OWNER).unwrap().is_empty());
    assert!(matches!(
        shm::unlink(&name, OWNER),
        Err(ShmUnlinkError::NotOurs { .. })
    ));
    // A link planted under an object's name is not followed, by openers or creators.
    let target = scratch.dir.join("target");
    std::fs::write(&target, b"precious").unwrap();
    let link = scratch.name("link");
    std::os::unix::fs::symlink(&target, format!("{}{}", shm::SHM_DIR, link)).unwrap();
    assert!(matches!(
        SharedMemory::open(&link, Access::ReadWrite, OWNER),
        Err(ShmOpenError::Os { .. })
    ));
    assert!(matches!(
        SharedMemory::create(&link, OWNER),
        Err(ShmCreateError::AlreadyExists { .. })
    ));
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
}

#[test]
fn an_object_too_large_for_dev_shm_is_an_error_not_a_signal() {
    let scratch = Scratch::new("nospace");
    let name = scratch.name("huge");
    let object = SharedMemory::create(&name, OWNER).unwrap();
    // More than any /dev/shm has: the reservation fails at once, and says so.
    let error = object.allocate(1 << 50).unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, ShmAllocateError::NoSpace { needed, .. } if needed == 1 << 50),
        "{text}"
    );
    assert!(
        text.contains("needs 1024.0 TiB") && text.contains("are free"),
        "{text}"
    );
    assert_eq!(object.len().unwrap(), 0);
}
