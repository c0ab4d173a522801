//! Request-response across the bridge. The exporter takes Zenoh queries and sends each
//! request to the real server through one of its clients; the importer offers proxy
//! servers and turns each request into a query. Each side runs `workers` threads, each
//! with one port and one request at a time, blocking (no polling beyond the 100 ms
//! slices in which a worker looks for cancellation and the end of the bridge).

use shmbus::sync::atomic::AtomicU64;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shmbus::port::{RawClient, RawServer, ResponseError};
use shmbus::service::{RawRequestResponseService, RequestResponseQos};
use shmbus::{Descriptor, Service};
use zenoh::Wait;
use zenoh::query::{ConsolidationMode, Query, QueryTarget};

use crate::wire::{Announcement, FLAG_END, FLAG_ONEWAY, SampleHeader};
use crate::{BridgeError, Counters, Ctx, Kind, Link, open_or_create, zenoh_error};

/// How long a worker waits before looking at its stop flag and cancellations again.
const SLICE: Duration = Duration::from_millis(100);
/// The longest a request may take at the far side (a stream included).
const QUERY_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Cancellations kept for requests not (or no longer) being served: beyond this many the
/// old ones are forgotten (a cancellation that arrives after its request ended).
const CANCELS_KEPT: usize = 4096;

/// Exports local service `name`: `workers` clients answering queries, the cancellation
/// subscriber, the announcement and the liveliness token.
pub(crate) fn export(ctx: &Ctx<'_>, name: &str) -> Result<Link, BridgeError> {
    let fail = |e: &dyn std::fmt::Display| BridgeError::service(name, e);
    let service = Service::raw_request_response(ctx.node, name)
        .open()
        .map_err(|e| fail(&e))?;
    // As many clients as the service has room for, up to `workers`, at least one.
    let mut clients = Vec::new();
    for _ in 0..ctx.workers {
        match service.client().create() {
            Ok(client) => clients.push(client),
            Err(e) if clients.is_empty() => return Err(fail(&e)),
            Err(_) => break,
        }
    }
    let request = service.request_type().clone();
    let response = service.response_type().clone();
    let mut held = ctx.announce(
        Kind::RequestResponse,
        name,
        &Announcement::RequestResponse {
            request: request.clone(),
            response: response.clone(),
            response_buffer: service.qos().response_buffer,
        },
    )?;
    let (queries, incoming) = channel::<Query>();
    let queries = Mutex::new(queries);
    let queryable = ctx
        .session
        .declare_queryable(ctx.key(&["rr", name]))
        .complete(true)
        .callback(move |query| {
            let _ = queries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(query);
        })
        .wait()
        .map_err(zenoh_error(format!("declaring {name}'s queryable")))?;
    let cancelled = Arc::new(Mutex::new(HashSet::<u64>::new()));
    let cancels = {
        let cancelled = Arc::clone(&cancelled);
        ctx.session
            .declare_subscriber(ctx.key(&["cancel", "rr", name]))
            .callback(move |sample| {
                let bytes = sample.payload().to_bytes();
                if let Ok(id) = <[u8; 8]>::try_from(&bytes[..]) {
                    let mut cancelled = cancelled.lock().unwrap_or_else(|p| p.into_inner());
                    if cancelled.len() >= CANCELS_KEPT {
                        cancelled.clear();
                    }
                    cancelled.insert(u64::from_le_bytes(id));
                }
            })
            .wait()
            .map_err(zenoh_error(format!("declaring {name}'s cancellations")))?
    };
    let stop = Arc::new(AtomicBool::new(false));
    let incoming = Arc::new(Mutex::new(incoming));
    let mut threads = Vec::new();
    for client in clients {
        let worker = ExportWorker {
            client,
            incoming: Arc::clone(&incoming),
            cancelled: Arc::clone(&cancelled),
            stop: Arc::clone(&stop),
            counters: Arc::clone(&ctx.counters),
            started: ctx.started,
            name: name.to_owned(),
            request_hash: request.layout_hash(),
            response_hash: response.layout_hash(),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("export {name}"))
                .spawn(move || worker.run())
                .map_err(|e| fail(&e))?,
        );
    }
    // Dropped in order: the queryable and the cancellations first, then the service.
    held.insert(0, Box::new(cancels));
    held.insert(0, Box::new(queryable));
    held.push(Box::new(service));
    Ok(Link {
        stop,
        threads,
        held,
        proxies: Vec::new(),
    })
}

struct ExportWorker {
    client: RawClient,
    incoming: Arc<Mutex<Receiver<Query>>>,
    cancelled: Arc<Mutex<HashSet<u64>>>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    started: std::time::Instant,
    name: String,
    request_hash: u64,
    response_hash: u64,
}

