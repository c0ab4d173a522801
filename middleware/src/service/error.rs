//! Errors of creating and opening services: one enum per operation, so that by its type
//! `open` cannot fail with "already exists" nor `create` with "type mismatch".

use std::path::PathBuf;
use std::time::Duration;

use crate::message::dynamic::{DecodeError, EncodeError};
use crate::os::dir::FolderError;
use crate::os::lock::{LockCreateError, LockProbeError};
use crate::os::mmap::MapError;
use crate::os::shm::{
    ShmAllocateError, ShmCreateError, ShmListError, ShmNameError, ShmOpenError, ShmStatError,
};
use crate::service::name::ServiceNameError;
use crate::service::qos::QosError;
use crate::sync::layout::LayoutError;

/// Failure of `create` on a service builder.
#[derive(Debug, thiserror::Error)]
pub enum ServiceCreateError {
    /// The service name is invalid.
    #[error(transparent)]
    InvalidName(#[from] ServiceNameError),
    /// A QoS value is out of range.
    #[error(transparent)]
    Qos(#[from] QosError),
    /// No message type was given (a byte-level builder creates only with one).
    #[error(
        "creating {pattern} service {name:?} needs its message type(s): give them with `message_type` / `request_type` and `response_type`"
    )]
    NoType {
        /// The pattern.
        pattern: &'static str,
        /// The service.
        name: String,
    },
    /// A message type cannot be described for other processes.
    #[error(transparent)]
    Type(#[from] EncodeError),
    /// A service of that name exists already.
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
    /// Another process held the service lock for too long, or it could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// An operating-system call failed.
    #[error("service {name:?}: {source}")]
    Os {
        /// The service.
        name: String,
        /// The cause.
        source: OsError,
    },
}

/// Failure of `open` on a service builder.
#[derive(Debug, thiserror::Error)]
pub enum ServiceOpenError {
    /// The service name is invalid.
    #[error(transparent)]
    InvalidName(#[from] ServiceNameError),
    /// A QoS value is out of range.
    #[error(transparent)]
    Qos(#[from] QosError),
    /// No service of that name exists.
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
    /// The service exists but cannot be joined as asked.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// Another process held the service lock for too long, or it could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// An operating-system call failed.
    #[error("service {name:?}: {source}")]
    Os {
        /// The service.
        name: String,
        /// The cause.
        source: OsError,
    },
}

/// Failure of `open_or_create` on a service builder.
#[derive(Debug, thiserror::Error)]
pub enum ServiceOpenOrCreateError {
    /// The service name is invalid.
    #[error(transparent)]
    InvalidName(#[from] ServiceNameError),
    /// A QoS value is out of range.
    #[error(transparent)]
    Qos(#[from] QosError),
    /// It did not exist and no message type was given to create it with.
    #[error(
        "{pattern} service {name:?} does not exist, and creating it needs its message type(s): give them with `message_type` / `request_type` and `response_type`"
    )]
    NoType {
        /// The pattern.
        pattern: &'static str,
        /// The service.
        name: String,
    },
    /// A message type cannot be described for other processes.
    #[error(transparent)]
    Type(#[from] EncodeError),
    /// The service exists but cannot be joined as asked.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// Another process held the service lock for too long, or it could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// An operating-system call failed.
    #[error("service {name:?}: {source}")]
    Os {
        /// The service.
        name: String,
        /// The cause.
        source: OsError,
    },
}

/// Why an existing service cannot be joined.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The service carries another message type than ours.
    #[error(transparent)]
    TypeMismatch(Box<TypeMismatch>),
    /// The service cannot satisfy a QoS requirement of ours.
    #[error(transparent)]
    Qos(#[from] QosError),
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
        "service {name:?} is corrupted: {what}; stop the processes that use it (`shmbus inspect {name}` names them; the last one to leave removes it) and create it again"
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
}

/// The service lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process held it for the whole wait.
    #[error(
        "timed out after {waited:?} waiting for the lock of service {name:?} ({path}); another process is creating or removing it"
    )]
    Timeout {
        /// The service.
        name: String,
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// Taking it failed (its folder or file is not ours, or a system call failed).
    #[error("cannot take the lock of service {name:?}: {source}")]
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
    #[error(transparent)]
    Probe(#[from] LockProbeError),
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    List(#[from] ShmListError),
    #[error("{0}")]
    Errno(#[from] rustix::io::Errno),
    #[error(transparent)]
    Random(#[from] crate::os::process::RandomError),
    #[error(transparent)]
    Queue(#[from] crate::sync::index_queue::IndexQueueOpenError),
    #[error(transparent)]
    Descriptor(#[from] DecodeError),
}

/// The details of [`JoinError::TypeMismatch`].
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
    /// Our type's tree.
    pub ours_rendered: String,
    /// The service's type's tree.
    pub theirs_rendered: String,
}
