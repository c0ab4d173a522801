//! `shmbus inspect SERVICE`: everything about one service that can be read without joining
//! it — pattern, ABI version, QoS, its types with their layout, its ports and their nodes,
//! and the objects it occupies.

use std::process::ExitCode;

use clap::Args;
use serde_json::{Value as Json, json};
use shmbus::Node;
use shmbus::node::{NodeInfo, NodeState};
use shmbus::service::{ObjectInfo, ServiceInfo, ServiceQos};

use crate::common::{Global, Result, find_any, node_label, notes_about};
use crate::render::{Table, bytes, descriptor_json};

/// `shmbus inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The service's name (both services are shown if a publish-subscribe and a
    /// request-response service share it).
    service: String,
}

pub(crate) fn run(global: &Global, args: &InspectArgs) -> Result<ExitCode> {
    let config = global.config()?;
    let services = find_any(&config, &args.service)?;
    let nodes = Node::list(&config)?;
    if global.json {
        let out: Vec<Json> = services.iter().map(|s| service_json(s, &nodes)).collect();
        println!("{}", Json::Array(out));
    } else {
        for (i, s) in services.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print_service(s, &nodes);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The QoS as `name value` pairs.
fn qos_pairs(qos: &ServiceQos) -> Vec<(&'static str, String)> {
    match qos {
        ServiceQos::PublishSubscribe(q) => vec![
            ("history", q.history.to_string()),
            ("subscriber_buffer", q.subscriber_buffer.to_string()),
            ("max_publishers", q.max_publishers.to_string()),
            ("max_subscribers", q.max_subscribers.to_string()),
            ("max_nodes", q.max_nodes.to_string()),
            ("max_loans", q.max_loans.to_string()),
            ("max_borrowed", q.max_borrowed.to_string()),
            ("overflow", format!("{:?}", q.overflow)),
        ],
        ServiceQos::RequestResponse(q) => vec![
            ("max_clients", q.max_clients.to_string()),
            ("max_servers", q.max_servers.to_string()),
            ("max_nodes", q.max_nodes.to_string()),
            (
                "max_active_requests_per_client",
                q.max_active_requests_per_client.to_string(),
            ),
            ("response_buffer", q.response_buffer.to_string()),
            ("max_loans", q.max_loans.to_string()),
            (
                "max_borrowed_responses",
                q.max_borrowed_responses.to_string(),
            ),
        ],
    }
}

fn state_word(state: Option<NodeState>) -> &'static str {
    match state {
        Some(NodeState::Alive) => "alive",
        Some(NodeState::Dead) => "dead",
        None => "gone",
    }
}

fn print_service(s: &ServiceInfo, nodes: &[NodeInfo]) {
    println!("{} ({})", s.name, s.pattern.label());
    println!("  shm ABI version  {}", s.abi_version);
    if let Some(creator) = s.creator {
        println!(
            "  created by       {} ({creator})",
            node_label(nodes, creator)
        );
    }
    let qos: Vec<String> = qos_pairs(&s.qos)
        .into_iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("  QoS              {}", qos.join(", "));
    for (role, d) in s.pattern.roles().iter().zip(&s.types) {
        println!("  {role} type:");
        for line in d.render().lines() {
            println!("    {line}");
        }
    }
    println!("  ports:");
    if s.ports.is_empty() {
        println!("    none");
    } else {
        let mut table = Table::new(&["ROLE", "ID", "NODE", "STATE"]);
        for p in &s.ports {
            table.row(vec![
                format!("{:?}", p.role).to_lowercase()
                    + if p.draining { " (draining)" } else { "" },
                format!("{:016x}", p.id),
                format!("{} ({})", node_label(nodes, p.node), p.node),
                state_word(p.node_state).to_owned(),
            ]);
        }
        for line in table.render(None).lines() {
            println!("    {line}");
        }
    }
    println!("  nodes holding it:");
    for (id, state) in &s.nodes {
        println!(
            "    {} ({id}) {}",
            node_label(nodes, *id),
            state_word(*state)
        );
    }
    let notes = notes_about(nodes, Some(s.name.as_str()));
    if !notes.is_empty() {
        println!("  notes:");
        for (_, node, text) in notes {
            println!("    {node}: {text}");
        }
    }
    println!("  objects:");
    let mut table = Table::new(&["OBJECT", "SIZE", "IN MEMORY"]);
    for object in std::iter::once(&s.object).chain(&s.segments) {
        table.row(vec![
            format!("/dev/shm/{}", object.name.as_str().trim_start_matches('/')),
            bytes(object.footprint.size),
            bytes(object.footprint.allocated),
        ]);
    }
    for line in table.render(None).lines() {
        println!("    {line}");
    }
    println!("    lock file {}", s.lock_file.display());
}

fn object_json(o: &ObjectInfo) -> Json {
    json!({
        "name": format!("/dev/shm/{}", o.name.as_str().trim_start_matches('/')),
        "size": o.footprint.size,
        "in_memory": o.footprint.allocated,
    })
}

fn service_json(s: &ServiceInfo, nodes: &[NodeInfo]) -> Json {
    let qos: serde_json::Map<String, Json> = qos_pairs(&s.qos)
        .into_iter()
        .map(|(k, v)| {
            let value = v.parse::<u64>().map_or(Json::String(v), Json::from);
            (k.to_owned(), value)
        })
        .collect();
    json!({
        "name": s.name.as_str(),
        "pattern": s.pattern.label(),
        "abi_version": s.abi_version,
        "creator": s.creator.map(|c| c.to_string()),
        "qos": qos,
        "types": s.pattern.roles().iter().zip(&s.types).map(|(role, d)| json!({
            "role": role,
            "type": descriptor_json(d),
        })).collect::<Vec<_>>(),
        "ports": s.ports.iter().map(|p| json!({
            "role": format!("{:?}", p.role).to_lowercase(),
            "id": format!("{:016x}", p.id),
            "node": p.node.to_string(),
            "node_name": node_label(nodes, p.node),
            "node_state": state_word(p.node_state),
            "draining": p.draining,
        })).collect::<Vec<_>>(),
        "notes": notes_about(nodes, Some(s.name.as_str())).into_iter().map(|(_, node, text)| json!({
            "node": node,
            "text": text,
        })).collect::<Vec<_>>(),
        "nodes": s.nodes.iter().map(|(id, state)| json!({
            "id": id.to_string(),
            "name": node_label(nodes, *id),
            "state": state_word(*state),
        })).collect::<Vec<_>>(),
        "objects": std::iter::once(&s.object).chain(&s.segments).map(object_json).collect::<Vec<_>>(),
        "lock_file": s.lock_file.display().to_string(),
    })
}
