//! The byte-level core of every port: one *channel* of a service carries chunks from its
//! senders (publisher slots) to its receivers (subscriber slots).
//!
//! A publish-subscribe service has one channel; a request-response service two (requests
//! from clients to servers, responses from servers to clients). `Sender` and
//! `Receiver` own the whole data path, connection management and the cleanup hooks, and
//! know a payload only as bytes of the size and alignment of the channel's
//! [`Descriptor`](crate::message::Descriptor); the ports in [`crate::port`] add the type
//! (or, for byte-level ports, validation against the descriptor) and nothing else.
//!
//! ## The data path
//!
//! Each sender owns one data segment (`<prefix><domain>.<service>.d.<node>.<port>`),
//! preallocated at creation with the worst case of the channel's QoS, so a send never
//! fails for lack of memory while every peer keeps to its limits. A loan is a chunk of that
//! segment, written in place. `send` writes the chunk's header (port id, sequence, the send
//! time if enabled, a correlation word for request-response), records in the segment which
//! receivers hold the chunk, pushes a queue `entry` into each chosen receiver's delivery
//! queue in the service object, then wakes the receivers that sleep — a system call only if
//! one does. Receivers map the sender's segment read-only, validate the payload, and hold
//! the chunk in place; letting go of it pushes the entry into the return queue, which the
//! sender drains when it needs chunks. Neither side takes a lock or makes a system call on
//! this path, and the payload is never copied: 16 MiB cost what 8 B cost.
//!
//! Chunk ownership lives in shared memory (the holders mask of each chunk, see
//! [`crate::sync::chunk_store`]), so when a receiver leaves or dies its sender clears that
//! receiver's bit from every chunk and gets them all back.
//!
//! Connections are made lazily but never lose the first samples: a receiver registers
//! before `create` returns and bumps the registry generation; every loan and send checks
//! the generation first (one atomic load), connects new receivers and sends them the
//! history. So a receiver that exists before `send` returns receives the chunk. The same
//! look records connections and departures as [`PortEvent`]s.

/// The setters of every builder of a sending port (`self.options` is a [`SenderOptions`]),
/// with their docs.
macro_rules! sender_setters {
    ($timestamps:literal, $send_timeout:literal) => {
        #[doc = $timestamps]
        pub fn timestamps(mut self, on: bool) -> Self {
            self.options.timestamps = on;
            self
        }

        #[doc = $send_timeout]
        pub fn send_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.send_timeout = timeout;
            self
        }
    };
}
pub(crate) use sender_setters;

/// What every port says of its counterparts: how many are connected (`$count`, named
/// `$what` in the docs), their connections and departures, and a liveness check; `$core`
/// is the path of the channel end that sees them.
macro_rules! counterpart_methods {
    ($count:ident, $what:literal, $($core:ident).+) => {
        #[doc = concat!("How many ", $what, " are connected now (a look at the registry: no system call).")]
        pub fn $count(&self) -> usize {
            self.$($core).+.connected()
        }

        #[doc = concat!("The ", $what, " that connected or went away since the last call, oldest first (at most")]
        /// [`EVENTS_KEPT`](crate::port::EVENTS_KEPT)). One whose process died shows as
        /// [`Departure::Died`](crate::port::Departure::Died) once a cleaner removed it: any
        /// process opening the service, or [`check_liveness`](Self::check_liveness).
        pub fn take_events(&self) -> Vec<$crate::port::PortEvent> {
            self.$($core).+.take_events()
        }

        /// Tests whether the processes of the service's ports are alive (a `flock(2)` per
        /// node: not for every loop iteration) and removes the ports of dead ones, whose
        /// departures then show in [`take_events`](Self::take_events). Returns how many dead
        /// nodes were found.
        pub fn check_liveness(&self) -> usize {
            self.$($core).+.check_liveness()
        }
    };
}
pub(crate) use counterpart_methods;

pub(crate) mod entry;
mod events;
mod receiver;
mod sender;

use std::marker::PhantomData;
use std::sync::Arc;

pub use events::{Departure, EVENTS_KEPT, PortEvent};
pub(crate) use receiver::{Held, Receiver};
pub use receiver::{ReceiveError, SubscriberCreateError};
pub use sender::{LoanError, PublisherCreateError, SendError};
pub(crate) use sender::{Sender, SenderOptions};

use crate::message::{ShmMessage, ValidationError};
use crate::os::mmap::Mapping;
use crate::os::process::{self, RandomError};
use crate::service::ServiceInner;
use crate::sync::chunk_store::{
    ChunkHeader, ChunkLayout, ChunkLayoutError, LoanedChunk, StoreError,
};

/// The memory every port works in: a shared mapping, kept alive by each handle.
pub(crate) type Region = Arc<Mapping>;

