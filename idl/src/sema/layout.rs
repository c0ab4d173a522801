//! Layout: size, alignment and offsets of every type under the Rust mapping (see the
//! [`hir`](crate::hir) module docs), exactly as `#[repr(C)]` computes them. Items are
//! laid out in dependency order; a type larger than `u32::MAX` bytes is
//! `E-TYPE-TOO-LARGE`. When other errors were found, the types that lowered cleanly are
//! still sized, so that error comes in the same run.

use super::Sema;
use crate::diagnostics::Diagnostic;
use crate::hir::{self, Hir, ItemId, ItemKind, Layout, Type, array_layout, repr_c, repr_c_offsets};

/// The largest message we lay out.
const MAX_SIZE: u64 = u32::MAX as u64;

impl Sema<'_> {
    /// Fills every layout of `hir`; `false` when a type is too large (reported).
    pub(crate) fn compute_layouts(&mut self, hir: &mut Hir) -> bool {
        let mut kinds: Vec<Option<ItemKind>> = hir
            .items
            .iter_mut()
            .map(|item| {
                Some(std::mem::replace(
                    &mut item.kind,
                    ItemKind::Typedef(hir::Typedef {
                        ty: Type::Primitive(hir::Primitive::Octet),
                    }),
                ))
            })
            .collect();
        let layouts = layout_all(&mut kinds);
        for ((item, kind), layout) in hir.items.iter_mut().zip(kinds).zip(&layouts) {
            if let Some(kind) = kind {
                item.kind = kind;
            }
            item.layout = *layout;
        }
        self.report_too_large(&layouts)
    }

    /// With errors elsewhere, still lays out the types that lowered cleanly (and whose
    /// contents did), so a too-large type is reported in the same run.
    pub(crate) fn check_sizes_despite_errors(&mut self) {
        let failed: std::collections::HashSet<super::DeclId> = self
            .unbounded_owners
            .iter()
            .chain(&self.recursive)
            .copied()
            .collect();
        let mut kinds: Vec<Option<ItemKind>> = self
            .item_decls
            .iter()
            .map(|d| match &self.lowered[d.0 as usize] {
                super::State::Done(kind) if !failed.contains(d) => Some(kind.clone()),
                _ => None,
            })
            .collect();
        let layouts = layout_all(&mut kinds);
        self.report_too_large(&layouts);
    }

    /// Reports each type above [`MAX_SIZE`] that does not contain another such type.
    fn report_too_large(&mut self, layouts: &[Option<Layout>]) -> bool {
        let mut ok = true;
        for (i, layout) in layouts.iter().enumerate() {
            let Some(l) = layout.filter(|l| l.size > MAX_SIZE) else {
                continue;
            };
            let decl = self.decl(self.item_decls[i]);
            let inner_too_large = self
                .edges
                .iter()
                .filter(|e| e.from == self.item_decls[i])
                .filter_map(|e| self.item_id(e.to))
                .any(|dep| layouts[dep.0 as usize].is_some_and(|d| d.size > MAX_SIZE));
            ok = false;
            if inner_too_large {
                continue;
            }
            let name = decl.scoped_name();
            let span = decl.span;
            let message = if l.size == u64::MAX {
                format!("type `{name}` would take more than {} bytes", u64::MAX)
            } else {
                format!("type `{name}` would take {} bytes", l.size)
            };
            self.error(
                Diagnostic::error("E-TYPE-TOO-LARGE", message, span)
                    .with_label("too large for a message")
                    .with_help(format!(
                        "a message holds at most {MAX_SIZE} bytes; lower the bounds or array sizes"
                    )),
            );
        }
        ok
    }
}

/// Lays out every item that is present, in dependency order; an item that is absent, or
/// contains one whose layout is unknown, gets no layout.
fn layout_all(kinds: &mut [Option<ItemKind>]) -> Vec<Option<Layout>> {
    let order = dependency_order(kinds);
    let mut layouts: Vec<Option<Layout>> = vec![None; kinds.len()];
    for id in order {
        let i = id.0 as usize;
        let Some(kind) = kinds[i].as_mut() else {
            continue;
        };
        // Types only contain types (never constants), whose layouts come first.
        let known = deps(kind)
            .iter()
            .all(|&d| layouts.get(d).is_some_and(Option::is_some));
        if known {
            layouts[i] = item_layout(kind, &layouts);
        }
    }
    layouts
}

/// The item ids, each after the items it contains by value.
fn dependency_order(kinds: &[Option<ItemKind>]) -> Vec<ItemId> {
    let n = kinds.len();
    let deps_of = |i: usize| kinds[i].as_ref().map(deps).unwrap_or_default();
    let mut state = vec![0u8; n];
    let mut order = Vec::with_capacity(n);
    for start in 0..n {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, deps_of(start))];
        state[start] = 1;
        while let Some((node, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(d) if d < n && state[d] == 0 => {
                    state[d] = 1;
                    let next = deps_of(d);
                    stack.push((d, next));
                }
                Some(_) => {}
                None => {
                    state[*node] = 2;
                    order.push(ItemId(u32::try_from(*node).unwrap_or(u32::MAX)));
                    stack.pop();
                }
            }
        }
    }
    order
}

