//! Quality of service: the limits of publish-subscribe and request-response services, and
//! the overflow policy.

use crate::sync::chunk_store::MAX_CHUNKS;

/// What a publisher does when a subscriber's buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Replace the subscriber's oldest unread sample (the default); the subscriber counts
    /// what it missed.
    #[default]
    OverwriteOldest,
    /// Backpressure: `send` waits until the subscriber made room, up to the publisher's
    /// send timeout, then fails.
    Block,
    /// Backpressure: the sample is not delivered to that subscriber (others get it);
    /// counted by the publisher.
    Discard,
    /// Backpressure: `send` fails before delivering to anyone if any subscriber is full.
    Error,
}

impl OverflowPolicy {
    /// Its number in a service's header (and on the bridge's wire): 0 to 3 in the order
    /// above.
    pub fn code(self) -> u64 {
        match self {
            Self::OverwriteOldest => 0,
            Self::Block => 1,
            Self::Discard => 2,
            Self::Error => 3,
        }
    }

    /// The policy of a number from [`OverflowPolicy::code`]; `None` for any other.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => Self::OverwriteOldest,
            1 => Self::Block,
            2 => Self::Discard,
            3 => Self::Error,
            _ => return None,
        })
    }
}

/// The limits of a publish-subscribe service, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubSubQos {
    /// Samples a late-joining subscriber receives from each publisher (default 0).
    pub history: u32,
    /// Samples a subscriber's buffer holds per publisher (default 4).
    pub subscriber_buffer: u32,
    /// Publishers at once (default 2).
    pub max_publishers: u32,
    /// Subscribers at once (default 8, at most 63).
    pub max_subscribers: u32,
    /// Service handles (nodes) at once (default 16).
    pub max_nodes: u32,
    /// Samples a publisher may have loaned and not yet sent (default 2).
    pub max_loans: u32,
    /// Samples a subscriber may hold at once per publisher (default 2).
    pub max_borrowed: u32,
    /// What happens when a subscriber's buffer is full.
    pub overflow: OverflowPolicy,
}

impl Default for PubSubQos {
    fn default() -> Self {
        Self {
            history: 0,
            subscriber_buffer: 4,
            max_publishers: 2,
            max_subscribers: 8,
            max_nodes: 16,
            max_loans: 2,
            max_borrowed: 2,
            overflow: OverflowPolicy::OverwriteOldest,
        }
    }
}

/// Upper bounds on each QoS value (they keep every shared structure small and every index
/// within its field).
pub(crate) const LIMITS: [(&str, u32, u32); 7] = [
    ("history", 0, 4096),
    ("subscriber_buffer", 1, 4096),
    ("max_publishers", 1, 64),
    ("max_subscribers", 1, 63),
    ("max_nodes", 1, 1024),
    ("max_loans", 1, 1024),
    ("max_borrowed", 1, 4096),
];

impl PubSubQos {
    pub(crate) fn values(&self) -> [u32; 7] {
        [
            self.history,
            self.subscriber_buffer,
            self.max_publishers,
            self.max_subscribers,
            self.max_nodes,
            self.max_loans,
            self.max_borrowed,
        ]
    }

    /// The eight QoS words of the service header.
    pub(crate) fn words(&self) -> [u64; 8] {
        let v = self.values();
        [
            v[0].into(),
            v[1].into(),
            v[2].into(),
            v[3].into(),
            v[4].into(),
            v[5].into(),
            v[6].into(),
            self.overflow.code(),
        ]
    }

    /// The QoS stored in a header, if every word is in range (as `check` defines).
    pub(crate) fn from_words(words: [u64; 8]) -> Option<Self> {
        let v = |i: usize| u32::try_from(words[i]).ok();
        let qos = Self {
            history: v(0)?,
            subscriber_buffer: v(1)?,
            max_publishers: v(2)?,
            max_subscribers: v(3)?,
            max_nodes: v(4)?,
            max_loans: v(5)?,
            max_borrowed: v(6)?,
            overflow: OverflowPolicy::from_code(words[7])?,
        };
        qos.check().is_ok().then_some(qos)
    }

