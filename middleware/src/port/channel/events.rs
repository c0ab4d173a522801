//! What a port sees of its counterparts: connections and departures.
//!
//! A port takes in registry changes when the service's generation moved (one atomic load
//! when it did not, on each send or receive); for each counterpart slot that changed it
//! records a [`PortEvent`]. Whether a departed port left or died comes from its slot's
//! `departure` word (see [`crate::service::layout`]), written before the slot was freed —
//! so learning of a departure costs no system call. A port whose process died is only
//! removed by a cleaner: any participant that opens the service, a client that waits on it,
//! or [`check_liveness`](crate::port::Subscriber::check_liveness) on a port.

use std::collections::VecDeque;

use crate::service::{PortKind, ServiceInner};

/// How many events a port keeps for [`take_events`](crate::port::Subscriber::take_events);
/// older ones are dropped first (their ports' counts stay right).
pub const EVENTS_KEPT: usize = 256;

/// A counterpart of a port connected or went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortEvent {
    /// A counterpart port (publisher of a subscriber, subscriber of a publisher, server of a
    /// client, client of a server) connected; its id.
    Connected {
        /// The counterpart's port id.
        port: u64,
    },
    /// A counterpart port is gone.
    Disconnected {
        /// The counterpart's port id.
        port: u64,
        /// How it ended.
        departure: Departure,
    },
}

/// How a counterpart port ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Departure {
    /// It was dropped (its process closed it, or exited normally).
    Left,
    /// Its process died, and a cleaner removed it.
    Died,
}

/// The events a port recorded and not yet handed out.
#[derive(Debug, Default)]
pub(crate) struct Events {
    queue: VecDeque<PortEvent>,
}

impl Events {
    pub(crate) fn connected(&mut self, port: u64) {
        self.push(PortEvent::Connected { port });
    }

    /// Records that the port of `epoch` in counterpart slot (`ch`, `kind`, `slot`) is gone,
    /// reading how from the slot's departure word. (If the slot was taken and left again
    /// before this port looked, the word describes the later port: reported as `Left`.)
    pub(crate) fn disconnected(
        &mut self,
        service: &ServiceInner,
        (ch, kind, slot): (usize, PortKind, usize),
        epoch: u64,
        port: u64,
    ) {
        let departure = match service.departure(ch, kind, slot, epoch) {
            Some(true) => Departure::Died,
            _ => Departure::Left,
        };
        self.push(PortEvent::Disconnected { port, departure });
    }

    fn push(&mut self, event: PortEvent) {
        if self.queue.len() >= EVENTS_KEPT {
            self.queue.pop_front();
        }
        self.queue.push_back(event);
    }

    /// The recorded events, oldest first; the queue is empty afterwards.
    pub(crate) fn take(&mut self) -> Vec<PortEvent> {
        self.queue.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_events_go_first_when_the_queue_is_full() {
        let mut events = Events::default();
        for port in 0..(EVENTS_KEPT as u64 + 3) {
            events.connected(port);
        }
        let taken = events.take();
        assert_eq!(taken.len(), EVENTS_KEPT);
        assert_eq!(taken[0], PortEvent::Connected { port: 3 });
        assert!(events.take().is_empty());
    }
}