fn deps(kind: &ItemKind) -> Vec<usize> {
    let mut out = Vec::new();
    match kind {
        ItemKind::Struct(s) => {
            if let Some(b) = s.base {
                out.push(b.0 as usize);
            }
            for f in &s.fields {
                named_in(&f.ty, &mut out);
            }
        }
        ItemKind::Union(u) => {
            named_in(&u.discriminator, &mut out);
            for c in &u.cases {
                named_in(&c.ty, &mut out);
            }
        }
        ItemKind::Typedef(t) => named_in(&t.ty, &mut out),
        ItemKind::Const(c) => named_in(&c.ty, &mut out),
        ItemKind::Bitset(b) => {
            if let Some(base) = b.base {
                out.push(base.0 as usize);
            }
        }
        ItemKind::Enum(_) | ItemKind::Bitmask(_) => {}
    }
    out
}

fn named_in(t: &Type, out: &mut Vec<usize>) {
    match t {
        Type::Named(id) => out.push(id.0 as usize),
        Type::Sequence(s) => named_in(&s.element, out),
        Type::Map(m) => {
            named_in(&m.key, out);
            named_in(&m.value, out);
        }
        Type::Array(a) => named_in(&a.element, out),
        Type::Primitive(_) | Type::String(_) => {}
    }
}

/// Lays out one item (its types' layouts are filled in place).
fn item_layout(kind: &mut ItemKind, layouts: &[Option<Layout>]) -> Option<Layout> {
    match kind {
        ItemKind::Struct(s) => {
            let mut parts = Vec::with_capacity(s.fields.len() + 1);
            if let Some(b) = s.base {
                parts.push(named(b, layouts));
            }
            for f in &mut s.fields {
                let inner = type_layout(&mut f.ty, layouts);
                f.layout = if f.optional {
                    repr_c(&[Layout::new(1, 1), inner])
                } else {
                    inner
                };
                parts.push(f.layout);
            }
            let (layout, offsets) = repr_c_offsets(&parts);
            let skip = usize::from(s.base.is_some());
            if s.base.is_some() {
                s.base_offset = offsets.first().copied();
            }
            for (f, off) in s.fields.iter_mut().zip(offsets.into_iter().skip(skip)) {
                f.offset = off;
            }
            Some(layout)
        }
        ItemKind::Union(u) => {
            // Codegen's layout: the discriminator, then every branch as its own field.
            let disc = type_layout(&mut u.discriminator, layouts);
            let mut parts = vec![disc];
            for c in &mut u.cases {
                c.layout = type_layout(&mut c.ty, layouts);
                parts.push(c.layout);
            }
            let (layout, offsets) = repr_c_offsets(&parts);
            for (c, off) in u.cases.iter_mut().zip(offsets.iter().skip(1)) {
                c.offset = *off;
            }
            u.storage_offset = offsets.get(1).copied().unwrap_or(disc.size);
            u.storage_layout = repr_c(&parts[1..]);
            Some(layout)
        }
        ItemKind::Enum(e) => Some(e.repr.layout()),
        ItemKind::Bitmask(b) => Some(b.repr.layout()),
        ItemKind::Bitset(b) => Some(b.storage.layout()),
        ItemKind::Typedef(t) => Some(type_layout(&mut t.ty, layouts)),
        ItemKind::Const(c) => {
            type_layout(&mut c.ty, layouts);
            None
        }
    }
}

fn named(id: ItemId, layouts: &[Option<Layout>]) -> Layout {
    layouts
        .get(id.0 as usize)
        .copied()
        .flatten()
        .unwrap_or(Layout::ZERO)
}

/// The layout of a type reference, filling the layouts stored inside it.
fn type_layout(t: &mut Type, layouts: &[Option<Layout>]) -> Layout {
    match t {
        Type::Primitive(p) => p.layout(),
        Type::String(s) => s.layout(),
        Type::Sequence(s) => {
            let elem = type_layout(&mut s.element, layouts);
            s.layout = repr_c(&[Layout::new(4, 4), array_layout(elem, u64::from(s.bound))]);
            s.layout
        }
        Type::Map(m) => {
            let k = type_layout(&mut m.key, layouts);
            let v = type_layout(&mut m.value, layouts);
            let (entry, offsets) = repr_c_offsets(&[k, v]);
            m.entry_layout = entry;
            m.entry_value_offset = offsets.get(1).copied().unwrap_or(0);
            m.layout = repr_c(&[Layout::new(4, 4), array_layout(entry, u64::from(m.bound))]);
            m.layout
        }
        Type::Array(a) => {
            let elem = type_layout(&mut a.element, layouts);
            let count = a
                .dims
                .iter()
                .fold(1u64, |acc, d| acc.saturating_mul(u64::from(*d)));
            a.layout = array_layout(elem, count);
            a.layout
        }
        Type::Named(id) => named(*id, layouts),
    }
}
