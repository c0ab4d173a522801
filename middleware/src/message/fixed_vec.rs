//! [`FixedVec<T, N>`]: up to `N` elements of `T`, stored inline.

use core::borrow::{Borrow, BorrowMut};
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::iter::FusedIterator;
use core::mem::{MaybeUninit, offset_of};
use core::ops::{Deref, DerefMut};

use super::contract::ShmMessage;
use super::descriptor::TypeDescriptor;
use super::fixed_string::check_len;
use super::validate::{self, ValidationError};

/// Up to `N` elements of `T`, stored inline: the fixed-layout counterpart of `Vec<T>` for
/// messages.
///
/// Layout (`#[repr(C)]`): a `u32` length, then room for `N` elements laid out like
/// `[T; N]`. Only the first `len` elements are initialised; the rest are unspecified bytes
/// that are never read as `T`. An all-zero `FixedVec` is therefore a valid empty vector
/// for every `T`.
///
/// It behaves like a `Vec` where it can: it dereferences to `[T]` (so indexing, `iter`,
/// `first`, `sort` and the rest of the slice API work), compares, hashes, orders and
/// prints as that slice. Operations that would exceed the capacity return a
/// [`FixedVecError`] that gives the value back, and change nothing.
///
/// ```
/// use shmbus::FixedVec;
///
/// let mut v = FixedVec::<u32, 3>::try_from(&[1, 2][..]).unwrap();
/// v.push(3).unwrap();
/// assert_eq!(v, [1, 2, 3]);
/// let err = v.push(4).unwrap_err();
/// assert_eq!(err.into_value(), Some(4)); // nothing is lost
/// assert_eq!(v.iter().sum::<u32>(), 6);
/// ```
///
/// # Elements are never dropped
///
/// A message type has no destructor (the [`ShmMessage`] contract), so `FixedVec` has none
/// either and never runs one for its elements. To make that correct rather than a leak,
/// every method that puts a value in requires `T: ShmMessage` (whose types have no drop
/// glue); methods that only read, move out, or shorten work for any `T`. Soundness never
/// depends on this: not dropping a value is never undefined behaviour.
#[repr(C)]
pub struct FixedVec<T, const N: usize> {
    /// Number of initialised elements at the start of `items`; `<= N` for a valid value.
    len: u32,
    /// `items[..len]` are initialised, valid `T`s; the rest are not read.
    items: [MaybeUninit<T>; N],
}

/// An operation on a [`FixedVec`] was refused; the vector is unchanged and any value
/// passed in is given back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FixedVecError<T> {
    /// The vector is full.
    #[error(
        "FixedVec is full (capacity {capacity}): use a larger N, or check `is_full()` \
         before adding"
    )]
    Full {
        /// `N`.
        capacity: usize,
        /// The value that was not added.
        value: T,
    },
    /// The result would be longer than the capacity (adding several elements).
    #[error(
        "{needed} elements exceed the capacity of FixedVec<_, {capacity}>: use a larger N \
         or fewer elements"
    )]
    CapacityExceeded {
        /// `N`.
        capacity: usize,
        /// The length the operation would have needed.
        needed: usize,
    },
    /// An insertion index beyond the length.
    #[error("insertion index {index} is beyond the length {len}: use an index <= len()")]
    IndexOutOfBounds {
        /// The index given.
        index: usize,
        /// The vector's length.
        len: usize,
        /// The value that was not inserted.
        value: T,
    },
}

impl<T> FixedVecError<T> {
    /// The value that was not added, if the operation took one.
    pub fn into_value(self) -> Option<T> {
        match self {
            FixedVecError::Full { value, .. } | FixedVecError::IndexOutOfBounds { value, .. } => {
                Some(value)
            }
            FixedVecError::CapacityExceeded { .. } => None,
        }
    }
}

impl<T, const N: usize> FixedVec<T, N> {
    /// `N`, checked at compile time to fit the `u32` length field.
    const CAPACITY: usize = {
        assert!(
            N <= u32::MAX as usize,
            "FixedVec<T, N>: N must not exceed u32::MAX"
        );
        N
    };

    /// An empty vector.
    ///
    /// The element storage is zeroed, so a new vector never carries leftover stack
    /// contents into shared memory.
    pub const fn new() -> Self {
        // Mentioning `CAPACITY` makes its compile-time check run for this `N`.
        let _ = Self::CAPACITY;
        FixedVec {
            len: 0,
            items: [const { MaybeUninit::zeroed() }; N],
        }
    }

    /// The capacity `N`.
    pub const fn capacity(&self) -> usize {
        Self::CAPACITY
    }

