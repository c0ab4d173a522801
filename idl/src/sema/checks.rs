//! Whole-model checks, run after lowering:
//! - `#pragma keylist` is applied as `@key` (unknown types or members are `E-UNDECLARED`);
//! - a type that contains itself by value, however hidden (through typedefs, arrays,
//!   sequences, optionals, unions or inheritance) is `E-RECURSIVE-TYPE`;
//! - an unbounded string/sequence/map error is reported with the path by which a
//!   top-level type reaches it.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{DeclId, DeclKind, Edge, Sema, State, Symbol};
use crate::ast::{Ident, ScopedName};
use crate::diagnostics::Diagnostic;
use crate::hir::ItemKind;

impl Sema<'_> {
    /// Marks the members named by `#pragma keylist` as keys.
    pub(crate) fn apply_keylists(&mut self) {
        let keylists = std::mem::take(&mut self.keylists);
        for (k, span, scope) in &keylists {
            let absolute = k.type_name.starts_with("::");
            let parts: Vec<Ident> = k
                .type_name
                .trim_start_matches("::")
                .split("::")
                .map(|p| Ident {
                    name: p.to_owned(),
                    span: *span,
                })
                .collect();
            let name = ScopedName {
                absolute,
                parts,
                span: *span,
            };
            let target = match self.lookup(*scope, &name) {
                Some(Symbol::Decl(d)) if matches!(self.decl(d).kind, DeclKind::Struct(_)) => d,
                _ => {
                    self.error(
                        Diagnostic::error("E-UNDECLARED", format!("`#pragma keylist` names `{}`, which is not a struct declared here", k.type_name), *span)
                            .with_help("name a struct declared before the pragma, with its scoped name if needed"),
                    );
                    continue;
                }
            };
            let State::Done(ItemKind::Struct(s)) = &mut self.lowered[target.0 as usize] else {
                continue;
            };
            let mut missing = Vec::new();
            for key in &k.keys {
                let first = key.split('.').next().unwrap_or(key);
                match s.fields.iter_mut().find(|f| f.name == first) {
                    Some(f) => f.key = true,
                    None => missing.push(key.clone()),
                }
            }
            for key in missing {
                self.error(
                    Diagnostic::error(
                        "E-UNDECLARED",
                        format!(
                            "`#pragma keylist` names the key `{key}`, but `{}` has no such member",
                            k.type_name
                        ),
                        *span,
                    )
                    .with_help(
                        "list members of the struct itself (inherited keys are keys already)",
                    ),
                );
            }
        }
        self.keylists = keylists;
    }

    /// Reports every cycle of by-value containment once.
    pub(crate) fn check_recursion(&mut self) {
        let mut out: HashMap<DeclId, Vec<usize>> = HashMap::new();
        for (i, e) in self.edges.iter().enumerate() {
            out.entry(e.from).or_default().push(i);
        }
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut color: HashMap<DeclId, u8> = HashMap::new();
        let mut reported: HashSet<Vec<DeclId>> = HashSet::new();
        let mut cycles: Vec<Vec<usize>> = Vec::new();
        let mut starts: Vec<DeclId> = self.edges.iter().map(|e| e.from).collect();
        starts.sort();
        starts.dedup();
        for start in starts {
            if color.get(&start).copied().unwrap_or(0) != 0 {
                continue;
            }
            // Stack of (node, index of next edge, edge that led here).
            let mut stack: Vec<(DeclId, usize, Option<usize>)> = vec![(start, 0, None)];
            color.insert(start, 1);
            while let Some(&mut (node, ref mut next, _)) = stack.last_mut() {
                let edges = out.get(&node).map_or(&[][..], Vec::as_slice);
                if *next >= edges.len() {
                    color.insert(node, 2);
                    stack.pop();
                    continue;
                }
                let ei = edges[*next];
                *next += 1;
                let to = self.edges[ei].to;
                match color.get(&to).copied().unwrap_or(0) {
                    0 => {
                        color.insert(to, 1);
                        stack.push((to, 0, Some(ei)));
                    }
                    1 => {
                        let pos = stack.iter().position(|(n, _, _)| *n == to).unwrap_or(0);
                        let mut path: Vec<usize> =
                            stack[pos + 1..].iter().filter_map(|(_, _, e)| *e).collect();
                        path.push(ei);
                        let mut key: Vec<DeclId> =
                            stack[pos..].iter().map(|(n, _, _)| *n).collect();
                        key.sort();
                        if reported.insert(key) {
                            cycles.push(path);
                        }
                    }
                    _ => {}
                }
            }
        }
        for path in cycles {
            for &e in &path {
                self.recursive.push(self.edges[e].from);
            }
            self.report_cycle(&path);
        }
    }

    fn report_cycle(&mut self, path: &[usize]) {
        let Some(&first) = path.first() else { return };
        let head = self.edges[first].from;
        let decl = self.decl(head);
        let name = decl.scoped_name();
        let span = decl.span;
        let steps: Vec<String> = path
            .iter()
            .map(|&i| {
                let e: &Edge = &self.edges[i];
                format!("`{}` holds a `{}`", e.via, self.decl(e.to).scoped_name())
            })
            .collect();
        let mut diag = Diagnostic::error(
            "E-RECURSIVE-TYPE",
            format!("recursive type `{name}` has infinite size"),
            span,
        )
        .with_label("recursive without indirection")
        .with_note(format!("{} by value", steps.join(", which ")));
        let last = self.edges[path[path.len() - 1]].span;
        diag = diag
            .with_secondary(last, format!("`{name}` contains itself here"))
            .with_help("a fixed-layout message cannot contain itself, not even through a sequence, `@optional`, union or typedef; break the cycle, e.g. refer to the other element by an index or key");
        self.error(diag);
    }

    /// Pushes the held-back unbounded errors, each with the path from a top-level type.
    pub(crate) fn report_unbounded(&mut self) {
        let mut users: HashMap<DeclId, Vec<usize>> = HashMap::new();
        for (i, e) in self.edges.iter().enumerate() {
            users.entry(e.to).or_default().push(i);
        }
        let pending = std::mem::take(&mut self.unbounded);
        self.unbounded_owners = pending.iter().map(|u| u.owner).collect();
        for u in pending {
            let mut diag = u.diag;
            if let Some(path) = self.path_from_root(u.owner, &users) {
                let first = &self.edges[path[0]];
                let root = self.decl(first.from).scoped_name();
                let owner = self.decl(u.owner).scoped_name();
                let vias: Vec<String> = path
                    .iter()
                    .map(|&i| format!("`{}`", self.edges[i].via))
                    .collect();
                let direct: &Edge = &self.edges[path[path.len() - 1]];
                let (dspan, dvia) = (direct.span, direct.via.clone());
                diag = diag
                    .with_note(format!(
                        "`{root}` contains `{owner}` through {}, so `{root}` is unbounded too",
                        vias.join(" -> ")
                    ))
                    .with_secondary(dspan, format!("`{dvia}` uses `{owner}` here"));
            }
            self.error(diag);
        }
    }

    /// Edges from a type nothing uses down to `owner`, if `owner` is used at all.
    fn path_from_root(
        &self,
        owner: DeclId,
        users: &HashMap<DeclId, Vec<usize>>,
    ) -> Option<Vec<usize>> {
        users.get(&owner)?;
        let mut parent: HashMap<DeclId, usize> = HashMap::new();
        let mut queue = VecDeque::from([owner]);
        let mut seen = HashSet::from([owner]);
        let mut root = None;
        let mut last = owner;
        while let Some(n) = queue.pop_front() {
            last = n;
            let ups = users.get(&n).map_or(&[][..], Vec::as_slice);
            if n != owner && ups.is_empty() {
                root = Some(n);
                break;
            }
            for &i in ups {
                let from = self.edges[i].from;
                if seen.insert(from) {
                    parent.insert(from, i);
                    queue.push_back(from);
                }
            }
        }
        // Only cycles above `owner`: start from the last type reached.
        let root = root.unwrap_or(last);
        let mut node = root;
        let mut path = Vec::new();
        while node != owner {
            let i = *parent.get(&node)?;
            path.push(i);
            node = self.edges[i].to;
            if path.len() > self.edges.len() {
                return None;
            }
        }
        (!path.is_empty()).then_some(path)
    }
}
