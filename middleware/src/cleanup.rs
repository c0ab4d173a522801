//! Dead-node cleanup: whatever a dead node held is recovered by the next participant that
//! notices.
//!
//! A node is dead when its liveness token (an exclusive `flock` on its token file) can be
//! taken: the kernel drops the lock when the process dies, however it dies, so neither a
//! reused pid nor a slow process can fool the test. A node that is starting up already
//! holds its token (the file appears under its name locked), and a cleaner holds the token
//! of the dead node it cleans, so a second cleaner sees it "alive" and leaves it alone:
//! exactly one cleaner works on a dead node at a time. Every step is idempotent (CAS from
//! the dead owner's id to 0, unlink of names that may already be gone), so a cleaner that
//! is killed halfway leaves a state that the next one finishes.
//!
//! Who cleans, and when:
//! - [`Node::cleanup_dead_nodes`]: every service of the domain is
//!   swept under its lock (dead nodes' ports leave its registry, their chunks go back to
//!   the pools of the survivors at their next operation, and a service no live node uses
//!   is removed with all its objects), then the tokens of dead nodes that were in no
//!   service are removed;
//! - node creation runs the same sweep ([`NodeBuilder::cleanup`](crate::node::NodeBuilder::cleanup));
//! - opening a service removes the dead nodes of that service, and so does a port that
//!   finds the service full, a client whose server died, and a server whose client died.

use std::time::Duration;

use crate::node::{Liveness, Node, NodeBuilder, NodeCreateError, NodeListError, NodeState};
use crate::service::sweep::SweepError;
use crate::service::sweep::{self, Swept};
use crate::service::{OsError, Removed};

impl NodeBuilder {
    /// Creates the node and its liveness token, after cleaning up behind the dead nodes of
    /// the domain unless [`cleanup(false)`](NodeBuilder::cleanup) was set (a failure of
    /// that cleanup is only logged).
    pub fn create(self) -> Result<Node, NodeCreateError> {
        let cleanup = self.cleans_up();
        let node = self.create_node()?;
        if cleanup && let Err(error) = run(&node, Duration::from_millis(100)) {
            tracing::warn!(%error, "cleanup after dead nodes at node creation failed");
        }
        Ok(node)
    }
}

impl Node {
    /// Cleans up after the dead nodes of this node's domain: their ports leave every
    /// service, the chunks they held go back to their pools, services no live node uses
    /// are removed with all their objects, and their token files go. Waits at most 1 s for
    /// each service's lock; a service busy for longer is counted in
    /// [`CleanupReport::busy`] and left for later.
    pub fn cleanup_dead_nodes(&self) -> Result<CleanupReport, CleanupError> {
        run(self, Duration::from_secs(1))
    }
}

/// What a cleanup did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Services looked at.
    pub services_swept: usize,
    /// Dead nodes whose entries were removed from a service (counted once per service).
    pub dead_entries_removed: usize,
    /// Services removed because no live node used them any more.
    pub services_removed: usize,
    /// Shared-memory objects removed: the data segments of dead publishers, and the
    /// objects of removed services.
    pub objects_removed: usize,
    /// Token files of dead nodes removed.
    pub tokens_removed: usize,
    /// Services skipped because another process held their lock throughout.
    pub busy: usize,
}

impl CleanupReport {
    fn add(&mut self, dead: Removed) {
        self.dead_entries_removed += dead.nodes;
        self.objects_removed += dead.segments;
        self.tokens_removed += dead.tokens;
    }
}

/// Failure of [`Node::cleanup_dead_nodes`].
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// The domain's objects or files could not be listed.
    #[error("cannot list the domain's services for cleanup: {0}")]
    List(#[from] OsError),
    /// The domain's nodes could not be listed.
    #[error(transparent)]
    Nodes(#[from] NodeListError),
    /// A service could not be swept (the others were).
    #[error("cleaning a service failed (the other services were cleaned): {0}")]
    Service(#[from] SweepError),
}

/// Sweeps every service of `node`'s domain, then removes dead nodes' tokens.
pub(crate) fn run(node: &Node, lock_timeout: Duration) -> Result<CleanupReport, CleanupError> {
    let mut report = CleanupReport::default();
    let mut first_error = None;
    for key in sweep::services(node)? {
        report.services_swept += 1;
        match sweep::sweep(node, key, lock_timeout) {
            Ok(Swept::Kept { dead, orphans }) => {
                report.add(dead);
                report.objects_removed += orphans;
            }
            Ok(Swept::Removed { dead, objects }) => {
                report.add(dead);
                report.services_removed += 1;
                report.objects_removed += objects;
            }
            Ok(Swept::Busy) => report.busy += 1,
            Ok(Swept::Foreign) => {}
            Err(error) => {
                tracing::warn!(%error, "sweeping a service failed");
                first_error.get_or_insert(error);
            }
        }
    }
    let config = node.config();
    for info in Node::list(config)? {
        if info.state != NodeState::Dead || info.id == node.id() {
            continue;
        }
        if let Liveness::Dead(token) = node.liveness(info.id) {
            match token.remove() {
                Ok(()) => report.tokens_removed += 1,
                Err(error) => {
                    tracing::warn!(id = %info.id, %error, "could not remove a dead node's token")
                }
            }
        }
    }
    node.domain_folder().remove_dir_if_empty("services");
    if report != CleanupReport::default() {
        tracing::info!(?report, domain = config.domain(), "cleanup");
    }
    match first_error {
        Some(error) => Err(error.into()),
        None => Ok(report),
    }
}
