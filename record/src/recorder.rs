//! Recording services into an MCAP file.
//!
//! Two threads. The caller's thread runs [`Recorder::run`]: it finds the services (again
//! every `discovery_interval` when patterns may match services that appear later), holds
//! a byte-level subscriber for each publish-subscribe service and a monitor for each
//! request-response service, and takes every sample out of shared memory as soon as it
//! comes, transcoding it to CDR straight from the publisher's chunk into a batch — one
//! copy, and the chunk goes back at once. Full batches go to the writer thread, which
//! owns the `mcap` writer: it adds schemas and channels, writes the messages, closes a
//! chunk (zstd-compressed, indexed) every [`CHUNK_SIZE`] bytes and every
//! `flush_interval`, and writes the summary when the recording ends. Batches travel back
//! to be reused, so the receive path allocates nothing once warm.
//!
//! What the recorder cannot take in time is lost in shared memory, not in the recorder:
//! a subscriber's buffer overflows and its `missed` count says how much; that count is in
//! the report. A recording that is killed keeps everything up to its last closed chunk
//! (at most `flush_interval` old).

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use shmbus::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcap::records::{MessageHeader, Metadata};
use mcap::{Compression, WriteOptions};
use shmbus::message::Descriptor;
use shmbus::message::dynamic::EncodeError;
use shmbus::node::Node;
use shmbus::os::process::monotonic_ns;
use shmbus::port::{Direction, MonitorCreateError, RawMonitor, SubscriberCreateError, WaitError};
use shmbus::service::{DiscoveryError, Pattern, ServiceOpenError};
use shmbus::{RawSubscriber, Service, WaitSet};

use crate::format::{self, Role, ServiceSpec};
use crate::idl::idl_of;
use crate::stop::StopHandle;
use shmbus::service::ServicePattern;

/// Uncompressed bytes of messages per chunk: a chunk is closed (compressed and indexed)
/// once it holds this much.
pub const CHUNK_SIZE: usize = 4 << 20;

/// How a recording runs.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The services to record: names, or glob patterns ([`ServicePattern`]) that also take
    /// in services appearing while the recording runs.
    pub services: Vec<ServicePattern>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop before the messages would take the file past this many bytes (the summary
    /// written at the end, about 100 bytes per chunk, comes on top).
    pub max_size: Option<u64>,
    /// Close a chunk at least this often, so that a recording that is killed loses at most
    /// this much (default 1 s).
    pub flush_interval: Duration,
    /// Look for new services this often, when a pattern may match them (default 1 s).
    pub discovery_interval: Duration,
    /// Compress the chunks with zstd (default on).
    pub compress: bool,
    /// Replace the file if it exists (default: refuse).
    pub overwrite: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            services: Vec::new(),
            duration: None,
            max_size: None,
            flush_interval: Duration::from_secs(1),
            discovery_interval: Duration::from_secs(1),
            compress: true,
            overwrite: false,
        }
    }
}

impl RecordOptions {
    /// Records the services that `patterns` name or match.
    pub fn services<P: Into<String>>(patterns: impl IntoIterator<Item = P>) -> Self {
        Self {
            services: patterns.into_iter().map(ServicePattern::new).collect(),
            ..Self::default()
        }
    }

    /// Records every service of the domain, also those that appear while it runs.
    pub fn all() -> Self {
        Self {
            services: vec![ServicePattern::everything()],
            ..Self::default()
        }
    }
}