/// To whom a send goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Every connected receiver (publish-subscribe).
    All,
    /// The receiver in this slot only (a response to its client).
    Slot(usize),
    /// One connected receiver with room, taking turns (a request to one of the servers).
    AnyOne,
}

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// Receivers that got the chunk.
    pub(crate) delivered: usize,
    /// The slot and epoch of the last one that got it (for [`Target::AnyOne`], the one).
    pub(crate) to: Option<(usize, u64)>,
}

/// The geometry of every data segment of channel `ch`: its message type's size and
/// alignment, as many chunks as the channel's QoS can hold at once.
pub(crate) fn chunk_layout(
    service: &ServiceInner,
    ch: usize,
) -> Result<ChunkLayout, ChunkLayoutError> {
    let message = service.type_of(ch);
    ChunkLayout::new(
        u64::from(service.qos(ch).chunks_per_publisher()),
        message.size(),
        message.align(),
    )
}

/// A fresh, nonzero port id.
pub(crate) fn new_port_id() -> Result<u64, RandomError> {
    loop {
        let id = process::random_u64()?;
        if id != 0 {
            return Ok(id);
        }
    }
}

/// A loaned chunk that goes back to its sender unless it is taken to be sent.
#[derive(Debug)]
pub(crate) struct Loaned<'a> {
    sender: &'a Sender,
    /// Always `Some` until taken or dropped.
    chunk: Option<LoanedChunk>,
}

impl<'a> Loaned<'a> {
    #[inline]
    pub(crate) fn new(sender: &'a Sender, chunk: LoanedChunk) -> Self {
        Self {
            sender,
            chunk: Some(chunk),
        }
    }

    /// A loan from `sender` whose payload is checked to be the place of a `T` (size and
    /// alignment): what makes the typed ports' casts sound, whatever the segment says.
    #[inline]
    pub(crate) fn typed<T: ShmMessage>(sender: &'a Sender) -> Result<Self, LoanError> {
        let mut chunk = sender.loan()?;
        let ptr = chunk.as_mut_ptr();
        if chunk.len() != size_of::<T>() || !(ptr as usize).is_multiple_of(align_of::<T>()) {
            let error = StoreError::PayloadMismatch {
                size: size_of::<T>(),
                align: align_of::<T>(),
                payload_size: chunk.len(),
            };
            sender.discard(chunk);
            return Err(error.into());
        }
        Ok(Self::new(sender, chunk))
    }

    /// The sender it came from.
    #[inline]
    pub(crate) fn sender(&self) -> &'a Sender {
        self.sender
    }

    /// The payload's bytes.
    #[inline]
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.chunk {
            // SAFETY: the chunk came from `self.sender`'s store, which lives (and keeps its
            // segment mapped) as long as the sender, borrowed for `'a`.
            #[allow(unsafe_code)]
            Some(chunk) => unsafe { chunk.bytes_mut() },
            None => &mut [],
        }
    }

    /// The payload's address, for reading (null once taken).
    #[inline]
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.chunk
            .as_ref()
            .map_or(std::ptr::null(), LoanedChunk::as_ptr)
    }

    /// The payload's address (null once taken).
    #[inline]
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        match &mut self.chunk {
            Some(chunk) => chunk.as_mut_ptr(),
            None => std::ptr::null_mut(),
        }
    }

    /// The chunk, to be sent; `None` if it was taken before.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<LoanedChunk> {
        self.chunk.take()
    }
}

impl Drop for Loaned<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(chunk) = self.chunk.take() {
            self.sender.discard(chunk);
        }
    }
}

/// A received chunk that goes back to its receiver when dropped.
#[derive(Debug)]
pub(crate) struct Received<'a> {
    receiver: &'a Receiver,
    /// Always `Some` until dropped.
    held: Option<Held>,
}

impl<'a> Received<'a> {
    #[inline]
    pub(crate) fn new(receiver: &'a Receiver, held: Held) -> Self {
        Self {
            receiver,
            held: Some(held),
        }
    }

    /// The payload's bytes.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.held {
            // SAFETY: the receiver is borrowed (alive) and the chunk held until `self` drops.
            #[allow(unsafe_code)]
            Some(held) => unsafe { held.bytes() },
            None => &[],
        }
    }

    /// The chunk's header.
    #[inline]
    pub(crate) fn header(&self) -> ChunkHeader {
        self.held.as_ref().map(|h| h.header).unwrap_or_default()
    }

    /// The payload as the `T` it was checked as.
    ///
    /// # Safety
    ///
    /// The chunk must have been received with [`validator::<T>`](validator) as its check.
    #[allow(unsafe_code)]
    #[inline]
    pub(crate) unsafe fn read_as<T: ShmMessage>(&self) -> &T {
        let held = self
            .held
            .as_ref()
            .expect("a received chunk is held until it is dropped");
        // SAFETY: by the caller's promise, `validator::<T>` accepted these bytes:
        // `size_of::<T>()` long, aligned for `T`, a valid `T`; the receiver (borrowed) keeps
        // them mapped and the publisher leaves them unchanged while `self` (which bounds the
        // reference) holds the chunk.
        unsafe { held.as_ptr().cast::<T>().as_ref() }
    }
}

