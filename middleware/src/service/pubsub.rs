//! Publish-subscribe services: the builder and the handle.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::layout::{PATTERN_PUBSUB, QOS_WORDS};
use super::qos::{self, OverflowPolicy, PubSubQos, QosError};
use super::{Mode, ServiceError, ServiceInner, ServiceName, ServiceNameError, Spec};
use crate::message::ShmMessage;
use crate::node::Node;
use crate::os::shm::Permissions;

/// Builds or opens a publish-subscribe service. Values set here are the service's QoS when
/// it is created, and requirements (at most what the service offers) when it is opened.
#[derive(Debug)]
#[must_use]
pub struct PubSubServiceBuilder<T> {
    node: Node,
    name: Result<ServiceName, ServiceNameError>,
    qos: PubSubQos,
    explicit: [bool; 8],
    permissions: Permissions,
    lock_timeout: Duration,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> PubSubServiceBuilder<T> {
    pub(super) fn new(node: &Node, name: &str) -> Self {
        Self {
            node: node.clone(),
            name: ServiceName::new(name),
            qos: PubSubQos::default(),
            explicit: [false; 8],
            permissions: node.config().permissions(),
            lock_timeout: Duration::from_secs(10),
            _type: PhantomData,
        }
    }

    qos_setters! {
        /// Samples a late joiner receives from each publisher (default 0).
        history = 0;
        /// Samples a subscriber buffers per publisher (default 4).
        subscriber_buffer = 1;
        /// Publishers at once (default 2).
        max_publishers = 2;
        /// Subscribers at once (default 8, at most 63).
        max_subscribers = 3;
        /// Service handles at once (default 16).
        max_nodes = 4;
        /// Loans per publisher (default 2).
        max_loans = 5;
        /// Samples a subscriber holds at once per publisher (default 2).
        max_borrowed = 6;
    }

    /// What a publisher does when a subscriber's buffer is full (default: overwrite the
    /// oldest sample).
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.qos.overflow = policy;
        self.explicit[7] = true;
        self
    }

    /// Who may open the service's shared-memory objects (default: the node's
    /// [`Config::permissions`](crate::Config::permissions), only this user unless
    /// configured). `Group` makes them mode 0660 with the given group, so processes of two
    /// users can talk; the domain's files need the same setting in the `Config`.
    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// How long to wait for another process that is creating or removing the service
    /// (default 10 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Creates the service; fails if it exists.
    pub fn create(self) -> Result<PubSubService<T>, ServiceError> {
        self.run(Mode::Create)
    }

    /// Opens the existing service; fails if there is none.
    pub fn open(self) -> Result<PubSubService<T>, ServiceError> {
        self.run(Mode::Open)
    }

    /// Opens the service, creating it if there is none.
    pub fn open_or_create(self) -> Result<PubSubService<T>, ServiceError> {
        self.run(Mode::OpenOrCreate)
    }

    fn run(self, mode: Mode) -> Result<PubSubService<T>, ServiceError> {
        let name = self.name.clone()?;
        self.qos.check()?;
        let (requested, explicit) = (self.qos, self.explicit);
        let check_offered = move |service: &str, words: [u64; QOS_WORDS]| {
            let Some(offered) = PubSubQos::from_words(words) else {
                return Ok(()); // `geometry` refused the words already
            };
            let wanted = requested.values();
            for (i, ((setting, _, _), offer)) in
                qos::LIMITS.iter().zip(offered.values()).enumerate()
            {
                if explicit[i] && wanted[i] > offer {
                    return Err(QosError::Unsatisfiable {
                        service: service.to_owned(),
                        name: setting,
                        requested: wanted[i],
                        offered: offer,
                    });
                }
            }
            if explicit[7] && requested.overflow != offered.overflow {
                return Err(QosError::OverflowMismatch {
                    service: service.to_owned(),
                    requested: requested.overflow,
                    offered: offered.overflow,
                });
            }
            Ok(())
        };
        let spec = Spec {
            pattern: PATTERN_PUBSUB,
            label: "publish-subscribe",
            types: &[("message", T::DESCRIPTOR)],
            qos_words: self.qos.words(),
            check_offered: &check_offered,
            permissions: self.permissions,
            lock_timeout: self.lock_timeout,
        };
        let inner = super::open_service(&self.node, &name, &spec, mode)?;
        Ok(PubSubService {
            inner,
            _type: PhantomData,
        })
    }
}

/// A publish-subscribe service carrying `T`. Create ports with [`publisher`](Self::publisher)
/// and [`subscriber`](Self::subscriber). Ports keep the service alive.
#[derive(Debug)]
pub struct PubSubService<T> {
    pub(crate) inner: Arc<ServiceInner>,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> PubSubService<T> {
    /// The service's name.
    pub fn name(&self) -> &ServiceName {
        &self.inner.name
    }

    /// The service's QoS (as created).
    pub fn qos(&self) -> &PubSubQos {
        self.inner.qos(0)
    }

    /// Starts building a publisher.
    pub fn publisher(&self) -> crate::port::PublisherBuilder<T> {
        crate::port::PublisherBuilder::new(self.inner.clone(), 0)
    }

    /// Starts building a subscriber.
    pub fn subscriber(&self) -> crate::port::SubscriberBuilder<T> {
        crate::port::SubscriberBuilder::new(self.inner.clone(), 0)
    }

    /// Removes the entries and ports of dead nodes from this service; returns how many
    /// dead nodes were found.
    pub fn remove_dead_nodes(&self) -> usize {
        self.inner.remove_dead_nodes().nodes
    }
}