/// Failure of recording.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// No service was asked for.
    #[error("nothing to record: name services or glob patterns, or record every service")]
    NothingToRecord,
    /// The file exists.
    #[error("{} exists; choose another file, or allow overwriting it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The file cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing the file failed (disk full, I/O error).
    #[error("writing {} failed: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: mcap::McapError,
    },
    /// The writer thread ended without a word (it panicked).
    #[error("the thread writing {} stopped unexpectedly; the file may lack its summary (`mcap recover` repairs it)", path.display())]
    WriterLost {
        /// The file.
        path: PathBuf,
    },
    /// The domain's services cannot be listed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// A service that was asked for by name cannot be opened.
    #[error("cannot record service {service:?}: {source}")]
    Open {
        /// The service.
        service: String,
        /// The cause.
        source: Box<ServiceOpenError>,
    },
    /// A service has no room for the recorder's subscriber.
    #[error("cannot record service {service:?}: {source}")]
    Subscribe {
        /// The service.
        service: String,
        /// The cause.
        source: SubscriberCreateError,
    },
    /// A request-response service has no room for the recorder's monitor.
    #[error("cannot record service {service:?}: {source}")]
    Monitor {
        /// The service.
        service: String,
        /// The cause.
        source: MonitorCreateError,
    },
    /// A service's type cannot be described in the file.
    #[error("cannot record service {service:?}: its type cannot be encoded: {source}")]
    Describe {
        /// The service.
        service: String,
        /// The cause.
        source: EncodeError,
    },
    /// Waiting for messages failed.
    #[error("waiting for messages failed: {0}")]
    Wait(WaitError),
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C or SIGTERM (with the node's signal handling on).
    Signal,
    /// The duration passed.
    Duration,
    /// The file reached its maximum size.
    MaxSize,
    /// [`StopHandle::stop`] was called.
    Requested,
}

impl StopReason {
    /// The reason in words.
    pub fn text(self) -> &'static str {
        match self {
            StopReason::Signal => "interrupted",
            StopReason::Duration => "duration reached",
            StopReason::MaxSize => "maximum size reached",
            StopReason::Requested => "stopped",
        }
    }
}

/// One channel of the recording, and what went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelReport {
    /// Its topic.
    pub topic: String,
    /// The service.
    pub service: String,
    /// Its role.
    pub role: Role,
    /// The schema's name (`module::Type`).
    pub schema: String,
    /// Messages written (while recording: received).
    pub messages: u64,
    /// CDR bytes written (before compression; while recording: received).
    pub bytes: u64,
    /// Messages lost because the recorder fell behind (its subscriber's or monitor's
    /// buffer overflowed). For a monitor, shared by its two channels and counted on the
    /// request channel.
    pub missed: u64,
    /// Messages that did not validate against their type and were left out.
    pub invalid: u64,
}

/// How a recording is going, given to the progress callback about twice a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProgress {
    /// Time since the recording started.
    pub elapsed: Duration,
    /// Messages recorded.
    pub messages: u64,
    /// CDR bytes recorded (before compression).
    pub bytes: u64,
    /// Bytes in the file so far.
    pub file_bytes: u64,
    /// Messages lost so far.
    pub missed: u64,
    /// Channels in the file.
    pub channels: usize,
    /// Names asked for that no service has yet.
    pub waiting_for: Vec<String>,
}

/// What a recording wrote.
#[derive(Debug, Clone)]
pub struct RecordReport {
    /// The file.
    pub path: PathBuf,
    /// Why it ended.
    pub stopped: StopReason,
    /// How long it ran.
    pub elapsed: Duration,
    /// Messages written.
    pub messages: u64,
    /// Size of the file.
    pub file_bytes: u64,
    /// Messages lost because the recorder fell behind.
    pub missed: u64,
    /// Each channel.
    pub channels: Vec<ChannelReport>,
    /// Names asked for that no service had.
    pub never_found: Vec<String>,
    /// Services that matched a pattern but could not be recorded, and why.
    pub warnings: Vec<String>,
}

/// Records services into an MCAP file (see the [module docs](self)).
#[derive(Debug)]
pub struct Recorder {
    node: Node,
    path: PathBuf,
    options: RecordOptions,
    stop: StopHandle,
    writer: WriterHandle,
    sources: Vec<Source>,
    channels: Vec<ChannelReport>,
    joined: HashSet<(String, Pattern)>,
    /// Services that failed to join, not tried again.
    refused: HashSet<(String, Pattern)>,
    warnings: Vec<String>,
    /// Added to `CLOCK_MONOTONIC` nanoseconds, gives nanoseconds since the UNIX epoch.
    realtime_offset: u64,
    batch: Batch,
    spare: Receiver<Batch>,
}

