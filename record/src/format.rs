//! What a shmbus recording holds beyond plain MCAP: the topics of the channels, and the
//! keys of their metadata that let a replay recreate each service exactly.
//!
//! | channel of | topic | metadata |
//! |---|---|---|
//! | a publish-subscribe service | its name | `shmbus.service`, `shmbus.pattern` = `publish-subscribe`, `shmbus.descriptor`, `shmbus.qos` |
//! | the requests of a request-response service | `NAME/request` | `shmbus.service`, `shmbus.pattern` = `request-response`, `shmbus.role` = `request`, `shmbus.request_descriptor`, `shmbus.response_descriptor`, `shmbus.qos`, `shmbus.correlation` |
//! | its responses | `NAME/response` | the same, `shmbus.role` = `response` |
//!
//! Descriptors are the bytes of [`Descriptor::encode`] in lower-case hex; the QoS is
//! `name=value` pairs separated by `,`. A request and every response to it carry the same
//! MCAP `sequence`: the client's slot in the top 8 bits, the low 24 bits of its request
//! id below. The file also holds one metadata record, [`RECORDING`], saying who recorded
//! what and when.

use std::collections::BTreeMap;

use shmbus::message::Descriptor;
use shmbus::service::Pattern;
use shmbus::service::qos::{OverflowPolicy, PubSubQos, RequestResponseQos};

/// Key: the service's name.
pub const SERVICE: &str = "shmbus.service";
/// Key: `publish-subscribe` or `request-response`.
pub const PATTERN: &str = "shmbus.pattern";
/// Key: `request` or `response` (request-response channels).
pub const ROLE: &str = "shmbus.role";
/// Key: the message type of a publish-subscribe channel.
pub const DESCRIPTOR: &str = "shmbus.descriptor";
/// Key: the request type of a request-response service (on both its channels).
pub const REQUEST_DESCRIPTOR: &str = "shmbus.request_descriptor";
/// Key: the response type of a request-response service (on both its channels).
pub const RESPONSE_DESCRIPTOR: &str = "shmbus.response_descriptor";
/// Key: the service's QoS when it was recorded.
pub const QOS: &str = "shmbus.qos";
/// Key: how to read the `sequence` of request-response messages.
pub const CORRELATION: &str = "shmbus.correlation";
/// The text under [`CORRELATION`].
pub const CORRELATION_TEXT: &str = "sequence = client slot << 24 | (request id & 0xffffff); a request and every response to it carry the same";
/// The name of the file's metadata record about the recording.
pub const RECORDING: &str = "shmbus.recording";

/// The schema encoding of every channel shmbus writes (OMG IDL text).
pub const SCHEMA_ENCODING: &str = "omgidl";
/// The message encoding of every channel shmbus writes (XCDR1 little-endian).
pub const MESSAGE_ENCODING: &str = "cdr";

/// The role of a channel: the messages of a publish-subscribe service, or one direction
/// of a request-response service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Samples of a publish-subscribe service.
    Message,
    /// Requests.
    Request,
    /// Responses.
    Response,
}

impl Role {
    /// The word in the metadata.
    pub fn word(self) -> &'static str {
        match self {
            Role::Message => "message",
            Role::Request => "request",
            Role::Response => "response",
        }
    }
}

/// The topic of a service's channel of `role`.
pub fn topic(service: &str, role: Role) -> String {
    match role {
        Role::Message => service.to_owned(),
        Role::Request => format!("{service}/request"),
        Role::Response => format!("{service}/response"),
    }
}

/// The MCAP `sequence` of a request-response message.
pub fn correlation_sequence(client: u8, request: u64) -> u32 {
    (u32::from(client) << 24) | (request & 0xff_ffff) as u32
}

/// What a service looks like in the recording: enough to recreate it.
#[derive(Debug, Clone)]
pub enum ServiceSpec {
    /// A publish-subscribe service.
    PublishSubscribe {
        /// Its message type.
        message: Descriptor,
        /// Its QoS.
        qos: PubSubQos,
    },
    /// A request-response service.
    RequestResponse {
        /// Its request type.
        request: Descriptor,
        /// Its response type.
        response: Descriptor,
        /// Its QoS.
        qos: RequestResponseQos,
    },
}

impl ServiceSpec {
    /// Its pattern.
    pub fn pattern(&self) -> Pattern {
        match self {
            ServiceSpec::PublishSubscribe { .. } => Pattern::PublishSubscribe,
            ServiceSpec::RequestResponse { .. } => Pattern::RequestResponse,
        }
    }

    /// The type of its channel of `role`.
    pub fn type_of(&self, role: Role) -> Option<&Descriptor> {
        match (self, role) {
            (ServiceSpec::PublishSubscribe { message, .. }, Role::Message) => Some(message),
            (ServiceSpec::RequestResponse { request, .. }, Role::Request) => Some(request),
            (ServiceSpec::RequestResponse { response, .. }, Role::Response) => Some(response),
            _ => None,
        }
    }

