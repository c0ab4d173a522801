//! Subscribers: [`Subscriber<T>`] for a Rust message type, [`RawSubscriber`] for a type
//! known at run time. Both are thin layers over the channel's `Receiver`: the typed one
//! validates and reads the bytes as a `T`, the byte-level one validates them against the
//! service's descriptor and hands them out with it.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::channel::{
    Held, ReceiveError, Received, Receiver, SubscriberCreateError, TypedReceived,
    counterpart_methods, raw_payload_methods, validator,
};
use crate::message::{Descriptor, ShmMessage, ValidationError};
use crate::service::{PubSubService, RawPubSubService, ServiceInner};

/// What both subscribers share: receiving (with the check of their kind), waiting, and
/// what they tell about themselves and their publishers.
macro_rules! subscriber_methods {
    ($sample:ty) => {
        /// The port's id.
        pub fn id(&self) -> u64 {
            self.receiver.id()
        }

        /// The next sample, if one is waiting. Never blocks.
        #[inline]
        pub fn receive(&self) -> Result<Option<$sample>, ReceiveError> {
            Ok(self
                .receiver
                .receive(self.check())?
                .map(|held| self.sample(Received::new(&self.receiver, held))))
        }

        /// Waits for the next sample at most `timeout`; `Ok(None)` on timeout.
        pub fn receive_timeout(&self, timeout: Duration) -> Result<Option<$sample>, ReceiveError> {
            self.wait(Some(timeout))
        }

        /// Waits for the next sample, however long it takes.
        pub fn receive_blocking(&self) -> Result<$sample, ReceiveError> {
            loop {
                if let Some(sample) = self.wait(None)? {
                    return Ok(sample);
                }
            }
        }

        fn wait(&self, timeout: Option<Duration>) -> Result<Option<$sample>, ReceiveError> {
            let found = self
                .receiver
                .wait_until(timeout, || self.receive().transpose())?;
            found.transpose()
        }

        $crate::port::asynchronous::async_methods! {
            /// The next sample, when one comes: the async form of
            /// [`receive_blocking`](Self::receive_blocking), on any executor (see
            /// [`asynchronous`](crate::port::asynchronous)). Dropping the future loses nothing.
            fn receive_async -> $sample;
            /// Every sample as it comes, as a [`Stream`](crate::port::asynchronous::Stream)
            /// (async; see [`asynchronous`](crate::port::asynchronous)). A sample that fails
            /// validation is an `Err` item and the stream goes on.
            fn samples;
            error ReceiveError;
            take |s| s.receive()
        }

        /// Whether a sample is waiting (without taking it).
        pub fn has_samples(&self) -> bool {
            self.receiver.has_samples()
        }

        /// Samples this subscriber lost because its buffer overflowed, since its creation.
        pub fn missed(&self) -> u64 {
            self.receiver.missed()
        }

        /// Ids of the publishers this subscriber is connected to.
        pub fn publishers(&self) -> Vec<u64> {
            self.receiver.connected_ports()
        }

        counterpart_methods!(publisher_count, "publishers", receiver);
    };
}

/// What both samples tell of their header.
macro_rules! sample_header {
    () => {
        /// Id of the publisher that sent it.
        #[inline]
        pub fn publisher_id(&self) -> u64 {
            self.received.header().origin
        }

        /// The publisher's sequence number of this sample (from 1, no gaps on the sender
        /// side: a gap seen here was overwritten or discarded on the way).
        #[inline]
        pub fn sequence(&self) -> u64 {
            self.received.header().sequence
        }

        /// When it was sent, in nanoseconds of `CLOCK_MONOTONIC` (the same clock in every
        /// process), if its publisher stamps samples
        /// ([`PublisherBuilder::timestamps`](crate::port::PublisherBuilder::timestamps)).
        #[inline]
        pub fn timestamp_ns(&self) -> Option<u64> {
            Some(self.received.header().timestamp_ns).filter(|&t| t != 0)
        }
    };
}

super::waitset::waitable!({T} Subscriber<T>, |s| event: s.receiver.event(), ready: s.receiver.poll_ready(), parked: s.receiver.parked());
super::waitset::waitable!(RawSubscriber, |s| event: s.receiver.event(), ready: s.receiver.poll_ready(), parked: s.receiver.parked());