impl Recorder {
    /// Creates the file (refusing an existing one unless `options.overwrite`), writes its
    /// header, and joins the services that exist and match. Named services that do not
    /// exist yet are waited for; one that exists but cannot be joined is an error.
    pub fn create(
        node: &Node,
        path: impl AsRef<Path>,
        options: RecordOptions,
    ) -> Result<Self, RecordError> {
        if options.services.is_empty() {
            return Err(RecordError::NothingToRecord);
        }
        let path = path.as_ref().to_path_buf();
        let file = create_file(&path, options.overwrite)?;
        let realtime_offset = realtime_ns().saturating_sub(monotonic_ns());
        let (spare_tx, spare) = mpsc::channel();
        let writer = WriterHandle::start(
            file,
            path.clone(),
            WriterSettings {
                compress: options.compress,
                flush_interval: options.flush_interval,
                max_size: options.max_size,
            },
            spare_tx,
            recording_metadata(node, &options, realtime_offset),
        )?;
        let mut recorder = Self {
            node: node.clone(),
            path,
            options,
            stop: StopHandle::default(),
            writer,
            sources: Vec::new(),
            channels: Vec::new(),
            joined: HashSet::new(),
            refused: HashSet::new(),
            warnings: Vec::new(),
            realtime_offset,
            batch: Batch::default(),
            spare,
        };
        recorder.discover(true)?;
        Ok(recorder)
    }

    /// A handle that ends the recording from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records until Ctrl-C (with the node's signal handling on), the duration, the
    /// maximum size or [`StopHandle::stop`]; then closes the file with its summary and
    /// reports. `progress` is called about twice a second.
    pub fn run(
        mut self,
        mut progress: impl FnMut(&RecordProgress),
    ) -> Result<RecordReport, RecordError> {
        let started = Instant::now();
        let deadline = self.options.duration.map(|d| started + d);
        let may_grow =
            self.options.services.iter().any(|p| !p.is_name()) || !self.waiting_for().is_empty();
        let mut next_discovery = started + self.options.discovery_interval;
        let mut next_progress = started;
        let stopped = loop {
            let now = Instant::now();
            if self.stop.requested() {
                break StopReason::Requested;
            }
            if self.writer.shared.full.load(Ordering::Relaxed) {
                break StopReason::MaxSize;
            }
            if deadline.is_some_and(|d| now >= d) {
                break StopReason::Duration;
            }
            if self.writer.is_gone() {
                break StopReason::Requested; // `finish` reports the writer's error
            }
            if now >= next_progress {
                progress(&self.progress(started));
                next_progress = now + Duration::from_millis(500);
            }
            if may_grow && now >= next_discovery {
                self.discover(false)?;
                next_discovery = now + self.options.discovery_interval;
            }
            if self.drain_all() {
                continue;
            }
            self.send_batch();
            let mut until = next_progress;
            if may_grow {
                until = until.min(next_discovery);
            }
            if let Some(d) = deadline {
                until = until.min(d);
            }
            match self.wait(until.saturating_duration_since(Instant::now())) {
                Ok(()) => {}
                Err(WaitError::Terminated(_)) => break StopReason::Signal,
                Err(error) => return Err(RecordError::Wait(error)),
            }
        };
        // What arrived before the end is recorded (at most one buffer's worth per port).
        if stopped != StopReason::MaxSize {
            while self.drain_all() {}
        }
        self.send_batch();
        self.finish(started, stopped)
    }

