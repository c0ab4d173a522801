//! Replaying an MCAP file that shmbus recorded into a domain.
//!
//! Each channel's metadata ([`crate::format`]) gives its service and the exact types; the
//! service is opened when it exists — its stored types must equal the recorded ones, else
//! the replay stops with the difference — and created with the recorded QoS otherwise.
//! Each message is decoded from CDR into the fixed layout and validated before anything
//! is sent ([`crate::cdr::from_cdr`]), then published at its recorded time, scaled by the
//! rate. Requests of request-response services are sent again by a client of the
//! replay's own (their responses, and the recorded responses, are not replayed: a
//! response goes to the client that asked).
//!
//! The file is read as a stream, one chunk at a time, each chunk's CRC checked before
//! any of its messages is used; when the file has a summary, every channel is checked
//! and every service opened before the first message is sent. A file that was cut off
//! (the recorder was killed) replays up to its last complete chunk, then reports where
//! it ended.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mcap::sans_io::LinearReaderOptions;
use mcap::sans_io::summary_reader::{SummaryReadEvent, SummaryReader};
use mcap::{Channel, McapError};
use shmbus::node::Node;
use shmbus::port::{
    ClientCreateError, PublisherCreateError, RawClient, RawPublisher, RequestSendError, SendError,
};
use shmbus::service::{ServiceCreateError, ServiceOpenError};
use shmbus::{Descriptor, Service};

use crate::cdr::{CdrError, from_cdr};
use crate::format::{self, MetadataError, Role, ServiceSpec};
use crate::stop::StopHandle;
use shmbus::service::ServicePattern;

/// The largest record (or decompressed chunk) read: a damaged length never makes the
/// reader allocate more.
const RECORD_LIMIT: usize = 1 << 30;

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Speed: 1 is the recorded timing, 2 twice as fast, 0 as fast as possible.
    pub rate: f64,
    /// Start again at the end, until stopped.
    pub looped: bool,
    /// Skip the first part of the recording, this long.
    pub start: Duration,
    /// Replay service `old` as service `new`.
    pub remap: Vec<(String, String)>,
    /// Replay only the services these match (recorded names); all when empty.
    pub services: Vec<ServicePattern>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            rate: 1.0,
            looped: false,
            start: Duration::ZERO,
            remap: Vec::new(),
            services: Vec::new(),
        }
    }
}

/// `OLD=NEW` of a `--remap` option.
pub fn parse_remap(text: &str) -> Result<(String, String), ReplayError> {
    match text.split_once('=') {
        Some((old, new)) if !old.is_empty() && !new.is_empty() => {
            Ok((old.to_owned(), new.to_owned()))
        }
        _ => Err(ReplayError::Remap {
            text: text.to_owned(),
        }),
    }
}

