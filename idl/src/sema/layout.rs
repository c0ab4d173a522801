//! Layout: size, alignment and offsets of every type under the Rust mapping (see the
//! [`hir`](crate::hir) module docs), exactly as `#[repr(C)]` computes them. Items are
//! laid out in dependency order (the model is acyclic by then); a type larger than
//! `u32::MAX` bytes is `E-TYPE-TOO-LARGE`.

use super::Sema;
use crate::diagnostics::Diagnostic;
use crate::hir::{self, Hir, ItemId, ItemKind, Layout, Type, array_layout, repr_c, repr_c_offsets};

/// The largest message we lay out.
const MAX_SIZE: u64 = u32::MAX as u64;

impl Sema<'_> {
    /// Fills every layout of `hir`; `false` when a type is too large (reported).
    pub(crate) fn compute_layouts(&mut self, hir: &mut Hir) -> bool {
        let order = dependency_order(hir);
        let mut layouts: Vec<Option<Layout>> = vec![None; hir.items.len()];
        let mut ok = true;
        for id in order {
            let i = id.0 as usize;
            let mut kind = std::mem::replace(
                &mut hir.items[i].kind,
                ItemKind::Typedef(hir::Typedef {
                    ty: Type::Primitive(hir::Primitive::Octet),
                }),
            );
            let layout = item_layout(&mut kind, &layouts);
            hir.items[i].kind = kind;
            if let Some(l) = layout
                && l.size > MAX_SIZE
                && ok
            {
                let item = &hir.items[i];
                let message = if l.size == u64::MAX {
                    format!(
                        "type `{}` would take more than {} bytes",
                        item.scoped_name(),
                        u64::MAX
                    )
                } else {
                    format!("type `{}` would take {} bytes", item.scoped_name(), l.size)
                };
                self.error(
                    Diagnostic::error("E-TYPE-TOO-LARGE", message, item.span)
                        .with_label("too large for a message")
                        .with_help(format!(
                            "a message holds at most {MAX_SIZE} bytes; lower the bounds or array sizes"
                        )),
                );
                ok = false;
            }
            layouts[i] = layout;
            hir.items[i].layout = layout;
        }
        ok
    }
}

/// The item ids, each after the items it contains by value.
fn dependency_order(hir: &Hir) -> Vec<ItemId> {
    let n = hir.items.len();
    let mut state = vec![0u8; n];
    let mut order = Vec::with_capacity(n);
    for start in 0..n {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, deps(&hir.items[start].kind))];
        state[start] = 1;
        while let Some((node, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(d) if d < n && state[d] == 0 => {
                    state[d] = 1;
                    let next = deps(&hir.items[d].kind);
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
