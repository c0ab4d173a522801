//! Nodes: the participants of a domain, usually one per process.
//!
//! A node has a unique 64-bit id, a name, and a **liveness token**: the file
//! `<runtime dir>/<domain>/nodes/<id>.node`, held under an exclusive `flock` for the node's
//! whole life. The kernel drops the lock when the process dies, however it dies, so "can
//! the lock be taken?" answers "is the node dead?" exactly — no heartbeat thread, no PID
//! guessing. The file appears only once it is locked (see [`crate::os::lock`]), so a node
//! that is still starting is never taken for dead. The id is unique within the domain: the
//! token file is created exclusively, and a collision just draws another id.
//!
//! The token file holds `name\npid\nexecutable\n`, for tools; nothing relies on the pid.
//! After these lines come the node's notes ([`Node::set_notes`]), one per line:
//! `note\t<service>\t<text>`: what a node says about services for tools to show (a bridge
//! says which services it imports and why it refused one).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::os::dir::{Folder, FolderError};
use crate::os::lock::{self, LockCreateError, LockFile, LockProbeError, TryLock};
use crate::os::process;
use crate::os::signal::{self, SignalError, TerminationRequested};

/// Longest node name, in bytes.
pub const MAX_NODE_NAME_LEN: usize = 64;

/// Most bytes a token file may hold (its first lines and the notes).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// What a node says about a service, for tools ([`Node::set_notes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeNote {
    /// The service it is about (it may not exist in this domain).
    pub service: String,
    /// What the node says: one line.
    pub text: String,
}

/// Failure of [`Node::set_notes`].
#[derive(Debug, thiserror::Error)]
pub enum NodeNotesError {
    /// The notes do not fit in the token file.
    #[error(
        "the node's notes take {size} bytes, more than the {max} a token file holds: write fewer or shorter notes"
    )]
    TooLarge {
        /// Bytes the token file would take.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Writing failed.
    #[error("cannot write the node's notes into its token file: {0}")]
    Write(rustix::io::Errno),
}

/// A node's id, unique within its domain while the node lives. Never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u64);

impl NodeId {
    /// The raw value (as stored in shared memory).
    pub fn value(self) -> u64 {
        self.0
    }

