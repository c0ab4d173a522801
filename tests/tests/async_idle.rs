//! 1,000 async subscribers waiting on quiet services: how many threads wait for them, and
//! what waiting costs (its own test binary, so that the process's waker threads are this
//! test's alone). Run with `--nocapture` to see the figures. A service has at most 63
//! subscribers (a chunk's holders are a 64-bit mask), so the 1,000 wait on 20 services of
//! 50; for the waker threads every subscriber is one event word either way.

use std::time::Duration;

use shmbus::Service;
use shmbus::port::asynchronous::waker::{Reactor, SHARD_WORDS};
use shmbus::service::OverflowPolicy;
use shmbus_tests::{Counted, Setup, checksum};

/// CPU time this process used so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn a_thousand_idle_async_subscribers_cost_no_cpu_and_all_wake() {
    const SERVICES: usize = 20;
    const PER_SERVICE: usize = 50;
    const SUBSCRIBERS: usize = SERVICES * PER_SERVICE;
    let setup = Setup::new("async", "idle");
    {
        let node = setup.node("idle");
        let services: Vec<_> = (0..SERVICES)
            .map(|i| {
                Service::publish_subscribe::<Counted>(&node, &format!("quiet/{i}"))
                    .max_subscribers(PER_SERVICE as u32)
                    .subscriber_buffer(1)
                    .max_borrowed(1)
                    .overflow(OverflowPolicy::OverwriteOldest)
                    .create()
                    .unwrap()
            })
            .collect();
        let subscribers: Vec<_> = services
            .iter()
            .flat_map(|s| (0..PER_SERVICE).map(|_| s.subscriber().create().unwrap()))
            .collect();
        let publishers: Vec<_> = services
            .iter()
            .map(|s| s.publisher().create().unwrap())
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let threads_before = threads();
        let (idle_cpu, waker_threads, threads_added, woken) = local.block_on(&runtime, async {
            // Each task owns its subscriber.
            let tasks: Vec<_> = subscribers
                .into_iter()
                .map(|mut s| {
                    tokio::task::spawn_local(async move { s.receive_async().await.unwrap().seq })
                })
                .collect();
            // Let every task poll once and wait.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let waker_threads = Reactor::global().threads();
            let threads_added = threads() - threads_before;
            let cpu = cpu_time();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let idle_cpu = cpu_time() - cpu;
            for publisher in &publishers {
                publisher
                    .send_copy(&Counted {
                        seq: 7,
                        checksum: checksum(7),
                    })
                    .unwrap();
            }
            let mut woken = 0;
            for task in tasks {
                assert_eq!(task.await.unwrap(), 7);
                woken += 1;
            }
            (idle_cpu, waker_threads, threads_added, woken)
        });
        println!(
            "{SUBSCRIBERS} async subscribers waiting: {waker_threads} waker threads ({threads_added} threads added to the process), {} ms of CPU in 1 s idle, {woken} woken by one sample per service",
            idle_cpu.as_millis()
        );
        assert_eq!(waker_threads, SUBSCRIBERS.div_ceil(SHARD_WORDS));
        assert_eq!(threads_added, waker_threads);
        assert_eq!(woken, SUBSCRIBERS);
        // ~0: the 10 ms resolution of the clock ticks, plus the runtime's own timer.
        assert!(
            idle_cpu <= Duration::from_millis(50),
            "waiting cost {idle_cpu:?} of CPU in 1 s"
        );
    }
    setup.assert_clean();
}
