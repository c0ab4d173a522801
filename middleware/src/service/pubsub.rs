//! Publish-subscribe services: the builders and the handles, typed and byte-level.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::layout::{PATTERN_PUBSUB, QOS_WORDS};
use super::qos::{self, OverflowPolicy, PubSubQos, QosError};
use super::{
    ServiceCreateError, ServiceInner, ServiceName, ServiceNameError, ServiceOpenError,
    ServiceOpenOrCreateError, Spec,
};
use crate::message::{Descriptor, ShmMessage};
use crate::node::Node;
use crate::os::shm::Permissions;

/// What both publish-subscribe builders collect.
#[derive(Debug)]
struct Settings {
    node: Node,
    name: Result<ServiceName, ServiceNameError>,
    qos: PubSubQos,
    explicit: [bool; 8],
    permissions: Permissions,
    lock_timeout: Duration,
}

impl Settings {
    fn new(node: &Node, name: &str) -> Self {
        Self {
            node: node.clone(),
            name: ServiceName::new(name),
            qos: PubSubQos::default(),
            explicit: [false; 8],
            permissions: node.config().permissions(),
            lock_timeout: Duration::from_secs(10),
        }
    }

    /// Runs `run` with the spec of these settings and `message`, after checking the name
    /// and the QoS ranges.
    fn with_spec<R, E>(
        &self,
        message: Option<Descriptor>,
        run: impl FnOnce(&Node, &ServiceName, &Spec<'_>) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<ServiceNameError> + From<QosError>,
    {
        let name = self.name.clone()?;
        self.qos.check()?;
        let (requested, explicit) = (self.qos, self.explicit);
        let check_offered = move |service: &str, words: [u64; QOS_WORDS]| {
            let Some(offered) = PubSubQos::from_words(words) else {
                return Ok(()); // the geometry refused the words already
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
            roles: &["message"],
            types: message.map(|d| vec![d]),
            qos_words: self.qos.words(),
            check_offered: &check_offered,
            permissions: self.permissions,
            lock_timeout: self.lock_timeout,
        };
        run(&self.node, &name, &spec)
    }
}

/// What both service handles offer.
macro_rules! handle_methods {
    () => {
        /// The service's name.
        pub fn name(&self) -> &ServiceName {
            &self.inner.name
        }

        /// The service's QoS (as created).
        pub fn qos(&self) -> &PubSubQos {
            self.inner.qos(0)
        }

        /// The message type, as the service stores it.
        pub fn message_type(&self) -> &Descriptor {
            self.inner.type_of(0)
        }

        /// Removes the entries and ports of dead nodes from this service; returns how many
        /// dead nodes were found.
        pub fn remove_dead_nodes(&self) -> usize {
            self.inner.remove_dead_nodes().nodes
        }
    };
}

/// The setters both builders share.
macro_rules! pubsub_setters {
    () => {
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

        /// Every QoS value at once, all of them explicit (a tool recreating a service as it
        /// was recorded).
        pub fn qos(mut self, qos: PubSubQos) -> Self {
            self.settings.qos = qos;
            self.settings.explicit = [true; 8];
            self
        }

        /// What a publisher does when a subscriber's buffer is full (default: overwrite the
        /// oldest sample).
        pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
            self.settings.qos.overflow = policy;
            self.settings.explicit[7] = true;
            self
        }

        /// Who may open the service's shared-memory objects (default: the node's
        /// [`Config::permissions`](crate::Config::permissions), only this user unless
        /// configured). `Group` makes them mode 0660 with the given group, so processes of
        /// two users can talk; the domain's files need the same setting in the `Config`.
        pub fn permissions(mut self, permissions: Permissions) -> Self {
            self.settings.permissions = permissions;
            self
        }

        /// How long to wait for another process that is creating or removing the service
        /// (default 10 s).
        pub fn lock_timeout(mut self, timeout: Duration) -> Self {
            self.settings.lock_timeout = timeout;
            self
        }
    };
}

/// Builds or opens a publish-subscribe service carrying `T`. Values set here are the
/// service's QoS when it is created, and requirements (at most what the service offers)
/// when it is opened.
#[derive(Debug)]
#[must_use]
pub struct PubSubServiceBuilder<T> {
    settings: Settings,
    _type: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> PubSubServiceBuilder<T> {
    pub(super) fn new(node: &Node, name: &str) -> Self {
        Self {
            settings: Settings::new(node, name),
            _type: PhantomData,
        }
    }

    pubsub_setters!();

    /// Creates the service; fails if it exists.
    pub fn create(self) -> Result<PubSubService<T>, ServiceCreateError> {
        self.settings
            .with_spec(Some(Descriptor::of::<T>()), super::create)
            .map(PubSubService::new)
    }

    /// Opens the existing service; fails if there is none, or if it carries another type.
    pub fn open(self) -> Result<PubSubService<T>, ServiceOpenError> {
        self.settings
            .with_spec(Some(Descriptor::of::<T>()), super::open)
            .map(PubSubService::new)
    }

    /// Opens the service, creating it if there is none.
    pub fn open_or_create(self) -> Result<PubSubService<T>, ServiceOpenOrCreateError> {
        self.settings
            .with_spec(Some(Descriptor::of::<T>()), super::open_or_create)
            .map(PubSubService::new)
    }
}

/// Builds or opens a publish-subscribe service whose message type is known at run time
/// ([`Service::raw_publish_subscribe`](super::Service::raw_publish_subscribe)). Creating
/// needs the type ([`message_type`](Self::message_type)); opening without one takes the
/// service's, and with one checks it.
#[derive(Debug)]
#[must_use]
pub struct RawPubSubServiceBuilder {
    settings: Settings,
    message: Option<Descriptor>,
}

impl RawPubSubServiceBuilder {
    pub(super) fn new(node: &Node, name: &str) -> Self {
        Self {
            settings: Settings::new(node, name),
            message: None,
        }
    }

    pubsub_setters!();

    /// The message type: required to create the service, checked against the service's
    /// when it is opened.
    pub fn message_type(mut self, descriptor: Descriptor) -> Self {
        self.message = Some(descriptor);
        self
    }

    /// Creates the service; fails if it exists.
    pub fn create(self) -> Result<RawPubSubService, ServiceCreateError> {
        self.settings
            .with_spec(self.message, super::create)
            .map(|inner| RawPubSubService { inner })
    }

    /// Opens the existing service; fails if there is none.
    pub fn open(self) -> Result<RawPubSubService, ServiceOpenError> {
        self.settings
            .with_spec(self.message, super::open)
            .map(|inner| RawPubSubService { inner })
    }

    /// Opens the service, creating it (with the message type) if there is none.
    pub fn open_or_create(self) -> Result<RawPubSubService, ServiceOpenOrCreateError> {
        self.settings
            .with_spec(self.message, super::open_or_create)
            .map(|inner| RawPubSubService { inner })
    }
}

/// A publish-subscribe service carrying `T`. Create ports with
/// [`publisher`](Self::publisher) and [`subscriber`](Self::subscriber). Ports keep the
/// service alive.
#[derive(Debug)]
pub struct PubSubService<T> {
    pub(crate) inner: Arc<ServiceInner>,
    _type: PhantomData<fn() -> T>,
}

impl<T> PubSubService<T> {
    fn new(inner: Arc<ServiceInner>) -> Self {
        Self {
            inner,
            _type: PhantomData,
        }
    }

    handle_methods!();
}

/// A publish-subscribe service whose message type is known at run time. Its ports send and
/// receive bytes, checked against [`message_type`](Self::message_type).
#[derive(Debug)]
pub struct RawPubSubService {
    pub(crate) inner: Arc<ServiceInner>,
}

impl RawPubSubService {
    handle_methods!();
}
