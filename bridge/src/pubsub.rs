//! Publish-subscribe across the bridge: an export forwards a local service's samples to
//! Zenoh, an import publishes a remote service's samples locally.
//!
//! History crosses too: an export keeps the last `history` samples it put (the service's
//! QoS) and answers them on `P/history/ps/<name>`; an import asks for them once, after its
//! subscriber is declared, and publishes them before the samples that arrived meanwhile,
//! so a bridge that starts late gives its local subscribers what one host would.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shmbus::Service;
use shmbus::port::{RawPublisher, ReceiveError, SharedRawSubscriber};
use shmbus::service::PubSubQos;
use zenoh::Wait;
use zenoh::bytes::ZBytes;
use zenoh::qos::CongestionControl;
use zenoh::query::ConsolidationMode;

use crate::wire::{Announcement, SampleHeader};
use crate::{BridgeError, Counters, Ctx, Kind, Link, open_or_create, zenoh_error};

/// The last samples an export put on Zenoh, for importers that start later.
struct Kept {
    depth: usize,
    samples: Mutex<VecDeque<(SampleHeader, ZBytes)>>,
}

impl Kept {
    /// Keeps a copy of `bytes` (the put itself is the publisher's chunk, which must go
    /// back to it: history kept in place would hold `max_borrowed` chunks at once).
    fn keep(&self, header: SampleHeader, bytes: &[u8]) {
        if self.depth == 0 {
            return;
        }
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() == self.depth {
            samples.pop_front();
        }
        samples.push_back((header, ZBytes::from(bytes.to_vec())));
    }

    fn snapshot(&self) -> Vec<(SampleHeader, ZBytes)> {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.iter().cloned().collect()
    }
}

/// Exports local service `name`: a byte-level subscriber, a thread that puts each sample
/// on Zenoh, the history queryable, the announcement and the liveliness token.
pub(crate) fn export(ctx: &Ctx<'_>, name: &str, qos: &PubSubQos) -> Result<Link, BridgeError> {
    let fail = |e: &dyn std::fmt::Display| BridgeError::service(name, e);
    let service = Service::raw_publish_subscribe(ctx.node, name)
        .open()
        .map_err(|e| fail(&e))?;
    // Shared: each sample goes to Zenoh in place, and its chunk back to the publisher
    // when Zenoh drops it.
    let subscriber = service
        .subscriber()
        .create()
        .map_err(|e| fail(&e))?
        .into_shared();
    let message = service.message_type().clone();
    let layout_hash = message.layout_hash();
    let kept = Arc::new(Kept {
        depth: qos.history as usize,
        samples: Mutex::new(VecDeque::new()),
    });
    // Declared before the announcement: an importer that reacts to the token finds it.
    // (Without history there is nothing to answer, and importers do not ask.)
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    if kept.depth > 0 {
        let kept = Arc::clone(&kept);
        let history = ctx
            .session
            .declare_queryable(ctx.key(&["history", "ps", name]))
            .callback(move |query| {
                for (header, payload) in kept.snapshot() {
                    let key = query.key_expr().clone();
                    if let Err(error) = query
                        .reply(key, payload)
                        .attachment(header.encode().to_vec())
                        .wait()
                    {
                        tracing::debug!(%error, "a history reply failed");
                        return;
                    }
                }
            })
            .wait()
            .map_err(zenoh_error(format!("declaring {name}'s history")))?;
        held.push(Box::new(history));
    }
    held.extend(ctx.announce(
        Kind::PublishSubscribe,
        name,
        &Announcement::PublishSubscribe {
            message,
            history: qos.history,
            subscriber_buffer: qos.subscriber_buffer,
            overflow: qos.overflow,
        },
    )?);
    let publisher = ctx
        .session
        .declare_publisher(ctx.key(&["ps", name]))
        .congestion_control(CongestionControl::Block)
        .wait()
        .map_err(zenoh_error(format!("declaring {name}'s publisher")))?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = Arc::clone(&stop);
        let proxies = Arc::clone(ctx.proxies);
        let counters = Arc::clone(&ctx.counters);
        let name = name.to_owned();
        std::thread::Builder::new()
            .name(format!("export {name}"))
            .spawn(move || {
                let export = Export {
                    subscriber: &subscriber,
                    publisher: &publisher,
                    kept: &kept,
                    proxies: &proxies,
                    counters: &counters,
                    layout_hash,
                    name: &name,
                };
                export.forward(&stop);
            })
            .map_err(|e| fail(&e))?
    };
    held.push(Box::new(service));
    Ok(Link {
        stop,
        threads: vec![thread],
        held,
        proxies: Vec::new(),
    })
}

