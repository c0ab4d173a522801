//! loom model of the SPSC index queue: order, ownership of indices, and the publication of
//! the data an index names, under every interleaving (bounded preemptions).
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p shmbus --release --test loom_index_queue`
#![cfg(loom)]

use std::sync::Arc;

use loom::cell::UnsafeCell;
use shmbus::os::mmap::HeapMapping;
use shmbus::sync::index_queue::{self, Overflow, Pushed};
use shmbus::sync::{IndexQueueConsumer, IndexQueueProducer};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Payload slots named by the indices: loom reports a data race if a reader is not
/// ordered after the writer by the queue's acquire/release pairs.
fn payloads(n: usize) -> Arc<Vec<UnsafeCell<u32>>> {
    // loom's UnsafeCell is deliberately not Sync; loom's spawn does not require Send (all
    // model threads run on one OS thread), and sharing the cells is what lets loom check
    // that every access is ordered by the structure under test.
    #[allow(clippy::arc_with_non_send_sync)]
    Arc::new((0..n).map(|_| UnsafeCell::new(0)).collect())
}

#[test]
fn reject_keeps_order_and_publishes_data() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(index_queue::size_of(2)).unwrap());
        let mut producer = IndexQueueProducer::create(Arc::clone(&heap), 0, 2, 3).unwrap();
        let mut consumer = IndexQueueConsumer::open(Arc::clone(&heap), 0, 2, 3).unwrap();
        let data = payloads(3);
        let reader = {
            let data = Arc::clone(&data);
            loom::thread::spawn(move || {
                let mut expected = 0;
                while expected < 3 {
                    match consumer.pop().unwrap() {
                        Some(i) => {
                            assert_eq!(i, expected);
                            data[i as usize].with(|_| ());
                            expected += 1;
                        }
                        None => loom::thread::yield_now(),
                    }
                }
            })
        };
        for i in 0..3 {
            data[i as usize].with_mut(|_| ());
            while producer.push(i, Overflow::Reject).is_err() {
                loom::thread::yield_now();
            }
        }
        reader.join().unwrap();
    });
}

#[test]
fn overwrite_displaces_each_index_at_most_once_and_counts_exactly() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(index_queue::size_of(1)).unwrap());
        let mut producer = IndexQueueProducer::create(Arc::clone(&heap), 0, 1, 3).unwrap();
        let mut consumer = IndexQueueConsumer::open(Arc::clone(&heap), 0, 1, 3).unwrap();
        let reader = loom::thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                if let Some(i) = consumer.pop().unwrap() {
                    got.push(i);
                }
            }
            (got, consumer)
        });
        let mut displaced = Vec::new();
        for i in 0..3 {
            match producer.push(i, Overflow::OverwriteOldest).unwrap() {
                Pushed::Stored => {}
                Pushed::Displaced(old) => displaced.push(old),
                Pushed::DisplacedInvalid(raw) => panic!("displaced garbage {raw}"),
            }
        }
        let (mut got, mut consumer) = reader.join().unwrap();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order: {got:?}");
        while let Some(i) = consumer.pop().unwrap() {
            got.push(i);
        }
        assert_eq!(consumer.take_overflows(), displaced.len() as u64);
        let mut all: Vec<u32> = got.iter().chain(&displaced).copied().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            vec![0, 1, 2],
            "received {got:?}, displaced {displaced:?}"
        );
    });
}