    /// The metadata of the service's channel of `role`.
    pub fn metadata(
        &self,
        service: &str,
        role: Role,
    ) -> Result<BTreeMap<String, String>, shmbus::message::dynamic::EncodeError> {
        let mut m = BTreeMap::new();
        m.insert(SERVICE.to_owned(), service.to_owned());
        m.insert(PATTERN.to_owned(), self.pattern().label().to_owned());
        match self {
            ServiceSpec::PublishSubscribe { message, qos } => {
                m.insert(DESCRIPTOR.to_owned(), hex(&message.encode()?));
                m.insert(QOS.to_owned(), pubsub_qos_text(qos));
            }
            ServiceSpec::RequestResponse {
                request,
                response,
                qos,
            } => {
                m.insert(ROLE.to_owned(), role.word().to_owned());
                m.insert(REQUEST_DESCRIPTOR.to_owned(), hex(&request.encode()?));
                m.insert(RESPONSE_DESCRIPTOR.to_owned(), hex(&response.encode()?));
                m.insert(QOS.to_owned(), rr_qos_text(qos));
                m.insert(CORRELATION.to_owned(), CORRELATION_TEXT.to_owned());
            }
        }
        Ok(m)
    }

    /// Reads a channel's metadata back: its service, its role and the service's spec.
    pub fn from_metadata(
        metadata: &BTreeMap<String, String>,
    ) -> Result<(String, Role, ServiceSpec), MetadataError> {
        let get = |key: &'static str| {
            metadata
                .get(key)
                .map(String::as_str)
                .ok_or(MetadataError::Missing { key })
        };
        let descriptor = |key: &'static str| -> Result<Descriptor, MetadataError> {
            let bytes = unhex(get(key)?).ok_or(MetadataError::Invalid {
                key,
                problem: "not hexadecimal bytes".to_owned(),
            })?;
            Descriptor::decode(&bytes).map_err(|e| MetadataError::Invalid {
                key,
                problem: e.to_string(),
            })
        };
        let service = get(SERVICE)?.to_owned();
        let qos = metadata.get(QOS).map(String::as_str).unwrap_or("");
        match get(PATTERN)? {
            "publish-subscribe" => Ok((
                service,
                Role::Message,
                ServiceSpec::PublishSubscribe {
                    message: descriptor(DESCRIPTOR)?,
                    qos: pubsub_qos_from(qos)?,
                },
            )),
            "request-response" => {
                let role = match get(ROLE)? {
                    "request" => Role::Request,
                    "response" => Role::Response,
                    other => {
                        return Err(MetadataError::Invalid {
                            key: ROLE,
                            problem: format!("{other:?} is neither `request` nor `response`"),
                        });
                    }
                };
                Ok((
                    service,
                    role,
                    ServiceSpec::RequestResponse {
                        request: descriptor(REQUEST_DESCRIPTOR)?,
                        response: descriptor(RESPONSE_DESCRIPTOR)?,
                        qos: rr_qos_from(qos)?,
                    },
                ))
            }
            other => Err(MetadataError::Invalid {
                key: PATTERN,
                problem: format!("{other:?} is no shmbus pattern"),
            }),
        }
    }
}

/// A channel's metadata is not what shmbus writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// A key is missing.
    #[error(
        "its metadata has no `{key}`, so it was not recorded by shmbus (replay needs the descriptor shmbus stores)"
    )]
    Missing {
        /// The key.
        key: &'static str,
    },
    /// A value cannot be read.
    #[error("its metadata `{key}` is invalid: {problem}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(DIGITS[usize::from(b >> 4)] as char);
        text.push(DIGITS[usize::from(b & 15)] as char);
    }
    text
}

/// The bytes of hex text, if it is hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

fn overflow_word(policy: OverflowPolicy) -> &'static str {
    match policy {
        OverflowPolicy::OverwriteOldest => "overwrite-oldest",
        OverflowPolicy::Block => "block",
        OverflowPolicy::Discard => "discard",
        OverflowPolicy::Error => "error",
    }
}

/// A publish-subscribe QoS as `name=value` pairs.
pub fn pubsub_qos_text(q: &PubSubQos) -> String {
    format!(
        "history={},subscriber_buffer={},max_publishers={},max_subscribers={},max_nodes={},max_loans={},max_borrowed={},overflow={}",
        q.history,
        q.subscriber_buffer,
        q.max_publishers,
        q.max_subscribers,
        q.max_nodes,
        q.max_loans,
        q.max_borrowed,
        overflow_word(q.overflow)
    )
}

/// A request-response QoS as `name=value` pairs.
pub fn rr_qos_text(q: &RequestResponseQos) -> String {
    format!(
        "max_clients={},max_servers={},max_nodes={},max_active_requests_per_client={},response_buffer={},max_loans={},max_borrowed_responses={}",
        q.max_clients,
        q.max_servers,
        q.max_nodes,
        q.max_active_requests_per_client,
        q.response_buffer,
        q.max_loans,
        q.max_borrowed_responses
    )
}

