//! The `record` scenario: can `shmbus record` keep up with a fast publisher on this
//! machine? A peer process publishes at a fixed rate for a fixed time; this process
//! records the service into an MCAP file with the recorder's library (its two threads).
//! Nothing is pinned: publisher and recorder share the two cores as the scheduler sees
//! fit, as they would in use.
//! Compared with the floor of writing the same stream to a file at all: a plain subscriber
//! that appends each sample's bytes to a buffered file (no transcoding, no MCAP, no
//! compression).

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use shmbus::service::qos::OverflowPolicy;
use shmbus::{Node, Service};
use shmbus_record::{RecordOptions, Recorder};

use crate::links::Error;

/// One case: a message size and a rate, and what the body holds.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Bytes per message.
    pub size: usize,
    /// Messages per second.
    pub rate: u64,
    /// The body is pseudo-random bytes, new in every message (zstd cannot shrink it: the
    /// worst case for the recorder); otherwise only the first and last words change.
    pub random: bool,
}

impl Case {
    /// Its name in tables.
    pub fn name(&self) -> String {
        let size = crate::stats::size_name(self.size);
        let rate = if self.rate >= 1000 {
            format!("{} kHz", self.rate / 1000)
        } else {
            format!("{} Hz", self.rate)
        };
        let body = if self.size > 8 {
            if self.random {
                ", random body"
            } else {
                ", constant body"
            }
        } else {
            ""
        };
        format!("{size} @ {rate}{body}")
    }

    /// The subscriber buffer the service gets: about 40 ms of messages, at most 64 MiB.
    pub fn buffer(&self) -> u32 {
        let by_time = (self.rate / 25).max(16);
        let by_memory = ((64usize << 20) / self.size).max(16) as u64;
        by_time.min(by_memory).min(4096) as u32
    }
}

/// Who takes the stream in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// `shmbus record`'s library, zstd chunks (the default).
    RecordZstd,
    /// The same, chunks uncompressed.
    RecordPlain,
    /// A subscriber appending each sample's bytes to a buffered file.
    RawDump,
}

impl Sink {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Sink::RecordZstd => "shmbus",
            Sink::RecordPlain => "shmbus (uncompressed)",
            Sink::RawDump => "raw file floor",
        }
    }
}

/// What one measurement found.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Messages the peer published.
    pub sent: u64,
    /// Messages in the file.
    pub written: u64,
    /// Messages the sink's subscriber lost (overwritten before it took them).
    pub missed: u64,
    /// Message bytes taken in (CDR for the recorder, the fixed layout for the floor).
    pub bytes: u64,
    /// Size of the file.
    pub file_bytes: u64,
    /// How long the peer published.
    pub publishing: Duration,
    /// CPU time the sink used (this process, every thread).
    pub cpu: Duration,
}

