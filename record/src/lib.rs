//! Recording shmbus services into MCAP files, and replaying them.
//!
//! An MCAP file (<https://mcap.dev>) written here is what Foxglove, the `mcap` tools and
//! rosbag2 readers decode without a plugin: each message type is a schema in the `omgidl`
//! encoding — the OMG IDL text of the type, made from the descriptor the service stores
//! ([`idl`]) — and each sample a message in the `cdr` encoding (XCDR1 little-endian,
//! transcoded from the fixed layout by walking the descriptor: [`cdr`]). Each channel also
//! carries the shmbus descriptor's own encoding in its metadata ([`format`]), so a replay
//! recreates the exact type.
//!
//! [`Recorder`] records; [`Replayer`] plays a file back into a domain.

pub mod cdr;
pub mod format;
pub mod idl;
pub mod recorder;
pub mod replayer;
pub mod stop;

pub use recorder::{RecordError, RecordOptions, RecordProgress, RecordReport, Recorder};
pub use replayer::{ReplayError, ReplayOptions, ReplayProgress, ReplayReport, Replayer};
pub use shmbus::service::ServicePattern;
pub use stop::StopHandle;