    /// An id from its raw value; `None` for zero.
    pub fn from_value(value: u64) -> Option<Self> {
        (value != 0).then_some(Self(value))
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Failure of [`NodeBuilder::create`].
#[derive(Debug, thiserror::Error)]
pub enum NodeCreateError {
    /// The name is empty, too long or holds control characters.
    #[error(
        "invalid node name {0:?}: use 1 to {MAX_NODE_NAME_LEN} bytes without control characters"
    )]
    InvalidName(String),
    /// The configuration (from the environment) is invalid.
    #[error("invalid shmbus configuration: {0}")]
    Config(#[from] ConfigError),
    /// The runtime folder or the domain's folders cannot be made or used.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// The liveness token could not be created.
    #[error("cannot create the node's liveness token: {0}")]
    Token(#[from] LockCreateError),
    /// No random id could be drawn.
    #[error(transparent)]
    Random(#[from] process::RandomError),
    /// The SIGINT/SIGTERM handler could not be installed.
    #[error(transparent)]
    Signals(#[from] SignalError),
}

/// Failure of [`Node::list`].
#[derive(Debug, thiserror::Error)]
pub enum NodeListError {
    /// The domain's folders cannot be opened.
    #[error("cannot list the nodes of domain {domain:?}: {source}")]
    Folder {
        /// The domain.
        domain: String,
        /// The cause.
        source: FolderError,
    },
    /// The nodes folder cannot be read.
    #[error("cannot list the nodes of domain {domain:?} in {dir}: {errno}")]
    Read {
        /// The domain.
        domain: String,
        /// The folder.
        dir: PathBuf,
        /// The error.
        errno: rustix::io::Errno,
    },
}

/// Whether a listed node's process still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Its token is held.
    Alive,
    /// Its token is free: the process died without removing it.
    Dead,
}

/// A node found by [`Node::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its id.
    pub id: NodeId,
    /// Its name (empty if the token file could not be read).
    pub name: String,
    /// The pid it was created by (informative only: pids are reused).
    pub pid: Option<u32>,
    /// The executable of its process, as that process saw it (empty if unknown).
    pub executable: String,
    /// Alive or dead, tested through the token.
    pub state: NodeState,
    /// What it says about services ([`Node::set_notes`]).
    pub notes: Vec<NodeNote>,
}

/// Builds a [`Node`].
#[derive(Debug, Default)]
#[must_use]
pub struct NodeBuilder {
    name: Option<String>,
    config: Option<Config>,
    skip_cleanup: bool,
    signal_handling: bool,
}

impl NodeBuilder {
    /// The node's name (default: the executable's name). Names need not be unique.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Whether creating the node first cleans up after dead nodes of the domain, as
    /// [`Node::cleanup_dead_nodes`] does (default `true`; a failure there is only logged).
    pub fn cleanup(mut self, enabled: bool) -> Self {
        self.skip_cleanup = !enabled;
        self
    }

    /// The configuration (default: [`Config::from_env`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Whether SIGINT (Ctrl-C) and SIGTERM ask the program to stop instead of killing it
    /// (default `false`: a library does not take signals over unless asked). With `true`,
    /// a handler is installed for the whole process (see [`crate::os::signal`]);
    /// [`Node::wait`] and every blocking receive or wait set then end with a termination
    /// error after such a signal, so the program leaves its loop, drops its ports and
    /// leaves nothing behind. A second Ctrl-C kills the program as usual.
    pub fn signal_handling(mut self, enabled: bool) -> Self {
        self.signal_handling = enabled;
        self
    }

    /// Whether [`create`](Self::create) cleans up after dead nodes first.
    pub(crate) fn cleans_up(&self) -> bool {
        !self.skip_cleanup
    }

    /// Creates the node and its liveness token ([`create`](Self::create) adds the cleanup,
    /// which is a layer above nodes: see [`crate::cleanup`]).
    pub(crate) fn create_node(self) -> Result<Node, NodeCreateError> {
        let config = match self.config {
            Some(config) => config,
            None => Config::from_env()?,
        };
        let executable = std::env::current_exe().ok();
        let name = self.name.unwrap_or_else(|| {
            executable
                .as_ref()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "node".to_owned())
        });
        if name.is_empty() || name.len() > MAX_NODE_NAME_LEN || name.chars().any(char::is_control) {
            return Err(NodeCreateError::InvalidName(name));
        }
        if self.signal_handling {
            signal::install_termination_handler()?;
        }
        let mut races = 0;
        let (domain, nodes, id, token) = loop {
            let domain = config.open_domain_folder()?;
            let nodes = match domain.open_or_create("nodes") {
                Ok(nodes) => nodes,
                Err(e) if e.is_race() && races < 100 => {
                    races += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let Some(id) = NodeId::from_value(process::random_u64()?) else {
                continue;
            };
            match LockFile::create(&nodes, &token_name(id)) {
                Ok(token) => break (domain, nodes, id, token),
                Err(LockCreateError::AlreadyExists { .. }) => continue,
                // The last node of the domain removed the (empty) folder meanwhile.
                Err(e) if e.is_folder_race() && races < 100 => races += 1,
                Err(e) => return Err(e.into()),
            }
        };
        let executable = executable.map_or(String::new(), |p| p.display().to_string());
        let header = format!("{name}\n{}\n{executable}\n", process::pid());
        if let Err(error) = token.write_contents(header.as_bytes()) {
            tracing::warn!(%id, %error, "could not write the node's name into its token file");
        }
        tracing::info!(%id, name, domain = config.domain(), "node created");
        let node = Node {
            inner: Arc::new(NodeInner {
                id,
                name,
                config,
                domain,
                nodes,
                token: Some(token),
                header,
            }),
        };
        Ok(node)
    }
}

#[derive(Debug)]
struct NodeInner {
    id: NodeId,
    name: String,
    config: Config,
    /// The domain's folder, checked and held open.
    domain: Folder,
    /// Its `nodes` folder, where the tokens are.
    nodes: Folder,
    token: Option<LockFile>,
    /// The token file's first lines (name, pid, executable).
    header: String,
}

impl Drop for NodeInner {
    fn drop(&mut self) {
        if let Some(token) = self.token.take()
            && let Err(error) = token.remove()
        {
            tracing::warn!(id = %self.id, %error, "could not remove the node's token file");
        }
        self.domain.remove_dir_if_empty("nodes");
        // The domain's folder and the runtime folder too, once empty: the last node leaves
        // nothing behind (whoever comes next makes them again).
        crate::os::dir::remove_dir_if_empty(self.domain.path());
        crate::os::dir::remove_dir_if_empty(&self.config.runtime_dir());
        tracing::info!(id = %self.id, name = self.name, "node removed");
    }
}

/// A participant of a domain. Cheap to clone (a shared handle); the node ends when the
/// last clone and the last service or port created from it are dropped.
#[derive(Debug, Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

impl Node {
    /// Starts building a node.
    pub fn builder() -> NodeBuilder {
        NodeBuilder::default()
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The node's configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The domain's folder, checked to be ours and held open: everything of the domain in
    /// the runtime folder is reached relative to it.
    pub fn domain_folder(&self) -> &Folder {
        &self.inner.domain
    }

    /// Sleeps for `cycle`, or less if the program is asked to terminate: then it returns
    /// [`TerminationRequested`]. The loop of a program that runs until Ctrl-C:
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # let node = shmbus::Node::builder().signal_handling(true).create().unwrap();
    /// while node.wait(Duration::from_millis(100)).is_ok() {
    ///     // publish, receive, ...
    /// }
    /// // Ctrl-C or SIGTERM: the ports and the node are dropped here, leaving nothing.
    /// ```
    ///
    /// Signals end the wait only with [`NodeBuilder::signal_handling`] (or the program's own
    /// handler calling [`signal::request_termination`]).
    pub fn wait(&self, cycle: Duration) -> Result<(), TerminationRequested> {
        signal::sleep(cycle)
    }

    /// Whether the program was asked to terminate (see [`Node::wait`]). One atomic load.
    pub fn termination_requested(&self) -> bool {
        signal::termination_requested().is_some()
    }

    /// Replaces what this node says about services, shown by tools (`shmbus list` and
    /// `inspect`) and returned by [`Node::list`]. Control characters in a note become
    /// spaces. The notes go when the node goes.
    pub fn set_notes(&self, notes: &[NodeNote]) -> Result<(), NodeNotesError> {
        let line = |text: &str| {
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
        };
        let mut contents = self.inner.header.clone();
        for note in notes {
            contents.push_str(&format!(
                "note\t{}\t{}\n",
                line(&note.service),
                line(&note.text)
            ));
        }
        if contents.len() > MAX_TOKEN_BYTES {
            return Err(NodeNotesError::TooLarge {
                size: contents.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        match &self.inner.token {
            Some(token) => token
                .replace_contents(contents.as_bytes())
                .map_err(NodeNotesError::Write),
            None => Ok(()),
        }
    }

    /// Lists the nodes of `config`'s domain, alive and dead, by name (then id).
    pub fn list(config: &Config) -> Result<Vec<NodeInfo>, NodeListError> {
        let folder_error = |source| NodeListError::Folder {
            domain: config.domain().to_owned(),
            source,
        };
        let Some(domain) = config.find_domain_folder().map_err(folder_error)? else {
            return Ok(Vec::new());
        };
        let Some(nodes) = domain.open("nodes").map_err(folder_error)? else {
            return Ok(Vec::new());
        };
        let names = nodes.list(".node").map_err(|errno| NodeListError::Read {
            domain: config.domain().to_owned(),
            dir: nodes.path().to_owned(),
            errno,
        })?;
        let mut found = Vec::new();
        for file in names {
            let Some(id) = file
                .strip_suffix(".node")
                .and_then(|s| u64::from_str_radix(s, 16).ok())
                .and_then(NodeId::from_value)
            else {
                continue;
            };
            let state = match liveness(&nodes, id) {
                Liveness::Alive => NodeState::Alive,
                Liveness::Gone => continue,
                Liveness::Dead(_token) => NodeState::Dead,
            };
            let text = nodes.read_file(&file, MAX_TOKEN_BYTES).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            let mut lines = text.lines();
            let name = lines.next().unwrap_or("").to_owned();
            let pid = lines.next().and_then(|l| l.parse().ok());
            let executable = lines.next().unwrap_or("").to_owned();
            // Whatever another process wrote: lines of another shape (or cut by a rewrite
            // read halfway) are skipped.
            let notes = lines
                .filter_map(|l| {
                    let mut parts = l.splitn(3, '\t');
                    match (parts.next(), parts.next(), parts.next()) {
                        (Some("note"), Some(service), Some(text)) => Some(NodeNote {
                            service: service.to_owned(),
                            text: text.to_owned(),
                        }),
                        _ => None,
                    }
                })
                .collect();
            found.push(NodeInfo {
                id,
                name,
                pid,
                executable,
                state,
                notes,
            });
        }
        // By name, then id: the same order however the folder lists its files.
        found.sort_by(|a, b| (a.name.as_str(), a.id).cmp(&(b.name.as_str(), b.id)));
        Ok(found)
    }

    /// Tests whether node `id` of this node's domain is alive.
    pub(crate) fn liveness(&self, id: NodeId) -> Liveness {
        if id == self.id() {
            return Liveness::Alive;
        }
        liveness(&self.inner.nodes, id)
    }
}

/// What a node's token says.
#[derive(Debug)]
pub(crate) enum Liveness {
    /// Its process runs (or the token could not be tested: assume alive).
    Alive,
    /// Its token file does not exist (removed, or never created).
    Gone,
    /// Its process died; the caller now holds the token and is the one cleaner.
    Dead(LockFile),
}

/// Tests whether node `id`, whose token is in `nodes`, is alive.
fn liveness(nodes: &Folder, id: NodeId) -> Liveness {
    match lock::try_lock(nodes, &token_name(id)) {
        Ok(TryLock::Held) => Liveness::Alive,
        Ok(TryLock::Missing) => Liveness::Gone,
        Ok(TryLock::Acquired(token)) => Liveness::Dead(token),
        Err(error @ LockProbeError::Untrusted { .. }) => {
            // Not a token of ours: nothing can be said of that node; never clean on it.
            tracing::warn!(%id, %error, "a node token that is not ours; treating the node as alive");
            Liveness::Alive
        }
        Err(error) => {
            tracing::warn!(%id, %error, "cannot test a node's liveness; assuming it is alive");
            Liveness::Alive
        }
    }
}

fn token_name(id: NodeId) -> String {
    format!("{id}.node")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tag: &str) -> Config {
        let root = std::env::temp_dir().join(format!("shmbus-node-{tag}-{}", std::process::id()));
        Config::default()
            .with_domain(format!("nodetest_{tag}"))
            .unwrap()
            .with_runtime_dir(root)
            .unwrap()
    }

    #[test]
    fn nodes_are_listed_and_removed() {
        let config = config("list");
        let a = Node::builder()
            .name("alpha")
            .config(config.clone())
            .create()
            .unwrap();
        let b = Node::builder()
            .name("beta")
            .config(config.clone())
            .create()
            .unwrap();
        assert_ne!(a.id(), b.id());
        let mut listed = Node::list(&config).unwrap();
        listed.sort_by(|x, y| x.name.cmp(&y.name));
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].name, "alpha");
        assert_eq!(listed[0].state, NodeState::Alive);
        assert_eq!(listed[0].pid, Some(std::process::id()));
        drop(a);
        assert_eq!(Node::list(&config).unwrap().len(), 1);
        drop(b);
        assert!(Node::list(&config).unwrap().is_empty());
        assert!(!config.domain_dir().exists());
        assert!(!config.runtime_dir().exists());
    }

    #[test]
    fn notes_are_listed_replaced_and_bounded() {
        let config = config("notes");
        let node = Node::builder()
            .name("bridge")
            .config(config.clone())
            .create()
            .unwrap();
        let note = |service: &str, text: &str| NodeNote {
            service: service.to_owned(),
            text: text.to_owned(),
        };
        node.set_notes(&[
            note("robot/a", "imported"),
            note("robot/b", "refused:\tline one\nline two"),
        ])
        .unwrap();
        let listed = Node::list(&config).unwrap();
        assert_eq!(listed[0].name, "bridge");
        assert_eq!(listed[0].pid, Some(std::process::id()));
        assert_eq!(
            listed[0].notes,
            [
                note("robot/a", "imported"),
                note("robot/b", "refused: line one line two")
            ]
        );
        // Replaced, not appended: fewer notes leave nothing of the longer old ones.
        node.set_notes(&[note("robot/c", "x")]).unwrap();
        assert_eq!(
            Node::list(&config).unwrap()[0].notes,
            [note("robot/c", "x")]
        );
        let huge = vec![note("robot/d", &"y".repeat(1000)); 100];
        assert!(matches!(
            node.set_notes(&huge),
            Err(NodeNotesError::TooLarge {
                max: MAX_TOKEN_BYTES,
                ..
            })
        ));
        node.set_notes(&[]).unwrap();
        assert!(Node::list(&config).unwrap()[0].notes.is_empty());
        assert_eq!(Node::list(&config).unwrap()[0].name, "bridge");
    }

    #[test]
    fn invalid_names_are_rejected() {
        for bad in ["", "a\nb", &"n".repeat(65)] {
            let err = Node::builder()
                .name(bad)
                .config(config("names"))
                .create()
                .unwrap_err();
            assert!(matches!(err, NodeCreateError::InvalidName(_)), "{err}");
        }
        // Nothing was created, not even the runtime folder.
        assert!(!config("names").runtime_dir().exists());
    }
}
