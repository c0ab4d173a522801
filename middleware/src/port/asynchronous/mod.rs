//! async/await on every receiving port, on any executor.
//!
//! Each receiving port has a future for its next item and a [`Stream`] of them, beside
//! its non-blocking and blocking forms:
//!
//! | port | future | stream |
//! |------|--------|--------|
//! | [`Subscriber`](crate::port::Subscriber), [`RawSubscriber`](crate::port::RawSubscriber) | `receive_async()` → sample | `samples()` |
//! | [`Server`](crate::port::Server), [`RawServer`](crate::port::RawServer) | `receive_async()` → active request | `requests()` |
//! | [`PendingResponse`](crate::port::PendingResponse), [`RawPendingResponse`](crate::port::RawPendingResponse) | `receive_async()` → response, `None` at the end | `responses()`, ends with the server's stream |
//! | [`Client`](crate::port::Client) | `call_async(&request)` → first response | |
//! | [`RawMonitor`](crate::port::RawMonitor) | `receive_async()` → observed message | `messages()` |
//!
//! ```no_run
//! # use shmbus::{Node, Service};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::builder().name("listener").create()?;
//! let imu = Service::publish_subscribe::<u64>(&node, "robot/imu").open_or_create()?;
//! let mut subscriber = imu.subscriber().create()?;
//! let sample = subscriber.receive_async().await?;
//! println!("{}", *sample);
//! # Ok(())
//! # }
//! ```
//!
//! **Executor-agnostic.** shmbus depends on no runtime: a task that must wait arms an entry
//! with its [`Waker`](std::task::Waker) in one of the process's waker threads ([`waker`]),
//! which sleep in `futex_waitv(2)` on the ports' event words, the very words blocking
//! receives sleep on. A waiting task costs no CPU, a publisher makes the wake-up system
//! call only while a task waits, and there is no timer polling (a pending response alone
//! looks again every [`LIVENESS_SLICE`](crate::port::LIVENESS_SLICE), to notice a server
//! that died without a word, as its blocking form does). One thread watches up to 127
//! words; more waiting ports get more threads (1,000 waiting subscribers: 8 threads).
//!
//! **Cancel-safe.** Dropping a future or stream at any point loses nothing: an item is
//! taken from the port only in the `poll` that returns it. Dropping a pending response
//! (or `call_async`'s future) cancels the request, as in the blocking API.
//!
//! **Send.** Ports are `Send` but not `Sync`. The futures borrow their port exclusively
//! (`receive_async(&mut self)`) and are `Send` when the port is, so a task that owns a
//! subscriber or a server can be `tokio::spawn`ed on a multi-threaded runtime (a sample
//! or request borrows its port and is not `Send`: don't hold one across an `.await` in
//! such a task). The streams borrow their port shared, so that their items can live side
//! by side, and are not `Send`: use them in a task that stays on its thread (`main`, a
//! `block_on`, a `LocalSet`), as the pending responses and `call_async`, which borrow
//! their client, are. The wake-ups come from the waker threads, whatever thread runs the
//! task.
//!
//! The blocking forms end with [`ReceiveError::Terminated`](crate::port::ReceiveError)
//! on SIGINT/SIGTERM when a node handles signals; async tasks leave through the
//! executor's own signal handling (`tokio::signal::ctrl_c`, say) instead.

pub mod waker;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use futures_core::Stream;

use self::waker::{Registration, WakerError};
use super::Waitable;

/// Takes the next item from a port, if one is there: `Ok(None)` means "wait".
type Take<'a, P, T, E> = fn(&'a P) -> Result<Option<T>, E>;

/// Where a port keeps its registration with the waker threads between futures, so that
/// a task awaiting the port in a loop registers once.
#[derive(Default)]
pub struct Parked(std::cell::Cell<Option<Registration>>);

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Parked")
    }
}

/// Gives a registration back to its port for the next future (unless another future
/// already did: then it is dropped and its entries removed).
fn park<P: Waitable + ?Sized>(port: &P, registration: &mut Option<Registration>) {
    if let Some(r) = registration.take() {
        let slot = &port.parked().0;
        match slot.take() {
            None => slot.set(Some(r)),
            Some(kept) => slot.set(Some(kept)),
        }
    }
}

/// Watches `port`'s event words in the process's waker threads.
#[cfg(not(loom))]
fn register<P: Waitable + ?Sized>(port: &P) -> Result<Registration, WakerError> {
    let events: Vec<_> = port
        .wait_events()
        .into_iter()
        .flatten()
        .map(|e| std::sync::Arc::new(e.to_shared()))
        .collect();
    if events.is_empty() {
        return Err(WakerError::NoEvent);
    }
    waker::Reactor::global().register(&events, port.poll_interval())
}

#[cfg(loom)]
fn register<P: Waitable + ?Sized>(_: &P) -> Result<Registration, WakerError> {
    Err(WakerError::NoEvent)
}