/// Records the service `name` of `domain` into a file while `publish` runs (it starts the
/// peer and returns when the peer is done, with how many it sent and for how long).
pub fn measure(
    node: &Node,
    name: &str,
    case: Case,
    sink: Sink,
    publish: impl FnOnce() -> Result<(u64, Duration), Error> + Send,
) -> Result<Outcome, Error> {
    let service = Service::raw_publish_subscribe(node, name)
        .message_type(descriptor(case.size))
        .subscriber_buffer(case.buffer())
        .max_publishers(1)
        .max_subscribers(1)
        .overflow(OverflowPolicy::OverwriteOldest)
        .create()?;
    let file = std::env::temp_dir().join(format!(
        "shmbus-bench-record-{}-{name}.mcap",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&file);
    let _cleanup = RemoveOnDrop(file.clone());
    let cpu = crate::raw::process_cpu();
    let mut outcome = match sink {
        Sink::RecordZstd | Sink::RecordPlain => {
            let recorder = Recorder::create(
                node,
                &file,
                RecordOptions {
                    compress: sink == Sink::RecordZstd,
                    ..RecordOptions::services([name])
                },
            )?;
            let stop = recorder.stop_handle();
            let ((sent, publishing), report) = std::thread::scope(|s| {
                let peer = s.spawn(move || {
                    let result = publish();
                    stop.stop();
                    result
                });
                let report = recorder.run(|_| {});
                let published = peer.join().map_err(|_| "the publishing thread died")?;
                Ok::<_, Error>((published?, report?))
            })?;
            Outcome {
                sent,
                written: report.messages,
                missed: report.missed,
                bytes: report.channels.iter().map(|c| c.bytes).sum(),
                file_bytes: report.file_bytes,
                publishing,
                cpu: Duration::ZERO,
            }
        }
        Sink::RawDump => {
            let subscriber = service.subscriber().create()?;
            let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&file)?);
            let done = std::sync::atomic::AtomicBool::new(false);
            let (published, written, bytes) = std::thread::scope(|s| {
                let peer = s.spawn(|| {
                    let result = publish();
                    done.store(true, std::sync::atomic::Ordering::Relaxed);
                    result
                });
                let (mut written, mut bytes) = (0u64, 0u64);
                loop {
                    match subscriber.receive_timeout(Duration::from_millis(10))? {
                        Some(sample) => {
                            out.write_all(sample.bytes())?;
                            written += 1;
                            bytes += sample.bytes().len() as u64;
                        }
                        None if done.load(std::sync::atomic::Ordering::Relaxed) => break,
                        None => {}
                    }
                }
                out.flush()?;
                let published = peer.join().map_err(|_| "the publishing thread died")?;
                Ok::<_, Error>((published?, written, bytes))
            })?;
            let (sent, publishing) = published;
            Outcome {
                sent,
                written,
                missed: subscriber.missed(),
                bytes,
                file_bytes: std::fs::metadata(&file)?.len(),
                publishing,
                cpu: Duration::ZERO,
            }
        }
    };
    outcome.cpu = crate::raw::process_cpu().saturating_sub(cpu);
    Ok(outcome)
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The message type of `size` bytes: a sequence number, the body, the sequence again.
pub fn descriptor(size: usize) -> shmbus::Descriptor {
    match size {
        8 => shmbus::Descriptor::of::<crate::msg::Word>(),
        1024 => shmbus::Descriptor::of::<crate::msg::K1>(),
        65536 => shmbus::Descriptor::of::<crate::msg::K64>(),
        1048576 => shmbus::Descriptor::of::<crate::msg::M1>(),
        _ => shmbus::Descriptor::of::<crate::msg::M16>(),
    }
}

/// The peer: publishes `case` on `name` for `duration`, paced in bursts (the schedule is
/// caught up every 100 µs: a sleep per message would cost more than 10 µs), once the
/// sink's subscriber is there. Prints how many it sent and for how long.
pub fn publish(node: &Node, name: &str, case: Case, duration: Duration) -> Result<(), Error> {
    let service = Service::raw_publish_subscribe(node, name).open()?;
    let publisher = service.publisher().create()?;
    let guard = Instant::now() + Duration::from_secs(30);
    while publisher.subscriber_count() == 0 {
        if Instant::now() > guard {
            return Err("the sink never subscribed".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let total = (case.rate as f64 * duration.as_secs_f64()) as u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = ((start.elapsed().as_secs_f64() * case.rate as f64) as u64).min(total);
        while sent < due {
            let mut sample = publisher.loan()?;
            let bytes = sample.bytes_mut();
            let len = bytes.len();
            if case.random {
                for word in bytes[8..len - 8].chunks_exact_mut(8) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    word.copy_from_slice(&rng.to_ne_bytes());
                }
            }
            bytes[..8].copy_from_slice(&sent.to_ne_bytes());
            bytes[len - 8..].copy_from_slice(&sent.to_ne_bytes());
            sample.send()?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    println!("{sent} {}", start.elapsed().as_nanos());
    Ok(())
}
