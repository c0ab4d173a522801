//! Quality of service of a publish-subscribe service: limits and the overflow policy.

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
    pub(crate) fn code(self) -> u64 {
        match self {
            Self::OverwriteOldest => 0,
            Self::Block => 1,
            Self::Discard => 2,
            Self::Error => 3,
        }
    }

    pub(crate) fn from_code(code: u64) -> Option<Self> {
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
        if u64::from(self.chunks_per_publisher()) > 65_535 {
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
        "these QoS limits need {chunks} chunks per publisher (max_loans + history + max_subscribers x (subscriber_buffer + max_borrowed + 1)); the limit is 65535: lower them"
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