impl Drop for Received<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.receiver.release(held);
        }
    }
}

/// Copies `bytes` into a payload of exactly their length (a byte-level send), or says that
/// the length is not the message type's.
pub(crate) fn copy_exact(payload: &mut [u8], bytes: &[u8]) -> Result<(), ValidationError> {
    if payload.len() != bytes.len() {
        return Err(ValidationError::new(crate::message::Problem::WrongSize {
            expected: payload.len(),
            found: bytes.len(),
        }));
    }
    payload.copy_from_slice(bytes);
    Ok(())
}

/// What every received byte-level message offers: its bytes, its type (`self.message`) and
/// its value; `$($received).+` is the path of its [`Received`].
macro_rules! raw_payload_methods {
    ($($received:ident).+) => {
        /// The payload's bytes.
        pub fn bytes(&self) -> &[u8] {
            self.$($received).+.bytes()
        }

        /// The payload decoded as a [`Value`](crate::message::Value) tree (a copy).
        pub fn value(&self) -> Result<crate::message::Value, crate::message::ValidationError> {
            self.message.decode_value(self.bytes())
        }
    };
}
pub(crate) use raw_payload_methods;

/// The check typed receivers make: the bytes are a valid, correctly aligned `T`.
#[inline]
pub(crate) fn validator<T: ShmMessage>(bytes: &[u8]) -> Result<(), ValidationError> {
    crate::message::try_ref_from_bytes::<T>(bytes).map(|_| ())
}

/// A loan that holds a valid `T`: reads and writes it in place.
#[derive(Debug)]
pub(crate) struct TypedLoan<'a, T> {
    loaned: Loaned<'a>,
    _type: PhantomData<fn() -> T>,
}

impl<'a, T: ShmMessage> TypedLoan<'a, T> {
    /// Declares the loan's payload a `T`.
    ///
    /// # Safety
    ///
    /// `loaned` must come from [`Loaned::typed::<T>`](Loaned::typed) and its payload must
    /// hold a valid `T`.
    #[allow(unsafe_code)]
    #[inline]
    pub(crate) unsafe fn assume_init(loaned: Loaned<'a>) -> Self {
        Self {
            loaned,
            _type: PhantomData,
        }
    }

    /// The loan, to be sent.
    #[inline]
    pub(crate) fn into_loaned(self) -> Loaned<'a> {
        self.loaned
    }
}

impl<T: ShmMessage> std::ops::Deref for TypedLoan<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        let ptr = self.loaned.as_ptr().cast::<T>();
        assert!(!ptr.is_null(), "a typed loan is only taken by consuming it");
        // SAFETY: by the promise of `assume_init`, the payload is `size_of::<T>()` bytes,
        // aligned for `T`, holding a valid `T`, written by this process alone while loaned;
        // the borrow of `self` bounds the reference.
        #[allow(unsafe_code)]
        unsafe {
            &*ptr
        }
    }
}

impl<T: ShmMessage> std::ops::DerefMut for TypedLoan<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        let ptr = self.loaned.as_mut_ptr().cast::<T>();
        assert!(!ptr.is_null(), "a typed loan is only taken by consuming it");
        // SAFETY: as for `deref`; `&mut self` makes this the only reference, and the chunk
        // is held by this loan alone (in no queue; readers map the segment read-only).
        #[allow(unsafe_code)]
        unsafe {
            &mut *ptr
        }
    }
}

/// A received chunk validated as a `T`: reads it in place.
#[derive(Debug)]
pub(crate) struct TypedReceived<'a, T> {
    received: Received<'a>,
    _type: PhantomData<fn() -> T>,
}

impl<'a, T: ShmMessage> TypedReceived<'a, T> {
    /// Declares the received payload a `T`.
    ///
    /// # Safety
    ///
    /// The chunk must have been received with [`validator::<T>`](validator) as its check.
    #[allow(unsafe_code)]
    #[inline]
    pub(crate) unsafe fn assume_valid(received: Received<'a>) -> Self {
        Self {
            received,
            _type: PhantomData,
        }
    }

    /// The chunk's header.
    #[inline]
    pub(crate) fn header(&self) -> ChunkHeader {
        self.received.header()
    }
}

impl<T: ShmMessage> std::ops::Deref for TypedReceived<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: by the promise of `assume_valid`, checked with `validator::<T>`.
        #[allow(unsafe_code)]
        unsafe {
            self.received.read_as::<T>()
        }
    }
}
