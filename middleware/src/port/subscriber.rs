//! Subscribers: [`Subscriber<T>`] for a Rust message type, [`RawSubscriber`] for a type
//! known at run time. Both are thin layers over the channel's `Receiver`: the typed one
//! validates and reads the bytes as a `T`, the byte-level one validates them against the
//! service's descriptor and hands them out with it.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::channel::{
    ReceiveError, Received, Receiver, SubscriberCreateError, TypedReceived, counterpart_methods,
    raw_payload_methods, validator,
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

// Ports move into threads and tasks.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Subscriber<u64>>();
    is_send::<RawSubscriber>();
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