    /// The number of elements, `min(len, N)`: the stored length can only exceed `N` if
    /// another process bypassed validation, and is then clamped.
    pub const fn len(&self) -> usize {
        let len = self.len as usize;
        if len < N { len } else { N }
    }

    /// Whether there are no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the vector is at its capacity.
    pub const fn is_full(&self) -> bool {
        self.len() == N
    }

    /// How many more elements fit.
    pub const fn remaining_capacity(&self) -> usize {
        N - self.len()
    }

    /// Stores a length already known to be `<= N`.
    fn set_len(&mut self, len: usize) {
        debug_assert!(len <= N);
        // `len <= N <= u32::MAX` (checked at compile time by `CAPACITY`).
        self.len = u32::try_from(len).unwrap_or(u32::MAX);
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        let len = self.len();
        // SAFETY: `slice::from_raw_parts` requires (std docs):
        // - the pointer non-null, aligned, and valid for reads of `len * size_of::<T>()`
        //   bytes within one allocation: it points to `self.items`, an array of `N >= len`
        //   `MaybeUninit<T>`, which has the same size and alignment as `T` (std docs of
        //   `MaybeUninit`), so the first `len` of them are laid out exactly like a `[T; len]`;
        // - `len` consecutive properly initialised values of `T`: the type's invariant is
        //   that `items[..self.len]` are initialised, valid `T`s. Every method that raises
        //   the length writes the element first; a value received from another process
        //   is read only after `validate_bytes` checked `len <= N` and each of those
        //   elements (contract point 5). `len()` is clamped to `N`, so even a length
        //   field corrupted after validation can never reach past the array;
        // - the memory not mutated for the returned lifetime: it is borrowed from `&self`;
        // - total size `<= isize::MAX`: it lies inside `self`.
        unsafe { core::slice::from_raw_parts(self.items.as_ptr().cast::<T>(), len) }
    }

    /// The elements as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let len = self.len();
        // SAFETY: as in `as_slice` (same pointer, length and initialisation argument), and
        // for `from_raw_parts_mut`: the memory is accessed only through the returned slice
        // for its lifetime, as it is derived from `&mut self`.
        unsafe { core::slice::from_raw_parts_mut(self.items.as_mut_ptr().cast::<T>(), len) }
    }

    /// Appends `value` without the `ShmMessage` bound (callers guarantee the bound or
    /// clone from elements already present).
    fn push_inner(&mut self, value: T) -> Result<(), T> {
        let len = self.len();
        match self.items.get_mut(len) {
            Some(slot) => {
                slot.write(value);
                self.set_len(len + 1);
                Ok(())
            }
            None => Err(value),
        }
    }

    /// Removes and returns the last element, or `None` if the vector is empty.
    pub fn pop(&mut self) -> Option<T> {
        let new_len = self.len().checked_sub(1)?;
        self.set_len(new_len);
        // SAFETY: `new_len < old len`, so `items[new_len]` was initialised (type invariant,
        // see `as_slice`). The length was lowered first, so the slot is no longer part of
        // the vector and the value read out here is its only owner (never read again).
        Some(unsafe { self.items[new_len].assume_init_read() })
    }

    /// Removes and returns the element at `index`, shifting the later ones left; `None`
    /// if `index >= len()`. `O(len - index)`.
    pub fn remove(&mut self, index: usize) -> Option<T> {
        let len = self.len();
        if index >= len {
            return None;
        }
        self.items[index..len].rotate_left(1);
        self.pop()
    }

    /// Removes and returns the element at `index`, replacing it with the last one; `None`
    /// if `index >= len()`. `O(1)`.
    pub fn swap_remove(&mut self, index: usize) -> Option<T> {
        let len = self.len();
        if index >= len {
            return None;
        }
        self.items.swap(index, len - 1);
        self.pop()
    }

    /// Shortens the vector to `new_len` elements; does nothing if it is not longer.
    /// The removed elements are not dropped (see the type's documentation).
    pub fn truncate(&mut self, new_len: usize) {
        if new_len < self.len() {
            self.set_len(new_len);
        }
    }

    /// Removes every element (capacity unchanged). They are not dropped (see the type's
    /// documentation).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// An iterator over the elements.
    pub fn iter(&self) -> core::slice::Iter<'_, T> {
        self.as_slice().iter()
    }

    /// An iterator over the elements, mutably.
    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, T> {
        self.as_mut_slice().iter_mut()
    }
}

impl<T: ShmMessage, const N: usize> FixedVec<T, N> {
    /// Appends `value`, or gives it back in [`FixedVecError::Full`] if the vector is full.
    pub fn push(&mut self, value: T) -> Result<(), FixedVecError<T>> {
        self.push_inner(value)
            .map_err(|value| FixedVecError::Full { capacity: N, value })
    }

