//! loom model of the request-response end-of-stream protocol: a server pushes its last
//! responses into the client's queue, then CASes the request word `pending -> done`
//! (AcqRel); a client that loads the word (Acquire) and sees `done`, then drains its queue,
//! finds every response — so "finished" is never reported while a response is still on
//! its way. A concurrent cancel by the client (`pending -> cancelled`) and the server's
//! `done` exclude each other: exactly one CAS wins.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p shmbus --release --test loom_request_word`
#![cfg(loom)]

use std::sync::Arc;

use shmbus::os::mmap::HeapMapping;
use shmbus::sync::atomic::{AtomicU64, Ordering};
use shmbus::sync::index_queue::{self, Overflow};
use shmbus::sync::{IndexQueueConsumer, IndexQueueProducer};

const PENDING: u64 = 1;
const DONE: u64 = 2;
const CANCELLED: u64 = 3;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[test]
fn done_is_seen_only_after_every_response() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(index_queue::size_of(2)).unwrap());
        let mut responses = IndexQueueProducer::create(Arc::clone(&heap), 0, 2, 8).unwrap();
        let mut queue = IndexQueueConsumer::open(Arc::clone(&heap), 0, 2, 8).unwrap();
        let word = Arc::new(AtomicU64::new(PENDING));
        let server = {
            let word = Arc::clone(&word);
            loom::thread::spawn(move || {
                responses.push(1, Overflow::Reject).unwrap();
                responses.push(2, Overflow::Reject).unwrap();
                word.compare_exchange(PENDING, DONE, Ordering::AcqRel, Ordering::Relaxed)
                    .unwrap();
            })
        };
        // The client's poll, repeated until it reports the end.
        let mut got = Vec::new();
        loop {
            let state = word.load(Ordering::Acquire);
            while let Some(index) = queue.pop().unwrap() {
                got.push(index);
            }
            if state == DONE {
                break;
            }
            loom::thread::yield_now();
        }
        assert_eq!(got, vec![1, 2], "finished before every response was taken");
        server.join().unwrap();
    });
}

#[test]
fn cancel_and_done_exclude_each_other() {
    model(|| {
        let word = Arc::new(AtomicU64::new(PENDING));
        let server = {
            let word = Arc::clone(&word);
            loom::thread::spawn(move || {
                word.compare_exchange(PENDING, DONE, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })
        };
        let cancelled = word
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        let done = server.join().unwrap();
        assert!(cancelled != done, "exactly one of cancel and done wins");
        let last = word.load(Ordering::Relaxed);
        assert_eq!(last, if done { DONE } else { CANCELLED });
    });
}