impl ExportWorker {
    fn run(self) {
        while !self.stop.load(Ordering::Acquire) {
            let next = self
                .incoming
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .recv_timeout(SLICE);
            match next {
                Ok(query) => self.serve(&query),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn refuse(&self, query: &Query, why: &dyn std::fmt::Display) {
        self.counters.refused(&self.name, self.started, why);
        let _ = query.reply_err(why.to_string()).wait();
    }

    /// Sends the query's request to a local server and its responses back as replies.
    fn serve(&self, query: &Query) {
        let header = match SampleHeader::of(query.attachment()) {
            Ok(h) => h,
            Err(e) => return self.refuse(query, &e),
        };
        if header.layout_hash != self.request_hash {
            return self.refuse(query, &"a request of another type");
        }
        let payload = query.payload().map(|p| p.to_bytes().into_owned());
        let bytes = payload.as_deref().unwrap_or(&[]);
        if header.flags & FLAG_ONEWAY != 0 {
            // Checks the size and every value, like send_bytes.
            match self.client.send_bytes_oneway(bytes) {
                Ok(()) => self.counters.sent(),
                Err(e) => self.counters.refused(&self.name, self.started, &e),
            }
            return;
        }
        // send_bytes checks the size and every value against the request type.
        let pending = match self.client.send_bytes(bytes) {
            Ok(pending) => pending,
            Err(e) => return self.refuse(query, &e),
        };
        self.counters.sent();
        let id = header.sequence;
        let key = query.key_expr().clone();
        let reply = |flags: u32, bytes: Vec<u8>| {
            let header = SampleHeader {
                flags,
                sequence: id,
                timestamp_ns: 0,
                layout_hash: self.response_hash,
            };
            query
                .reply(key.clone(), bytes)
                .attachment(header.encode().to_vec())
                .wait()
        };
        loop {
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            if self
                .cancelled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id)
            {
                // Dropping the pending response cancels the request at the server.
                return;
            }
            match pending.receive_timeout(SLICE) {
                Ok(Some(response)) => {
                    if let Err(error) = reply(0, response.bytes().to_vec()) {
                        tracing::debug!(service = %self.name, %error, "a reply could not be sent");
                        return;
                    }
                }
                Ok(None) if pending.is_finished() => {
                    let _ = reply(FLAG_END, Vec::new());
                    return;
                }
                Ok(None) => {}
                Err(ResponseError::ServerGone) => {
                    let _ = query.reply_err("the server is gone").wait();
                    return;
                }
                Err(error) => {
                    let _ = query.reply_err(error.to_string()).wait();
                    return;
                }
            }
        }
    }
}

/// Imports remote service `name`: the local service (opened, or created with the
/// announced types and room for the proxy servers) and `workers` proxy servers.
pub(crate) fn import(
    ctx: &Ctx<'_>,
    name: &str,
    announcement: Announcement,
) -> Result<Link, BridgeError> {
    let fail = |e: &dyn std::fmt::Display| BridgeError::service(name, e);
    let Announcement::RequestResponse {
        request,
        response,
        response_buffer,
    } = announcement
    else {
        return Err(fail(&"not a request-response service"));
    };
    let defaults = RequestResponseQos::default();
    let qos = RequestResponseQos {
        response_buffer,
        max_servers: defaults.max_servers.max(ctx.workers as u32),
        ..defaults
    };
    let service = Arc::new(open_or_create(
        name,
        || {
            Service::raw_request_response(ctx.node, name)
                .request_type(request.clone())
                .response_type(response.clone())
                .open()
        },
        || {
            Service::raw_request_response(ctx.node, name)
                .request_type(request.clone())
                .response_type(response.clone())
                .qos(qos)
                .create()
        },
    )?);
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let ids = Arc::new(AtomicU64::new(1));
    for n in 0..ctx.workers {
        let server = match service.server().create() {
            Ok(server) => server,
            Err(e) if n == 0 => return Err(fail(&e)),
            Err(_) => break,
        };
        let worker = ImportWorker {
            service: Arc::clone(&service),
            session: ctx.session.clone(),
            key: ctx.key(&["rr", name]),
            cancel_key: ctx.key(&["cancel", "rr", name]),
            stop: Arc::clone(&stop),
            counters: Arc::clone(&ctx.counters),
            started: ctx.started,
            name: name.to_owned(),
            request: request.clone(),
            response_hash: response.layout_hash(),
            ids: Arc::clone(&ids),
            salt: u64::from(std::process::id()) << 40,
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("import {name}"))
                .spawn(move || worker.run(server))
                .map_err(|e| fail(&e))?,
        );
    }
    Ok(Link {
        stop,
        threads,
        held: Vec::new(),
        proxies: Vec::new(),
    })
}

struct ImportWorker {
    service: Arc<RawRequestResponseService>,
    session: zenoh::Session,
    key: String,
    cancel_key: String,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    started: std::time::Instant,
    name: String,
    request: Descriptor,
    response_hash: u64,
    ids: Arc<AtomicU64>,
    /// Makes request ids differ between bridges of one exporter.
    salt: u64,
}

/// How a request at the far side ended.
enum Outcome {
    /// The server ended the stream (or the client stopped waiting): done.
    Done,
    /// The far server or the exporter is lost: the local client must hear so.
    Lost,
}

impl ImportWorker {
    fn run(self, mut server: RawServer) {
        while !self.stop.load(Ordering::Acquire) {
            let request = match server.receive_timeout(SLICE) {
                Ok(Some(request)) => request,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(service = %self.name, %error, "a request could not be taken");
                    continue;
                }
            };
            if !request.expects_response() {
                // Nothing comes back: the query's replies are not waited for.
                if let Err(error) = self.query(request.bytes(), 0, FLAG_ONEWAY) {
                    tracing::warn!(service = %self.name, %error, "a one-way request could not be sent");
                }
                continue;
            }
            let id = self.salt | self.ids.fetch_add(1, Ordering::Relaxed);
            match self.forward(&request, id) {
                Outcome::Done => drop(request),
                Outcome::Lost => {
                    // The client must get ServerGone: leave the request open and let this
                    // server port go; a fresh one takes its place.
                    request.abandon();
                    drop(server);
                    server = match self.service.server().create() {
                        Ok(server) => server,
                        Err(error) => {
                            tracing::warn!(service = %self.name, %error, "a proxy server could not be made again");
                            return;
                        }
                    };
                }
            }
        }
    }