/// Failure of a replay. Messages sent before it stay sent; nothing that did not decode
/// and validate was sent.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The rate is negative or not a number.
    #[error("the rate must be 0 (as fast as possible) or a positive number, not {rate}")]
    Rate {
        /// The rate.
        rate: f64,
    },
    /// A remapping is not `OLD=NEW`.
    #[error("a remapping is OLD=NEW (two service names), not {text:?}")]
    Remap {
        /// What was given.
        text: String,
    },
    /// The file cannot be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not MCAP.
    #[error("{} is not an MCAP file (it does not begin with MCAP's magic bytes)", path.display())]
    NotMcap {
        /// The file.
        path: PathBuf,
    },
    /// The file is damaged, or cut off.
    #[error(
        "{} is damaged or cut off after {messages} messages: {source}{}",
        path.display(),
        if *messages > 0 { " (the messages before were replayed; `mcap recover` rewrites what can be read)" } else { "" }
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Messages replayed before.
        messages: u64,
        /// What the reader found.
        source: Box<McapError>,
    },
    /// A channel has no schema, or one shmbus cannot replay.
    #[error(
        "channel {topic:?} has schema encoding {encoding:?}; shmbus replays `omgidl` schemas with `cdr` messages that it recorded"
    )]
    Schema {
        /// The channel's topic.
        topic: String,
        /// Its schema's encoding (empty: no schema).
        encoding: String,
    },
    /// A channel's messages are not CDR.
    #[error("channel {topic:?} has message encoding {encoding:?}; shmbus replays `cdr` messages")]
    MessageEncoding {
        /// The channel's topic.
        topic: String,
        /// Its message encoding.
        encoding: String,
    },
    /// A channel's metadata is not shmbus's.
    #[error("channel {topic:?}: {source}")]
    Metadata {
        /// The channel's topic.
        topic: String,
        /// What is wrong.
        source: MetadataError,
    },
    /// A message's bytes do not decode as its type.
    #[error(
        "message {index} of channel {topic:?} (log time {log_time} ns) is not valid: {source}; nothing of it was sent"
    )]
    Decode {
        /// The channel's topic.
        topic: String,
        /// Its position in the file, from 0.
        index: u64,
        /// Its log time.
        log_time: u64,
        /// What is wrong.
        source: Box<CdrError>,
    },
    /// The service exists and differs (another type), or cannot be opened.
    #[error("cannot replay into service {service:?}: {source}")]
    OpenService {
        /// The service.
        service: String,
        /// The cause.
        source: Box<ServiceOpenError>,
    },
    /// The service cannot be created.
    #[error("cannot replay into service {service:?}: {source}")]
    CreateService {
        /// The service.
        service: String,
        /// The cause.
        source: Box<ServiceCreateError>,
    },
    /// No publisher for the service.
    #[error("cannot replay into service {service:?}: {source}")]
    Publisher {
        /// The service.
        service: String,
        /// The cause.
        source: Box<PublisherCreateError>,
    },
    /// No client for the service.
    #[error("cannot replay into service {service:?}: {source}")]
    Client {
        /// The service.
        service: String,
        /// The cause.
        source: Box<ClientCreateError>,
    },
    /// Publishing failed.
    #[error("publishing on {service:?} failed: {source}")]
    Send {
        /// The service.
        service: String,
        /// The cause.
        source: Box<SendError>,
    },
    /// Sending a request failed (other than for want of a server).
    #[error("sending a request on {service:?} failed: {source}")]
    Request {
        /// The service.
        service: String,
        /// The cause.
        source: Box<RequestSendError>,
    },
}

/// Where a replay is, given to the progress callback about four times a second.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayProgress {
    /// Position in the recording (log time since its first message).
    pub position: Duration,
    /// Length of the recording, when the file has a summary.
    pub length: Option<Duration>,
    /// Messages sent.
    pub messages: u64,
    /// Messages per second sent lately.
    pub rate: f64,
    /// Rounds completed (with looping).
    pub rounds: u64,
}

/// Why a replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayEnd {
    /// The file was played to its end.
    Finished,
    /// Ctrl-C or SIGTERM (with the node's signal handling on).
    Signal,
    /// [`StopHandle::stop`] was called.
    Requested,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayReport {
    /// Why it ended.
    pub ended: ReplayEnd,
    /// Messages sent (samples published and requests sent).
    pub messages: u64,
    /// Requests not sent because the service had no server.
    pub no_server: u64,
    /// Recorded responses, which are not replayed.
    pub responses_skipped: u64,
    /// Messages of services left out by the filter.
    pub filtered: u64,
    /// Rounds played to the end.
    pub rounds: u64,
    /// How long it ran.
    pub elapsed: Duration,
}

/// What becomes of a channel's messages.
enum Target {
    /// Left out by the filter.
    Filtered,
    /// Published.
    Publish {
        service: String,
        message: Descriptor,
        publisher: Box<RawPublisher>,
    },
    /// Sent as requests.
    Request {
        service: String,
        message: Descriptor,
    },
    /// Recorded responses: not replayed.
    Response,
}

/// Replays an MCAP file (see the [module docs](self)).
pub struct Replayer {
    node: Node,
    path: PathBuf,
    options: ReplayOptions,
    stop: StopHandle,
    targets: HashMap<u16, Target>,
    /// Clients of request-response services, shared by their two channels.
    clients: HashMap<String, RawClient>,
    first_log_time: Option<u64>,
    length: Option<Duration>,
    warned_no_server: HashSet<String>,
}

impl std::fmt::Debug for Replayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replayer")
            .field("path", &self.path)
            .field("channels", &self.targets.len())
            .finish_non_exhaustive()
    }
}