/// The pairs of a QoS text; values not given keep their defaults, unknown names are
/// ignored (a newer recorder may know more).
fn pairs(text: &str) -> Result<Vec<(&str, &str)>, MetadataError> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| MetadataError::Invalid {
                    key: QOS,
                    problem: format!("{p:?} is not `name=value`"),
                })
        })
        .collect()
}

fn number(name: &str, value: &str) -> Result<u32, MetadataError> {
    value.parse().map_err(|_| MetadataError::Invalid {
        key: QOS,
        problem: format!("{name}={value:?} is not a number"),
    })
}

/// Reads [`pubsub_qos_text`] back.
pub fn pubsub_qos_from(text: &str) -> Result<PubSubQos, MetadataError> {
    let mut q = PubSubQos::default();
    for (name, value) in pairs(text)? {
        match name {
            "history" => q.history = number(name, value)?,
            "subscriber_buffer" => q.subscriber_buffer = number(name, value)?,
            "max_publishers" => q.max_publishers = number(name, value)?,
            "max_subscribers" => q.max_subscribers = number(name, value)?,
            "max_nodes" => q.max_nodes = number(name, value)?,
            "max_loans" => q.max_loans = number(name, value)?,
            "max_borrowed" => q.max_borrowed = number(name, value)?,
            "overflow" => {
                q.overflow = [
                    OverflowPolicy::OverwriteOldest,
                    OverflowPolicy::Block,
                    OverflowPolicy::Discard,
                    OverflowPolicy::Error,
                ]
                .into_iter()
                .find(|p| overflow_word(*p) == value)
                .ok_or_else(|| MetadataError::Invalid {
                    key: QOS,
                    problem: format!("overflow={value:?} is no overflow policy"),
                })?;
            }
            _ => {}
        }
    }
    Ok(q)
}

/// Reads [`rr_qos_text`] back.
pub fn rr_qos_from(text: &str) -> Result<RequestResponseQos, MetadataError> {
    let mut q = RequestResponseQos::default();
    for (name, value) in pairs(text)? {
        let field = match name {
            "max_clients" => &mut q.max_clients,
            "max_servers" => &mut q.max_servers,
            "max_nodes" => &mut q.max_nodes,
            "max_active_requests_per_client" => &mut q.max_active_requests_per_client,
            "response_buffer" => &mut q.response_buffer,
            "max_loans" => &mut q.max_loans,
            "max_borrowed_responses" => &mut q.max_borrowed_responses,
            _ => continue,
        };
        *field = number(name, value)?;
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("é0"), None);
    }

    #[test]
    fn qos_round_trips() {
        let q = PubSubQos {
            history: 3,
            subscriber_buffer: 99,
            overflow: OverflowPolicy::Block,
            ..PubSubQos::default()
        };
        assert_eq!(pubsub_qos_from(&pubsub_qos_text(&q)).unwrap(), q);
        let r = RequestResponseQos {
            max_clients: 5,
            response_buffer: 17,
            ..RequestResponseQos::default()
        };
        assert_eq!(rr_qos_from(&rr_qos_text(&r)).unwrap(), r);
        assert_eq!(pubsub_qos_from("").unwrap(), PubSubQos::default());
        assert!(pubsub_qos_from("history=x").is_err());
        assert!(pubsub_qos_from("overflow=sometimes").is_err());
        assert!(rr_qos_from("max_clients").is_err());
    }

    #[test]
    fn metadata_round_trips() {
        let spec = ServiceSpec::RequestResponse {
            request: Descriptor::of::<u32>(),
            response: Descriptor::of::<u64>(),
            qos: RequestResponseQos::default(),
        };
        let m = spec.metadata("calc", Role::Response).unwrap();
        let (service, role, back) = ServiceSpec::from_metadata(&m).unwrap();
        assert_eq!((service.as_str(), role), ("calc", Role::Response));
        assert!(
            back.type_of(Role::Request)
                .unwrap()
                .same_layout(&Descriptor::of::<u32>())
        );
        assert!(
            back.type_of(Role::Response)
                .unwrap()
                .same_layout(&Descriptor::of::<u64>())
        );
        let mut broken = m.clone();
        broken.remove(REQUEST_DESCRIPTOR);
        assert_eq!(
            ServiceSpec::from_metadata(&broken).unwrap_err(),
            MetadataError::Missing {
                key: REQUEST_DESCRIPTOR
            }
        );
        broken = m;
        broken.insert(REQUEST_DESCRIPTOR.into(), "00ff".into());
        assert!(matches!(
            ServiceSpec::from_metadata(&broken).unwrap_err(),
            MetadataError::Invalid { .. }
        ));
    }

    #[test]
    fn correlation_packs_client_and_request() {
        assert_eq!(correlation_sequence(3, 0x1234_5678), 0x0334_5678);
        assert_eq!(correlation_sequence(0, 1), 1);
    }
}