/// The step under every future and stream here: take now, or arm and wait.
fn poll_take<'a, P: Waitable + ?Sized, T, E: From<WakerError>>(
    port: &'a P,
    take: Take<'a, P, T, E>,
    registration: &mut Option<Registration>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, E>> {
    let registration = match registration {
        Some(registration) => registration,
        None => {
            // The first look needs no registration: most polls of a busy port end here.
            if let Some(found) = take(port).transpose() {
                return Poll::Ready(found);
            }
            // The port's own registration if no other future holds it, else a new one.
            match port.parked().0.take().map_or_else(|| register(port), Ok) {
                Ok(r) => registration.insert(r),
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    };
    match registration.poll(cx.waker(), || take(port).transpose()) {
        Ok(Some(found)) => Poll::Ready(found),
        Ok(None) => Poll::Pending,
        Err(e) => Poll::Ready(Err(e.into())),
    }
}

/// A port's next item (see the module docs). Dropping it loses nothing. It borrows its
/// port exclusively (`&mut`), so it is `Send` whenever the port is: a task that owns a
/// subscriber or server can be spawned on a multi-threaded executor.
#[must_use = "futures do nothing unless awaited"]
pub struct Next<'a, P: Waitable + ?Sized, T, E> {
    /// Made of the `&'a mut P` given to [`Next::new`]: nothing else reaches the port
    /// while `'a` lasts but this future and the one item it returns.
    port: &'a P,
    take: Take<'a, P, T, E>,
    registration: Option<Registration>,
    /// It returned its item: it never touches the port again.
    done: bool,
}

impl<'a, P: Waitable + ?Sized, T, E> Next<'a, P, T, E> {
    pub(crate) fn new(port: &'a mut P, take: Take<'a, P, T, E>) -> Self {
        Self {
            port,
            take,
            registration: None,
            done: false,
        }
    }
}

// SAFETY: ports are `Send` but not `Sync` (their state is in `RefCell`s): what must not
// happen is two threads using one port at once. `Next` is built from `&'a mut P` only
// (`new`), so for `'a` the port is reached through this future alone, and through the one
// item its last `poll` returns: before that poll only the thread polling the future uses
// the port, and after it (`done`) the future never touches the port again, so only the
// item's holder does. Moving the future to another thread between polls therefore moves
// the port's only user, which is what `P: Send` allows. `T` and `E` are produced and
// returned, never stored; the registration and the `fn` pointer are `Send` themselves.
#[allow(unsafe_code)]
unsafe impl<P: Waitable + Send + ?Sized, T, E> Send for Next<'_, P, T, E> {}

impl<P: Waitable + ?Sized, T, E> std::fmt::Debug for Next<'_, P, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

impl<P: Waitable + ?Sized, T, E> Unpin for Next<'_, P, T, E> {}

impl<P: Waitable + ?Sized, T, E> Drop for Next<'_, P, T, E> {
    fn drop(&mut self) {
        // Dropped before its item came (cancelled): still the port's only user.
        if !self.done {
            park(self.port, &mut self.registration);
        }
    }
}

impl<'a, P: Waitable + ?Sized, T, E: From<WakerError>> Future for Next<'a, P, T, E> {
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.done {
            // Polled after it completed (a caller's bug): the port is not touched again.
            return Poll::Pending;
        }
        let result = poll_take(this.port, this.take, &mut this.registration, cx);
        if result.is_ready() {
            // Back to the port now, while this future is still the port's only user.
            park(this.port, &mut this.registration);
            this.done = true;
        }
        result
    }
}

/// A port's items as a [`Stream`] (see the module docs). It keeps its registration between
/// items, so a busy stream pays nothing per item to wait again. Dropping it loses nothing.
#[must_use = "streams do nothing unless polled"]
pub struct Items<'a, P: Waitable + ?Sized, T, E> {
    port: &'a P,
    /// `Ok(Some(None))`: the stream ended.
    take: Take<'a, P, Option<T>, E>,
    registration: Option<Registration>,
    /// An error ends the stream (a pending response whose server is gone).
    end_on_error: bool,
    ended: bool,
}

impl<'a, P: Waitable + ?Sized, T, E> Items<'a, P, T, E> {
    pub(crate) fn new(port: &'a P, take: Take<'a, P, Option<T>, E>, end_on_error: bool) -> Self {
        Self {
            port,
            take,
            registration: None,
            end_on_error,
            ended: false,
        }
    }
}

impl<P: Waitable + ?Sized, T, E> std::fmt::Debug for Items<'_, P, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("registered", &self.registration.is_some())
            .field("ended", &self.ended)
            .finish()
    }
}

impl<P: Waitable + ?Sized, T, E> Unpin for Items<'_, P, T, E> {}

impl<P: Waitable + ?Sized, T, E> Drop for Items<'_, P, T, E> {
    fn drop(&mut self) {
        park(self.port, &mut self.registration);
    }
}

impl<'a, P: Waitable + ?Sized, T, E: From<WakerError>> Stream for Items<'a, P, T, E> {
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match poll_take(this.port, this.take, &mut this.registration, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(item))) => Poll::Ready(Some(Ok(item))),
            Poll::Ready(Ok(None)) => {
                this.ended = true;
                park(this.port, &mut this.registration);
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => {
                if this.end_on_error {
                    this.ended = true;
                    park(this.port, &mut this.registration);
                }
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

/// Adds the async receives to a receiving port's methods: `$future` named for the next
/// item of `$take` and `$stream` for all of them.
macro_rules! async_methods {
    (
        $(#[$fdoc:meta])* fn $future:ident -> $item:ty;
        $(#[$sdoc:meta])* fn $stream:ident;
        error $error:ty;
        take |$p:ident| $take:expr
    ) => {
        $(#[$fdoc])*
        pub fn $future(&mut self) -> $crate::port::asynchronous::Next<'_, Self, $item, $error> {
            $crate::port::asynchronous::Next::new(self, |$p| $take)
        }

        $(#[$sdoc])*
        pub fn $stream(&self) -> $crate::port::asynchronous::Items<'_, Self, $item, $error> {
            $crate::port::asynchronous::Items::new(self, |$p| Ok($take?.map(Some)), false)
        }
    };
}
pub(crate) use async_methods;