    /// Checks each value against its range and `history <= subscriber_buffer`.
    pub(crate) fn check(&self) -> Result<(), QosError> {
        for ((name, min, max), value) in LIMITS.iter().zip(self.values()) {
            if value < *min || value > *max {
                return Err(QosError::OutOfRange {
                    name,
                    value,
                    min: *min,
                    max: *max,
                });
            }
        }
        if self.history > self.subscriber_buffer {
            return Err(QosError::HistoryExceedsBuffer {
                history: self.history,
                buffer: self.subscriber_buffer,
            });
        }
        if self.chunks_per_publisher() > MAX_CHUNKS {
            return Err(QosError::TooManyChunks {
                chunks: self.chunks_per_publisher(),
            });
        }
        Ok(())
    }

    /// Chunks each publisher preallocates: the worst case of its QoS, so a send never
    /// runs out of memory while every peer keeps to its limits.
    pub(crate) fn chunks_per_publisher(&self) -> u32 {
        let per_subscriber = self.subscriber_buffer + self.max_borrowed + 1;
        self.max_loans + self.history + self.max_subscribers * per_subscriber
    }
}

/// A QoS value out of its range, or a request the service cannot satisfy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QosError {
    /// A value outside its range.
    #[error("QoS {name} = {value} is out of range; use {min} to {max}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// The value asked for.
        value: u32,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// History cannot be delivered into a smaller buffer.
    #[error(
        "QoS history = {history} exceeds subscriber_buffer = {buffer}; a late joiner could not receive it all: raise the buffer or lower the history"
    )]
    HistoryExceedsBuffer {
        /// History asked for.
        history: u32,
        /// Buffer size.
        buffer: u32,
    },
    /// The limits multiply to too many chunks per publisher.
    #[error(
        "these QoS limits need {chunks} chunks per publisher (max_loans + history + max_subscribers x (subscriber_buffer + max_borrowed + 1)); the limit is {max}: lower them",
        max = MAX_CHUNKS
    )]
    TooManyChunks {
        /// Chunks needed.
        chunks: u32,
    },
    /// An opener asked for more than the existing service offers.
    #[error(
        "service {service:?} offers {name} = {offered}, but {requested} was requested; open it with at most what it offers, or recreate it"
    )]
    Unsatisfiable {
        /// The service.
        service: String,
        /// The setting.
        name: &'static str,
        /// What the opener asked for.
        requested: u32,
        /// What the service has.
        offered: u32,
    },
    /// An opener asked for another overflow policy.
    #[error(
        "service {service:?} uses overflow policy {offered:?}, but {requested:?} was requested"
    )]
    OverflowMismatch {
        /// The service.
        service: String,
        /// Requested policy.
        requested: OverflowPolicy,
        /// The service's policy.
        offered: OverflowPolicy,
    },
}

/// The limits of a request-response service, fixed at creation.
///
/// Inside, a request-response service is two channels of the publish-subscribe data path:
/// clients publish requests to servers, servers publish responses to clients, each only to
/// the one port a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestResponseQos {
    /// Clients at once (default 8, at most 63).
    pub max_clients: u32,
    /// Servers at once (default 2, at most 63).
    pub max_servers: u32,
    /// Service handles (nodes) at once (default 16).
    pub max_nodes: u32,
    /// Requests a client may have in flight (sent, response stream not yet ended or
    /// dropped; default 4, at most 254).
    pub max_active_requests_per_client: u32,
    /// Responses a client's buffer holds per server before the server waits (default 4).
    pub response_buffer: u32,
    /// Messages a client or server may have loaned and not yet sent (default 2).
    pub max_loans: u32,
    /// Responses a client may hold (received and not dropped) per server and request
    /// (default 2).
    pub max_borrowed_responses: u32,
}

