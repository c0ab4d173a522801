//! Preprocess + parse + semantic checks + rendering of arbitrary bytes: nothing may panic.
//!
//! `cargo +nightly fuzz run compile` (from `idl/`). The first byte picks options, so the
//! default-bound, long-double and lenient paths are fuzzed too; the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmbus_idl::diagnostics::render::{Style, render};
use shmbus_idl::source::SourceMap;
use shmbus_idl::{Options, compile_sources};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut options = Options {
        lenient_keywords: flags & 1 != 0,
        long_double_opaque: flags & 2 != 0,
        ..Options::default()
    };
    if flags & 4 != 0 {
        options.default_string_bound = Some(u32::from(flags >> 4) + 1);
        options.default_sequence_bound = Some(3);
        options.default_map_bound = Some(2);
    }
    let text = String::from_utf8_lossy(rest).into_owned();
    let mut sources = SourceMap::new();
    let id = sources.add("fuzz.idl", text);
    let (hir, diags) = compile_sources(&mut sources, &[id], &options);
    if let Some(hir) = &hir {
        for item in &hir.items {
            let _ = item.scoped_name();
            let _ = item.layout;
        }
    }
    let _ = render(&diags, &sources, Style::Plain);
    let _ = render(&diags, &sources, Style::OneLine);
});