impl Replayer {
    /// Opens the file, and when it has a summary, checks every channel and opens or
    /// creates every service (so that nothing is sent from a file that cannot be
    /// replayed whole).
    pub fn open(
        node: &Node,
        path: impl AsRef<Path>,
        options: ReplayOptions,
    ) -> Result<Self, ReplayError> {
        if !(options.rate >= 0.0 && options.rate.is_finite()) {
            return Err(ReplayError::Rate { rate: options.rate });
        }
        let path = path.as_ref().to_path_buf();
        let mut file = File::open(&path).map_err(|source| ReplayError::Open {
            path: path.clone(),
            source,
        })?;
        let mut magic = [0u8; 8];
        if file.read_exact(&mut magic).is_err() || magic != *mcap::MAGIC {
            return Err(ReplayError::NotMcap { path });
        }
        let mut replayer = Self {
            node: node.clone(),
            path,
            options,
            stop: StopHandle::default(),
            targets: HashMap::new(),
            clients: HashMap::new(),
            first_log_time: None,
            length: None,
            warned_no_server: HashSet::new(),
        };
        // A file without a summary (cut off) is read all the same; its channels are
        // checked as they come.
        if let Ok(Some(summary)) = read_summary(&mut file) {
            if let Some(stats) = &summary.stats
                && stats.message_count > 0
            {
                replayer.first_log_time = Some(stats.message_start_time);
                replayer.length = Some(Duration::from_nanos(
                    stats
                        .message_end_time
                        .saturating_sub(stats.message_start_time),
                ));
            }
            let mut channels: Vec<_> = summary.channels.values().cloned().collect();
            channels.sort_by_key(|c| c.id);
            for channel in channels {
                replayer.target(&channel)?;
            }
        }
        Ok(replayer)
    }

    /// A handle that ends the replay from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Plays the file (again and again with `looped`) until its end, Ctrl-C (with the
    /// node's signal handling on) or [`StopHandle::stop`]. `progress` is called about
    /// four times a second.
    pub fn run(
        mut self,
        mut progress: impl FnMut(&ReplayProgress),
    ) -> Result<ReplayReport, ReplayError> {
        let started = Instant::now();
        let mut report = ReplayReport {
            ended: ReplayEnd::Finished,
            messages: 0,
            no_server: 0,
            responses_skipped: 0,
            filtered: 0,
            rounds: 0,
            elapsed: Duration::ZERO,
        };
        let mut pace = Pace::new(self.options.rate);
        loop {
            match self.round(&mut report, &mut pace, &mut progress)? {
                Some(end) => {
                    report.ended = end;
                    break;
                }
                None => report.rounds += 1,
            }
            if !self.options.looped || report.messages == 0 {
                break;
            }
        }
        report.elapsed = started.elapsed();
        progress(&pace.progress(&report, self.length));
        Ok(report)
    }

    /// Plays the file once; `Some` when stopped before its end.
    fn round(
        &mut self,
        report: &mut ReplayReport,
        pace: &mut Pace,
        progress: &mut impl FnMut(&ReplayProgress),
    ) -> Result<Option<ReplayEnd>, ReplayError> {
        let file = File::open(&self.path).map_err(|source| ReplayError::Open {
            path: self.path.clone(),
            source,
        })?;
        let reader = mcap::io::MessageReader::new_with_options(
            BufReader::with_capacity(1 << 20, file),
            LinearReaderOptions::default()
                .with_prevalidate_chunk_crcs(true)
                .with_record_length_limit(RECORD_LIMIT),
        );
        pace.restart();
        for (index, message) in reader.enumerate() {
            let message = message.map_err(|source| ReplayError::Read {
                path: self.path.clone(),
                messages: report.messages,
                source: Box::new(source),
            })?;
            let first = *self.first_log_time.get_or_insert(message.log_time);
            let offset = Duration::from_nanos(message.log_time.saturating_sub(first));
            if offset < self.options.start {
                continue;
            }
            let channel = &message.channel;
            if !self.targets.contains_key(&channel.id) {
                self.target(channel)?;
            }
            let Some(target) = self.targets.get(&channel.id) else {
                continue;
            };
            let (service, descriptor) = match target {
                Target::Filtered => {
                    report.filtered += 1;
                    continue;
                }
                Target::Response => {
                    report.responses_skipped += 1;
                    continue;
                }
                Target::Publish {
                    service, message, ..
                }
                | Target::Request {
                    service, message, ..
                } => (service.clone(), message.clone()),
            };
            // Decoded and validated before the wait: a bad message stops the replay at
            // once, and nothing of it is sent.
            let bytes =
                from_cdr(&descriptor, &message.data).map_err(|source| ReplayError::Decode {
                    topic: channel.topic.clone(),
                    index: index as u64,
                    log_time: message.log_time,
                    source: Box::new(source),
                })?;
            if let Some(end) = pace.wait_until(offset - self.options.start, &self.stop, || {
                progress(&pace_progress(report, offset, self.length));
            }) {
                return Ok(Some(end));
            }
            match self.targets.get(&channel.id) {
                Some(Target::Publish { publisher, .. }) => {
                    publisher
                        .send_bytes(&bytes)
                        .map_err(|source| ReplayError::Send {
                            service,
                            source: Box::new(source),
                        })?;
                    report.messages += 1;
                }
                Some(Target::Request { .. }) => match self
                    .clients
                    .get(&service)
                    .map(|client| client.send_bytes(&bytes))
                    .unwrap_or(Err(RequestSendError::NoServer))
                {
                    // The response goes nowhere: the pending response is dropped.
                    Ok(pending) => {
                        drop(pending);
                        report.messages += 1;
                    }
                    Err(RequestSendError::NoServer) => {
                        report.no_server += 1;
                        if self.warned_no_server.insert(service.clone()) {
                            tracing::warn!(service, "no server: recorded requests are not sent");
                        }
                    }
                    Err(source) => {
                        return Err(ReplayError::Request {
                            service,
                            source: Box::new(source),
                        });
                    }
                },
                _ => {}
            }
            pace.sent(report, offset, self.length, progress);
        }
        Ok(None)
    }

