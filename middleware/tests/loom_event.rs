//! loom model of the event word: a notification sent after the condition became true is
//! never lost, whatever the interleaving (the futex is modelled in `os::futex` under loom;
//! a lost wake-up shows up as a deadlock, which loom reports).
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p shmbus --release --test loom_event`
#![cfg(loom)]

use std::sync::Arc;

use shmbus::os::mmap::HeapMapping;
use shmbus::sync::Event;
use shmbus::sync::atomic::{AtomicU32, Ordering};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[test]
fn no_lost_wakeup() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(64).unwrap());
        let event = Arc::new(Event::create(Arc::clone(&heap), 0).unwrap());
        let flag = Arc::new(AtomicU32::new(0));
        let waiter = {
            let (event, flag) = (Arc::clone(&event), Arc::clone(&flag));
            loom::thread::spawn(move || {
                event
                    .wait_until(None, || (flag.load(Ordering::Acquire) == 1).then_some(()))
                    .unwrap()
            })
        };
        flag.store(1, Ordering::Release);
        event.notify().unwrap();
        assert_eq!(waiter.join().unwrap(), Some(()));
    });
}

#[test]
fn two_waiters_two_notifications() {
    model(|| {
        let heap = Arc::new(HeapMapping::new(64).unwrap());
        let event = Arc::new(Event::create(Arc::clone(&heap), 0).unwrap());
        let count = Arc::new(AtomicU32::new(0));
        let waiters: Vec<_> = (1..=2)
            .map(|target| {
                let (event, count) = (Arc::clone(&event), Arc::clone(&count));
                loom::thread::spawn(move || {
                    event
                        .wait_until(None, || {
                            (count.load(Ordering::Acquire) >= target).then_some(())
                        })
                        .unwrap()
                })
            })
            .collect();
        for _ in 0..2 {
            count.fetch_add(1, Ordering::Release);
            event.notify().unwrap();
        }
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), Some(()));
        }
        assert_eq!(event.sleepers(), 0);
    });
}
