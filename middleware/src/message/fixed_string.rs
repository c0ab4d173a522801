//! [`FixedString<N>`]: a UTF-8 string of at most `N` bytes, stored inline.

use core::borrow::Borrow;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::mem::offset_of;
use core::ops::{Deref, DerefMut};
use core::str::FromStr;

use super::contract::ShmMessage;
use super::descriptor::TypeDescriptor;
use super::validate::{self, Problem, ValidationError};

/// A UTF-8 string of at most `N` bytes, stored inline: the fixed-layout counterpart of
/// `String` for messages.
///
/// Layout (`#[repr(C)]`): a `u32` byte length, then `N` bytes of which the first `len`
/// are the string. An all-zero `FixedString` is the empty string.
///
/// It behaves like a `String` where it can: it dereferences to `str`, compares, hashes
/// and orders as its contents (bytes beyond the length are ignored), and prints like a
/// `str`. Operations that would exceed the capacity return a [`FixedStringError`] and
/// change nothing; nothing is ever truncated silently.
///
/// ```
/// use shmbus::FixedString;
///
/// let mut name = FixedString::<8>::try_from("robot").unwrap();
/// name.push_str("-1").unwrap();
/// assert_eq!(name, "robot-1");
/// assert!(name.push_str("23").is_err()); // 9 bytes do not fit in 8
/// assert_eq!(name, "robot-1"); // unchanged
/// ```
///
/// # Robustness
///
/// A `FixedString` holds no unsafe invariant: every bit pattern is a value Rust accepts,
/// and [`as_str`](Self::as_str) decodes the bytes with `core::str::from_utf8` every time.
/// If the bytes are not what they should be (another process wrote a length above `N`
/// or invalid UTF-8, bypassing [validation](super::validate())), the string reads as the
/// longest valid UTF-8 prefix of its first `min(len, N)` bytes — never undefined
/// behaviour, never a panic. The price is that [`len`](Self::len) and `as_str` are
/// `O(len)` rather than `O(1)`; for the short strings messages carry this is a few
/// nanoseconds.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct FixedString<const N: usize> {
    /// Byte length of the string; `<= N` and on a UTF-8 boundary for a valid value.
    len: u32,
    /// The string's bytes in `bytes[..len]`; the rest is ignored.
    bytes: [u8; N],
}

/// An operation on a [`FixedString`] was refused; the string is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FixedStringError {
    /// The result would be longer than the capacity.
    #[error(
        "a string of {needed} bytes exceeds the capacity of FixedString<{capacity}>: \
         use a larger N or a shorter string"
    )]
    CapacityExceeded {
        /// `N`, the capacity in bytes.
        capacity: usize,
        /// The byte length the operation would have needed.
        needed: usize,
    },
    /// A byte index that falls inside a multi-byte character.
    #[error(
        "byte {index} is inside a multi-byte character: truncate at a character boundary \
         (see `str::is_char_boundary`)"
    )]
    NotCharBoundary {
        /// The index given.
        index: usize,
    },
}

impl<const N: usize> FixedString<N> {
    /// `N`, checked at compile time to fit the `u32` length field.
    const CAPACITY: usize = {
        assert!(
            N <= u32::MAX as usize,
            "FixedString<N>: N must not exceed u32::MAX"
        );
        N
    };

    /// The empty string.
    pub const fn new() -> Self {
        // Mentioning `CAPACITY` makes its compile-time check run for this `N`.
        let _ = Self::CAPACITY;
        FixedString {
            len: 0,
            bytes: [0; N],
        }
    }

    /// The capacity `N`, in bytes.
    pub const fn capacity(&self) -> usize {
        Self::CAPACITY
    }

