//! `shmbus clean`: finds the dead nodes of a domain (their liveness token is free) and
//! removes what they left: their ports and the chunks those held, services no live node
//! uses (with all their objects and lock files), their tokens, empty folders. Prints what
//! it removed by service name; `--dry-run` only prints it.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use shmbus::node::{NodeInfo, NodeState};
use shmbus::service::ServiceInfo;
use shmbus::{Node, NodeId, Service};

use crate::common::{Global, Result, node_label};

/// `shmbus clean`.
#[derive(Debug, Args)]
pub(crate) struct CleanArgs {
    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    dry_run: bool,
}

/// What a dead node left in one service.
struct Left {
    service: String,
    pattern: &'static str,
    ports: usize,
    /// Whether the service goes with it (no live node holds it).
    service_goes: bool,
}

fn is_dead(state: Option<NodeState>) -> bool {
    state != Some(NodeState::Alive)
}

/// The dead nodes: those with a free token, and those that left ports or entries in a
/// service without any token at all.
fn dead_nodes(nodes: &[NodeInfo], services: &[ServiceInfo]) -> Vec<NodeId> {
    let mut dead: Vec<NodeId> = nodes
        .iter()
        .filter(|n| n.state == NodeState::Dead)
        .map(|n| n.id)
        .collect();
    for s in services {
        let ids = s
            .nodes
            .iter()
            .filter(|(_, state)| is_dead(*state))
            .map(|(id, _)| *id)
            .chain(
                s.ports
                    .iter()
                    .filter(|p| is_dead(p.node_state))
                    .map(|p| p.node),
            );
        for id in ids {
            if !dead.contains(&id) {
                dead.push(id);
            }
        }
    }
    dead
}

fn left_by(id: NodeId, services: &[ServiceInfo]) -> Vec<Left> {
    services
        .iter()
        .filter(|s| s.nodes.iter().any(|(n, _)| *n == id) || s.ports.iter().any(|p| p.node == id))
        .map(|s| Left {
            service: s.name.to_string(),
            pattern: s.pattern.label(),
            ports: s.ports.iter().filter(|p| p.node == id).count(),
            service_goes: s.nodes.iter().all(|(_, state)| is_dead(*state))
                && s.ports.iter().all(|p| is_dead(p.node_state)),
        })
        .collect()
}

pub(crate) fn run(global: &Global, args: &CleanArgs) -> Result<ExitCode> {
    let config = global.config()?;
    let nodes = Node::list(&config)?;
    let services: Vec<ServiceInfo> = Service::list(&config)?.into_iter().flatten().collect();
    let dead = dead_nodes(&nodes, &services);
    let plan: Vec<(NodeId, Vec<Left>)> = dead
        .iter()
        .map(|&id| (id, left_by(id, &services)))
        .collect();
    let goes: Vec<String> = {
        let mut names: Vec<String> = plan
            .iter()
            .flat_map(|(_, left)| left.iter().filter(|l| l.service_goes))
            .map(|l| format!("{} ({})", l.service, l.pattern))
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let report = if args.dry_run || dead.is_empty() {
        None
    } else {
        // A node of our own that does not clean when it is created: the cleanup below is
        // the one this command reports.
        let node = Node::builder()
            .name("shmbus-clean")
            .config(config.clone())
            .cleanup(false)
            .create()?;
        Some(node.cleanup_dead_nodes()?)
    };
    if global.json {
        let out = json!({
            "dry_run": args.dry_run,
            "dead_nodes": plan.iter().map(|(id, left)| {
                let info = nodes.iter().find(|n| n.id == *id);
                json!({
                    "id": id.to_string(),
                    "name": info.map(|n| n.name.clone()),
                    "pid": info.and_then(|n| n.pid),
                    "executable": info.map(|n| n.executable.clone()),
                    "token": info.is_some(),
                    "services": left.iter().map(|l| json!({
                        "name": l.service,
                        "pattern": l.pattern,
                        "ports": l.ports,
                        "service_removed": l.service_goes,
                    })).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
            "services_removed": goes,
            "report": report.map(|r| json!({
                "services_swept": r.services_swept,
                "dead_entries_removed": r.dead_entries_removed,
                "services_removed": r.services_removed,
                "objects_removed": r.objects_removed,
                "tokens_removed": r.tokens_removed,
                "busy": r.busy,
            })),
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    if dead.is_empty() {
        println!(
            "nothing to clean: no dead node in domain {:?}",
            config.domain()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for (id, left) in &plan {
        match nodes.iter().find(|n| n.id == *id) {
            Some(n) => println!(
                "dead node {} ({id}, pid {}, {})",
                node_label(&nodes, *id),
                n.pid.map_or_else(|| "?".to_owned(), |p| p.to_string()),
                if n.executable.is_empty() {
                    "?"
                } else {
                    &n.executable
                }
            ),
            None => println!("dead node {id} (its token is gone)"),
        }
        for l in left {
            println!(
                "  {verb} from {} ({}): {} port(s){}",
                l.service,
                l.pattern,
                l.ports,
                if l.service_goes {
                    "; the service goes with it (no live node uses it)"
                } else {
                    ""
                }
            );
        }
        if nodes.iter().any(|n| n.id == *id) {
            println!("  {verb} its token");
        }
    }
    if let Some(r) = report {
        println!(
            "swept {} service(s): removed {} dead node entr{}, {} service(s), {} shared-memory object(s), {} token(s)",
            r.services_swept,
            r.dead_entries_removed,
            if r.dead_entries_removed == 1 {
                "y"
            } else {
                "ies"
            },
            r.services_removed,
            r.objects_removed,
            r.tokens_removed
        );
        if r.busy > 0 {
            println!(
                "{} service(s) were busy (another process held their lock); run `shmbus clean` again",
                r.busy
            );
        }
    } else {
        println!("dry run: nothing was removed");
    }
    Ok(ExitCode::SUCCESS)
}
