//! Publishers: [`Publisher<T>`] for a Rust message type, [`RawPublisher`] for a type known
//! at run time. Both are thin layers over the channel's `Sender`: the typed one adds the
//! type, the byte-level one validation against the service's descriptor.

use std::marker::PhantomData;
use std::sync::Arc;

use super::channel::{
    LoanError, Loaned, PublisherCreateError, SendError, Sender, SenderOptions, Target, TypedLoan,
    copy_exact, counterpart_methods, sender_setters,
};
use crate::message::{AnyBitPattern, Descriptor, ShmMessage, Value, ValueError};
use crate::service::{PubSubService, RawPubSubService, ServiceInner};

#[allow(unused_imports)] // for the docs
use crate::service::OverflowPolicy;

/// What both publishers tell about themselves and their subscribers.
macro_rules! publisher_info {
    () => {
        /// The port's id (it is in every sample's header).
        #[inline]
        pub fn id(&self) -> u64 {
            self.sender.id()
        }

        /// Samples not delivered to a subscriber under [`OverflowPolicy::Discard`].
        pub fn discarded(&self) -> u64 {
            self.sender.discarded()
        }

        /// Free chunks of the data segment (for tests and tools).
        pub fn free_chunks(&self) -> u32 {
            self.sender.free_chunks()
        }

        /// Connects subscribers that joined, lets go of those that left, and takes back the
        /// chunks subscribers returned. Loans and sends do this themselves; call it to
        /// deliver history to late joiners without sending.
        pub fn update_connections(&self) {
            self.sender.update_connections()
        }

        /// Ids of the subscribers this publisher is connected to.
        pub fn subscribers(&self) -> Vec<u64> {
            self.sender.connected_ports()
        }

        counterpart_methods!(subscriber_count, "subscribers", sender);
    };
}

/// Builds a [`Publisher`].
#[derive(Debug)]
#[must_use]
pub struct PublisherBuilder<T> {
    service: Arc<ServiceInner>,
    options: SenderOptions,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> PublisherBuilder<T> {
    sender_setters!(
        "Stamps every sample with the monotonic clock at send, for [`Sample::timestamp_ns`](crate::port::Sample::timestamp_ns) (default off: reading the clock is a fifth of the cost of a send, and most messages carry their own time).",
        "How long `send` waits for room under [`OverflowPolicy::Block`] (default 1 s)."
    );

    /// Creates the publisher and its data segment.
    pub fn create(self) -> Result<Publisher<T>, PublisherCreateError> {
        Ok(Publisher {
            sender: Sender::create(self.service, 0, self.options)?,
            _type: PhantomData,
        })
    }
}

impl<T: ShmMessage> PubSubService<T> {
    /// Starts building a publisher.
    pub fn publisher(&self) -> PublisherBuilder<T> {
        PublisherBuilder {
            service: self.inner.clone(),
            options: SenderOptions::default(),
            _type: PhantomData,
        }
    }
}

/// Publishes samples of `T` to every subscriber of its service, without copying.
///
/// `Send` but not `Sync`: use one publisher per thread.
#[derive(Debug)]
pub struct Publisher<T> {
    sender: Sender,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> Publisher<T> {
    publisher_info!();

    /// Loans a sample holding `T::default()` (for IDL-generated types: every member at its
    /// `@default`, or zero), to be changed in place and sent. The default value is made on
    /// the stack and moved in: for messages of many kilobytes use
    /// [`loan_zeroed`](Self::loan_zeroed), [`loan_recycled`](Self::loan_recycled) or
    /// [`loan_uninit`](Self::loan_uninit), which write in place.
    #[inline]
    pub fn loan(&self) -> Result<SampleMut<'_, T>, LoanError>
    where
        T: Default,
    {
        Ok(self.loan_uninit()?.write(T::default()))
    }

    /// Loans a sample whose payload is all zero bytes (one `memset`). Only for types for
    /// which zero bytes are a value (every type but enums without a zero variant; refused
    /// at compile time otherwise). IDL-generated structs with `@default` members get those
    /// from [`loan`](Self::loan), not from this.
    #[inline]
    pub fn loan_zeroed(&self) -> Result<SampleMut<'_, T>, LoanError> {
        const {
            assert!(
                T::ZEROED_IS_VALID,
                "all-zero bytes are not a valid value of this type: use loan or loan_uninit"
            )
        };
        let mut loaned = Loaned::typed::<T>(&self.sender)?;
        loaned.bytes_mut().fill(0);
        Ok(SampleMut::new(loaned))
    }