/// What an export's thread works with.
struct Export<'a> {
    subscriber: &'a SharedRawSubscriber,
    publisher: &'a zenoh::pubsub::Publisher<'static>,
    kept: &'a Kept,
    proxies: &'a Mutex<HashSet<u64>>,
    counters: &'a Counters,
    layout_hash: u64,
    name: &'a str,
}

impl Export<'_> {
    /// Every sample of the local service goes on Zenoh with its header, except those of
    /// the bridge's own proxies, until `stop`.
    fn forward(&self, stop: &AtomicBool) {
        let name = self.name;
        while !stop.load(Ordering::Acquire) {
            let taken = match self.subscriber.receive() {
                Ok(None) => {
                    // Dry: our puts have just woken Zenoh's sending thread, which this
                    // yield lets run (the wait below yields once more, to a publisher on
                    // this core, before it sleeps). Without it the publisher, the bridge
                    // and Zenoh took turns one sample at a time: 0.3x plain Zenoh's rate
                    // for 8-byte samples instead of 1.0x (benchmarks/README.md, bridge).
                    std::thread::yield_now();
                    self.subscriber.receive_timeout(Duration::from_millis(100))
                }
                other => other,
            };
            let sample = match taken {
                Ok(Some(sample)) => sample,
                Ok(None) => continue,
                // Zenoh still holds the samples put before (it drops them when a put
                // returns, but nothing promises that).
                Err(ReceiveError::TooManyBorrowed { .. }) => {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                Err(error) => {
                    tracing::warn!(service = %name, %error, "a local sample could not be taken");
                    continue;
                }
            };
            if self
                .proxies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&sample.publisher_id())
            {
                continue;
            }
            let header = SampleHeader {
                flags: 0,
                sequence: sample.sequence(),
                timestamp_ns: sample.timestamp_ns().unwrap_or(0),
                layout_hash: self.layout_hash,
            };
            self.kept.keep(header, sample.bytes());
            // No copy: Zenoh reads the publisher's chunk, which goes back when the last
            // reference to the payload drops.
            let payload = ZBytes::from(bytes::Bytes::from_owner(sample));
            match self
                .publisher
                .put(payload)
                .attachment(header.encode().to_vec())
                .wait()
            {
                Ok(()) => self.counters.sent(),
                Err(error) => {
                    tracing::warn!(service = %name, %error, "a sample could not be put on zenoh")
                }
            }
        }
    }
}

/// Live samples an import holds while it fetches the history, at most (the oldest go).
const WAITING_MAX: usize = 4096;

/// An import's proxy publisher, and while the history is fetched, the live samples that
/// must wait for it.
struct Proxy {
    publisher: RawPublisher,
    waiting: Option<VecDeque<(SampleHeader, Vec<u8>)>>,
}

/// What an import checks samples with and counts them in.
struct Inbound {
    counters: Arc<Counters>,
    started: std::time::Instant,
    service: String,
    layout_hash: u64,
}

impl Inbound {
    fn refused(&self, why: &dyn std::fmt::Display) {
        self.counters.refused(&self.service, self.started, why);
    }

    /// The header of a Zenoh sample, if it is one of this service's type.
    fn header(&self, sample: &zenoh::sample::Sample) -> Option<SampleHeader> {
        let header = match SampleHeader::of(sample.attachment()) {
            Ok(h) => h,
            Err(e) => {
                self.refused(&e);
                return None;
            }
        };
        if header.layout_hash != self.layout_hash {
            self.refused(&format_args!(
                "layout hash {:#x}, the service's is {:#x}",
                header.layout_hash, self.layout_hash
            ));
            return None;
        }
        Some(header)
    }

    /// Publishes bytes (in fragments, `len` in all) through the proxy: written once into a
    /// loaned chunk, then `send` checks every value before anyone sees them.
    fn publish<'a>(
        &self,
        publisher: &RawPublisher,
        fragments: impl Iterator<Item = &'a [u8]>,
        len: usize,
    ) {
        let mut loaned = match publisher.loan() {
            Ok(loaned) => loaned,
            Err(e) => return self.refused(&e),
        };
        let out = loaned.bytes_mut();
        if len != out.len() {
            return self.refused(&format_args!("{len} bytes, the type has {}", out.len()));
        }
        let mut at = 0;
        for fragment in fragments {
            out[at..at + fragment.len()].copy_from_slice(fragment);
            at += fragment.len();
        }
        match loaned.send() {
            Ok(_) => self.counters.delivered(),
            Err(e) => self.refused(&e),
        }
    }
}

