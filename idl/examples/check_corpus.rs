//! Benchmark: checks every `.idl` file of the shared conformance corpus (preprocess, parse,
//! resolve, evaluate, lay out) and prints the median time of a whole pass.
//!
//! ```text
//! cargo run --release -p shmbus-idl --example check_corpus [-- ITERATIONS [CORPUS_DIR]]
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shmbus_idl::{Options, compile_files, parse_files};

fn idl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            idl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "idl") {
            out.push(path);
        }
    }
}

/// The options the corpus test uses: Cyclone's branch, lenient keywords for ROS 2 files.
fn options_for(path: &Path) -> Options {
    let ros = path.to_string_lossy().contains("ros2__");
    Options {
        defines: vec!["__IDLC__".to_owned()],
        lenient_keywords: ros,
        ..Options::default()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let Some(dir) = args
        .next()
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("SHMBUS_IDL_CORPUS").map(PathBuf::from))
    else {
        eprintln!("give the corpus folder as the second argument, or set SHMBUS_IDL_CORPUS");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    idl_files(&dir, &mut files);
    files.sort();
    if files.is_empty() {
        eprintln!("no .idl files under {}", dir.display());
        std::process::exit(1);
    }
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let options: Vec<Options> = files.iter().map(|f| options_for(f)).collect();
    let mut times: Vec<Duration> = Vec::with_capacity(iterations);
    let (mut accepted, mut diagnostics) = (0, 0);
    for _ in 0..iterations.max(1) {
        let start = Instant::now();
        accepted = 0;
        diagnostics = 0;
        for (file, options) in files.iter().zip(&options) {
            let (_, hir, diags) = compile_files(std::slice::from_ref(file), options);
            accepted += usize::from(hir.is_some());
            diagnostics += diags.len();
        }
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    // The same without the semantic checks, to show what they cost.
    let mut parse_times: Vec<Duration> = (0..iterations.max(1))
        .map(|_| {
            let start = Instant::now();
            for (file, options) in files.iter().zip(&options) {
                let _ = parse_files(std::slice::from_ref(file), options);
            }
            start.elapsed()
        })
        .collect();
    parse_times.sort();
    let parse_median = parse_times[parse_times.len() / 2];
    let mib_per_s = bytes as f64 / (1024.0 * 1024.0) / median.as_secs_f64();
    println!(
        "{} files, {bytes} bytes ({accepted} compile, {diagnostics} diagnostics): \
         median {:.2} ms per pass over {} iterations (min {:.2} ms, max {:.2} ms), {mib_per_s:.1} MiB/s",
        files.len(),
        median.as_secs_f64() * 1e3,
        times.len(),
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    println!(
        "preprocess + parse only: median {:.2} ms per pass",
        parse_median.as_secs_f64() * 1e3
    );
}