/// Builds a [`Subscriber`].
#[derive(Debug)]
#[must_use]
pub struct SubscriberBuilder<T> {
    service: Arc<ServiceInner>,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> SubscriberBuilder<T> {
    /// Creates the subscriber. From the moment this returns, every sample sent reaches it.
    pub fn create(self) -> Result<Subscriber<T>, SubscriberCreateError> {
        Ok(Subscriber {
            receiver: Receiver::create(self.service, 0, false)?,
            _type: PhantomData,
        })
    }
}

impl<T: ShmMessage> PubSubService<T> {
    /// Starts building a subscriber.
    pub fn subscriber(&self) -> SubscriberBuilder<T> {
        SubscriberBuilder {
            service: self.inner.clone(),
            _type: PhantomData,
        }
    }
}

/// Receives samples of `T` from every publisher of its service, without copying.
///
/// `Send` but not `Sync`: use one subscriber per thread.
#[derive(Debug)]
pub struct Subscriber<T> {
    receiver: Receiver,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> Subscriber<T> {
    subscriber_methods!(Sample<'_, T>);

    #[inline]
    fn check(&self) -> impl Fn(&[u8]) -> Result<(), ValidationError> + 'static {
        validator::<T>
    }

    #[inline]
    fn sample<'a>(&'a self, received: Received<'a>) -> Sample<'a, T> {
        // SAFETY: `receive` received the chunk with `validator::<T>` as its check.
        #[allow(unsafe_code)]
        let received = unsafe { TypedReceived::assume_valid(received) };
        Sample { received }
    }
}

/// A received sample: reads the publisher's memory in place (`Deref<Target = T>`), and
/// gives the chunk back when dropped. (The chunk reaches the publisher's return queue at the
/// subscriber's next receive or the next drop of a sample, so that a sample dropped just
/// before publishing an answer does not delay the answer; it counts against no limit.)
#[derive(Debug)]
pub struct Sample<'a, T> {
    received: TypedReceived<'a, T>,
}

impl<T: ShmMessage> Sample<'_, T> {
    sample_header!();
}

impl<T: ShmMessage> std::ops::Deref for Sample<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.received
    }
}

/// Builds a [`RawSubscriber`].
#[derive(Debug)]
#[must_use]
pub struct RawSubscriberBuilder {
    service: Arc<ServiceInner>,
}

impl RawSubscriberBuilder {
    /// Creates the subscriber. From the moment this returns, every sample sent reaches it.
    pub fn create(self) -> Result<RawSubscriber, SubscriberCreateError> {
        Ok(RawSubscriber {
            receiver: Receiver::create(self.service, 0, false)?,
        })
    }
}

impl RawPubSubService {
    /// Starts building a byte-level subscriber.
    pub fn subscriber(&self) -> RawSubscriberBuilder {
        RawSubscriberBuilder {
            service: self.inner.clone(),
        }
    }
}

/// Receives the samples of a service as bytes with their [`Descriptor`], without copying
/// and without the Rust type: what tools, bridges and recorders use. Every sample is
/// checked against the descriptor first, as a typed subscriber checks it.
///
/// `Send` but not `Sync`: use one subscriber per thread.
#[derive(Debug)]
pub struct RawSubscriber {
    receiver: Receiver,
}

impl RawSubscriber {
    subscriber_methods!(RawSample<'_>);

    #[inline]
    fn check(&self) -> impl Fn(&[u8]) -> Result<(), ValidationError> + '_ {
        let message = self.message_type();
        move |bytes: &[u8]| message.validate(bytes)
    }

    /// The message type.
    pub fn message_type(&self) -> &Descriptor {
        self.receiver.service().type_of(0)
    }

    #[inline]
    fn sample<'a>(&'a self, received: Received<'a>) -> RawSample<'a> {
        RawSample {
            received,
            message: self.message_type(),
        }
    }
}

/// A received byte-level sample: the publisher's bytes in place, checked against the
/// message type; gives the chunk back when dropped.
#[derive(Debug)]
pub struct RawSample<'a> {
    received: Received<'a>,
    message: &'a Descriptor,
}

impl RawSample<'_> {
    sample_header!();

    raw_payload_methods!(received);

    /// The message type.
    pub fn message_type(&self) -> &Descriptor {
        self.message
    }
}

