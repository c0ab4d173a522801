//! Request-response services: the builders and the handles, typed and byte-level.
//!
//! A request-response service is one shared-memory object with two channels of the
//! publish-subscribe data path (see [`layout`](super::layout)): clients publish requests
//! into channel 0, each request to **one** server (they take turns; a request is never
//! delivered to several servers), and servers publish responses into channel 1, each
//! response to the one client that asked. A request table in the object records, per client,
//! which requests are pending, finished by their server (the stream ended) or cancelled by
//! their client.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::layout::{PATTERN_REQUEST_RESPONSE, QOS_WORDS};
use super::qos::{self, QosError, RequestResponseQos};
use super::{
    ServiceCreateError, ServiceInner, ServiceName, ServiceNameError, ServiceOpenError,
    ServiceOpenOrCreateError, Spec,
};
use crate::message::{Descriptor, ShmMessage};
use crate::node::Node;
use crate::os::shm::Permissions;

/// What both request-response builders collect.
#[derive(Debug)]
struct Settings {
    node: Node,
    name: Result<ServiceName, ServiceNameError>,
    qos: RequestResponseQos,
    explicit: [bool; 7],
    permissions: Permissions,
    lock_timeout: Duration,
}

impl Settings {
    fn new(node: &Node, name: &str) -> Self {
        Self {
            node: node.clone(),
            name: ServiceName::new(name),
            qos: RequestResponseQos::default(),
            explicit: [false; 7],
            permissions: node.config().permissions(),
            lock_timeout: Duration::from_secs(10),
        }
    }

