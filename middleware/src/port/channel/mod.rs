//! The byte-level core of every port: one *channel* of a service carries chunks from its
//! senders (publisher slots) to its receivers (subscriber slots).
//!
//! A publish-subscribe service has one channel; a request-response service two (requests
//! from clients to servers, responses from servers to clients). [`Sender`] and
//! [`Receiver`] own the whole data path, connection management and the cleanup hooks, and
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
//! receivers hold the chunk, pushes a queue [`entry`] into each chosen receiver's delivery
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
    chunk: Option<LoanedChunk<Region>>,
}

impl<'a> Loaned<'a> {
    pub(crate) fn new(sender: &'a Sender, chunk: LoanedChunk<Region>) -> Self {
        Self {
            sender,
            chunk: Some(chunk),
        }
    }

    /// A loan from `sender` whose payload is checked to be the place of a `T` (size and
    /// alignment): what makes the typed ports' casts sound, whatever the segment says.
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
    pub(crate) fn sender(&self) -> &'a Sender {
        self.sender
    }

    /// The payload's bytes.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.chunk {
            Some(chunk) => chunk.bytes_mut(),
            None => &mut [],
        }
    }

    /// The payload's address, for reading (null once taken).
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.chunk
            .as_ref()
            .map_or(std::ptr::null(), LoanedChunk::as_ptr)
    }

    /// The payload's address (null once taken).
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        match &mut self.chunk {
            Some(chunk) => chunk.as_mut_ptr(),
            None => std::ptr::null_mut(),
        }
    }

    /// The chunk, to be sent; `None` if it was taken before.
    pub(crate) fn take(&mut self) -> Option<LoanedChunk<Region>> {
        self.chunk.take()
    }
}

impl Drop for Loaned<'_> {
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
    pub(crate) fn new(receiver: &'a Receiver, held: Held) -> Self {
        Self {
            receiver,
            held: Some(held),
        }
    }

    /// The payload's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.held.as_ref().map_or(&[], Held::bytes)
    }

    /// The chunk's header.
    pub(crate) fn header(&self) -> ChunkHeader {
        self.held.as_ref().map(|h| h.header).unwrap_or_default()
    }

    /// The payload as the `T` it was checked as.
    ///
    /// # Safety
    ///
    /// The chunk must have been received with [`validator::<T>`](validator) as its check.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn read_as<T: ShmMessage>(&self) -> &T {
        let held = self
            .held
            .as_ref()
            .expect("a received chunk is held until it is dropped");
        // SAFETY: by the caller's promise, `validator::<T>` accepted these bytes:
        // `size_of::<T>()` long, aligned for `T`, a valid `T`; `Held` keeps them mapped and
        // unchanged while `self` (which bounds the reference) holds them.
        unsafe { held.as_ptr().cast::<T>().as_ref() }
    }
}

impl Drop for Received<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.receiver.release(held);
        }
    }
}

/// The check typed receivers make: the bytes are a valid, correctly aligned `T`.
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
    pub(crate) unsafe fn assume_init(loaned: Loaned<'a>) -> Self {
        Self {
            loaned,
            _type: PhantomData,
        }
    }

    /// The loan, to be sent.
    pub(crate) fn into_loaned(self) -> Loaned<'a> {
        self.loaned
    }
}

impl<T: ShmMessage> std::ops::Deref for TypedLoan<'_, T> {
    type Target = T;
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
    pub(crate) unsafe fn assume_valid(received: Received<'a>) -> Self {
        Self {
            received,
            _type: PhantomData,
        }
    }

    /// The chunk's header.
    pub(crate) fn header(&self) -> ChunkHeader {
        self.received.header()
    }
}

impl<T: ShmMessage> std::ops::Deref for TypedReceived<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: by the promise of `assume_valid`, checked with `validator::<T>`.
        #[allow(unsafe_code)]
        unsafe {
            self.received.read_as::<T>()
        }
    }
}
