//! Micro-benchmarks of the runtime's hot inner pieces, in isolation so a regression shows
//! up where it is: index-queue push/pop, chunk-pool allocate/release, and validating a
//! large payload with invalid bit patterns. They run over heap memory (the structures'
//! heap backend), so no shared-memory object is created.
//!
//! `cargo bench -p shmbus-benchmarks --bench hot_paths`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shmbus::ShmMessage;
use shmbus::os::mmap::HeapMapping;
use shmbus::sync::index_queue::{self, Overflow};
use shmbus::sync::{ChunkPool, IndexQueueConsumer, IndexQueueProducer, chunk_pool};

/// 1 MiB of `bool`s: every byte must be checked to be 0 or 1.
#[derive(ShmMessage)]
#[repr(C)]
struct Flags {
    flags: [bool; 1 << 20],
}

fn queue(c: &mut Criterion) {
    const CAPACITY: u32 = 64;
    let heap = HeapMapping::new(index_queue::size_of(CAPACITY)).expect("heap memory");
    let mut producer = IndexQueueProducer::create(&heap, 0, CAPACITY, 1024).expect("queue");
    let mut consumer = IndexQueueConsumer::open(&heap, 0, CAPACITY, 1024).expect("queue");
    c.bench_function("index queue push + pop", |b| {
        b.iter(|| {
            producer
                .push(black_box(7), Overflow::OverwriteOldest)
                .expect("push");
            black_box(consumer.pop().expect("pop"))
        })
    });
    c.bench_function("index queue push overwriting (full queue)", |b| {
        for i in 0..CAPACITY {
            producer.push(i, Overflow::OverwriteOldest).expect("fill");
        }
        b.iter(|| {
            black_box(
                producer
                    .push(black_box(7), Overflow::OverwriteOldest)
                    .expect("push"),
            )
        })
    });
}

fn pool(c: &mut Criterion) {
    const CAPACITY: u32 = 1024;
    let heap = HeapMapping::new(chunk_pool::size_of(CAPACITY)).expect("heap memory");
    let mut pool = ChunkPool::create(&heap, 0, CAPACITY).expect("pool");
    c.bench_function("chunk pool allocate + release", |b| {
        b.iter(|| {
            let index = pool.allocate().expect("allocate").expect("a free chunk");
            pool.release(black_box(index)).expect("release");
        })
    });
}

fn validation(c: &mut Criterion) {
    let bytes = vec![1u8; size_of::<Flags>()];
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("1 MiB of bool", |b| {
        b.iter(|| shmbus::message::validate::<Flags>(black_box(&bytes)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, queue, pool, validation);
criterion_main!(benches);
