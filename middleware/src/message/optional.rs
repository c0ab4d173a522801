//! [`Optional<T>`]: a `T` or nothing, stored inline.

use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::mem::{MaybeUninit, offset_of};

use super::contract::ShmMessage;
use super::descriptor::TypeDescriptor;
use super::validate::{self, Problem, ValidationError};

/// The present flag of a value.
const PRESENT: u8 = 1;
/// The present flag of no value.
const ABSENT: u8 = 0;

/// A `T` or nothing, stored inline: the fixed-layout counterpart of `Option<T>` for
/// messages.
///
/// Layout (`#[repr(C)]`): a `u8` present flag (`0` or `1`), then room for a `T`, which is
/// initialised exactly when the flag is `1`. An all-zero `Optional` is `none()` for every
/// `T`.
///
/// It behaves like an `Option` where it can: [`get`](Self::get) gives an `Option<&T>`,
/// [`take`](Self::take) and [`replace`](Self::replace) move values in and out, it converts
/// from and into `Option<T>`, and it compares, hashes, orders and prints like one.
///
/// ```
/// use shmbus::Optional;
///
/// let mut speed = Optional::<f32>::none();
/// assert_eq!(speed.get(), None);
/// speed.set(1.5);
/// assert_eq!(speed.get(), Some(&1.5));
/// assert_eq!(format!("{speed:?}"), "Some(1.5)");
/// assert_eq!(Option::from(speed), Some(1.5));
/// ```
///
/// Only a flag of exactly `1` means present: a flag corrupted to any other value after
/// validation reads as `None`, so the value is never read unless it was written. Like
/// [`FixedVec`](super::FixedVec), an `Optional` never drops its value (a message type has
/// no destructor); methods that put a value in require `T: ShmMessage`, whose types have
/// no drop glue.
#[repr(C)]
pub struct Optional<T> {
    /// `1` when `value` holds a valid `T`, `0` when it does not.
    present: u8,
    /// Initialised exactly when `present == 1`.
    value: MaybeUninit<T>,
}

impl<T> Optional<T> {
    /// No value.
    ///
    /// The value's storage is zeroed, so it never carries leftover stack contents into
    /// shared memory.
    pub const fn none() -> Self {
        Optional {
            present: ABSENT,
            value: MaybeUninit::zeroed(),
        }
    }

    /// Builds a present value without the `ShmMessage` bound (for `Clone`, whose values
    /// come from an `Optional` already).
    const fn some_inner(value: T) -> Self {
        Optional {
            present: PRESENT,
            value: MaybeUninit::new(value),
        }
    }

    /// Whether a value is present.
    pub const fn is_some(&self) -> bool {
        self.present == PRESENT
    }

    /// Whether no value is present.
    pub const fn is_none(&self) -> bool {
        !self.is_some()
    }