    /// Loans a sample holding whatever its chunk held — an earlier sample of this publisher
    /// or zeroes — without writing a byte: the cheapest loan for large messages that are
    /// rewritten in part. Only for types valid for every bit pattern ([`AnyBitPattern`]:
    /// integers, floats, arrays and structs of them; not `bool`, enums, strings, sequences,
    /// optionals or unions).
    #[inline]
    pub fn loan_recycled(&self) -> Result<SampleMut<'_, T>, LoanError>
    where
        T: AnyBitPattern,
    {
        Ok(SampleMut::new(Loaned::typed::<T>(&self.sender)?))
    }

    /// Loans a sample with uninitialised payload; write it with [`SampleUninit::write`] or
    /// through [`SampleUninit::as_mut_ptr`] and [`SampleUninit::assume_init`].
    #[inline]
    pub fn loan_uninit(&self) -> Result<SampleUninit<'_, T>, LoanError> {
        Ok(SampleUninit {
            loaned: Loaned::typed::<T>(&self.sender)?,
            _type: PhantomData,
        })
    }

    /// Copies `value` into a loaned sample and sends it; returns how many subscribers got
    /// it.
    #[inline]
    pub fn send_copy(&self, value: &T) -> Result<usize, SendError>
    where
        T: Copy,
    {
        self.loan_uninit()?.write(*value).send()
    }
}

/// A loaned sample with an uninitialised payload. Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct SampleUninit<'a, T> {
    loaned: Loaned<'a>,
    _type: PhantomData<fn() -> T>,
}

impl<'a, T: ShmMessage> SampleUninit<'a, T> {
    /// Moves `value` into the sample.
    #[inline]
    pub fn write(mut self, value: T) -> SampleMut<'a, T> {
        let ptr = self.as_mut_ptr();
        if !ptr.is_null() {
            // SAFETY: `Loaned::typed::<T>` checked that the payload is `size_of::<T>()`
            // bytes at an address aligned for `T`, inside the segment, and held by this loan
            // alone (no reader sees it before it is sent); writing a `T` there is a plain
            // initialisation.
            #[allow(unsafe_code)]
            unsafe {
                ptr.write(value)
            };
        }
        SampleMut::new(self.loaned)
    }

    /// A pointer to the payload, for writing it in place field by field (for large
    /// messages that should not pass through the stack).
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.loaned.as_mut_ptr().cast()
    }

    /// Declares the payload written.
    ///
    /// # Safety
    ///
    /// Every field must have been written with a valid value (the promise of
    /// [`MaybeUninit::assume_init`](std::mem::MaybeUninit::assume_init)).
    #[allow(unsafe_code)] // forwards the caller's promise; no unsafe operation of its own
    pub unsafe fn assume_init(self) -> SampleMut<'a, T> {
        SampleMut::new(self.loaned)
    }
}

/// A loaned, initialised sample: write it in place (`DerefMut`), then [`send`](Self::send).
/// Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct SampleMut<'a, T> {
    loan: TypedLoan<'a, T>,
}

impl<'a, T: ShmMessage> SampleMut<'a, T> {
    /// The loan must come from `Loaned::typed::<T>` and hold a valid `T`.
    #[inline]
    fn new(loaned: Loaned<'a>) -> Self {
        // SAFETY: every caller passes a typed loan it initialised: `write` wrote a `T`,
        // `loan_zeroed` zero bytes (valid for `T`, asserted at compile time),
        // `loan_recycled` any bytes (valid for `T: AnyBitPattern`), `assume_init` on the
        // user's promise.
        #[allow(unsafe_code)]
        let loan = unsafe { TypedLoan::assume_init(loaned) };
        Self { loan }
    }

    /// Sends the sample to every connected subscriber; returns how many got it.
    #[inline]
    pub fn send(self) -> Result<usize, SendError> {
        let mut loaned = self.loan.into_loaned();
        match loaned.take() {
            Some(chunk) => loaned
                .sender()
                .send(chunk, Target::All, 0)
                .map(|d| d.delivered),
            None => Ok(0),
        }
    }
}

impl<T: ShmMessage> std::ops::Deref for SampleMut<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.loan
    }
}

impl<T: ShmMessage> std::ops::DerefMut for SampleMut<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.loan
    }
}

