//! Request-response services: the builder and the handle.
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
use super::{Mode, ServiceError, ServiceInner, ServiceName, ServiceNameError, Spec};
use crate::message::ShmMessage;
use crate::node::Node;
use crate::os::shm::Permissions;

/// Builds or opens a request-response service. Values set here are the service's QoS when
/// it is created, and requirements (at most what the service offers) when it is opened.
#[derive(Debug)]
#[must_use]
pub struct RequestResponseServiceBuilder<Req, Res> {
    node: Node,
    name: Result<ServiceName, ServiceNameError>,
    qos: RequestResponseQos,
    explicit: [bool; 7],
    permissions: Permissions,
    lock_timeout: Duration,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> RequestResponseServiceBuilder<Req, Res> {
    pub(super) fn new(node: &Node, name: &str) -> Self {
        Self {
            node: node.clone(),
            name: ServiceName::new(name),
            qos: RequestResponseQos::default(),
            explicit: [false; 7],
            permissions: node.config().permissions(),
            lock_timeout: Duration::from_secs(10),
            _types: PhantomData,
        }
    }

    qos_setters! {
        /// Clients at once (default 8, at most 63).
        max_clients = 0;
        /// Servers at once (default 2, at most 63).
        max_servers = 1;
        /// Service handles at once (default 16).
        max_nodes = 2;
        /// Requests a client may have in flight (default 4, at most 254).
        max_active_requests_per_client = 3;
        /// Responses a client's buffer holds per server before that server waits (default 4).
        response_buffer = 4;
        /// Messages a client or server may have loaned and not yet sent (default 2).
        max_loans = 5;
        /// Responses a client may hold at once per server and request (default 2).
        max_borrowed_responses = 6;
    }

    /// Who may open the service's shared-memory objects (default: the node's
    /// [`Config::permissions`](crate::Config::permissions)).
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
    pub fn create(self) -> Result<RequestResponseService<Req, Res>, ServiceError> {
        self.run(Mode::Create)
    }

    /// Opens the existing service; fails if there is none.
    pub fn open(self) -> Result<RequestResponseService<Req, Res>, ServiceError> {
        self.run(Mode::Open)
    }

    /// Opens the service, creating it if there is none.
    pub fn open_or_create(self) -> Result<RequestResponseService<Req, Res>, ServiceError> {
        self.run(Mode::OpenOrCreate)
    }

    fn run(self, mode: Mode) -> Result<RequestResponseService<Req, Res>, ServiceError> {
        let name = self.name.clone()?;
        self.qos.check()?;
        let (requested, explicit) = (self.qos, self.explicit);
        let check_offered = move |service: &str, words: [u64; QOS_WORDS]| {
            let Some(offered) = RequestResponseQos::from_words(words) else {
                return Ok(()); // `geometry` refused the words already
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
            types: &[("request", Req::DESCRIPTOR), ("response", Res::DESCRIPTOR)],
            qos_words: self.qos.words(),
            check_offered: &check_offered,
            permissions: self.permissions,
            lock_timeout: self.lock_timeout,
        };
        let inner = super::open_service(&self.node, &name, &spec, mode)?;
        let qos = RequestResponseQos::from_words(spec_words(&inner)).unwrap_or(self.qos);
        Ok(RequestResponseService {
            inner,
            qos,
            _types: PhantomData,
        })
    }
}

/// The QoS words of an open service (validated when it was opened).
fn spec_words(inner: &ServiceInner) -> [u64; QOS_WORDS] {
    let mut words = [0; QOS_WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        *w = inner
            .view
            .load_u64(8 * (super::layout::W_QOS + i))
            .unwrap_or(0);
    }
    words
}

/// A request-response service: clients send `Req`, servers answer with `Res`. Create ports
/// with [`client`](Self::client) and [`server`](Self::server); ports keep it alive.
#[derive(Debug)]
pub struct RequestResponseService<Req, Res> {
    pub(crate) inner: Arc<ServiceInner>,
    qos: RequestResponseQos,
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req: ShmMessage, Res: ShmMessage> RequestResponseService<Req, Res> {
    /// The service's name.
    pub fn name(&self) -> &ServiceName {
        &self.inner.name
    }

    /// The service's QoS (as created).
    pub fn qos(&self) -> &RequestResponseQos {
        &self.qos
    }

    /// Starts building a client.
    pub fn client(&self) -> crate::port::ClientBuilder<Req, Res> {
        crate::port::ClientBuilder::new(self.inner.clone(), self.qos)
    }

    /// Starts building a server.
    pub fn server(&self) -> crate::port::ServerBuilder<Req, Res> {
        crate::port::ServerBuilder::new(self.inner.clone())
    }

    /// Removes the entries and ports of dead nodes from this service; returns how many
    /// dead nodes were found.
    pub fn remove_dead_nodes(&self) -> usize {
        self.inner.remove_dead_nodes().nodes
    }
}
