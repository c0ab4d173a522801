//! What every subcommand shares: the global options, the domain's configuration, a node
//! for the commands that open ports, finding a service by name, errors.

use std::io::IsTerminal as _;
use std::time::Duration;

use clap::Args;
use shmbus::service::{InspectError, Pattern, ServiceInfo};
use shmbus::{Config, Node};

/// Options of every subcommand.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The domain (default: SHMBUS_DOMAIN, else `default`).
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) domain: Option<String>,
    /// Print JSON (one object per line for streams) instead of tables and text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// A failure of a subcommand, printed as its sentence.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Something the library said.
    #[error("{0}")]
    Library(Box<dyn std::error::Error + Send + Sync>),
    /// Something this tool says.
    #[error("{0}")]
    Message(String),
}

impl CliError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self::Message(message.into())
    }
}

macro_rules! from_library {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for CliError {
            fn from(error: $error) -> Self {
                Self::Library(Box::new(error))
            }
        }
    )*};
}

from_library!(
    shmbus::config::ConfigError,
    shmbus::node::NodeCreateError,
    shmbus::node::NodeListError,
    shmbus::service::DiscoveryError,
    shmbus::service::InspectError,
    shmbus::service::ServiceOpenError,
    shmbus::port::PublisherCreateError,
    shmbus::port::SubscriberCreateError,
    shmbus::port::ClientCreateError,
    shmbus::port::ReceiveError,
    shmbus::port::SendError,
    shmbus::port::RawSendValueError,
    shmbus::port::RequestSendError,
    shmbus::port::ResponseError,
    shmbus::message::ValidationError,
    shmbus::message::ValueError,
    shmbus::cleanup::CleanupError,
    serde_json::Error,
    std::io::Error,
);

pub(crate) type Result<T> = std::result::Result<T, CliError>;

impl Global {
    /// The domain's configuration.
    pub(crate) fn config(&self) -> Result<Config> {
        let config = Config::from_env()?;
        Ok(match &self.domain {
            Some(domain) => config.with_domain(domain)?,
            None => config,
        })
    }

    /// A node for a command that opens ports; Ctrl-C and SIGTERM end its waits.
    pub(crate) fn node(&self, command: &str) -> Result<Node> {
        Ok(Node::builder()
            .name(format!("shmbus-{command}"))
            .config(self.config()?)
            .signal_handling(true)
            .create()?)
    }
}

/// The service `name` of `pattern` in the domain, read without joining it; an error that
/// says what exists when it is not there.
pub(crate) fn find(config: &Config, name: &str, pattern: Pattern) -> Result<ServiceInfo> {
    if let Some(info) = shmbus::Service::inspect(config, name, pattern)? {
        return Ok(info);
    }
    let other = match pattern {
        Pattern::PublishSubscribe => Pattern::RequestResponse,
        Pattern::RequestResponse => Pattern::PublishSubscribe,
    };
    let hint = match shmbus::Service::inspect(config, name, other) {
        Ok(Some(_)) => format!(
            "; {name:?} is a {} service ({})",
            other.label(),
            match other {
                Pattern::PublishSubscribe => "use `shmbus echo`, `pub` or `hz`",
                Pattern::RequestResponse => "use `shmbus call`",
            }
        ),
        _ => "; `shmbus list` shows the services".to_owned(),
    };
    Err(CliError::new(format!(
        "no {} service named {name:?} in domain {:?}{hint}",
        pattern.label(),
        config.domain()
    )))
}

/// Both services of `name` (a name may host one of each pattern); an error when there is
/// neither.
pub(crate) fn find_any(config: &Config, name: &str) -> Result<Vec<ServiceInfo>> {
    let mut found = Vec::new();
    for pattern in [Pattern::PublishSubscribe, Pattern::RequestResponse] {
        match shmbus::Service::inspect(config, name, pattern) {
            Ok(Some(info)) => found.push(info),
            Ok(None) => {}
            Err(error @ InspectError { .. }) => return Err(error.into()),
        }
    }
    if found.is_empty() {
        return Err(CliError::new(format!(
            "no service named {name:?} in domain {:?}; `shmbus list` shows the services",
            config.domain()
        )));
    }
    Ok(found)
}

/// Seconds given on the command line.
pub(crate) fn seconds(text: &str) -> std::result::Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.0..=1e9).contains(&value) {
        return Err(format!("{text} seconds is out of range"));
    }
    Ok(Duration::from_secs_f64(value))
}

/// Whether standard output is a terminal (live refresh, widths).
pub(crate) fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// A node's name for people: its name, or its id when it has none.
/// What living nodes say about `service` (`None`: about every service), as
/// `(service, "node (id)", text)`, in the order of the nodes and their notes.
pub(crate) fn notes_about<'a>(
    nodes: &'a [shmbus::node::NodeInfo],
    service: Option<&str>,
) -> Vec<(&'a str, String, &'a str)> {
    nodes
        .iter()
        .filter(|n| n.state == shmbus::node::NodeState::Alive)
        .flat_map(|n| {
            n.notes
                .iter()
                .filter(move |note| service.is_none_or(|s| s == note.service))
                .map(move |note| {
                    (
                        note.service.as_str(),
                        format!("{} ({})", node_label(std::slice::from_ref(n), n.id), n.id),
                        note.text.as_str(),
                    )
                })
        })
        .collect()
}

pub(crate) fn node_label(nodes: &[shmbus::node::NodeInfo], id: shmbus::NodeId) -> String {
    match nodes.iter().find(|n| n.id == id) {
        Some(n) if !n.name.is_empty() => n.name.clone(),
        _ => format!("{id}"),
    }
}