/// Imports remote service `name`: the local service (opened, or created with the
/// announced type and QoS), a proxy publisher, a Zenoh subscriber that checks each
/// sample and publishes it, and the history the exporter kept.
pub(crate) fn import(
    ctx: &Ctx<'_>,
    name: &str,
    announcement: Announcement,
) -> Result<Link, BridgeError> {
    let fail = |e: &dyn std::fmt::Display| BridgeError::service(name, e);
    let Announcement::PublishSubscribe {
        message,
        history,
        subscriber_buffer,
        overflow,
    } = announcement
    else {
        return Err(fail(&"not a publish-subscribe service"));
    };
    let qos = PubSubQos {
        history,
        subscriber_buffer,
        overflow,
        ..PubSubQos::default()
    };
    let service = open_or_create(
        name,
        || {
            Service::raw_publish_subscribe(ctx.node, name)
                .message_type(message.clone())
                .open()
        },
        || {
            Service::raw_publish_subscribe(ctx.node, name)
                .message_type(message.clone())
                .qos(qos)
                .create()
        },
    )?;
    let publisher = service.publisher().create().map_err(|e| fail(&e))?;
    let publisher_id = publisher.id();
    let inbound = Arc::new(Inbound {
        counters: Arc::clone(&ctx.counters),
        started: ctx.started,
        service: name.to_owned(),
        layout_hash: message.layout_hash(),
    });
    // The callback runs on Zenoh's threads; the port is Send, not Sync.
    let proxy = Arc::new(Mutex::new(Proxy {
        publisher,
        waiting: (history > 0).then(VecDeque::new),
    }));
    let subscriber = {
        let (inbound, proxy) = (Arc::clone(&inbound), Arc::clone(&proxy));
        ctx.session
            .declare_subscriber(ctx.key(&["ps", name]))
            .callback(move |sample| {
                let Some(header) = inbound.header(&sample) else {
                    return;
                };
                let payload = sample.payload();
                let mut proxy = proxy.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(waiting) = proxy.waiting.as_mut() {
                    if waiting.len() == WAITING_MAX {
                        waiting.pop_front();
                    }
                    waiting.push_back((header, payload.to_bytes().into_owned()));
                    return;
                }
                inbound.publish(&proxy.publisher, payload.slices(), payload.len());
            })
            .wait()
            .map_err(zenoh_error(format!("subscribing to {name}")))?
    };
    if history > 0 {
        catch_up(ctx, name, &inbound, &proxy);
    }
    // A vector drops in order: the subscriber, and with it the proxy publisher its
    // callback owns, before the service handle.
    Ok(Link {
        stop: Arc::new(AtomicBool::new(false)),
        threads: Vec::new(),
        held: vec![Box::new(subscriber), Box::new(proxy), Box::new(service)],
        proxies: vec![publisher_id],
    })
}

/// Fetches the history the exporter kept and publishes it, then the live samples that
/// arrived meanwhile (those also in the history once); from then on the subscriber
/// publishes directly.
fn catch_up(ctx: &Ctx<'_>, name: &str, inbound: &Inbound, proxy: &Mutex<Proxy>) {
    let mut old = Vec::new();
    match ctx
        .session
        .get(ctx.key(&["history", "ps", name]))
        // Every reply has the same key: keep them all, in order.
        .consolidation(ConsolidationMode::None)
        .timeout(Duration::from_secs(5))
        .wait()
    {
        Ok(replies) => {
            while let Ok(reply) = replies.recv() {
                if let Ok(sample) = reply.result()
                    && let Some(header) = inbound.header(sample)
                {
                    old.push((header, sample.payload().to_bytes().into_owned()));
                }
            }
        }
        Err(error) => tracing::warn!(service = %name, %error, "cannot ask for the history"),
    }
    let mut proxy = proxy.lock().unwrap_or_else(|p| p.into_inner());
    let waiting = proxy.waiting.take().unwrap_or_default();
    let fresh = old.len();
    let older = old
        .iter()
        .filter(|(h, b)| !waiting.iter().any(|(wh, wb)| wh == h && wb == b));
    for (_, bytes) in older.chain(waiting.iter()) {
        inbound.publish(
            &proxy.publisher,
            std::iter::once(bytes.as_slice()),
            bytes.len(),
        );
    }
    tracing::debug!(service = %name, history = fresh, "history fetched");
}
