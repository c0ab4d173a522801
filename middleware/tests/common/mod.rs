//! What the integration tests of this crate share: a node in a domain and runtime folder
//! of its own, and the check that nothing of it is left behind.
#![allow(dead_code, unreachable_pub)]

use shmbus::{Config, Node};

/// A node in its own domain and runtime folder; when dropped (at the end of a test that
/// passed), the folder must be empty: every file the test's services made is gone.
pub struct TestNode {
    node: Option<Node>,
    root: std::path::PathBuf,
}

impl std::ops::Deref for TestNode {
    type Target = Node;
    fn deref(&self) -> &Node {
        self.node
            .as_ref()
            .expect("the node lives until the TestNode is dropped")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        drop(self.node.take());
        // The last node removes the runtime folder once it is empty.
        if !std::thread::panicking() && self.root.exists() {
            panic!("runtime folder {} not left empty", self.root.display());
        }
    }
}

pub fn node(test: &str) -> TestNode {
    let root = std::env::temp_dir().join(format!("shmbus-it-{test}-{}", std::process::id()));
    let config = Config::default()
        .with_domain(format!("ip_{test}_{}", std::process::id()))
        .unwrap()
        .with_runtime_dir(&root)
        .unwrap();
    TestNode {
        node: Some(Node::builder().name(test).config(config).create().unwrap()),
        root,
    }
}

pub fn leftovers(node: &Node) -> Vec<String> {
    let mut found: Vec<String> = node
        .config()
        .objects()
        .unwrap()
        .iter()
        .map(|n| n.file_name().to_owned())
        .collect();
    if let Ok(dir) = std::fs::read_dir(node.config().domain_dir().join("services")) {
        found.extend(dir.filter_map(|e| e.ok()?.file_name().into_string().ok()));
    }
    found
}