    /// Inserts `value` at `index`, shifting the later elements right. Gives `value` back
    /// in an error, changing nothing, if the vector is full or `index > len()`.
    /// `O(len - index)`.
    pub fn insert(&mut self, index: usize, value: T) -> Result<(), FixedVecError<T>> {
        let len = self.len();
        if index > len {
            return Err(FixedVecError::IndexOutOfBounds { index, len, value });
        }
        self.push(value)?;
        // `items[..=len]` are initialised now; move the new last element to `index`.
        self.items[index..=len].rotate_right(1);
        Ok(())
    }

    /// Appends clones of all of `values`, or returns an error and changes nothing if they
    /// do not all fit.
    pub fn extend_from_slice(&mut self, values: &[T]) -> Result<(), FixedVecError<T>>
    where
        T: Clone,
    {
        let needed = self.len().saturating_add(values.len());
        if needed > N {
            return Err(FixedVecError::CapacityExceeded {
                capacity: N,
                needed,
            });
        }
        for value in values {
            // Cannot fail: there is room for all of them.
            self.push_inner(value.clone())
                .map_err(|value| FixedVecError::Full { capacity: N, value })?;
        }
        Ok(())
    }
}

impl<T, const N: usize> Default for FixedVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone, const N: usize> Clone for FixedVec<T, N> {
    fn clone(&self) -> Self {
        let mut out = Self::new();
        for value in self.iter() {
            // Cannot fail: `out` has the same capacity and `self` has at most `N`
            // elements. The elements are already in a `FixedVec`, so (see the type's
            // documentation) they are of a type that may live in one.
            let _ = out.push_inner(value.clone());
        }
        out
    }
}

/// A bitwise copy: the initialised elements are copied as `T: Copy` values, the rest as
/// `MaybeUninit` bytes.
impl<T: Copy, const N: usize> Copy for FixedVec<T, N> {}

impl<T: ShmMessage + Clone, const N: usize> TryFrom<&[T]> for FixedVec<T, N> {
    type Error = FixedVecError<T>;

    fn try_from(values: &[T]) -> Result<Self, Self::Error> {
        let mut out = Self::new();
        out.extend_from_slice(values)?;
        Ok(out)
    }
}

impl<T: ShmMessage + Clone, const N: usize, const M: usize> TryFrom<&[T; M]> for FixedVec<T, N> {
    type Error = FixedVecError<T>;

    fn try_from(values: &[T; M]) -> Result<Self, Self::Error> {
        Self::try_from(&values[..])
    }
}

impl<T: Clone, const N: usize> From<FixedVec<T, N>> for Vec<T> {
    fn from(v: FixedVec<T, N>) -> Self {
        v.as_slice().to_vec()
    }
}