    fn progress(&self, started: Instant) -> RecordProgress {
        RecordProgress {
            elapsed: started.elapsed(),
            messages: self.channels.iter().map(|c| c.messages).sum(),
            bytes: self.channels.iter().map(|c| c.bytes).sum(),
            file_bytes: self.writer.shared.file_bytes.load(Ordering::Relaxed),
            missed: self.missed_now(),
            channels: self.channels.len(),
            waiting_for: self.waiting_for(),
        }
    }

    fn missed_now(&self) -> u64 {
        self.sources.iter().map(|s| s.port.missed()).sum()
    }

    fn waiting_for(&self) -> Vec<String> {
        self.options
            .services
            .iter()
            .filter(|p| p.is_name() && !self.joined.iter().any(|(name, _)| name == p.as_str()))
            .map(|p| p.as_str().to_owned())
            .collect()
    }

    /// Joins the services that match and are not recorded yet. At the start, a service
    /// asked for by name that cannot be joined is an error; otherwise a warning.
    fn discover(&mut self, at_start: bool) -> Result<(), RecordError> {
        let found = Service::list(self.node.config())?;
        for info in found {
            let info = match info {
                Ok(info) => info,
                Err(error) => {
                    let key = (error.service.clone(), Pattern::PublishSubscribe);
                    if self.refused.insert(key) {
                        self.warn(error.to_string());
                    }
                    continue;
                }
            };
            let name = info.name.as_str().to_owned();
            let key = (name.clone(), info.pattern);
            if self.joined.contains(&key) || self.refused.contains(&key) {
                continue;
            }
            let Some(pattern) = self.options.services.iter().find(|p| p.matches(&name)) else {
                continue;
            };
            let by_name = pattern.is_name();
            match self.join(&name, info.pattern) {
                Ok(()) => {
                    self.joined.insert(key);
                }
                // Gone between the listing and the opening: look again next time.
                Err(RecordError::Open { source, .. })
                    if matches!(*source, ServiceOpenError::NotFound { .. }) => {}
                Err(error) if at_start && by_name => return Err(error),
                Err(error) => {
                    self.refused.insert(key);
                    self.warn(error.to_string());
                }
            }
        }
        Ok(())
    }

    fn warn(&mut self, warning: String) {
        tracing::warn!(%warning, "recording");
        self.warnings.push(warning);
    }

    fn join(&mut self, name: &str, pattern: Pattern) -> Result<(), RecordError> {
        let open = |source| RecordError::Open {
            service: name.to_owned(),
            source: Box::new(source),
        };
        let (spec, port) = match pattern {
            Pattern::PublishSubscribe => {
                let service = Service::raw_publish_subscribe(&self.node, name)
                    .open()
                    .map_err(open)?;
                let subscriber =
                    service
                        .subscriber()
                        .create()
                        .map_err(|source| RecordError::Subscribe {
                            service: name.to_owned(),
                            source,
                        })?;
                let spec = ServiceSpec::PublishSubscribe {
                    message: service.message_type().clone(),
                    qos: *service.qos(),
                };
                (spec, Port::Subscriber(Box::new(subscriber)))
            }
            Pattern::RequestResponse => {
                let service = Service::raw_request_response(&self.node, name)
                    .open()
                    .map_err(open)?;
                let monitor =
                    service
                        .monitor()
                        .create()
                        .map_err(|source| RecordError::Monitor {
                            service: name.to_owned(),
                            source,
                        })?;
                let spec = ServiceSpec::RequestResponse {
                    request: service.request_type().clone(),
                    response: service.response_type().clone(),
                    qos: service.qos(),
                };
                (spec, Port::Monitor(Box::new(monitor)))
            }
        };
        let roles: &[Role] = match pattern {
            Pattern::PublishSubscribe => &[Role::Message],
            Pattern::RequestResponse => &[Role::Request, Role::Response],
        };
        let mut channels = [0u16; 2];
        for (i, &role) in roles.iter().enumerate() {
            let message = spec.type_of(role).cloned().unwrap_or_else(|| {
                // (type_of answers for every role of the pattern)
                Descriptor::of::<u8>()
            });
            let metadata = spec
                .metadata(name, role)
                .map_err(|source| RecordError::Describe {
                    service: name.to_owned(),
                    source,
                })?;
            let idl = idl_of(&message);
            let index = self.channels.len();
            channels[i] = u16::try_from(index).unwrap_or(u16::MAX);
            self.channels.push(ChannelReport {
                topic: format::topic(name, role),
                service: name.to_owned(),
                role,
                schema: idl.root.clone(),
                messages: 0,
                bytes: 0,
                missed: 0,
                invalid: 0,
            });
            // Channels go through the same queue as messages: the writer has each one
            // before the first message of it.
            self.send_batch();
            self.writer.send(ToWriter::Channel {
                topic: format::topic(name, role),
                schema_name: idl.root,
                schema: idl.text,
                metadata,
            });
        }
        tracing::info!(service = name, pattern = pattern.label(), "recording");
        self.sources.push(Source { port, channels });
        Ok(())
    }