    fn with_spec<R, E>(
        &self,
        types: Option<Vec<Descriptor>>,
        run: impl FnOnce(&Node, &ServiceName, &Spec<'_>) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<ServiceNameError> + From<QosError>,
    {
        let name = self.name.clone()?;
        self.qos.check()?;
        let (requested, explicit) = (self.qos, self.explicit);
        let check_offered = move |service: &str, words: [u64; QOS_WORDS]| {
            let Some(offered) = RequestResponseQos::from_words(words) else {
                return Ok(()); // the geometry refused the words already
            };
            let wanted = requested.values();
            for (i, ((setting, _, _), offer)) in
                qos::RR_LIMITS.iter().zip(offered.values()).enumerate()
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
            Ok(())
        };
        let spec = Spec {
            pattern: PATTERN_REQUEST_RESPONSE,
            label: "request-response",
            roles: &["request", "response"],
            types,
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
        pub fn qos(&self) -> RequestResponseQos {
            self.inner.request_response_qos()
        }

        /// The request type, as the service stores it.
        pub fn request_type(&self) -> &Descriptor {
            self.inner.type_of(0)
        }

        /// The response type, as the service stores it.
        pub fn response_type(&self) -> &Descriptor {
            self.inner.type_of(1)
        }

        /// Removes the entries and ports of dead nodes from this service; returns how many
        /// dead nodes were found.
        pub fn remove_dead_nodes(&self) -> usize {
            self.inner.remove_dead_nodes().nodes
        }
    };
}

/// The setters both builders share.
macro_rules! rr_setters {
    () => {
        qos_setters! {
            /// Clients at once (default 8, at most 63).
            max_clients = 0;
            /// Servers at once (default 2, at most 63).
            max_servers = 1;
            /// Service handles at once (default 16).
            max_nodes = 2;
            /// Requests a client may have in flight (default 4, at most 254).
            max_active_requests_per_client = 3;
            /// Responses a client's buffer holds per server before it waits (default 4).
            response_buffer = 4;
            /// Messages a client or server may have loaned and not yet sent (default 2).
            max_loans = 5;
            /// Responses a client may hold at once per server and request (default 2).
            max_borrowed_responses = 6;
        }

        /// Every QoS value at once, all of them explicit (a tool recreating a service as it
        /// was recorded).
        pub fn qos(mut self, qos: RequestResponseQos) -> Self {
            self.settings.qos = qos;
            self.settings.explicit = [true; 7];
            self
        }

        /// Who may open the service's shared-memory objects (default: the node's
        /// [`Config::permissions`](crate::Config::permissions)).
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

/// Builds or opens a request-response service. Values set here are the service's QoS when
/// it is created, and requirements (at most what the service offers) when it is opened.
#[derive(Debug)]
#[must_use]
pub struct RequestResponseServiceBuilder<Req, Res> {
    settings: Settings,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> RequestResponseServiceBuilder<Req, Res> {
    pub(super) fn new(node: &Node, name: &str) -> Self {
        Self {
            settings: Settings::new(node, name),
            _types: PhantomData,
        }
    }

    rr_setters!();

    fn types() -> Option<Vec<Descriptor>> {
        Some(vec![Descriptor::of::<Req>(), Descriptor::of::<Res>()])
    }

    /// Creates the service; fails if it exists.
    pub fn create(self) -> Result<RequestResponseService<Req, Res>, ServiceCreateError> {
        self.settings
            .with_spec(Self::types(), super::create)
            .map(RequestResponseService::new)
    }

    /// Opens the existing service; fails if there is none, or if it carries other types.
    pub fn open(self) -> Result<RequestResponseService<Req, Res>, ServiceOpenError> {
        self.settings
            .with_spec(Self::types(), super::open)
            .map(RequestResponseService::new)
    }

    /// Opens the service, creating it if there is none.
    pub fn open_or_create(
        self,
    ) -> Result<RequestResponseService<Req, Res>, ServiceOpenOrCreateError> {
        self.settings
            .with_spec(Self::types(), super::open_or_create)
            .map(RequestResponseService::new)
    }
}

/// Builds or opens a request-response service whose types are known at run time
/// ([`Service::raw_request_response`](super::Service::raw_request_response)). Creating needs
/// both types; opening without them takes the service's, and with them checks them.
#[derive(Debug)]
#[must_use]
pub struct RawRequestResponseServiceBuilder {
    settings: Settings,
    request: Option<Descriptor>,
    response: Option<Descriptor>,
}

impl RawRequestResponseServiceBuilder {
    pub(super) fn new(node: &Node, name: &str) -> Self {
        Self {
            settings: Settings::new(node, name),
            request: None,
            response: None,
        }
    }

    rr_setters!();

    /// The request type (with [`response_type`](Self::response_type): required to create,
    /// checked when opening).
    pub fn request_type(mut self, descriptor: Descriptor) -> Self {
        self.request = Some(descriptor);
        self
    }

    /// The response type.
    pub fn response_type(mut self, descriptor: Descriptor) -> Self {
        self.response = Some(descriptor);
        self
    }

    fn types(&self) -> Option<Vec<Descriptor>> {
        Some(vec![self.request.clone()?, self.response.clone()?])
    }

    /// Creates the service; fails if it exists.
    pub fn create(self) -> Result<RawRequestResponseService, ServiceCreateError> {
        self.settings
            .with_spec(self.types(), super::create)
            .map(|inner| RawRequestResponseService { inner })
    }

    /// Opens the existing service; fails if there is none.
    pub fn open(self) -> Result<RawRequestResponseService, ServiceOpenError> {
        self.settings
            .with_spec(self.types(), super::open)
            .map(|inner| RawRequestResponseService { inner })
    }

    /// Opens the service, creating it (with the types) if there is none.
    pub fn open_or_create(self) -> Result<RawRequestResponseService, ServiceOpenOrCreateError> {
        self.settings
            .with_spec(self.types(), super::open_or_create)
            .map(|inner| RawRequestResponseService { inner })
    }
}

/// A request-response service: clients send `Req`, servers answer with `Res`. Create ports
/// with [`client`](Self::client) and [`server`](Self::server); ports keep it alive.
#[derive(Debug)]
pub struct RequestResponseService<Req, Res> {
    pub(crate) inner: Arc<ServiceInner>,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req, Res> RequestResponseService<Req, Res> {
    fn new(inner: Arc<ServiceInner>) -> Self {
        Self {
            inner,
            _types: PhantomData,
        }
    }

    handle_methods!();
}

/// A request-response service whose types are known at run time. Its ports send and
/// receive bytes, checked against [`request_type`](Self::request_type) and
/// [`response_type`](Self::response_type).
#[derive(Debug)]
pub struct RawRequestResponseService {
    pub(crate) inner: Arc<ServiceInner>,
}

impl RawRequestResponseService {
    handle_methods!();
}
