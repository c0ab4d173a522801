//! loom model of the chunk pool: two threads allocate and release concurrently; a chunk is
//! never owned twice, its contents are handed over with the right ordering, nothing leaks.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p shmbus --release --test loom_chunk_pool`
#![cfg(loom)]

use std::sync::Arc;

use loom::cell::UnsafeCell;
use shmbus::os::mmap::HeapMapping;
use shmbus::sync::ChunkPool;
use shmbus::sync::chunk_pool;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[test]
fn two_threads_allocate_and_release() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(chunk_pool::size_of(2)).unwrap());
        let pool = Arc::new(ChunkPool::create(Arc::clone(&heap), 0, 2).unwrap());
        // The chunks' contents: loom reports a race if two owners overlap or a hand-over
        // through the free list lacks happens-before.
        // loom's UnsafeCell is deliberately not Sync; loom's spawn does not require Send (all
        // model threads run on one OS thread), and sharing the cells is what lets loom check
        // that every access is ordered by the structure under test.
        #[allow(clippy::arc_with_non_send_sync)]
        let chunks: Arc<Vec<UnsafeCell<u32>>> =
            Arc::new((0..2).map(|_| UnsafeCell::new(0)).collect());
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (pool, chunks) = (Arc::clone(&pool), Arc::clone(&chunks));
                loom::thread::spawn(move || {
                    for _ in 0..2 {
                        if let Some(i) = pool.allocate().unwrap() {
                            // An exclusive access: loom checks it for races.
                            chunks[i as usize].with_mut(|_| ());
                            pool.release(i).unwrap();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(pool.free_count(), 2);
        let a = pool.allocate().unwrap().unwrap();
        let b = pool.allocate().unwrap().unwrap();
        assert_ne!(a, b);
        assert_eq!(pool.allocate().unwrap(), None);
    });
}

#[test]
fn concurrent_double_release_succeeds_once() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(chunk_pool::size_of(2)).unwrap());
        let pool = Arc::new(ChunkPool::create(Arc::clone(&heap), 0, 2).unwrap());
        let i = pool.allocate().unwrap().unwrap();
        let other = {
            let pool = Arc::clone(&pool);
            loom::thread::spawn(move || pool.release(i).is_ok())
        };
        let mine = pool.release(i).is_ok();
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs, "exactly one release must succeed");
        assert_eq!(pool.free_count(), 2);
    });
}