    /// The value, if present.
    pub const fn get(&self) -> Option<&T> {
        if self.is_some() {
            // SAFETY: the type invariant is that `value` is initialised with a valid `T`
            // whenever `present == 1`: `some`/`set`/`replace`/`insert` write the value
            // before (or together with) the flag, `take`/`clear` lower the flag, and a
            // value received from another process is read only after `validate_bytes`
            // checked that a flag of 1 comes with a valid `T` (contract point 5). Any
            // other flag, even one corrupted after validation, takes the `None` branch.
            // The reference borrows `self`, so the value stays in place while it lives.
            Some(unsafe { self.value.assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, mutably, if present.
    pub const fn get_mut(&mut self) -> Option<&mut T> {
        if self.is_some() {
            // SAFETY: as in `get`: `present == 1` means `value` holds a valid `T`; the
            // reference is derived from `&mut self`, so it is the only access while it
            // lives, and anything written through it is a valid `T`.
            Some(unsafe { self.value.assume_init_mut() })
        } else {
            None
        }
    }

    /// The value, if present (same as [`get`](Self::get), named after `Option::as_ref`).
    pub const fn as_option(&self) -> Option<&T> {
        self.get()
    }

    /// The value, mutably, if present (same as [`get_mut`](Self::get_mut)).
    pub const fn as_mut_option(&mut self) -> Option<&mut T> {
        self.get_mut()
    }

    /// Takes the value out, leaving none.
    pub fn take(&mut self) -> Option<T> {
        if !self.is_some() {
            return None;
        }
        self.present = ABSENT;
        // SAFETY: the flag was 1, so `value` holds a valid `T` (invariant, see `get`). The
        // flag is now 0, so the value is never read again through `self`: the `T` read
        // out here is its only owner.
        Some(unsafe { self.value.assume_init_read() })
    }

    /// Converts into an `Option<T>`, moving the value out.
    pub fn into_option(mut self) -> Option<T> {
        self.take()
    }

    /// Removes the value, if any, without dropping it (see the type's documentation).
    pub fn clear(&mut self) {
        self.present = ABSENT;
    }
}

impl<T: ShmMessage> Optional<T> {
    /// A present value.
    pub const fn some(value: T) -> Self {
        Self::some_inner(value)
    }

    /// Stores `value`, replacing any previous one (which is not dropped: `T` has no
    /// drop glue).
    pub fn set(&mut self, value: T) {
        self.insert(value);
    }

    /// Stores `value`, replacing any previous one, and returns a reference to it (like
    /// `Option::insert`).
    pub fn insert(&mut self, value: T) -> &mut T {
        let slot = self.value.write(value);
        self.present = PRESENT;
        slot
    }

    /// Stores `value` and returns the previous one, if any (like `Option::replace`).
    pub fn replace(&mut self, value: T) -> Option<T> {
        let old = self.take();
        self.set(value);
        old
    }
}

impl<T> Default for Optional<T> {
    fn default() -> Self {
        Self::none()
    }
}

impl<T: ShmMessage> From<Option<T>> for Optional<T> {
    fn from(value: Option<T>) -> Self {
        match value {
            Some(value) => Self::some(value),
            None => Self::none(),
        }
    }
}

impl<T: ShmMessage> From<T> for Optional<T> {
    fn from(value: T) -> Self {
        Self::some(value)
    }
}

impl<T> From<Optional<T>> for Option<T> {
    fn from(value: Optional<T>) -> Self {
        value.into_option()
    }
}

impl<T: Clone> Clone for Optional<T> {
    fn clone(&self) -> Self {
        match self.get() {
            Some(value) => Self::some_inner(value.clone()),
            None => Self::none(),
        }
    }
}

/// A bitwise copy: the value, if present, is copied as a `T: Copy`; otherwise its bytes
/// are copied as `MaybeUninit`.
impl<T: Copy> Copy for Optional<T> {}

impl<T: fmt::Debug> fmt::Debug for Optional<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

impl<T: PartialEq> PartialEq for Optional<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for Optional<T> {}

impl<T: PartialEq> PartialEq<Option<T>> for Optional<T> {
    fn eq(&self, other: &Option<T>) -> bool {
        self.get() == other.as_ref()
    }
}

impl<T: PartialOrd> PartialOrd for Optional<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.get().partial_cmp(&other.get())
    }
}

impl<T: Ord> Ord for Optional<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.get().cmp(&other.get())
    }
}

impl<T: Hash> Hash for Optional<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.get().hash(state);
    }
}

// SAFETY: contract point by point.
// 1. `Optional<T>` is `#[repr(C)]` with fields `u8` and `MaybeUninit<T>`, which has the
//    size and alignment of `T` (std docs of `MaybeUninit`), so by the Reference's
//    `repr(C)` rules the value is at offset `align_of::<T>()` (at least 1) and the layout
//    follows from `T`'s, which is fixed (`T: ShmMessage`).
// 2. It holds a `u8` and (room for) a `T`, which is self-contained by `T`'s contract.
// 3. It has no `Drop` impl; `MaybeUninit<T>` never drops its content.
// 4. The descriptor gives `T`'s descriptor and `size_of::<Self>()`/`align_of::<Self>()`.
// 5. `validate_bytes` accepts a flag of 0 (the value bytes are then `MaybeUninit`, valid
//    for anything) or a flag of 1 with bytes that `T::validate_bytes` accepts, so `Ok`
//    means the invariant `get` relies on holds. Any other flag is rejected, so
//    `ANY_BIT_PATTERN` is `false`. All zeros is flag 0, `none()`, for every `T`:
//    `ZEROED_IS_VALID` is `true`.
unsafe impl<T: ShmMessage> ShmMessage for Optional<T> {
    const DESCRIPTOR: &'static TypeDescriptor =
        &TypeDescriptor::optional(T::DESCRIPTOR, size_of::<Self>(), align_of::<Self>());
    type AllBitPatternsValid = crate::message::False;
    const ZEROED_IS_VALID: bool = true;

    fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError> {
        validate::check_size::<Self>(bytes)?;
        let flag_at = offset_of!(Self, present);
        let flag = bytes.get(flag_at).copied().ok_or_else(|| {
            ValidationError::new(Problem::WrongSize {
                expected: size_of::<Self>(),
                found: bytes.len(),
            })
        })?;
        match flag {
            ABSENT => Ok(()),
            PRESENT => validate::validate_field::<T>(bytes, offset_of!(Self, value), "value"),
            other => Err(ValidationError::new(Problem::InvalidPresentFlag(other))
                .in_field("present", flag_at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};

    use super::*;
    use crate::message::{FixedString, FixedVec, TypeKind};

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

    /// A `#[repr(C)]` buffer aligned for the types the tests view.
    #[repr(C, align(8))]
    struct Aligned<const S: usize>([u8; S]);

    /// The bytes of an `Optional<u32>`: flag, 3 padding bytes (zeroed here), value.
    fn bytes_of(o: &Optional<u32>) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[0] = o.present;
        // SAFETY: `none()` zeroes the value and `set` writes a whole `u32`, so the value
        // of an `Optional<u32>` built by the API is always an initialised `u32`.
        let value = unsafe { o.value.assume_init() };
        out[4..].copy_from_slice(&value.to_ne_bytes());
        out
    }

    #[test]
    fn layout() {
        assert_eq!(size_of::<Optional<u32>>(), 8);
        assert_eq!(offset_of!(Optional<u32>, present), 0);
        assert_eq!(offset_of!(Optional<u32>, value), 4);
        assert_eq!(size_of::<Optional<u8>>(), 2);
        assert_eq!(size_of::<Optional<f64>>(), 16);
        assert_eq!(offset_of!(Optional<f64>, value), 8);
    }

    #[test]
    fn none_some_default() {
        const NONE: Optional<u32> = Optional::none();
        const SOME: Optional<u32> = Optional::some(3);
        assert!(NONE.is_none() && !NONE.is_some());
        assert!(SOME.is_some() && !SOME.is_none());
        assert_eq!(NONE.get(), None);
        assert_eq!(SOME.get(), Some(&3));
        assert_eq!(SOME.as_option(), Some(&3));
        assert_eq!(Optional::<u32>::default(), NONE);
    }

    #[test]
    fn set_insert_replace_take_clear() {
        let mut o = Optional::<u32>::none();
        o.set(1);
        assert_eq!(o.get(), Some(&1));
        *o.insert(2) += 10;
        assert_eq!(o, Some(12));
        assert_eq!(o.replace(3), Some(12));
        assert_eq!(o.take(), Some(3));
        assert!(o.is_none());
        assert_eq!(o.take(), None);
        assert_eq!(o.replace(4), None);
        if let Some(v) = o.get_mut() {
            *v = 5;
        }
        *o.as_mut_option().unwrap() += 1;
        assert_eq!(o, Some(6));
        o.clear();
        assert_eq!(o.get(), None);
        assert_eq!(o.get_mut(), None);
    }

    #[test]
    fn conversions() {
        let o: Optional<u32> = Some(5).into();
        assert_eq!(o.get(), Some(&5));
        let o: Optional<u32> = None.into();
        assert!(o.is_none());
        let o: Optional<u32> = 9.into();
        assert_eq!(Option::from(o), Some(9));
        assert_eq!(o.into_option(), Some(9));
        assert_eq!(Option::<u32>::from(Optional::none()), None);
    }

    #[test]
    fn non_copy_values() {
        let mut o = Optional::some(Flag { on: true });
        let c = o.clone();
        assert_eq!(c, o);
        o.get_mut().unwrap().on = false;
        assert_ne!(c, o);
        assert_eq!(format!("{o:?}"), "Some(Flag { on: false })");
        assert_eq!(o.replace(Flag { on: true }), Some(Flag { on: false }));
        assert_eq!(o.take(), Some(Flag { on: true }));
        assert_eq!(o.take(), None);
        let err = validate::validate::<Optional<Flag>>(&[1, 2]).unwrap_err();
        assert_eq!(err.path(), "value.on");
        let mut v = Optional::some(FixedVec::<u8, 3>::try_from(&[1, 2][..]).unwrap());
        v.get_mut().unwrap().push(3).unwrap();
        assert_eq!(v.take().unwrap(), [1, 2, 3]);
        let s = Optional::some(FixedString::<8>::try_from("hi").unwrap());
        assert_eq!(format!("{s:?}"), "Some(\"hi\")");
        assert_eq!(s.into_option().unwrap(), "hi");
    }

    #[test]
    fn debug_like_option() {
        assert_eq!(format!("{:?}", Optional::some(1u8)), "Some(1)");
        assert_eq!(format!("{:?}", Optional::<u8>::none()), "None");
        assert_eq!(format!("{:#?}", Optional::some(1u8)), "Some(\n    1,\n)");
    }

    #[test]
    fn equality_order_hash() {
        let mut a = Optional::some(1u32);
        a.clear(); // the stale 1 stays in the value bytes
        let b = Optional::<u32>::none();
        assert_ne!(bytes_of(&a), bytes_of(&b));
        assert_eq!(a, b);
        let h = RandomState::new();
        assert_eq!(h.hash_one(a), h.hash_one(b));
        assert_eq!(h.hash_one(Optional::some(4u32)), h.hash_one(Some(&4u32)));
        let set: HashSet<Optional<u32>> = [a, b, Optional::some(1)].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert!(Optional::<u32>::none() < Optional::some(0));
        assert!(Optional::some(1u32) < Optional::some(2));
        assert_eq!(
            Optional::some(1u32).cmp(&Optional::some(1)),
            Ordering::Equal
        );
        assert_eq!(
            Optional::some(1.0f32).partial_cmp(&Optional::some(f32::NAN)),
            None
        );
        assert!(Optional::some(1u32) == Some(1));
        assert!(Optional::some(1u32) != None);
    }

    #[test]
    fn clone_and_copy() {
        let a = Optional::some(3u16);
        let b = a;
        let c = Clone::clone(&a);
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(Clone::clone(&Optional::<u16>::none()), Optional::none());
    }

    #[test]
    fn corrupted_flag_reads_as_none() {
        let mut o = Optional::some(42u32);
        assert!(validate::validate::<Optional<u32>>(&bytes_of(&o)).is_ok());
        o.present = 7; // as if another process overwrote it after validation
        assert!(o.is_none());
        assert_eq!(o.get(), None);
        assert_eq!(o.get_mut(), None);
        assert_eq!(o.take(), None);
        assert_eq!(format!("{o:?}"), "None");
        assert_eq!(o, Optional::none());
        // A bool value with a stale invalid byte, flag not 1: never read.
        let mut buf = Aligned([7u8, 2, 0, 0, 0, 0, 0, 0]);
        let view = validate::try_ref_from_bytes::<Optional<bool>>(&buf.0[..2]);
        assert!(view.is_err());
        buf.0[0] = 0;
        let view = validate::try_ref_from_bytes::<Optional<bool>>(&buf.0[..2]).unwrap();
        assert_eq!(view.get(), None);
        buf.0[0] = 1;
        buf.0[1] = 1;
        let view = validate::try_ref_from_bytes::<Optional<bool>>(&buf.0[..2]).unwrap();
        assert_eq!(view.get(), Some(&true));
    }

    #[test]
    fn shm_message_constants() {
        type O = Optional<u32>;
        const { assert!(!O::ANY_BIT_PATTERN) };
        const { assert!(O::ZEROED_IS_VALID) };
        const { assert!(Optional::<bool>::ZEROED_IS_VALID) };
        let d = O::DESCRIPTOR;
        assert_eq!((d.size(), d.align()), (8, 4));
        match d.kind() {
            TypeKind::Optional { element } => {
                assert_eq!(element.layout_hash(), u32::DESCRIPTOR.layout_hash());
            }
            other => panic!("unexpected kind {other:?}"),
        }
        assert_ne!(d.layout_hash(), Optional::<i32>::DESCRIPTOR.layout_hash());
    }

    #[test]
    fn validate_accepts_valid_and_zeroed() {
        assert!(validate::validate::<Optional<u32>>(&[0; 8]).is_ok());
        assert!(validate::validate::<Optional<bool>>(&[0, 0]).is_ok());
        assert!(validate::validate::<Optional<bool>>(&[1, 1]).is_ok());
        // Absent: the value is not checked.
        assert!(validate::validate::<Optional<bool>>(&[0, 9]).is_ok());
        assert!(validate::validate::<Optional<u32>>(&bytes_of(&Optional::some(u32::MAX))).is_ok());
    }

    #[test]
    fn validate_rejects_wrong_size() {
        let err = validate::validate::<Optional<u32>>(&[0; 4]).unwrap_err();
        assert_eq!(
            err.problem(),
            &Problem::WrongSize {
                expected: 8,
                found: 4
            }
        );
    }

    #[test]
    fn validate_rejects_invalid_flag() {
        let err = validate::validate::<Optional<u32>>(&[7, 0, 0, 0, 1, 0, 0, 0]).unwrap_err();
        assert_eq!(err.problem(), &Problem::InvalidPresentFlag(7));
        assert_eq!(err.path(), "present");
        assert_eq!(err.offset(), 0);
        let msg = err.to_string();
        assert!(
            msg.contains("present flag must be 0 or 1, found 7"),
            "{msg}"
        );
    }

    #[test]
    fn validate_rejects_invalid_value() {
        let err = validate::validate::<Optional<bool>>(&[1, 2]).unwrap_err();
        assert_eq!(err.problem(), &Problem::InvalidBool(2));
        assert_eq!(err.path(), "value");
        assert_eq!(err.offset(), 1);
        // Nested in a vector of optionals.
        type V = FixedVec<Optional<bool>, 3>;
        let mut bytes = [0u8; size_of::<V>()];
        bytes[..4].copy_from_slice(&3u32.to_ne_bytes());
        bytes[4 + 2 * 2] = 1;
        bytes[4 + 2 * 2 + 1] = 5;
        let err = validate::validate::<V>(&bytes).unwrap_err();
        assert_eq!(err.problem(), &Problem::InvalidBool(5));
        assert_eq!(err.path(), "[2].value");
        assert_eq!(err.offset(), 9);
    }
}