impl RawSubscriber {
    /// Makes this subscriber's samples free of its borrow: a [`SharedRawSample`] can be
    /// moved to other threads, kept, and dropped anywhere, for code that holds on to the
    /// bytes for a while (the Zenoh bridge hands them to Zenoh without copying them).
    pub fn into_shared(self) -> SharedRawSubscriber {
        SharedRawSubscriber {
            id: self.id(),
            shared: Arc::new(SharedInner {
                subscriber: std::sync::Mutex::new(self),
                dropped: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }
}

/// A [`RawSubscriber`] whose samples ([`SharedRawSample`]) own a share of it: each keeps
/// the subscriber, and with it the publisher's memory, alive until it is dropped, on any
/// thread. A dropped sample's chunk goes back to its publisher at this subscriber's next
/// receive.
///
/// Each sample counts against the service's `max_borrowed` until it is dropped, as a
/// borrowed one does: a receive while `max_borrowed` samples of one publisher are held
/// fails with [`ReceiveError::TooManyBorrowed`].
#[derive(Debug)]
pub struct SharedRawSubscriber {
    /// The port's id, kept here: the subscriber's lock is held through a waiting receive.
    id: u64,
    shared: Arc<SharedInner>,
}

#[derive(Debug)]
struct SharedInner {
    subscriber: std::sync::Mutex<RawSubscriber>,
    /// Chunks of samples dropped since the last receive, to be given back by the next.
    dropped: std::sync::Mutex<Vec<Held>>,
}

impl SharedInner {
    fn subscriber(&self) -> std::sync::MutexGuard<'_, RawSubscriber> {
        // A panic elsewhere while it was locked leaves nothing half-done: receiving
        // either took a chunk or did not.
        self.subscriber.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives the chunks of dropped samples back to `subscriber`'s receiver.
    fn give_back(&self, subscriber: &RawSubscriber) {
        let dropped = std::mem::take(&mut *self.dropped.lock().unwrap_or_else(|p| p.into_inner()));
        for held in dropped {
            subscriber.receiver.release(held);
        }
    }
}

impl Drop for SharedInner {
    fn drop(&mut self) {
        // The last share: every sample is dropped and its chunk in `dropped`.
        let subscriber = self.subscriber.get_mut().unwrap_or_else(|p| p.into_inner());
        let dropped = self.dropped.get_mut().unwrap_or_else(|p| p.into_inner());
        for held in dropped.drain(..) {
            subscriber.receiver.release(held);
        }
    }
}

impl SharedRawSubscriber {
    /// The port's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The next sample, if one is waiting. Never blocks.
    pub fn receive(&self) -> Result<Option<SharedRawSample>, ReceiveError> {
        self.take(None)
    }

    /// Waits for the next sample at most `timeout`; `Ok(None)` on timeout. Samples dropped
    /// on other threads meanwhile go back to their publisher at the next receive.
    pub fn receive_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<SharedRawSample>, ReceiveError> {
        self.take(Some(timeout))
    }

    /// The next sample, waiting for one at most `wait` (not at all if `None`).
    fn take(&self, wait: Option<Duration>) -> Result<Option<SharedRawSample>, ReceiveError> {
        let subscriber = self.shared.subscriber();
        self.shared.give_back(&subscriber);
        let check = subscriber.check();
        let receive = || subscriber.receiver.receive(&check).transpose();
        let held = match wait {
            None => receive().transpose()?,
            Some(timeout) => subscriber
                .receiver
                .wait_until(Some(timeout), receive)?
                .transpose()?,
        };
        Ok(held.map(|held| SharedRawSample {
            received: Detached { held: Some(held) },
            shared: Arc::clone(&self.shared),
        }))
    }
}

/// A chunk held by a [`SharedRawSample`] (always `Some` until it is dropped).
#[derive(Debug)]
struct Detached {
    held: Option<Held>,
}

impl Detached {
    fn header(&self) -> crate::sync::chunk_store::ChunkHeader {
        self.held.as_ref().map(|h| h.header).unwrap_or_default()
    }
}

/// A sample of a [`SharedRawSubscriber`]: the publisher's bytes in place, checked against
/// the message type, owning a share of its subscriber. `Send`; dropping it (on any thread)
/// gives the chunk back.
#[derive(Debug)]
pub struct SharedRawSample {
    received: Detached,
    shared: Arc<SharedInner>,
}

impl SharedRawSample {
    sample_header!();

    /// The payload's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.received.held {
            // SAFETY: `shared` keeps the receiver that holds the chunk alive (and with it
            // the mapping: a held chunk's segment stays mapped, even after its publisher
            // left), and the chunk is given back only after `self` is dropped, so the
            // publisher does not write it meanwhile.
            #[allow(unsafe_code)]
            Some(held) => unsafe { held.bytes() },
            None => &[],
        }
    }
}

impl AsRef<[u8]> for SharedRawSample {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl Drop for SharedRawSample {
    fn drop(&mut self) {
        if let Some(held) = self.received.held.take() {
            let mut dropped = self
                .shared
                .dropped
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            dropped.push(held);
        }
    }
}

// Ports move into threads and tasks.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Subscriber<u64>>();
    is_send::<RawSubscriber>();
    is_send::<SharedRawSample>();
    is_send::<SharedRawSubscriber>();
    // Their futures too, so that a task owning a subscriber can be spawned anywhere.
    is_send::<
        crate::port::asynchronous::Next<
            'static,
            Subscriber<u64>,
            Sample<'static, u64>,
            ReceiveError,
        >,
    >();
    is_send::<
        crate::port::asynchronous::Next<'static, RawSubscriber, RawSample<'static>, ReceiveError>,
    >();
};