    /// Takes what every port has (at most a round's worth each, for fairness); whether
    /// anything came.
    fn drain_all(&mut self) -> bool {
        const ROUND: usize = 256;
        let Self {
            sources,
            batch,
            channels,
            spare,
            writer,
            realtime_offset: offset,
            ..
        } = self;
        let mut any = false;
        for source in sources.iter() {
            for _ in 0..ROUND {
                let taken = match &source.port {
                    Port::Subscriber(subscriber) => subscriber.receive().map(|sample| {
                        sample.map(|s| {
                            let at = Stamp {
                                sequence: s.sequence() as u32,
                                sent: s.timestamp_ns(),
                                offset: *offset,
                            };
                            batch.push(source.channels[0], s.message_type(), s.bytes(), at)
                        })
                    }),
                    Port::Monitor(monitor) => monitor.receive().map(|observed| {
                        observed.map(|o| {
                            let channel = match o.direction() {
                                Direction::Request => source.channels[0],
                                Direction::Response => source.channels[1],
                            };
                            let c = o.correlation();
                            let at = Stamp {
                                sequence: format::correlation_sequence(c.client, c.request),
                                sent: o.timestamp_ns(),
                                offset: *offset,
                            };
                            batch.push(channel, o.message_type(), o.bytes(), at)
                        })
                    }),
                };
                match taken {
                    Ok(Some((channel, len))) => {
                        any = true;
                        let report = &mut channels[usize::from(channel)];
                        report.messages += 1;
                        report.bytes += len as u64;
                        if batch.is_full() {
                            hand_over(batch, spare, writer);
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        let report = &mut channels[usize::from(source.channels[0])];
                        report.invalid += 1;
                        tracing::warn!(topic = %report.topic, %error, "left out of the recording");
                    }
                }
            }
        }
        any
    }

    /// Hands the current batch to the writer.
    fn send_batch(&mut self) {
        hand_over(&mut self.batch, &self.spare, &self.writer);
    }

    /// Sleeps until a port has something, at most `timeout`.
    fn wait(&self, timeout: Duration) -> Result<(), WaitError> {
        let mut waitset = WaitSet::new();
        let mut all_attached = true;
        for source in &self.sources {
            let attached = match &source.port {
                Port::Subscriber(s) => waitset.attach(&**s),
                Port::Monitor(m) => waitset.attach(&**m),
            };
            all_attached &= attached.is_ok();
        }
        // Ports beyond one wait set's reach are polled every millisecond.
        let timeout = if all_attached {
            timeout
        } else {
            timeout.min(Duration::from_millis(1))
        };
        waitset.wait_timeout(timeout).map(|_| ())
    }

    fn finish(
        mut self,
        started: Instant,
        stopped: StopReason,
    ) -> Result<RecordReport, RecordError> {
        for source in &self.sources {
            self.channels[usize::from(source.channels[0])].missed = source.port.missed();
        }
        let elapsed = started.elapsed();
        let missed: u64 = self.channels.iter().map(|c| c.missed).sum();
        let received: u64 = self.channels.iter().map(|c| c.messages).sum();
        let mut summary = BTreeMap::new();
        summary.insert("stopped".to_owned(), stopped.text().to_owned());
        summary.insert("received".to_owned(), received.to_string());
        summary.insert("missed".to_owned(), missed.to_string());
        summary.insert("duration_ns".to_owned(), elapsed.as_nanos().to_string());
        self.writer.send(ToWriter::Finish(Metadata {
            name: format!("{}.end", format::RECORDING),
            metadata: summary,
        }));
        let never_found = self.waiting_for();
        let written = self.writer.join()?;
        // Received and written differ only when the size limit ended the recording.
        for (report, (messages, bytes)) in self.channels.iter_mut().zip(written.channels) {
            report.messages = messages;
            report.bytes = bytes;
        }
        Ok(RecordReport {
            path: self.path,
            stopped,
            elapsed,
            messages: self.channels.iter().map(|c| c.messages).sum(),
            file_bytes: written.file_bytes,
            missed,
            channels: self.channels,
            never_found,
            warnings: self.warnings,
        })
    }
}

/// Hands `batch` to the writer, taking a spare one in its place.
fn hand_over(batch: &mut Batch, spare: &Receiver<Batch>, writer: &WriterHandle) {
    if batch.messages.is_empty() {
        return;
    }
    let next = spare.try_recv().unwrap_or_default();
    writer.send(ToWriter::Batch(std::mem::replace(batch, next)));
}

/// When and in what order a message was sent, for its MCAP header.
struct Stamp {
    sequence: u32,
    /// The sender's `CLOCK_MONOTONIC` stamp, if it stamps.
    sent: Option<u64>,
    /// From `CLOCK_MONOTONIC` to the UNIX epoch.
    offset: u64,
}

/// The port of a recorded service.
#[derive(Debug)]
enum Port {
    Subscriber(Box<RawSubscriber>),
    Monitor(Box<RawMonitor>),
}

impl Port {
    fn missed(&self) -> u64 {
        match self {
            Port::Subscriber(s) => s.missed(),
            Port::Monitor(m) => m.missed(),
        }
    }
}

#[derive(Debug)]
struct Source {
    port: Port,
    /// Channel indexes: the message or request channel, then the response channel.
    channels: [u16; 2],
}

/// Messages for the writer: CDR bytes back to back, and each message's header and range.
#[derive(Debug, Default)]
struct Batch {
    data: Vec<u8>,
    messages: Vec<(MessageHeader, std::ops::Range<usize>)>,
}

impl Batch {
    /// Appends the CDR of a message and its header; its channel and CDR length.
    fn push(
        &mut self,
        channel: u16,
        message: &Descriptor,
        bytes: &[u8],
        at: Stamp,
    ) -> (u16, usize) {
        let start = self.data.len();
        crate::cdr::encode(message, bytes, &mut self.data);
        let log_time = monotonic_ns().saturating_add(at.offset);
        let header = MessageHeader {
            channel_id: channel,
            sequence: at.sequence,
            log_time,
            publish_time: at.sent.map_or(log_time, |t| t.saturating_add(at.offset)),
        };
        self.messages.push((header, start..self.data.len()));
        (channel, self.data.len() - start)
    }