/// Builds a [`RawPublisher`].
#[derive(Debug)]
#[must_use]
pub struct RawPublisherBuilder {
    service: Arc<ServiceInner>,
    options: SenderOptions,
}

impl RawPublisherBuilder {
    sender_setters!(
        "Stamps every sample with the monotonic clock at send, for [`Sample::timestamp_ns`](crate::port::Sample::timestamp_ns) (default off: reading the clock is a fifth of the cost of a send, and most messages carry their own time).",
        "How long `send` waits for room under [`OverflowPolicy::Block`] (default 1 s)."
    );

    /// Creates the publisher and its data segment.
    pub fn create(self) -> Result<RawPublisher, PublisherCreateError> {
        Ok(RawPublisher {
            sender: Sender::create(self.service, 0, self.options)?,
        })
    }
}

impl RawPubSubService {
    /// Starts building a byte-level publisher.
    pub fn publisher(&self) -> RawPublisherBuilder {
        RawPublisherBuilder {
            service: self.inner.clone(),
            options: SenderOptions::default(),
        }
    }
}

/// Publishes messages given as bytes or [`Value`]s of the service's message type, checked
/// against its [`Descriptor`] before they are sent — the checks a typed subscriber makes
/// (bools, enum values, lengths within capacity, UTF-8), so nothing it sends is refused.
///
/// `Send` but not `Sync`: use one publisher per thread.
#[derive(Debug)]
pub struct RawPublisher {
    sender: Sender,
}

impl RawPublisher {
    publisher_info!();

    /// The message type.
    pub fn message_type(&self) -> &Descriptor {
        self.sender.service().type_of(0)
    }

    /// Loans a sample whose bytes hold whatever its chunk held (an earlier sample of this
    /// publisher, or zeroes): write all of them, then [`send`](RawSampleMut::send).
    #[inline]
    pub fn loan(&self) -> Result<RawSampleMut<'_>, LoanError> {
        Ok(RawSampleMut {
            loaned: Loaned::new(&self.sender, self.sender.loan()?),
            message: self.message_type(),
        })
    }

    /// Copies `bytes` (exactly the message type's size) into a loaned sample, checks and
    /// sends it; returns how many subscribers got it.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<usize, SendError> {
        let mut sample = self.loan()?;
        copy_exact(sample.bytes_mut(), bytes).map_err(SendError::Invalid)?;
        sample.send()
    }

    /// Writes `value` into a loaned sample (see [`Descriptor::encode_value`]) and sends it;
    /// returns how many subscribers got it.
    pub fn send_value(&self, value: &Value) -> Result<usize, RawSendValueError> {
        let mut sample = self.loan().map_err(SendError::from)?;
        sample.write_value(value)?;
        Ok(sample.send()?)
    }
}

/// Failure of [`RawPublisher::send_value`] and the other byte-level sends of values.
#[derive(Debug, thiserror::Error)]
pub enum RawSendValueError {
    /// The value does not fit the message type (a missing, unknown or out-of-range field).
    #[error(transparent)]
    Value(#[from] ValueError),
    /// Sending failed.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// A loaned byte-level sample: write its bytes ([`bytes_mut`](Self::bytes_mut) or
/// [`write_value`](Self::write_value)), then [`send`](Self::send), which checks them first.
/// Dropping it unsent gives the chunk back.
#[derive(Debug)]
pub struct RawSampleMut<'a> {
    loaned: Loaned<'a>,
    message: &'a Descriptor,
}

impl RawSampleMut<'_> {
    /// The payload's bytes (the message type's size).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.loaned.bytes_mut()
    }

    /// Encodes `value` into the payload.
    pub fn write_value(&mut self, value: &Value) -> Result<(), ValueError> {
        self.message
            .encode_value_into(value, self.loaned.bytes_mut())
    }

    /// Checks the bytes against the message type and sends them to every connected
    /// subscriber; returns how many got them. Invalid bytes are not sent: the error names
    /// the field.
    #[inline]
    pub fn send(mut self) -> Result<usize, SendError> {
        self.message.validate(self.loaned.bytes_mut())?;
        let sender = self.loaned.sender();
        match self.loaned.take() {
            Some(chunk) => sender.send(chunk, Target::All, 0).map(|d| d.delivered),
            None => Ok(0),
        }
    }
}

// Ports move into threads and tasks.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<Publisher<u64>>();
    is_send::<RawPublisher>();
};
