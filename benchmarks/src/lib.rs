//! Side-by-side benchmarks of shmbus: not written yet (issue 6/7); this crate is empty.