    fn is_full(&self) -> bool {
        self.data.len() >= 1 << 20 || self.messages.len() >= 4096
    }
}

enum ToWriter {
    Channel {
        topic: String,
        schema_name: String,
        schema: String,
        metadata: BTreeMap<String, String>,
    },
    Batch(Batch),
    Finish(Metadata),
}

struct WriterSettings {
    compress: bool,
    flush_interval: Duration,
    max_size: Option<u64>,
}

#[derive(Debug, Default)]
struct Shared {
    file_bytes: AtomicU64,
    full: AtomicBool,
}

#[derive(Debug)]
struct WriterHandle {
    to: Option<SyncSender<ToWriter>>,
    thread: Option<JoinHandle<Result<Written, mcap::McapError>>>,
    shared: Arc<Shared>,
    path: PathBuf,
}

impl WriterHandle {
    fn start(
        file: File,
        path: PathBuf,
        settings: WriterSettings,
        spare: mpsc::Sender<Batch>,
        metadata: Metadata,
    ) -> Result<Self, RecordError> {
        let shared = Arc::new(Shared::default());
        let counted = Counted {
            inner: BufWriter::with_capacity(1 << 20, file),
            position: 0,
            end: 0,
            shared: shared.clone(),
        };
        let options = WriteOptions::new()
            .compression(settings.compress.then_some(Compression::Zstd))
            .compression_threads(0)
            .compression_level(1)
            .chunk_size(None)
            .library(concat!("shmbus ", env!("CARGO_PKG_VERSION")));
        let fail = |source| RecordError::Write {
            path: path.clone(),
            source,
        };
        let mut writer = options.create(counted).map_err(fail)?;
        writer.write_metadata(&metadata).map_err(fail)?;
        writer.flush().map_err(fail)?;
        // About a quarter second of 1 MiB messages at 1 kHz, many more small ones.
        let (to, from) = mpsc::sync_channel(256);
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("shmbus-record-writer".into())
            .spawn(move || write_loop(writer, from, spare, settings, &thread_shared))
            .map_err(|source| RecordError::Create {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            to: Some(to),
            thread: Some(thread),
            shared,
            path,
        })
    }