    /// The length in bytes (of [`as_str`](Self::as_str)).
    pub fn len(&self) -> usize {
        self.as_str().len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many more bytes fit.
    pub fn remaining_capacity(&self) -> usize {
        Self::CAPACITY - self.len()
    }

    /// The string's bytes, clamped to the capacity: `bytes[..min(len, N)]`.
    fn raw(&self) -> &[u8] {
        let len = usize::try_from(self.len).unwrap_or(usize::MAX).min(N);
        &self.bytes[..len]
    }

    /// Length of the longest valid UTF-8 prefix of [`raw`](Self::raw): the whole of it
    /// for any value built by this API or that passed validation.
    fn valid_len(&self) -> usize {
        let raw = self.raw();
        match core::str::from_utf8(raw) {
            Ok(_) => raw.len(),
            Err(e) => e.valid_up_to(),
        }
    }

    /// The string.
    ///
    /// Never fails: bytes that are not UTF-8 (possible only if another process bypassed
    /// validation) end the string at the last valid character.
    pub fn as_str(&self) -> &str {
        let raw = self.raw();
        match core::str::from_utf8(raw) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&raw[..e.valid_up_to()]).unwrap_or_default(),
        }
    }

    /// The string, mutably (for in-place operations such as `make_ascii_uppercase`).
    pub fn as_mut_str(&mut self) -> &mut str {
        let valid = self.valid_len();
        core::str::from_utf8_mut(&mut self.bytes[..valid]).unwrap_or_default()
    }

    /// The string's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }

    /// Appends `c`, or returns an error and changes nothing if it does not fit.
    pub fn push(&mut self, c: char) -> Result<(), FixedStringError> {
        self.push_str(c.encode_utf8(&mut [0; 4]))
    }

    /// Appends `s` entirely, or returns an error and changes nothing if it does not fit.
    pub fn push_str(&mut self, s: &str) -> Result<(), FixedStringError> {
        let start = self.len();
        let needed = start.saturating_add(s.len());
        if needed > Self::CAPACITY {
            return Err(FixedStringError::CapacityExceeded {
                capacity: N,
                needed,
            });
        }
        self.bytes[start..needed].copy_from_slice(s.as_bytes());
        self.set_len(needed);
        Ok(())
    }

    /// Removes and returns the last character, or `None` if the string is empty.
    pub fn pop(&mut self) -> Option<char> {
        let s = self.as_str();
        let c = s.chars().next_back()?;
        let new_len = s.len() - c.len_utf8();
        self.set_len(new_len);
        Some(c)
    }

    /// Empties the string (capacity unchanged).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the string to `new_len` bytes; does nothing if it is not longer.
    ///
    /// Unlike `String::truncate`, which panics, an index inside a multi-byte character is
    /// an error and the string is unchanged.
    pub fn truncate(&mut self, new_len: usize) -> Result<(), FixedStringError> {
        let s = self.as_str();
        if new_len >= s.len() {
            // Normalise a length that was beyond the valid prefix.
            let len = s.len();
            self.set_len(len);
            return Ok(());
        }
        if !s.is_char_boundary(new_len) {
            return Err(FixedStringError::NotCharBoundary { index: new_len });
        }
        self.set_len(new_len);
        Ok(())
    }

    /// Stores a length already known to be `<= N`.
    fn set_len(&mut self, len: usize) {
        debug_assert!(len <= N);
        // `len <= N <= u32::MAX` (checked at compile time by `CAPACITY`).
        self.len = u32::try_from(len).unwrap_or(u32::MAX);
    }
}

impl<const N: usize> Default for FixedString<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TryFrom<&str> for FixedString<N> {
    type Error = FixedStringError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        let mut out = Self::new();
        out.push_str(s)?;
        Ok(out)
    }
}

impl<const N: usize> FromStr for FixedString<N> {
    type Err = FixedStringError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s)
    }
}

impl<const N: usize> From<FixedString<N>> for String {
    fn from(s: FixedString<N>) -> Self {
        s.as_str().to_owned()
    }
}

impl<const N: usize> Deref for FixedString<N> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> DerefMut for FixedString<N> {
    fn deref_mut(&mut self) -> &mut str {
        self.as_mut_str()
    }
}

impl<const N: usize> AsRef<str> for FixedString<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> AsRef<[u8]> for FixedString<N> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const N: usize> Borrow<str> for FixedString<N> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> fmt::Display for FixedString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Debug for FixedString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// `write!` into a `FixedString`. Each piece is appended entirely or not at all; on
/// overflow the write fails with `fmt::Error`, and the pieces of the same `write!` before
/// the one that did not fit stay appended.
impl<const N: usize> fmt::Write for FixedString<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s).map_err(|_| fmt::Error)
    }
}

