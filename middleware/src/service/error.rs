//! Errors of opening and creating services.

use std::path::PathBuf;
use std::time::Duration;

use crate::os::dir::FolderError;
use crate::os::lock::LockCreateError;
use crate::os::mmap::MapError;
use crate::os::shm::{ShmAllocateError, ShmCreateError, ShmNameError, ShmOpenError, ShmStatError};
use crate::service::name::ServiceNameError;
use crate::service::qos::QosError;
use crate::sync::layout::LayoutError;

/// Failure of `open`, `create` or `open_or_create` on a service builder.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The service name is invalid.
    #[error(transparent)]
    InvalidName(#[from] ServiceNameError),
    /// A QoS value is out of range, or the service cannot satisfy a request.
    #[error(transparent)]
    Qos(#[from] QosError),
    /// `open` found no service of that name.
    #[error(
        "no {pattern} service named {name:?} exists in domain {domain:?}; create it first or use open_or_create"
    )]
    NotFound {
        /// The pattern.
        pattern: &'static str,
        /// The service.
        name: String,
        /// The domain.
        domain: String,
    },
    /// `create` found an existing service of that name.
    #[error(
        "a {pattern} service named {name:?} already exists in domain {domain:?}; open it instead"
    )]
    AlreadyExists {
        /// The pattern.
        pattern: &'static str,
        /// The service.
        name: String,
        /// The domain.
        domain: String,
    },
    /// The service's message type is not ours.
    #[error(transparent)]
    TypeMismatch(Box<TypeMismatch>),
    /// The service was created by an incompatible release of shmbus.
    #[error(
        "service {name:?} has shared-memory ABI version {found}; this shmbus speaks version {expected}: upgrade the older side"
    )]
    AbiMismatch {
        /// The service.
        name: String,
        /// Version in shared memory.
        found: u64,
        /// Our version.
        expected: u64,
    },
    /// Two service names map to the same object (a 64-bit hash collision).
    #[error(
        "service name {name:?} collides with existing service {existing:?} (same hash); rename one of them"
    )]
    HashCollision {
        /// Our name.
        name: String,
        /// The name stored in the object.
        existing: String,
    },
    /// The shared memory of the service holds values that cannot be right.
    #[error(
        "service {name:?} is corrupted: {what}; stop the processes that use it (the last one to leave removes it) and create it again"
    )]
    Corrupted {
        /// The service.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// Every node slot of the service is taken.
    #[error(
        "service {name:?} already has its maximum of {max} nodes; raise max_nodes when creating it"
    )]
    TooManyNodes {
        /// The service.
        name: String,
        /// The limit.
        max: u32,
    },
    /// Another process held the service lock for too long.
    #[error(
        "timed out after {waited:?} waiting for the lock of service {name:?} ({path}); another process is creating or removing it"
    )]
    LockTimeout {
        /// The service.
        name: String,
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// An operating-system call failed.
    #[error("service {name:?}: {source}")]
    Os {
        /// The service.
        name: String,
        /// The cause.
        source: OsError,
    },
}

/// An operating-system failure while opening or creating a service.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)]
pub enum OsError {
    #[error(transparent)]
    Name(#[from] ShmNameError),
    #[error(transparent)]
    Create(#[from] ShmCreateError),
    #[error(transparent)]
    Open(#[from] ShmOpenError),
    #[error(transparent)]
    Allocate(#[from] ShmAllocateError),
    #[error(transparent)]
    Stat(#[from] ShmStatError),
    #[error(transparent)]
    Map(#[from] MapError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Lock(#[from] LockCreateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    List(#[from] crate::os::shm::ShmListError),
    #[error("{0}")]
    Errno(#[from] rustix::io::Errno),
    #[error(transparent)]
    Probe(#[from] crate::os::lock::LockProbeError),
    #[error(transparent)]
    Random(#[from] crate::os::process::RandomError),
    #[error(transparent)]
    Queue(#[from] crate::sync::index_queue::IndexQueueOpenError),
}

/// The details of [`ServiceError::TypeMismatch`].
#[derive(Debug, thiserror::Error)]
#[error(
    "service {name:?} carries {role} type {theirs} but this side uses {ours}: {difference}\n  service type: {theirs_rendered}\n  our type:     {ours_rendered}"
)]
pub struct TypeMismatch {
    /// The service.
    pub name: String,
    /// Which type: `"message"`, `"request"` or `"response"`.
    pub role: &'static str,
    /// Our type (`name (size, align, hash)`).
    pub ours: String,
    /// The service's type.
    pub theirs: String,
    /// The first differing field.
    pub difference: String,
    /// Our listing, one field per line.
    pub ours_rendered: String,
    /// The service's listing.
    pub theirs_rendered: String,
}