    /// Checks a channel and prepares what becomes of its messages.
    fn target(&mut self, channel: &Channel<'_>) -> Result<(), ReplayError> {
        let topic = channel.topic.clone();
        let encoding = channel
            .schema
            .as_ref()
            .map(|s| s.encoding.clone())
            .unwrap_or_default();
        if encoding != format::SCHEMA_ENCODING {
            return Err(ReplayError::Schema { topic, encoding });
        }
        if channel.message_encoding != format::MESSAGE_ENCODING {
            return Err(ReplayError::MessageEncoding {
                topic,
                encoding: channel.message_encoding.clone(),
            });
        }
        let (recorded, role, spec) =
            ServiceSpec::from_metadata(&channel.metadata).map_err(|source| {
                ReplayError::Metadata {
                    topic: topic.clone(),
                    source,
                }
            })?;
        let filtered = !self.options.services.is_empty()
            && !self.options.services.iter().any(|p| p.matches(&recorded));
        let service = self
            .options
            .remap
            .iter()
            .find(|(old, _)| *old == recorded)
            .map_or(recorded.clone(), |(_, new)| new.clone());
        let target = match (filtered, role, &spec) {
            (true, _, _) => Target::Filtered,
            (false, Role::Message, ServiceSpec::PublishSubscribe { message, qos }) => {
                let opened = open_or_create(
                    || {
                        Service::raw_publish_subscribe(&self.node, &service)
                            .message_type(message.clone())
                            .open()
                    },
                    || {
                        Service::raw_publish_subscribe(&self.node, &service)
                            .message_type(message.clone())
                            .qos(*qos)
                            .create()
                    },
                    &service,
                )?;
                let publisher =
                    opened
                        .publisher()
                        .create()
                        .map_err(|source| ReplayError::Publisher {
                            service: service.clone(),
                            source: Box::new(source),
                        })?;
                Target::Publish {
                    service,
                    message: message.clone(),
                    publisher: Box::new(publisher),
                }
            }
            (
                false,
                _,
                ServiceSpec::RequestResponse {
                    request,
                    response,
                    qos,
                },
            ) => {
                if !self.clients.contains_key(&service) {
                    {
                        let opened = open_or_create(
                            || {
                                Service::raw_request_response(&self.node, &service)
                                    .request_type(request.clone())
                                    .response_type(response.clone())
                                    .open()
                            },
                            || {
                                Service::raw_request_response(&self.node, &service)
                                    .request_type(request.clone())
                                    .response_type(response.clone())
                                    .qos(*qos)
                                    .create()
                            },
                            &service,
                        )?;
                        let client =
                            opened
                                .client()
                                .create()
                                .map_err(|source| ReplayError::Client {
                                    service: service.clone(),
                                    source: Box::new(source),
                                })?;
                        self.clients.insert(service.clone(), client);
                    }
                }
                match role {
                    Role::Request => Target::Request {
                        service,
                        message: request.clone(),
                    },
                    _ => Target::Response,
                }
            }
            (false, _, _) => {
                return Err(ReplayError::Metadata {
                    topic,
                    source: MetadataError::Invalid {
                        key: format::ROLE,
                        problem: format!("role {} does not fit its pattern", role.word()),
                    },
                });
            }
        };
        self.targets.insert(channel.id, target);
        Ok(())
    }
}

