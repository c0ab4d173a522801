//! `shmbus list [services|nodes]`: the services of a domain with their types, ports and
//! nodes; or its nodes with their state and the services they use.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;
use shmbus::node::{NodeInfo, NodeState};
use shmbus::service::{Pattern, PortRole, ServiceInfo};
use shmbus::{Node, NodeId, Service};

use crate::common::{Global, Result, node_label, notes_about};
use crate::render::Table;

/// `shmbus list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// What to list.
    #[arg(value_enum, default_value_t = What::Services)]
    what: What,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum What {
    /// Services: name, pattern, types, ports, nodes.
    Services,
    /// Nodes: name, id, pid, state, executable, services.
    Nodes,
}

pub(crate) fn run(global: &Global, args: &ListArgs) -> Result<ExitCode> {
    let config = global.config()?;
    let nodes = Node::list(&config)?;
    let listed = Service::list(&config)?;
    let mut services = Vec::new();
    let mut broken = Vec::new();
    for entry in listed {
        match entry {
            Ok(info) => services.push(info),
            Err(error) => broken.push(error),
        }
    }
    match args.what {
        What::Services => print_services(global, &services, &nodes, &broken),
        What::Nodes => print_nodes(global, &services, &nodes),
    }
    for error in &broken {
        if !global.json {
            eprintln!("warning: {error}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `3 publishers, 1 subscriber`.
pub(crate) fn ports_text(info: &ServiceInfo) -> String {
    let roles: &[(PortRole, &str)] = match info.pattern {
        Pattern::PublishSubscribe => &[
            (PortRole::Publisher, "publisher"),
            (PortRole::Subscriber, "subscriber"),
        ],
        Pattern::RequestResponse => &[(PortRole::Client, "client"), (PortRole::Server, "server")],
    };
    roles
        .iter()
        .map(|(role, word)| {
            let n = info.count(*role);
            format!("{n} {word}{}", if n == 1 { "" } else { "s" })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn state_word(state: Option<NodeState>) -> &'static str {
    match state {
        Some(NodeState::Alive) => "alive",
        Some(NodeState::Dead) => "dead",
        None => "gone",
    }
}

/// The services that node `id` takes part in.
fn services_of(services: &[ServiceInfo], id: NodeId) -> Vec<String> {
    services
        .iter()
        .filter(|s| s.nodes.iter().any(|(n, _)| *n == id) || s.ports.iter().any(|p| p.node == id))
        .map(|s| s.name.to_string())
        .collect()
}

fn print_services(
    global: &Global,
    services: &[ServiceInfo],
    nodes: &[NodeInfo],
    broken: &[shmbus::service::InspectError],
) {
    if global.json {
        let mut out: Vec<serde_json::Value> = services
            .iter()
            .map(|s| {
                json!({
                    "name": s.name.as_str(),
                    "pattern": s.pattern.label(),
                    "types": s.types.iter().map(|t| t.name()).collect::<Vec<_>>(),
                    "ports": s.ports.iter().map(|p| json!({
                        "role": format!("{:?}", p.role).to_lowercase(),
                        "id": format!("{:016x}", p.id),
                        "node": p.node.to_string(),
                    })).collect::<Vec<_>>(),
                    "nodes": s.nodes.iter().map(|(id, state)| json!({
                        "id": id.to_string(),
                        "name": node_label(nodes, *id),
                        "state": state_word(*state),
                    })).collect::<Vec<_>>(),
                    "notes": notes_about(nodes, Some(s.name.as_str())).into_iter().map(|(_, node, text)| json!({
                        "node": node,
                        "text": text,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        out.extend(
            broken
                .iter()
                .map(|e| json!({ "name": e.service, "error": e.problem })),
        );
        println!("{}", serde_json::Value::Array(out));
        return;
    }
    let notes = notes_about(nodes, None);
    if services.is_empty() && broken.is_empty() && notes.is_empty() {
        println!("no services in this domain");
        return;
    }
    let mut table = Table::new(&["SERVICE", "PATTERN", "TYPE", "PORTS", "NODES"]);
    for s in services {
        let types: Vec<&str> = s.types.iter().map(|t| t.name()).collect();
        let nodes_text: Vec<String> = s
            .nodes
            .iter()
            .map(|(id, state)| match state {
                Some(NodeState::Alive) => node_label(nodes, *id),
                other => format!("{} ({})", node_label(nodes, *id), state_word(*other)),
            })
            .collect();
        table.row(vec![
            s.name.to_string(),
            s.pattern.label().to_owned(),
            types.join(" -> "),
            ports_text(s),
            nodes_text.join(", "),
        ]);
    }
    table.print();
    // What nodes say about services (a bridge: what it imports, what it refused and why),
    // also of services that are not in this domain.
    if !notes.is_empty() {
        println!();
        let mut table = Table::new(&["SERVICE", "NOTE BY", "NOTE"]);
        for (service, node, text) in notes {
            table.row(vec![service.to_owned(), node, text.to_owned()]);
        }
        table.print();
    }
}

fn print_nodes(global: &Global, services: &[ServiceInfo], nodes: &[NodeInfo]) {
    if global.json {
        let out: Vec<serde_json::Value> = nodes
            .iter()
            .map(|n| {
                json!({
                    "id": n.id.to_string(),
                    "name": n.name,
                    "pid": n.pid,
                    "state": state_word(Some(n.state)),
                    "executable": n.executable,
                    "services": services_of(services, n.id),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(out));
        return;
    }
    if nodes.is_empty() {
        println!("no nodes in this domain");
        return;
    }
    let mut table = Table::new(&["NODE", "ID", "PID", "STATE", "SERVICES", "EXECUTABLE"]);
    for n in nodes {
        table.row(vec![
            if n.name.is_empty() {
                "?".to_owned()
            } else {
                n.name.clone()
            },
            n.id.to_string(),
            n.pid.map_or_else(|| "?".to_owned(), |p| p.to_string()),
            state_word(Some(n.state)).to_owned(),
            services_of(services, n.id).join(", "),
            n.executable.clone(),
        ]);
    }
    table.print();
}
