//! Recording shmbus services into MCAP files, and replaying them.
//!
//! An MCAP file (<https://mcap.dev>) written here is what Foxglove, the `mcap` tools and
//! rosbag2 readers decode without a plugin: each message type is a schema in the `omgidl`
//! encoding — the OMG IDL text of the type, made from the descriptor the service stores
//! ([`idl`]) — and each sample a message in the `cdr` encoding (XCDR1 little-endian,
//! transcoded from the fixed layout by walking the descriptor: [`cdr`]). Each channel also
//! carries the shmbus descriptor's own encoding in its metadata, so a replay recreates the
//! exact type.

pub mod cdr;
pub mod idl;