    /// Queues `message`, waiting while the queue is full; a writer that ended takes no
    /// more (its error comes from `join`).
    fn send(&self, message: ToWriter) {
        if let Some(to) = &self.to {
            let _ = to.send(message);
        }
    }

    fn is_gone(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    fn join(&mut self) -> Result<Written, RecordError> {
        self.to = None;
        let lost = || RecordError::WriterLost {
            path: self.path.clone(),
        };
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(written))) => Ok(written),
            Some(Ok(Err(source))) => Err(RecordError::Write {
                path: self.path.clone(),
                source,
            }),
            Some(Err(_)) | None => Err(lost()),
        }
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        // Dropping the queue ends the writer, which finishes the file.
        self.to = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type McapWriter = mcap::Writer<Counted>;

/// What the writer wrote.
#[derive(Debug, Default)]
struct Written {
    /// Size of the file.
    file_bytes: u64,
    /// Messages and CDR bytes, per channel index.
    channels: Vec<(u64, u64)>,
}

/// The writer thread: channels, messages, chunks, the summary.
fn write_loop(
    mut writer: McapWriter,
    from: Receiver<ToWriter>,
    spare: mpsc::Sender<Batch>,
    settings: WriterSettings,
    shared: &Shared,
) -> Result<Written, mcap::McapError> {
    let mut ids: Vec<u16> = Vec::new();
    let mut written = Written::default();
    let mut in_chunk = 0usize;
    let mut last_flush = Instant::now();
    let mut full = false;
    loop {
        let message = match from.recv_timeout(settings.flush_interval) {
            Ok(message) => Some(message),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match message {
            Some(ToWriter::Channel {
                topic,
                schema_name,
                schema,
                metadata,
            }) => {
                let schema_id =
                    writer.add_schema(&schema_name, format::SCHEMA_ENCODING, schema.as_bytes())?;
                ids.push(writer.add_channel(
                    schema_id,
                    &topic,
                    format::MESSAGE_ENCODING,
                    &metadata,
                )?);
                written.channels.push((0, 0));
            }
            Some(ToWriter::Batch(mut batch)) => {
                if !full {
                    for (header, range) in batch.messages.drain(..) {
                        let data = &batch.data[range];
                        if let Some(max) = settings.max_size {
                            // A record costs its data and 33 bytes of header in the chunk,
                            // plus a message index entry (16 bytes).
                            let cost = data.len() as u64 + 49;
                            let on_disk = shared.file_bytes.load(Ordering::Relaxed);
                            if on_disk + in_chunk as u64 + cost > max {
                                writer.flush()?;
                                in_chunk = 0;
                                let on_disk = shared.file_bytes.load(Ordering::Relaxed);
                                // Room left for the summary's end records.
                                if on_disk + cost + 4096 > max {
                                    full = true;
                                    shared.full.store(true, Ordering::Relaxed);
                                    break;
                                }
                            }
                        }
                        let Some(&channel_id) = ids.get(usize::from(header.channel_id)) else {
                            continue;
                        };
                        writer.write_to_known_channel(
                            &MessageHeader {
                                channel_id,
                                ..header
                            },
                            data,
                        )?;
                        in_chunk += data.len() + 49;
                        if let Some(c) = written.channels.get_mut(usize::from(header.channel_id)) {
                            c.0 += 1;
                            c.1 += data.len() as u64;
                        }
                        if in_chunk >= CHUNK_SIZE {
                            writer.flush()?;
                            in_chunk = 0;
                            last_flush = Instant::now();
                        }
                    }
                }
                batch.data.clear();
                batch.messages.clear();
                let _ = spare.send(batch);
            }
            Some(ToWriter::Finish(metadata)) => {
                writer.write_metadata(&metadata)?;
                break;
            }
            None => {}
        }
        if last_flush.elapsed() >= settings.flush_interval {
            writer.flush()?;
            in_chunk = 0;
            last_flush = Instant::now();
        }
    }
    writer.finish()?;
    let mut counted = writer.into_inner();
    counted.inner.flush()?;
    written.file_bytes = counted.end;
    Ok(written)
}

/// The file, counting how far it reaches.
struct Counted {
    inner: BufWriter<File>,
    position: u64,
    end: u64,
    shared: Arc<Shared>,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.position += n as u64;
        if self.position > self.end {
            self.end = self.position;
            self.shared.file_bytes.store(self.end, Ordering::Relaxed);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Seek for Counted {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.position = self.inner.seek(to)?;
        Ok(self.position)
    }
}

fn create_file(path: &Path, overwrite: bool) -> Result<File, RecordError> {
    let create = || File::options().write(true).create_new(true).open(path);
    let file = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && overwrite => {
            // Removed and created anew (never written through a link somebody planted).
            std::fs::remove_file(path)
                .and_then(|()| create())
                .map_err(|source| RecordError::Create {
                    path: path.to_path_buf(),
                    source,
                })?
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(RecordError::Exists {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(RecordError::Create {
                path: path.to_path_buf(),
                source,
            });
        }
        Ok(file) => file,
    };
    Ok(file)
}

fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The metadata record at the start of the file: who recorded what, when.
fn recording_metadata(node: &Node, options: &RecordOptions, realtime_offset: u64) -> Metadata {
    let mut m = BTreeMap::new();
    m.insert("domain".to_owned(), node.config().domain().to_owned());
    m.insert(
        "recorder".to_owned(),
        concat!("shmbus ", env!("CARGO_PKG_VERSION")).to_owned(),
    );
    m.insert(
        "services".to_owned(),
        options
            .services
            .iter()
            .map(ServicePattern::as_str)
            .collect::<Vec<_>>()
            .join(" "),
    );
    m.insert(
        "started_ns".to_owned(),
        monotonic_ns().saturating_add(realtime_offset).to_string(),
    );
    m.insert(
        "time".to_owned(),
        "log_time: when the recorder took the message; publish_time: the publisher's stamp when it stamps, else log_time; both in nanoseconds since the UNIX epoch".to_owned(),
    );
    Metadata {
        name: format::RECORDING.to_owned(),
        metadata: m,
    }
}
