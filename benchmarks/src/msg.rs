//! The messages every transport moves: the same bytes for all of them.

use iceoryx2::prelude::ZeroCopySend;
use shmbus::ShmMessage;

/// A message the benchmarks send: the sender stamps its first and last word with the
/// sequence number, the receiver reads both back, so the first and last cache line of the
/// payload cross the core boundary for every transport.
pub trait Msg:
    ShmMessage + shmbus::message::AnyBitPattern + ZeroCopySend + core::fmt::Debug + Send + 'static
{
    /// The size in bytes.
    const SIZE: usize = size_of::<Self>();
    /// Writes `seq` into the first and the last word.
    fn stamp(&mut self, seq: u64);
    /// Reads the first and the last word.
    fn seqs(&self) -> (u64, u64);
}

/// An 8-byte message: its first and last word are the same.
#[derive(ShmMessage, ZeroCopySend, Debug, Clone, Copy)]
#[repr(C)]
pub struct Word {
    /// The sequence number.
    pub seq: u64,
}

impl Msg for Word {
    fn stamp(&mut self, seq: u64) {
        self.seq = seq;
    }
    fn seqs(&self) -> (u64, u64) {
        (self.seq, self.seq)
    }
}

/// A message of `D + 16` bytes whose first and last words carry the sequence number.
#[derive(ShmMessage, ZeroCopySend, Clone, Copy)]
#[repr(C)]
pub struct Payload<const D: usize> {
    /// The sequence number.
    pub seq: u64,
    /// The body (never touched: zero-copy transports must not pay for it).
    pub data: [u8; D],
    /// The sequence number again, in the last cache line.
    pub tail: u64,
}

impl<const D: usize> core::fmt::Debug for Payload<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Payload<{}> {{ seq: {}, tail: {} }}",
            D + 16,
            self.seq,
            self.tail
        )
    }
}

impl<const D: usize> Msg for Payload<D> {
    fn stamp(&mut self, seq: u64) {
        self.seq = seq;
        self.tail = seq;
    }
    fn seqs(&self) -> (u64, u64) {
        (self.seq, self.tail)
    }
}

/// 1 KiB.
pub type K1 = Payload<{ 1024 - 16 }>;
/// 64 KiB.
pub type K64 = Payload<{ (64 << 10) - 16 }>;
/// 1 MiB.
pub type M1 = Payload<{ (1 << 20) - 16 }>;
/// 16 MiB.
pub type M16 = Payload<{ (16 << 20) - 16 }>;

/// The payload sizes of the latency scenario.
pub const SIZES: [usize; 5] = [8, 1 << 10, 64 << 10, 1 << 20, 16 << 20];

/// Calls `$f::<Type>($args)` for the message type of `$size` bytes.
#[macro_export]
macro_rules! with_msg {
    ($size:expr, $f:ident ( $($arg:expr),* )) => {
        match $size {
            8 => $f::<$crate::msg::Word>($($arg),*),
            1024 => $f::<$crate::msg::K1>($($arg),*),
            65536 => $f::<$crate::msg::K64>($($arg),*),
            1048576 => $f::<$crate::msg::M1>($($arg),*),
            16777216 => $f::<$crate::msg::M16>($($arg),*),
            other => panic!("no message type of {other} bytes"),
        }
    };
}

/// Writes `seq` into the first and last 8 bytes of a byte buffer (what socket and pipe
/// senders do to the buffer they then write whole).
pub fn stamp_bytes(buf: &mut [u8], seq: u64) {
    let n = buf.len();
    buf[..8].copy_from_slice(&seq.to_ne_bytes());
    buf[n - 8..].copy_from_slice(&seq.to_ne_bytes());
}

/// Reads the first and last 8 bytes of a byte buffer.
pub fn seqs_bytes(buf: &[u8]) -> (u64, u64) {
    let n = buf.len();
    let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().expect("8 bytes"));
    (word(&buf[..8]), word(&buf[n - 8..]))
}