/// Opens the service (its types must equal the recorded ones), else creates it as it
/// was recorded; when somebody else creates it in between, opens it again.
fn open_or_create<S>(
    open: impl Fn() -> Result<S, ServiceOpenError>,
    create: impl Fn() -> Result<S, ServiceCreateError>,
    service: &str,
) -> Result<S, ReplayError> {
    let open_error = |source| ReplayError::OpenService {
        service: service.to_owned(),
        source: Box::new(source),
    };
    match open() {
        Ok(s) => return Ok(s),
        Err(ServiceOpenError::NotFound { .. }) => {}
        Err(source) => return Err(open_error(source)),
    }
    match create() {
        Ok(s) => Ok(s),
        Err(ServiceCreateError::AlreadyExists { .. }) => open().map_err(open_error),
        Err(source) => Err(ReplayError::CreateService {
            service: service.to_owned(),
            source: Box::new(source),
        }),
    }
}

/// The summary of the file, if it has one.
fn read_summary(file: &mut File) -> Result<Option<mcap::Summary>, McapError> {
    let mut reader = SummaryReader::new();
    while let Some(event) = reader.next_event() {
        match event? {
            SummaryReadEvent::ReadRequest(need) => {
                let n = file.read(reader.insert(need))?;
                reader.notify_read(n);
            }
            SummaryReadEvent::SeekRequest(to) => {
                reader.notify_seeked(file.seek(to)?);
            }
        }
    }
    Ok(reader.finish())
}

fn pace_progress(
    report: &ReplayReport,
    offset: Duration,
    length: Option<Duration>,
) -> ReplayProgress {
    ReplayProgress {
        position: offset,
        length,
        messages: report.messages,
        rate: 0.0,
        rounds: report.rounds,
    }
}

/// The replay's clock: when each message is due, and the progress calls.
struct Pace {
    rate: f64,
    started: Instant,
    position: Duration,
    last_progress: Instant,
    messages_then: u64,
    recent_rate: f64,
}

impl Pace {
    fn new(rate: f64) -> Self {
        let now = Instant::now();
        Self {
            rate,
            started: now,
            position: Duration::ZERO,
            last_progress: now,
            messages_then: 0,
            recent_rate: 0.0,
        }
    }

    fn restart(&mut self) {
        self.started = Instant::now();
    }

    /// Sleeps until the message `at` (from the start of the replayed part) is due; `Some`
    /// when asked to stop meanwhile. Long waits call `tick` now and then.
    fn wait_until(
        &mut self,
        at: Duration,
        stop: &StopHandle,
        mut tick: impl FnMut(),
    ) -> Option<ReplayEnd> {
        if stop.requested() {
            return Some(ReplayEnd::Requested);
        }
        if shmbus::os::signal::check().is_err() {
            return Some(ReplayEnd::Signal);
        }
        if self.rate == 0.0 {
            return None;
        }
        let due = self.started + at.div_f64(self.rate);
        loop {
            let now = Instant::now();
            if now >= due {
                return None;
            }
            // In slices, so that a stop is seen within a quarter second.
            let slice = (due - now).min(Duration::from_millis(250));
            if shmbus::os::signal::sleep(slice).is_err() {
                return Some(ReplayEnd::Signal);
            }
            if stop.requested() {
                return Some(ReplayEnd::Requested);
            }
            if slice == Duration::from_millis(250) {
                tick();
            }
        }
    }

    /// Counts a message; calls `progress` when a quarter second passed.
    fn sent(
        &mut self,
        report: &ReplayReport,
        position: Duration,
        length: Option<Duration>,
        progress: &mut impl FnMut(&ReplayProgress),
    ) {
        self.position = position;
        let elapsed = self.last_progress.elapsed();
        if elapsed >= Duration::from_millis(250) {
            self.recent_rate =
                (report.messages - self.messages_then) as f64 / elapsed.as_secs_f64();
            self.messages_then = report.messages;
            self.last_progress = Instant::now();
            progress(&self.progress(report, length));
        }
    }

    fn progress(&self, report: &ReplayReport, length: Option<Duration>) -> ReplayProgress {
        ReplayProgress {
            position: self.position,
            length,
            messages: report.messages,
            rate: self.recent_rate,
            rounds: report.rounds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaps_are_old_equals_new() {
        assert_eq!(
            parse_remap("a/b=c").unwrap(),
            ("a/b".to_owned(), "c".to_owned())
        );
        for bad in ["a", "=b", "a=", ""] {
            assert!(
                matches!(parse_remap(bad), Err(ReplayError::Remap { .. })),
                "{bad}"
            );
        }
    }
}