impl Default for RequestResponseQos {
    fn default() -> Self {
        Self {
            max_clients: 8,
            max_servers: 2,
            max_nodes: 16,
            max_active_requests_per_client: 4,
            response_buffer: 4,
            max_loans: 2,
            max_borrowed_responses: 2,
        }
    }
}

/// Ranges of the request-response QoS values, in `values` order.
pub(crate) const RR_LIMITS: [(&str, u32, u32); 7] = [
    ("max_clients", 1, 63),
    ("max_servers", 1, 63),
    ("max_nodes", 1, 1024),
    ("max_active_requests_per_client", 1, 254),
    ("response_buffer", 1, 4096),
    ("max_loans", 1, 1024),
    ("max_borrowed_responses", 1, 4096),
];

impl RequestResponseQos {
    pub(crate) fn values(&self) -> [u32; 7] {
        [
            self.max_clients,
            self.max_servers,
            self.max_nodes,
            self.max_active_requests_per_client,
            self.response_buffer,
            self.max_loans,
            self.max_borrowed_responses,
        ]
    }

    /// The eight QoS words of the service header (the last one is unused: 0).
    pub(crate) fn words(&self) -> [u64; 8] {
        let v = self.values();
        [
            v[0].into(),
            v[1].into(),
            v[2].into(),
            v[3].into(),
            v[4].into(),
            v[5].into(),
            v[6].into(),
            0,
        ]
    }

    /// The QoS stored in a header, if every word is in range.
    pub(crate) fn from_words(words: [u64; 8]) -> Option<Self> {
        let v = |i: usize| u32::try_from(words[i]).ok();
        let qos = Self {
            max_clients: v(0)?,
            max_servers: v(1)?,
            max_nodes: v(2)?,
            max_active_requests_per_client: v(3)?,
            response_buffer: v(4)?,
            max_loans: v(5)?,
            max_borrowed_responses: v(6)?,
        };
        (words[7] == 0 && qos.check().is_ok()).then_some(qos)
    }

    /// Checks each value against its range, and both channels against theirs.
    pub(crate) fn check(&self) -> Result<(), QosError> {
        for ((name, min, max), value) in RR_LIMITS.iter().zip(self.values()) {
            if value < *min || value > *max {
                return Err(QosError::OutOfRange {
                    name,
                    value,
                    min: *min,
                    max: *max,
                });
            }
        }
        self.request_channel().check()?;
        self.response_channel().check()
    }

    /// Channel 0: clients publish requests, servers receive them. A client never has more
    /// than `max_active_requests_per_client` requests out, so a server's queue from one
    /// client cannot overflow, and the server may hold them all at once.
    pub(crate) fn request_channel(&self) -> PubSubQos {
        PubSubQos {
            history: 0,
            subscriber_buffer: self.max_active_requests_per_client,
            max_publishers: self.max_clients,
            max_subscribers: self.max_servers,
            max_nodes: self.max_nodes,
            max_loans: self.max_loans,
            max_borrowed: self.max_active_requests_per_client,
            overflow: OverflowPolicy::Error,
        }
    }

    /// Channel 1: servers publish responses, clients receive them; a server waits (up to
    /// its send timeout) when a client's buffer is full. A client may hold, per server,
    /// the responses of each of its active requests.
    pub(crate) fn response_channel(&self) -> PubSubQos {
        PubSubQos {
            history: 0,
            subscriber_buffer: self.response_buffer,
            max_publishers: self.max_servers,
            max_subscribers: self.max_clients,
            max_nodes: self.max_nodes,
            max_loans: self.max_loans,
            max_borrowed: self
                .max_borrowed_responses
                .saturating_mul(self.max_active_requests_per_client),
            overflow: OverflowPolicy::Block,
        }
    }
}
