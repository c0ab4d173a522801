//! The pieces of `shmbus-benchmarks` (the program is `src/main.rs`): the messages every
//! transport moves, one ping-pong link per transport, the throughput loops, statistics,
//! tables, CSV and plots, the record, async and bridge scenarios, and the few operating-system calls the floors need.

pub mod asynchronous;
pub mod bridge;
pub mod links;
pub mod msg;
pub mod plot;
pub mod raw;
pub mod record;
pub mod stats;
pub mod tput;