impl<T, const N: usize> Deref for FixedVec<T, N> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T, const N: usize> DerefMut for FixedVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T, const N: usize> AsRef<[T]> for FixedVec<T, N> {
    fn as_ref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T, const N: usize> AsMut<[T]> for FixedVec<T, N> {
    fn as_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T, const N: usize> Borrow<[T]> for FixedVec<T, N> {
    fn borrow(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T, const N: usize> BorrowMut<[T]> for FixedVec<T, N> {
    fn borrow_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for FixedVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl<T: PartialEq<U>, U, const N: usize, const M: usize> PartialEq<FixedVec<U, M>>
    for FixedVec<T, N>
{
    fn eq(&self, other: &FixedVec<U, M>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq, const N: usize> Eq for FixedVec<T, N> {}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<[U]> for FixedVec<T, N> {
    fn eq(&self, other: &[U]) -> bool {
        self.as_slice() == other
    }
}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<&[U]> for FixedVec<T, N> {
    fn eq(&self, other: &&[U]) -> bool {
        self.as_slice() == *other
    }
}

impl<T: PartialEq<U>, U, const N: usize, const M: usize> PartialEq<[U; M]> for FixedVec<T, N> {
    fn eq(&self, other: &[U; M]) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<Vec<U>> for FixedVec<T, N> {
    fn eq(&self, other: &Vec<U>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialOrd, const N: usize> PartialOrd for FixedVec<T, N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.as_slice().partial_cmp(other.as_slice())
    }
}

impl<T: Ord, const N: usize> Ord for FixedVec<T, N> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl<T: Hash, const N: usize> Hash for FixedVec<T, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Same as `[T]`'s hash, as `Borrow<[T]>` requires.
        self.as_slice().hash(state);
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a FixedVec<T, N> {
    type Item = &'a T;
    type IntoIter = core::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T, const N: usize> IntoIterator for &'a mut FixedVec<T, N> {
    type Item = &'a mut T;
    type IntoIter = core::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T, const N: usize> IntoIterator for FixedVec<T, N> {
    type Item = T;
    type IntoIter = IntoIter<T, N>;

    fn into_iter(self) -> Self::IntoIter {
        let end = self.len();
        IntoIter {
            vec: self,
            start: 0,
            end,
        }
    }
}

/// An iterator that moves the elements out of a [`FixedVec`] (`FixedVec::into_iter`).
/// Elements not yet yielded when it is dropped are not dropped, like the vector's.
pub struct IntoIter<T, const N: usize> {
    vec: FixedVec<T, N>,
    /// `vec.items[start..end]` are initialised and not yet yielded.
    start: usize,
    end: usize,
}

impl<T, const N: usize> IntoIter<T, N> {
    /// The elements not yet yielded.
    pub fn as_slice(&self) -> &[T] {
        &self.vec.as_slice()[self.start..self.end]
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for IntoIter<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IntoIter").field(&self.as_slice()).finish()
    }
}

impl<T, const N: usize> Iterator for IntoIter<T, N> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.start == self.end {
            return None;
        }
        let index = self.start;
        self.start += 1;
        // SAFETY: `index < end <= vec.len()`, so `items[index]` is initialised (type
        // invariant of `FixedVec`, see `as_slice`). `start` has moved past it, so it is
        // outside `start..end` from now on and never read again: the value returned is
        // its only owner. `vec` is never dropped element-wise (no `Drop` impl).
        Some(unsafe { self.vec.items[index].assume_init_read() })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.start;
        (n, Some(n))
    }
}

impl<T, const N: usize> DoubleEndedIterator for IntoIter<T, N> {
    fn next_back(&mut self) -> Option<T> {
        if self.start == self.end {
            return None;
        }
        self.end -= 1;
        let index = self.end;
        // SAFETY: `start <= index < old end <= vec.len()`, so `items[index]` is
        // initialised; `end` has moved below it, so it is never read again (as in `next`).
        Some(unsafe { self.vec.items[index].assume_init_read() })
    }
}

impl<T, const N: usize> ExactSizeIterator for IntoIter<T, N> {}

impl<T, const N: usize> FusedIterator for IntoIter<T, N> {}

// SAFETY: contract point by point.
// 1. `FixedVec<T, N>` is `#[repr(C)]` with fields `u32` and `[MaybeUninit<T>; N]`;
//    `MaybeUninit<T>` has the size and alignment of `T` (std docs), so `items` is laid out
//    like `[T; N]` and the whole layout follows from `T`'s by the `repr(C)` rules of the
//    Reference; `T: ShmMessage` has a fixed layout.
// 2. It holds a `u32` and (room for) `T`s, which are self-contained by `T`'s contract.
// 3. It has no `Drop` impl; `MaybeUninit<T>` never drops its content, and `u32` has no
//    drop glue.
// 4. The descriptor gives `N`, `T`'s descriptor and `size_of::<Self>()`/`align_of::<Self>()`.
// 5. `validate_bytes` accepts only a length `<= N` and then checks each of the first `len`
//    elements with `T::validate_bytes` (via `validate_elements`), so `Ok` means the type
//    invariant of `as_slice` holds: the first `len` elements are valid `T`s; the other
//    slots are `MaybeUninit`, valid for any bytes. `ANY_BIT_PATTERN` is `false` because a
//    length above `N` is invalid. All zeros is `len == 0`, an empty vector, valid for
//    every `T`: `ZEROED_IS_VALID` is `true`.
unsafe impl<T: ShmMessage, const N: usize> ShmMessage for FixedVec<T, N> {
    const DESCRIPTOR: &'static TypeDescriptor = &TypeDescriptor::fixed_vec(
        Self::CAPACITY,
        T::DESCRIPTOR,
        size_of::<Self>(),
        align_of::<Self>(),
    );
    type AllBitPatternsValid = crate::message::False;
    const ZEROED_IS_VALID: bool = true;

    fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError> {
        validate::check_size::<Self>(bytes)?;
        let len = check_len(bytes, offset_of!(Self, len), Self::CAPACITY)?;
        validate::validate_elements::<T>(bytes, offset_of!(Self, items), len)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};

    use super::*;
    use crate::message::{FixedString, Problem, TypeKind};

    type V4 = FixedVec<u32, 4>;

    fn v(items: &[u32]) -> V4 {
        V4::try_from(items).unwrap()
    }

    /// The bytes of a `FixedVec<u32, 4>` (no padding: 4 + 16 bytes), live or not.
    fn bytes_of(v: &V4) -> [u8; 20] {
        let mut out = [0u8; 20];
        out[..4].copy_from_slice(&v.len.to_ne_bytes());
        for (i, slot) in v.items.iter().enumerate() {
            // SAFETY: `new()` zeroes every slot and `push` only ever writes whole `u32`s,
            // so every slot of a `V4` built by the API holds an initialised `u32`.
            let x = unsafe { slot.assume_init() };
            out[4 + 4 * i..8 + 4 * i].copy_from_slice(&x.to_ne_bytes());
        }
        out
    }

    /// A message type that is neither `Copy` nor valid for every bit pattern.
    #[derive(Debug, Clone, PartialEq)]
    #[repr(C)]
    struct Flag {
        on: bool,
    }

    // SAFETY: `#[repr(C)]` with one `bool` field: fixed layout (size 1, align 1), no
    // pointer, no `Drop` (points 1-3); the descriptor lists that field at offset 0 with
    // `bool`'s descriptor (point 4); validation is `bool`'s (point 5), zero is `false`.
    unsafe impl ShmMessage for Flag {
        const DESCRIPTOR: &'static TypeDescriptor = &TypeDescriptor::structure(
            "Flag",
            &[crate::message::FieldDescriptor::new(
                "on",
                0,
                bool::DESCRIPTOR,
            )],
            1,
            1,
        );
        type AllBitPatternsValid = crate::message::False;
        const ZEROED_IS_VALID: bool = true;
        fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError> {
            validate::check_size::<Self>(bytes)?;
            validate::validate_field::<bool>(bytes, 0, "on")
        }
    }

    /// A `#[repr(C)]` buffer aligned for any element type the tests use.
    #[repr(C, align(8))]
    struct Aligned<const S: usize>([u8; S]);

    #[test]
    fn layout() {
        assert_eq!(size_of::<V4>(), 20);
        assert_eq!(align_of::<V4>(), 4);
        assert_eq!(offset_of!(V4, items), 4);
        assert_eq!(size_of::<FixedVec<u64, 2>>(), 24);
        assert_eq!(offset_of!(FixedVec<u64, 2>, items), 8);
        assert_eq!(size_of::<FixedVec<u8, 0>>(), 4);
    }

    #[test]
    fn new_default_capacity() {
        const EMPTY: V4 = FixedVec::new();
        assert!(EMPTY.is_empty());
        assert!(!EMPTY.is_full());
        assert_eq!(EMPTY.len(), 0);
        assert_eq!(EMPTY.capacity(), 4);
        assert_eq!(EMPTY.remaining_capacity(), 4);
        assert_eq!(EMPTY.as_slice(), &[] as &[u32]);
        assert_eq!(V4::default(), EMPTY);
        let zero = FixedVec::<u8, 0>::new();
        assert!(zero.is_empty() && zero.is_full());
    }

    #[test]
    fn push_until_full_gives_value_back() {
        let mut v = V4::new();
        for i in 0..4 {
            v.push(i * 10).unwrap();
        }
        assert!(v.is_full());
        assert_eq!(
            v.push(99),
            Err(FixedVecError::Full {
                capacity: 4,
                value: 99
            })
        );
        assert_eq!(v, [0, 10, 20, 30]);
        assert_eq!(v.push(7).unwrap_err().into_value(), Some(7));
        let mut z = FixedVec::<u8, 0>::new();
        assert_eq!(z.push(1).unwrap_err().into_value(), Some(1));
    }

    #[test]
    fn pop_and_pop_on_empty() {
        let mut v = v(&[1, 2]);
        assert_eq!(v.pop(), Some(2));
        assert_eq!(v.pop(), Some(1));
        assert_eq!(v.pop(), None);
        assert_eq!(v.pop(), None);
        assert!(v.is_empty());
    }

    #[test]
    fn insert_remove_swap_remove() {
        let mut v = v(&[1, 3]);
        v.insert(1, 2).unwrap();
        v.insert(0, 0).unwrap();
        assert_eq!(v, [0, 1, 2, 3]);
        assert_eq!(
            v.insert(0, 9),
            Err(FixedVecError::Full {
                capacity: 4,
                value: 9
            })
        );
        assert_eq!(v, [0, 1, 2, 3]);
        assert_eq!(v.remove(1), Some(1));
        assert_eq!(v, [0, 2, 3]);
        assert_eq!(
            v.insert(4, 9),
            Err(FixedVecError::IndexOutOfBounds {
                index: 4,
                len: 3,
                value: 9
            })
        );
        v.insert(3, 4).unwrap();
        assert_eq!(v, [0, 2, 3, 4]);
        assert_eq!(v.remove(4), None);
        assert_eq!(v.swap_remove(0), Some(0));
        assert_eq!(v, [4, 2, 3]);
        assert_eq!(v.swap_remove(2), Some(3));
        assert_eq!(v.swap_remove(5), None);
        assert_eq!(v, [4, 2]);
        assert_eq!(v.remove(0), Some(4));
        assert_eq!(v.remove(0), Some(2));
        assert_eq!(v.remove(0), None);
    }

    #[test]
    fn truncate_and_clear() {
        let mut v = v(&[1, 2, 3]);
        v.truncate(5);
        assert_eq!(v, [1, 2, 3]);
        v.truncate(1);
        assert_eq!(v, [1]);
        v.clear();
        assert!(v.is_empty());
        assert_eq!(v.capacity(), 4);
    }

    #[test]
    fn extend_from_slice_all_or_nothing() {
        let mut v = v(&[1, 2]);
        assert_eq!(
            v.extend_from_slice(&[3, 4, 5]),
            Err(FixedVecError::CapacityExceeded {
                capacity: 4,
                needed: 5
            })
        );
        assert_eq!(v, [1, 2]);
        v.extend_from_slice(&[3, 4]).unwrap();
        assert_eq!(v, [1, 2, 3, 4]);
        v.extend_from_slice(&[]).unwrap();
        assert_eq!(v.extend_from_slice(&[5]).unwrap_err().into_value(), None);
    }

    #[test]
    fn try_from_slice_and_array() {
        assert_eq!(v(&[]), V4::new());
        assert_eq!(V4::try_from(&[1, 2, 3, 4]).unwrap(), [1, 2, 3, 4]);
        assert_eq!(
            V4::try_from(&[1, 2, 3, 4, 5][..]),
            Err(FixedVecError::CapacityExceeded {
                capacity: 4,
                needed: 5
            })
        );
        assert_eq!(Vec::from(v(&[1, 2])), vec![1, 2]);
    }

    #[test]
    fn deref_and_slice_api() {
        let mut v = v(&[3, 1, 2]);
        assert_eq!(v[0], 3);
        assert_eq!(v.first(), Some(&3));
        assert_eq!(v.get(3), None);
        v.sort();
        assert_eq!(v, [1, 2, 3]);
        v[1] = 20;
        assert_eq!(v.as_slice(), &[1, 20, 3]);
        v.as_mut_slice()[0] = 10;
        let r: &[u32] = v.as_ref();
        assert_eq!(r, &[10, 20, 3]);
        v.as_mut()[2] = 30;
        let b: &[u32] = v.borrow();
        assert_eq!(b, &[10, 20, 30]);
        let bm: &mut [u32] = v.borrow_mut();
        bm[0] = 1;
        assert!(v.contains(&1));
    }

    #[test]
    fn iterators() {
        let mut v = v(&[1, 2, 3]);
        assert_eq!(v.iter().copied().collect::<Vec<_>>(), [1, 2, 3]);
        for x in v.iter_mut() {
            *x *= 2;
        }
        for x in &mut v {
            *x += 1;
        }
        let mut seen = Vec::new();
        for x in &v {
            seen.push(*x);
        }
        assert_eq!(seen, [3, 5, 7]);
        let mut it = v.into_iter();
        assert_eq!(it.len(), 3);
        assert_eq!(it.as_slice(), &[3, 5, 7]);
        assert_eq!(format!("{it:?}"), "IntoIter([3, 5, 7])");
        assert_eq!(it.next(), Some(3));
        assert_eq!(it.next_back(), Some(7));
        assert_eq!(it.size_hint(), (1, Some(1)));
        assert_eq!(it.next(), Some(5));
        assert_eq!(it.next(), None);
        assert_eq!(it.next_back(), None);
        assert_eq!(v.into_iter().rev().collect::<Vec<_>>(), [7, 5, 3]);
    }

    #[test]
    fn nested_elements() {
        // Containers of containers.
        type Names = FixedVec<FixedVec<u8, 2>, 3>;
        let mut names = Names::new();
        names.push(FixedVec::try_from(&[1u8][..]).unwrap()).unwrap();
        names
            .push(FixedVec::try_from(&[2u8, 3][..]).unwrap())
            .unwrap();
        let copy = names;
        assert_eq!(copy, names);
        assert_eq!(names.pop().unwrap(), [2, 3]);
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            vec![FixedVec::<u8, 2>::try_from(&[1]).unwrap()]
        );
        let strings = FixedVec::<FixedString<8>, 2>::try_from(&[
            FixedString::try_from("a").unwrap(),
            FixedString::try_from("b").unwrap(),
        ])
        .unwrap();
        assert_eq!(format!("{strings:?}"), "[\"a\", \"b\"]");
    }

    #[test]
    fn non_copy_message_elements() {
        let on = Flag { on: true };
        let off = Flag { on: false };
        let mut v = FixedVec::<Flag, 3>::try_from(&[on.clone(), off.clone()]).unwrap();
        let copy = v.clone();
        assert_eq!(copy, v);
        v.insert(0, off.clone()).unwrap();
        assert_eq!(
            v.push(on.clone()).unwrap_err().into_value(),
            Some(on.clone())
        );
        assert_eq!(v.remove(1), Some(on.clone()));
        assert_eq!(v.swap_remove(0), Some(off.clone()));
        v.extend_from_slice(core::slice::from_ref(&on)).unwrap();
        assert_eq!(format!("{v:?}"), "[Flag { on: false }, Flag { on: true }]");
        let mut it = v.into_iter();
        assert_eq!(it.next_back(), Some(on.clone()));
        assert_eq!(it.collect::<Vec<_>>(), vec![off.clone()]);
        assert_eq!(Vec::from(copy), [on.clone(), off.clone()]);
        let err = validate::validate::<FixedVec<Flag, 2>>(&[2, 0, 0, 0, 1, 3, 0, 0]).unwrap_err();
        assert_eq!(err.path(), "[1].on");
        assert_eq!(err.offset(), 5);
    }

    #[test]
    fn debug_like_a_slice() {
        assert_eq!(format!("{:?}", v(&[1, 2])), "[1, 2]");
        assert_eq!(format!("{:?}", V4::new()), "[]");
        assert_eq!(format!("{:#?}", v(&[1])), "[\n    1,\n]");
    }

    #[test]
    fn equality_order_hash_ignore_stale_elements() {
        let mut a = v(&[1, 2, 3, 4]);
        a.truncate(2);
        let b = v(&[1, 2]);
        assert_ne!(bytes_of(&a), bytes_of(&b));
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(a.partial_cmp(&b), Some(Ordering::Equal));
        let h = RandomState::new();
        assert_eq!(h.hash_one(a), h.hash_one(b));
        assert_eq!(h.hash_one(a), h.hash_one(&[1u32, 2][..]));
        let set: HashSet<V4> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert!(set.contains(&[1u32, 2][..]));
        assert!(v(&[1, 2]) < v(&[1, 3]));
        assert!(v(&[1, 2]) > v(&[1]));
        assert_eq!(FixedVec::<u32, 8>::try_from(&[1, 2]).unwrap(), a);
        assert!(a == [1, 2]);
        assert!(a == [1u32, 2][..]);
        let slice: &[u32] = &[1, 2];
        assert!(a == slice);
        assert!(a == vec![1, 2]);
        assert!(a != [1, 2, 3]);
    }

    #[test]
    fn clone_and_copy() {
        let a = v(&[5, 6]);
        let b = a; // Copy
        let c = Clone::clone(&a);
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn corrupted_length_is_clamped() {
        let mut v = v(&[1, 2, 3, 4]);
        v.len = 1000; // as if another process overwrote it after validation
        assert_eq!(v.len(), 4);
        assert_eq!(v.as_slice(), &[1, 2, 3, 4]);
        assert_eq!(v.iter().count(), 4);
        assert_eq!(v.as_mut_slice().len(), 4);
        assert_eq!(v.remaining_capacity(), 0);
        assert!(v.clone().push(5).is_err());
        assert_eq!(v.pop(), Some(4));
        assert_eq!(v.len, 3);
        v.len = u32::MAX;
        assert_eq!(v.into_iter().count(), 4);
    }

    #[test]
    fn reference_from_validated_bytes() {
        let mut buf = Aligned([0u8; 20]);
        assert!(
            validate::try_ref_from_bytes::<V4>(&buf.0)
                .unwrap()
                .is_empty()
        );
        buf.0[..4].copy_from_slice(&2u32.to_ne_bytes());
        buf.0[4..8].copy_from_slice(&7u32.to_ne_bytes());
        buf.0[8..12].copy_from_slice(&8u32.to_ne_bytes());
        let v = validate::try_ref_from_bytes::<V4>(&buf.0).unwrap();
        assert_eq!(v, &[7, 8]);
        buf.0[..4].copy_from_slice(&5u32.to_ne_bytes());
        assert!(validate::try_ref_from_bytes::<V4>(&buf.0).is_err());
    }

    #[test]
    fn shm_message_constants() {
        const { assert!(!V4::ANY_BIT_PATTERN) };
        const { assert!(V4::ZEROED_IS_VALID) };
        const { assert!(FixedVec::<bool, 2>::ZEROED_IS_VALID) };
        let d = V4::DESCRIPTOR;
        assert_eq!((d.size(), d.align()), (20, 4));
        match d.kind() {
            TypeKind::FixedVec { capacity, element } => {
                assert_eq!(*capacity, 4);
                assert_eq!(element.layout_hash(), u32::DESCRIPTOR.layout_hash());
            }
            other => panic!("unexpected kind {other:?}"),
        }
        assert_ne!(
            d.layout_hash(),
            FixedVec::<u32, 5>::DESCRIPTOR.layout_hash()
        );
        assert_ne!(
            d.layout_hash(),
            FixedVec::<i32, 4>::DESCRIPTOR.layout_hash()
        );
    }

    #[test]
    fn validate_accepts_valid_and_zeroed() {
        assert!(validate::validate::<V4>(&[0; 20]).is_ok());
        assert!(validate::validate::<FixedVec<bool, 4>>(&[0; 8]).is_ok());
        assert!(validate::validate::<V4>(&bytes_of(&v(&[1, 2, 3, 4]))).is_ok());
        // Elements beyond the length are not checked: 7 at index 3 with len 3.
        assert!(validate::validate::<FixedVec<bool, 4>>(&[3, 0, 0, 0, 1, 0, 1, 7]).is_ok());
    }

    #[test]
    fn validate_rejects_wrong_size() {
        let err = validate::validate::<V4>(&[0; 16]).unwrap_err();
        assert_eq!(
            err.problem(),
            &Problem::WrongSize {
                expected: 20,
                found: 16
            }
        );
    }

    #[test]
    fn validate_rejects_length_beyond_capacity() {
        let mut bytes = [0u8; 20];
        bytes[..4].copy_from_slice(&5u32.to_ne_bytes());
        let err = validate::validate::<V4>(&bytes).unwrap_err();
        assert_eq!(
            err.problem(),
            &Problem::LengthExceedsCapacity {
                len: 5,
                capacity: 4
            }
        );
        assert_eq!(err.path(), "len");
        assert_eq!(err.offset(), 0);
        bytes[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(V4::validate_bytes(&bytes).is_err());
    }

    #[test]
    fn validate_rejects_invalid_element() {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&4u32.to_ne_bytes());
        bytes[4..].copy_from_slice(&[1, 0, 7, 1]);
        let err = validate::validate::<FixedVec<bool, 4>>(&bytes).unwrap_err();
        assert_eq!(err.problem(), &Problem::InvalidBool(7));
        assert_eq!(err.path(), "[2]");
        assert_eq!(err.offset(), 6);
        // Nested: the inner error travels out with both indices.
        type Nested = FixedVec<FixedVec<bool, 2>, 2>;
        let mut bytes = [0u8; size_of::<Nested>()];
        bytes[..4].copy_from_slice(&2u32.to_ne_bytes());
        bytes[4 + 8..4 + 8 + 4].copy_from_slice(&2u32.to_ne_bytes());
        bytes[4 + 8 + 5] = 9;
        let err = validate::validate::<Nested>(&bytes).unwrap_err();
        assert_eq!(err.problem(), &Problem::InvalidBool(9));
        assert_eq!(err.path(), "[1][1]");
        assert_eq!(err.offset(), 17);
        let mut bytes = [0u8; size_of::<Nested>()];
        bytes[..4].copy_from_slice(&1u32.to_ne_bytes());
        bytes[4..8].copy_from_slice(&3u32.to_ne_bytes());
        let err = validate::validate::<Nested>(&bytes).unwrap_err();
        assert_eq!(err.path(), "[0].len");
        assert_eq!(err.offset(), 4);
    }

    #[test]
    fn error_messages() {
        let e = V4::try_from(&[0; 6][..]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "6 elements exceed the capacity of FixedVec<_, 4>: use a larger N or fewer elements"
        );
        let e = FixedVecError::Full {
            capacity: 4,
            value: 1u32,
        };
        assert_eq!(
            e.to_string(),
            "FixedVec is full (capacity 4): use a larger N, or check `is_full()` before adding"
        );
        let e = FixedVecError::IndexOutOfBounds {
            index: 9,
            len: 2,
            value: 1u32,
        };
        assert!(e.to_string().contains("index 9 is beyond the length 2"));
    }
}
