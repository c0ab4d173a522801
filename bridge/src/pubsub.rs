//! Publish-subscribe across the bridge: an export forwards a local service's samples to
//! Zenoh, an import publishes a remote service's samples locally.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shmbus::Service;
use shmbus::port::RawSubscriber;
use shmbus::service::PubSubQos;
use zenoh::Wait;
use zenoh::qos::CongestionControl;

use crate::wire::{Announcement, SampleHeader};
use crate::{BridgeError, Counters, Ctx, Kind, Link, open_or_create, zenoh_error};

/// Exports local service `name`: a byte-level subscriber, a thread that puts each sample
/// on Zenoh, the announcement and the liveliness token.
pub(crate) fn export(ctx: &Ctx<'_>, name: &str, qos: &PubSubQos) -> Result<Link, BridgeError> {
    let fail = |e: &dyn std::fmt::Display| BridgeError::service(name, e);
    let service = Service::raw_publish_subscribe(ctx.node, name)
        .open()
        .map_err(|e| fail(&e))?;
    let subscriber = service.subscriber().create().map_err(|e| fail(&e))?;
    let message = service.message_type().clone();
    let layout_hash = message.layout_hash();
    let mut held = ctx.announce(
        Kind::PublishSubscribe,
        name,
        &Announcement::PublishSubscribe {
            message,
            history: qos.history,
            subscriber_buffer: qos.subscriber_buffer,
            overflow: qos.overflow,
        },
    )?;
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
                forward(
                    &subscriber,
                    &publisher,
                    &stop,
                    &proxies,
                    &counters,
                    layout_hash,
                    &name,
                );
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

/// An export's loop: every sample of the local service goes on Zenoh with its header,
/// except those of the bridge's own proxies.
fn forward(
    subscriber: &RawSubscriber,
    publisher: &zenoh::pubsub::Publisher<'static>,
    stop: &AtomicBool,
    proxies: &Mutex<HashSet<u64>>,
    counters: &Counters,
    layout_hash: u64,
    name: &str,
) {
    while !stop.load(Ordering::Acquire) {
        let taken = match subscriber.receive() {
            Ok(None) => {
                // Dry: our puts have just woken Zenoh's sending thread, which this yield
                // lets run (the wait below yields once more, to a publisher on this core,
                // before it sleeps). Without it the publisher, the bridge and Zenoh took
                // turns one sample at a time: 0.3x plain Zenoh's rate for 8-byte samples
                // instead of 1.0x (benchmarks/README.md, bridge).
                std::thread::yield_now();
                subscriber.receive_timeout(Duration::from_millis(100))
            }
            other => other,
        };
        let sample = match taken {
            Ok(Some(sample)) => sample,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(service = %name, %error, "a local sample could not be taken");
                continue;
            }
        };
        if proxies
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
            layout_hash,
        };
        match publisher
            .put(sample.bytes().to_vec())
            .attachment(header.encode().to_vec())
            .wait()
        {
            Ok(()) => counters.sent(),
            Err(error) => {
                tracing::warn!(service = %name, %error, "a sample could not be put on zenoh")
            }
        }
    }
}

/// Imports remote service `name`: the local service (opened, or created with the
/// announced type and QoS), a proxy publisher, and a Zenoh subscriber that checks each
/// sample and publishes it.
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
    let layout_hash = message.layout_hash();
    let counters = Arc::clone(&ctx.counters);
    let started = ctx.started;
    let service_name = name.to_owned();
    // The callback runs on Zenoh's threads; the port is Send, not Sync.
    let publisher = Mutex::new(publisher);
    let subscriber = ctx
        .session
        .declare_subscriber(ctx.key(&["ps", name]))
        .callback(move |sample| {
            let refused =
                |why: &dyn std::fmt::Display| counters.refused(&service_name, started, why);
            let header = match sample
                .attachment()
                .map(|a| SampleHeader::decode(&a.to_bytes()))
            {
                Some(Ok(h)) => h,
                Some(Err(e)) => return refused(&e),
                None => return refused(&"no header"),
            };
            if header.layout_hash != layout_hash {
                return refused(&format_args!(
                    "layout hash {:#x}, the service's is {layout_hash:#x}",
                    header.layout_hash
                ));
            }
            let payload = sample.payload();
            let publisher = publisher.lock().unwrap_or_else(|p| p.into_inner());
            let mut loaned = match publisher.loan() {
                Ok(loaned) => loaned,
                Err(e) => return refused(&e),
            };
            let out = loaned.bytes_mut();
            if payload.len() != out.len() {
                return refused(&format_args!(
                    "{} bytes, the type has {}",
                    payload.len(),
                    out.len()
                ));
            }
            // The received fragments straight into the chunk: one copy, however large.
            let mut at = 0;
            for slice in payload.slices() {
                out[at..at + slice.len()].copy_from_slice(slice);
                at += slice.len();
            }
            // send checks every value against the type before anyone sees the bytes.
            match loaned.send() {
                Ok(_) => counters.delivered(),
                Err(e) => refused(&e),
            }
        })
        .wait()
        .map_err(zenoh_error(format!("subscribing to {name}")))?;
    // A vector drops in order: the subscriber, and with it the proxy publisher its
    // callback owns, before the service handle.
    Ok(Link {
        stop: Arc::new(AtomicBool::new(false)),
        threads: Vec::new(),
        held: vec![Box::new(subscriber), Box::new(service)],
        proxies: vec![publisher_id],
    })
}