impl<const N: usize, const M: usize> PartialEq<FixedString<M>> for FixedString<N> {
    fn eq(&self, other: &FixedString<M>) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> Eq for FixedString<N> {}

impl<const N: usize> PartialEq<str> for FixedString<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for FixedString<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> PartialEq<String> for FixedString<N> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> PartialEq<FixedString<N>> for str {
    fn eq(&self, other: &FixedString<N>) -> bool {
        self == other.as_str()
    }
}

impl<const N: usize> PartialEq<FixedString<N>> for &str {
    fn eq(&self, other: &FixedString<N>) -> bool {
        *self == other.as_str()
    }
}

impl<const N: usize> PartialEq<FixedString<N>> for String {
    fn eq(&self, other: &FixedString<N>) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> PartialOrd for FixedString<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for FixedString<N> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl<const N: usize> Hash for FixedString<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Same as `str`'s hash, as `Borrow<str>` requires.
        self.as_str().hash(state);
    }
}

/// Reads a container's `u32` length field at `offset` of `bytes` (already size-checked).
pub(super) fn read_len(bytes: &[u8], offset: usize) -> Result<u64, ValidationError> {
    bytes
        .get(offset..)
        .and_then(|field| validate::read_uint(field, 4))
        .ok_or_else(|| {
            ValidationError::new(Problem::WrongSize {
                expected: offset.saturating_add(4),
                found: bytes.len(),
            })
        })
}

/// Checks a container's length field against its capacity; returns it as a `usize`.
pub(super) fn check_len(
    bytes: &[u8],
    offset: usize,
    capacity: usize,
) -> Result<usize, ValidationError> {
    let len = read_len(bytes, offset)?;
    match usize::try_from(len) {
        Ok(n) if n <= capacity => Ok(n),
        _ => Err(
            ValidationError::new(Problem::LengthExceedsCapacity { len, capacity })
                .in_field("len", offset),
        ),
    }
}

// SAFETY: contract point by point.
// 1. `FixedString<N>` is `#[repr(C)]` with fields `u32` and `[u8; N]`, so its layout is
//    fixed by the Reference's rules for `repr(C)` (offset 0 and 4, alignment 4, size
//    `4 + N` rounded up to 4).
// 2. It holds only integers: no pointer, reference or process-local handle.
// 3. It has no `Drop` impl and its fields have no drop glue.
// 4. The descriptor gives `N` and `size_of::<Self>()`/`align_of::<Self>()` themselves.
// 5. Every bit pattern of those fields is a valid value for the *language* (a `u32` and
//    bytes), so no byte pattern is undefined behaviour to read; the library invariant
//    (`len <= N`, UTF-8) is what `validate_bytes` checks, and `as_str` stays sound even
//    without it. `ANY_BIT_PATTERN` is `false` so that receivers do check the invariant.
//    All zeros is `len == 0`, the empty string, which is valid.
unsafe impl<const N: usize> ShmMessage for FixedString<N> {
    const DESCRIPTOR: &'static TypeDescriptor =
        &TypeDescriptor::fixed_string(Self::CAPACITY, size_of::<Self>(), align_of::<Self>());
    type AllBitPatternsValid = crate::message::False;
    const ZEROED_IS_VALID: bool = true;

    fn validate_bytes(bytes: &[u8]) -> Result<(), ValidationError> {
        validate::check_size::<Self>(bytes)?;
        let len = check_len(bytes, offset_of!(Self, len), Self::CAPACITY)?;
        let start = offset_of!(Self, bytes);
        let live = bytes.get(start..start + len).ok_or_else(|| {
            ValidationError::new(Problem::WrongSize {
                expected: size_of::<Self>(),
                found: bytes.len(),
            })
        })?;
        core::str::from_utf8(live).map(drop).map_err(|e| {
            ValidationError::new(Problem::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            })
            .in_field("bytes", start)
        })
    }
}