    fn query(
        &self,
        bytes: &[u8],
        id: u64,
        flags: u32,
    ) -> Result<zenoh::handlers::FifoChannelHandler<zenoh::query::Reply>, zenoh::Error> {
        let header = SampleHeader {
            flags,
            sequence: id,
            timestamp_ns: 0,
            layout_hash: self.request.layout_hash(),
        };
        self.session
            .get(&self.key)
            .payload(bytes.to_vec())
            .attachment(header.encode().to_vec())
            .target(QueryTarget::BestMatching)
            .consolidation(ConsolidationMode::None)
            .timeout(QUERY_TIMEOUT)
            .wait()
    }

    /// Sends `request` as a query and its replies back as responses.
    fn forward(&self, request: &shmbus::port::RawActiveRequest<'_>, id: u64) -> Outcome {
        let replies = match self.query(request.bytes(), id, 0) {
            Ok(replies) => replies,
            Err(error) => {
                tracing::warn!(service = %self.name, %error, "a request could not be sent");
                return Outcome::Lost;
            }
        };
        self.counters.sent();
        loop {
            if self.stop.load(Ordering::Acquire) {
                return Outcome::Lost;
            }
            if request.is_cancelled() {
                let _ = self
                    .session
                    .put(&self.cancel_key, id.to_le_bytes().to_vec())
                    .wait();
                return Outcome::Done;
            }
            let reply = match replies.recv_timeout(SLICE) {
                Ok(Some(reply)) => reply,
                Ok(None) => continue,
                // Closed without the end marker: the exporter or its link is gone.
                Err(_) => return Outcome::Lost,
            };
            let sample = match reply.result() {
                Ok(sample) => sample,
                // The far server is gone (or refused the request).
                Err(_) => return Outcome::Lost,
            };
            let header = match SampleHeader::of(sample.attachment()) {
                Ok(h) if h.sequence == id => h,
                Ok(_) => {
                    self.counters
                        .refused(&self.name, self.started, &"a reply to another request");
                    continue;
                }
                Err(e) => {
                    self.counters.refused(&self.name, self.started, &e);
                    continue;
                }
            };
            if header.flags & FLAG_END != 0 {
                return Outcome::Done;
            }
            if header.layout_hash != self.response_hash {
                self.counters
                    .refused(&self.name, self.started, &"a response of another type");
                continue;
            }
            // respond_bytes checks the size and every value against the response type.
            match request.respond_bytes(&sample.payload().to_bytes()) {
                Ok(()) => self.counters.delivered(),
                Err(shmbus::port::RespondError::Invalid(e)) => {
                    self.counters.refused(&self.name, self.started, &e)
                }
                // The client left: nothing more to do for it.
                Err(_) => {
                    let _ = self
                        .session
                        .put(&self.cancel_key, id.to_le_bytes().to_vec())
                        .wait();
                    return Outcome::Done;
                }
            }
        }
    }
}
