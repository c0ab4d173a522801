//! An error accumulator, so that every problem of an item is reported in one build.

use std::fmt::Display;

use quote::ToTokens;

/// Collects errors while an item is parsed and validated.
///
/// It must be consumed with [`Ctxt::check`]: dropping it with errors still inside would
/// lose them, which is a bug in this crate, so `Drop` panics in that case (serde_derive's
/// `Ctxt` does the same).
pub(crate) struct Ctxt {
    errors: Option<Vec<syn::Error>>,
}

impl Ctxt {
    /// An empty accumulator.
    pub(crate) fn new() -> Self {
        Ctxt {
            errors: Some(Vec::new()),
        }
    }

    /// Records an error spanned at the tokens of `obj`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&mut self, obj: T, message: M) {
        self.push(syn::Error::new_spanned(obj.into_token_stream(), message));
    }

    /// Records an error that already carries its span.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.errors
            .as_mut()
            .expect("Ctxt used after check")
            .push(error);
    }

    /// Consumes the accumulator: `Ok` when nothing was recorded, otherwise all errors
    /// combined into one, each keeping its own span.
    pub(crate) fn check(mut self) -> syn::Result<()> {
        let errors = self.errors.take().expect("Ctxt checked twice");
        let mut iter = errors.into_iter();
        match iter.next() {
            None => Ok(()),
            Some(mut first) => {
                for error in iter {
                    first.combine(error);
                }
                Err(first)
            }
        }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.is_some() {
            panic!("shmbus-derive: Ctxt dropped without check()");
        }
    }
}