#[cfg(test)]
mod tests {
    use core::fmt::Write as _;
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};

    use super::*;

    type S16 = FixedString<16>;

    /// A `FixedString<16>` built from raw parts, as another process could write it.
    fn raw(len: u32, bytes: &[u8]) -> S16 {
        let mut b = [0u8; 16];
        b[..bytes.len()].copy_from_slice(bytes);
        FixedString { len, bytes: b }
    }

    /// The bytes of a `FixedString<16>` (no padding: 4 + 16 bytes).
    fn bytes_of(s: &S16) -> [u8; 20] {
        let mut out = [0u8; 20];
        out[..4].copy_from_slice(&s.len.to_ne_bytes());
        out[4..].copy_from_slice(&s.bytes);
        out
    }

    #[test]
    fn layout() {
        assert_eq!(size_of::<S16>(), 20);
        assert_eq!(align_of::<S16>(), 4);
        assert_eq!(size_of::<FixedString<5>>(), 12);
        assert_eq!(size_of::<FixedString<0>>(), 4);
        assert_eq!(offset_of!(S16, len), 0);
        assert_eq!(offset_of!(S16, bytes), 4);
    }

    #[test]
    fn new_default_capacity() {
        const EMPTY: S16 = FixedString::new();
        assert!(EMPTY.is_empty());
        assert_eq!(EMPTY.len(), 0);
        assert_eq!(EMPTY.capacity(), 16);
        assert_eq!(EMPTY.remaining_capacity(), 16);
        assert_eq!(EMPTY.as_str(), "");
        assert_eq!(S16::default(), EMPTY);
        let zero = FixedString::<0>::new();
        assert_eq!(zero.capacity(), 0);
        assert!(zero.is_empty());
    }

    #[test]
    fn try_from_and_from_str() {
        let s = S16::try_from("héllo").unwrap();
        assert_eq!(s.as_str(), "héllo");
        assert_eq!(s.len(), 6);
        assert_eq!(s.as_bytes(), "héllo".as_bytes());
        let parsed: S16 = "world".parse().unwrap();
        assert_eq!(parsed, "world");
        let exact = FixedString::<5>::try_from("12345").unwrap();
        assert_eq!(exact.remaining_capacity(), 0);
        assert_eq!(
            FixedString::<4>::try_from("12345"),
            Err(FixedStringError::CapacityExceeded {
                capacity: 4,
                needed: 5
            })
        );
        assert!("too long for sixteen".parse::<S16>().is_err());
        assert_eq!(String::from(s), "héllo");
    }

    #[test]
    fn push_and_push_str_all_or_nothing() {
        let mut s = FixedString::<4>::new();
        s.push('a').unwrap();
        s.push_str("bc").unwrap();
        assert_eq!(s, "abc");
        // 'é' is 2 bytes: 3 + 2 > 4, nothing is written.
        assert_eq!(
            s.push('é'),
            Err(FixedStringError::CapacityExceeded {
                capacity: 4,
                needed: 5
            })
        );
        assert_eq!(s, "abc");
        assert_eq!(
            s.push_str("de"),
            Err(FixedStringError::CapacityExceeded {
                capacity: 4,
                needed: 5
            })
        );
        assert_eq!(s, "abc");
        s.push_str("").unwrap();
        s.push('d').unwrap();
        assert_eq!(s, "abcd");
        assert!(s.push_str("").is_ok());
        assert!(s.push('e').is_err());
        assert_eq!(s, "abcd");
        let mut z = FixedString::<0>::new();
        assert!(z.push('x').is_err());
        assert!(z.push_str("").is_ok());
    }

    #[test]
    fn pop() {
        let mut s = S16::try_from("aé€").unwrap();
        assert_eq!(s.pop(), Some('€'));
        assert_eq!(s.pop(), Some('é'));
        assert_eq!(s, "a");
        assert_eq!(s.pop(), Some('a'));
        assert_eq!(s.pop(), None);
        assert_eq!(s.pop(), None);
        assert!(s.is_empty());
    }

    #[test]
    fn clear_and_truncate() {
        let mut s = S16::try_from("héllo").unwrap();
        assert_eq!(
            s.truncate(2),
            Err(FixedStringError::NotCharBoundary { index: 2 })
        );
        assert_eq!(s, "héllo");
        s.truncate(3).unwrap();
        assert_eq!(s, "hé");
        s.truncate(10).unwrap();
        assert_eq!(s, "hé");
        s.truncate(0).unwrap();
        assert!(s.is_empty());
        let mut s = S16::try_from("abc").unwrap();
        s.clear();
        assert!(s.is_empty());
        assert_eq!(s.capacity(), 16);
        s.push_str("x").unwrap();
        assert_eq!(s, "x");
    }

    #[test]
    fn deref_and_as_mut_str() {
        let mut s = S16::try_from("Hello").unwrap();
        assert!(s.starts_with("He"));
        assert_eq!(s.to_uppercase(), "HELLO");
        s.make_ascii_uppercase();
        assert_eq!(s, "HELLO");
        s.as_mut_str().make_ascii_lowercase();
        assert_eq!(s, "hello");
        let r: &str = s.as_ref();
        assert_eq!(r, "hello");
        let b: &[u8] = s.as_ref();
        assert_eq!(b, b"hello");
        let borrowed: &str = s.borrow();
        assert_eq!(borrowed, "hello");
    }

    #[test]
    fn display_and_debug() {
        let s = S16::try_from("a\"b\n").unwrap();
        assert_eq!(format!("{s}"), "a\"b\n");
        assert_eq!(format!("{s:?}"), "\"a\\\"b\\n\"");
        let s = S16::try_from("ab").unwrap();
        assert_eq!(format!("[{s:>4}]"), "[  ab]");
        assert_eq!(format!("{:?}", S16::new()), "\"\"");
    }

    #[test]
    fn fmt_write() {
        let mut s = FixedString::<8>::new();
        write!(s, "{}-{}", 12, 34).unwrap();
        assert_eq!(s, "12-34");
        assert!(write!(s, "{}", 1234).is_err());
        assert_eq!(s, "12-34");
    }

    #[test]
    fn equality_ignores_stale_bytes() {
        let mut a = S16::try_from("abcdef").unwrap();
        a.truncate(2).unwrap();
        let b = S16::try_from("ab").unwrap();
        assert_ne!(a.bytes, b.bytes);
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        let hasher = RandomState::new();
        assert_eq!(hasher.hash_one(a), hasher.hash_one(b));
        assert_eq!(hasher.hash_one(a), hasher.hash_one("ab"));
        let set: HashSet<S16> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert!(set.contains("ab"));
        let mut c = a;
        c.clear();
        assert_eq!(c, S16::new());
    }

    #[test]
    fn comparisons() {
        let a = S16::try_from("abc").unwrap();
        let b = FixedString::<3>::try_from("abc").unwrap();
        assert_eq!(a, b);
        assert!(a == "abc");
        assert!(a == *"abc");
        assert!("abc" == a);
        assert!(*"abc" == a);
        let owned = String::from("abc");
        assert!(a == owned);
        assert!(owned == a);
        assert!(a != "abd");
        assert!(a < S16::try_from("abd").unwrap());
        assert!(a > S16::try_from("ab").unwrap());
        assert_eq!(a.partial_cmp(&a), Some(Ordering::Equal));
        let copy = a;
        let cloned = Clone::clone(&a);
        assert_eq!(copy, cloned);
    }

    #[test]
    fn corrupted_values_are_sound() {
        // Length beyond the capacity: clamped to N.
        let s = raw(1000, b"0123456789abcdef");
        assert_eq!(s.as_str(), "0123456789abcdef");
        assert_eq!(s.len(), 16);
        assert_eq!(s.remaining_capacity(), 0);
        assert_eq!(s, "0123456789abcdef");
        assert_eq!(raw(u32::MAX, b"").len(), 16);
        // Invalid UTF-8: the longest valid prefix.
        let mut s = raw(5, b"ab\xffcd");
        assert_eq!(s.as_str(), "ab");
        assert_eq!(&*s, "ab");
        assert_eq!(s.as_mut_str(), "ab");
        assert_eq!(format!("{s:?}"), "\"ab\"");
        assert_eq!(s, raw(2, b"ab"));
        // A truncated multi-byte character at the end.
        let s = raw(2, "é".as_bytes().get(..1).unwrap());
        assert_eq!(s.as_str(), "");
        // Mutations start from the valid prefix and produce a valid string.
        let mut s = raw(5, b"ab\xffcd");
        s.push('c').unwrap();
        assert_eq!(s, "abc");
        assert!(S16::validate_bytes(&bytes_of(&s)).is_ok());
        let mut s = raw(5, b"ab\xffcd");
        assert_eq!(s.pop(), Some('b'));
        let mut s = raw(500, b"abc");
        s.truncate(100).unwrap();
        assert_eq!(s.len, 16);
    }

    #[test]
    fn corrupted_after_validation() {
        // A value received from another process, validated, then overwritten behind our
        // back (simulated by writing its fields): reading it stays sound.
        let mut s = S16::try_from("valid").unwrap();
        assert!(validate::validate::<S16>(&bytes_of(&s)).is_ok());
        s.bytes[1] = 0xC3; // start of a 2-byte sequence followed by 'l'
        assert_eq!(s.as_str(), "v");
        s.len = 99;
        assert_eq!(s.as_str(), "v");
        s.bytes[1] = b'a';
        // The length now covers the 11 stale zero bytes, which are UTF-8 (NUL).
        assert_eq!(s.len(), 16);
        assert!(s.as_str().starts_with("valid\0"));
        let err = validate::validate::<S16>(&bytes_of(&s)).unwrap_err();
        assert!(matches!(
            err.problem(),
            Problem::LengthExceedsCapacity {
                len: 99,
                capacity: 16
            }
        ));
    }

    #[test]
    fn shm_message_constants() {
        const { assert!(!S16::ANY_BIT_PATTERN) };
        const { assert!(S16::ZEROED_IS_VALID) };
        let d = S16::DESCRIPTOR;
        assert_eq!(d.size(), 20);
        assert_eq!(d.align(), 4);
        assert!(matches!(
            d.kind(),
            crate::message::TypeKind::FixedString { capacity: 16 }
        ));
        assert_ne!(d.layout_hash(), FixedString::<17>::DESCRIPTOR.layout_hash());
    }

    #[test]
    fn validate_accepts_valid_and_zeroed() {
        assert!(validate::validate::<S16>(&[0; 20]).is_ok());
        assert!(validate::validate::<S16>(&bytes_of(&S16::try_from("ok €").unwrap())).is_ok());
        let full = S16::try_from("0123456789abcdef").unwrap();
        assert!(validate::validate::<S16>(&bytes_of(&full)).is_ok());
        // Stale invalid bytes beyond the length are ignored.
        assert!(validate::validate::<S16>(&bytes_of(&raw(2, b"ab\xff\xff"))).is_ok());
    }

    #[test]
    fn validate_rejects_wrong_size() {
        let err = validate::validate::<S16>(&[0; 19]).unwrap_err();
        assert_eq!(
            err.problem(),
            &Problem::WrongSize {
                expected: 20,
                found: 19
            }
        );
        let err = S16::validate_bytes(&[0; 21]).unwrap_err();
        assert_eq!(
            err.problem(),
            &Problem::WrongSize {
                expected: 20,
                found: 21
            }
        );
    }

    #[test]
    fn validate_rejects_length_beyond_capacity() {
        let err = validate::validate::<S16>(&bytes_of(&raw(17, b""))).unwrap_err();
        assert_eq!(
            err.problem(),
            &Problem::LengthExceedsCapacity {
                len: 17,
                capacity: 16
            }
        );
        assert_eq!(err.path(), "len");
        assert_eq!(err.offset(), 0);
        let err = S16::validate_bytes(&bytes_of(&raw(u32::MAX, b""))).unwrap_err();
        assert_eq!(
            err.problem(),
            &Problem::LengthExceedsCapacity {
                len: u64::from(u32::MAX),
                capacity: 16
            }
        );
        let msg = validate::validate::<FixedString<4>>(&[9, 0, 0, 0, 0, 0, 0, 0])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`len`"), "{msg}");
        assert!(msg.contains("length 9 exceeds the capacity 4"), "{msg}");
    }

    #[test]
    fn validate_rejects_invalid_utf8() {
        let err = validate::validate::<S16>(&bytes_of(&raw(5, b"ab\xffcd"))).unwrap_err();
        assert_eq!(err.problem(), &Problem::InvalidUtf8 { valid_up_to: 2 });
        assert_eq!(err.path(), "bytes");
        assert_eq!(err.offset(), 4);
        // A multi-byte character cut by the length.
        let err = S16::validate_bytes(&bytes_of(&raw(1, "é".as_bytes()))).unwrap_err();
        assert_eq!(err.problem(), &Problem::InvalidUtf8 { valid_up_to: 0 });
    }

    #[test]
    fn error_messages() {
        let e = FixedString::<16>::try_from("x".repeat(20).as_str()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a string of 20 bytes exceeds the capacity of FixedString<16>: use a larger N or \
             a shorter string"
        );
        let e = FixedStringError::NotCharBoundary { index: 2 };
        assert!(
            e.to_string()
                .contains("byte 2 is inside a multi-byte character")
        );
    }
}
