//! The async ports with real processes, under tokio (current-thread and multi-thread) and
//! smol: a publisher process and an async subscriber, an async server answering calls of
//! client processes, one task awaiting two services with `select!`, a server killed with
//! SIGKILL mid-call, and futures dropped at random points losing nothing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use shmbus::port::ResponseError;
use shmbus::service::OverflowPolicy;
use shmbus::{Node, PubSubService, Publisher, RequestResponseService, Service};
use shmbus_tests::{Answer, Ask, Counted, Peer, Setup, checksum};

/// The runtimes every test runs under.
#[derive(Debug, Clone, Copy)]
enum Runtime {
    TokioCurrentThread,
    TokioMultiThread,
    Smol,
}

const RUNTIMES: [Runtime; 3] = [
    Runtime::TokioCurrentThread,
    Runtime::TokioMultiThread,
    Runtime::Smol,
];

impl Runtime {
    /// Runs `future` to its end on this runtime. The ports' futures borrow their port and
    /// are not `Send`: they run in the task that owns the port (`block_on`; a tokio
    /// `LocalSet` for spawned tasks).
    fn block_on<F: Future>(self, future: F) -> F::Output {
        match self {
            Runtime::TokioCurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(future),
            Runtime::TokioMultiThread => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(tokio::task::LocalSet::new().run_until(future)),
            Runtime::Smol => smol::block_on(future),
        }
    }
}

/// The next item of a stream (what `StreamExt::next` does, without a further crate).
fn next<S: Stream + Unpin>(stream: &mut S) -> impl Future<Output = Option<S::Item>> + '_ {
    std::future::poll_fn(move |cx| Pin::new(&mut *stream).poll_next(cx))
}

fn counted(node: &Node, name: &str) -> PubSubService<Counted> {
    Service::publish_subscribe::<Counted>(node, name)
        .subscriber_buffer(64)
        .overflow(OverflowPolicy::Block)
        .create()
        .unwrap()
}

fn publisher(setup: &Setup, service: &str, n: u64) -> Peer {
    Peer::start(
        env!("CARGO_BIN_EXE_pubsub-child"),
        setup,
        "publish-lossless",
        service,
        &[&n.to_string()],
    )
}

/// Sends counted samples 1 to `n`, then the end marker (seq 0).
fn publish_counted(publisher: &Publisher<Counted>, n: u64) {
    for seq in (1..=n).chain([0]) {
        publisher
            .send_copy(&Counted {
                seq,
                checksum: checksum(seq),
            })
            .unwrap();
    }
}

/// Checks one sample of a lossless counted stream; `false` at its end marker.
fn check(last: &mut u64, sample: &Counted) -> bool {
    if sample.seq == 0 {
        return false;
    }
    assert_eq!(sample.seq, *last + 1, "lost or reordered");
    assert_eq!(sample.checksum, checksum(sample.seq));
    *last = sample.seq;
    true
}

#[test]
fn an_async_subscriber_gets_every_sample_of_a_publisher_process() {
    const N: u64 = 20_000;
    for runtime in RUNTIMES {
        let setup = Setup::new("async", &format!("{runtime:?}").to_lowercase());
        {
            let node = setup.node("listener");
            let service = counted(&node, "stream");
            let subscriber = service.subscriber().create().unwrap();
            let mut peer = publisher(&setup, "stream", N);
            peer.say("go");
            let last = runtime.block_on(async {
                let mut last = 0;
                let mut samples = subscriber.samples();
                while let Some(sample) = next(&mut samples).await {
                    if !check(&mut last, &sample.unwrap()) {
                        break;
                    }
                }
                last
            });
            assert_eq!(last, N, "{runtime:?}");
            assert_eq!(subscriber.missed(), 0);
            assert_eq!(peer.line(), "sent");
            peer.finish();
        }
        setup.assert_clean();
    }
}

#[test]
fn an_async_server_answers_ten_thousand_calls_from_client_processes() {
    for (runtime, clients, calls) in [
        (Runtime::TokioMultiThread, 3, 3_334),
        (Runtime::TokioCurrentThread, 2, 1_000),
        (Runtime::Smol, 2, 1_000),
    ] {
        let setup = Setup::new("async", &format!("server_{runtime:?}").to_lowercase());
        {
            let node = setup.node("server");
            let service: RequestResponseService<Ask, Answer> =
                Service::request_response(&node, "rr/svc")
                    .max_clients(4)
                    .response_buffer(16)
                    .create()
                    .unwrap();
            let server = service.server().create().unwrap();
            let peers: Vec<Peer> = (0..clients)
                .map(|_| {
                    Peer::start(
                        env!("CARGO_BIN_EXE_rr-child"),
                        &setup,
                        "client",
                        "rr/svc",
                        &[&calls.to_string()],
                    )
                })
                .collect();
            let served = runtime.block_on(async {
                let mut served = 0u64;
                let mut requests = server.requests();
                while served < clients * calls {
                    let request = next(&mut requests).await.unwrap().unwrap();
                    request.respond_copy(&Answer::to(&request, 0)).unwrap();
                    served += 1;
                }
                served
            });
            assert_eq!(served, clients * calls);
            // Every client checked that each answer was the answer to its request.
            for mut peer in peers {
                assert_eq!(peer.line(), format!("ok {calls}"));
                peer.finish();
            }
        }
        setup.assert_clean();
    }
}

#[test]
fn one_task_awaits_two_services_with_select_and_loses_nothing() {
    const N: u64 = 5_000;
    let setup = Setup::new("async", "select");
    {
        let node = setup.node("fusion");
        let (a, b) = (counted(&node, "robot/a"), counted(&node, "robot/b"));
        let (mut sa, mut sb) = (
            a.subscriber().create().unwrap(),
            b.subscriber().create().unwrap(),
        );
        let mut peers = [
            publisher(&setup, "robot/a", N),
            publisher(&setup, "robot/b", N),
        ];
        for peer in &mut peers {
            peer.say("go");
        }
        let (last_a, last_b) = Runtime::TokioCurrentThread.block_on(async {
            let (mut last_a, mut last_b) = (0, 0);
            let (mut a_open, mut b_open) = (true, true);
            // Each round drops the future that lost the race: it must lose no sample.
            while a_open || b_open {
                tokio::select! {
                    sample = sa.receive_async(), if a_open => {
                        a_open = check(&mut last_a, &sample.unwrap());
                    }
                    sample = sb.receive_async(), if b_open => {
                        b_open = check(&mut last_b, &sample.unwrap());
                    }
                }
            }
            (last_a, last_b)
        });
        assert_eq!((last_a, last_b), (N, N));
        for mut peer in peers {
            assert_eq!(peer.line(), "sent");
            peer.finish();
        }
    }
    setup.assert_clean();
}

#[test]
fn a_server_killed_mid_call_ends_the_async_response_with_server_gone() {
    for runtime in RUNTIMES {
        let setup = Setup::new("async", &format!("gone_{runtime:?}").to_lowercase());
        {
            let node = setup.node("client");
            let service: RequestResponseService<Ask, Answer> =
                Service::request_response(&node, "rr/svc").create().unwrap();
            let client = service.client().create().unwrap();
            let mut peer = Peer::start(
                env!("CARGO_BIN_EXE_rr-child"),
                &setup,
                "hang",
                "rr/svc",
                &[],
            );
            let mut pending = client.send_copy(&Ask::default()).unwrap();
            assert_eq!(peer.line(), "holding");
            peer.kill();
            let outcome = runtime.block_on(pending.receive_async());
            assert!(
                matches!(outcome, Err(ResponseError::ServerGone)),
                "{runtime:?}: {outcome:?}"
            );
            // The stream form ends after the error.
            let ended = runtime.block_on(async {
                let mut responses = pending.responses();
                let first = next(&mut responses).await;
                let second = next(&mut responses).await;
                (first.map(|r| r.is_err()), second.is_none())
            });
            assert_eq!(ended, (Some(true), true), "{runtime:?}");
            drop(pending);
            // The dead server's node is cleaned up by the next look.
            node.cleanup_dead_nodes().unwrap();
        }
        setup.assert_clean();
    }
}

/// A future that is pending on its first poll and ready on its second: raced against a
/// receive, it makes `select!` drop the receive future after it registered.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Pseudo-random numbers for the drop points (xorshift; no dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn futures_dropped_at_random_points_lose_no_sample_and_leak_no_chunk() {
    const N: u64 = 20_000;
    for runtime in RUNTIMES {
        let setup = Setup::new("async", &format!("drop_{runtime:?}").to_lowercase());
        {
            let node = setup.node("both");
            let service = counted(&node, "stream");
            let mut subscriber = service.subscriber().create().unwrap();
            let publisher = service.publisher().create().unwrap();
            // The publisher keeps its last chunk: count after one sample went round.
            publisher.send_copy(&Counted::default()).unwrap();
            drop(subscriber.receive().unwrap());
            publisher.update_connections();
            let full = publisher.free_chunks();
            let (last, publisher) = std::thread::scope(|s| {
                // Ports are Send, not Sync: the publisher moves to its thread and back.
                let sender = s.spawn(move || {
                    publish_counted(&publisher, N);
                    publisher
                });
                let last = runtime.block_on(async {
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
                    let (mut last, mut dropped) = (0, 0u64);
                    loop {
                        let r = rng.next() % 4;
                        let sample = if r == 0 {
                            // Drop the receive future after its first poll, armed or not.
                            let mut receive = std::pin::pin!(subscriber.receive_async());
                            let mut yielded = YieldOnce(false);
                            let raced = std::future::poll_fn(|cx| {
                                if let Poll::Ready(s) = receive.as_mut().poll(cx) {
                                    return Poll::Ready(Some(s));
                                }
                                match Pin::new(&mut yielded).poll(cx) {
                                    Poll::Ready(()) => Poll::Ready(None),
                                    Poll::Pending => Poll::Pending,
                                }
                            })
                            .await;
                            match raced {
                                Some(sample) => sample,
                                None => {
                                    dropped += 1;
                                    continue;
                                }
                            }
                        } else {
                            subscriber.receive_async().await
                        };
                        if !check(&mut last, &sample.unwrap()) {
                            break;
                        }
                    }
                    assert!(dropped > 0, "no future was dropped");
                    last
                });
                (last, sender.join().unwrap())
            });
            assert_eq!(last, N, "{runtime:?}");
            // Every chunk came back to the publisher: nothing leaked.
            publisher.update_connections();
            assert_eq!(publisher.free_chunks(), full, "{runtime:?}");
        }
        setup.assert_clean();
    }
}

#[test]
fn response_streams_survive_dropped_futures_and_end_with_the_server() {
    const N: u64 = 2_000;
    let setup = Setup::new("async", "response_stream");
    {
        let node = setup.node("both");
        let service: RequestResponseService<Ask, Answer> =
            Service::request_response(&node, "rr/svc")
                .response_buffer(16)
                .create()
                .unwrap();
        let server = service.server().create().unwrap();
        let client = service.client().create().unwrap();
        let ask = Ask {
            client: 1,
            seq: 1,
            stream: N,
        };
        let mut pending = client.send_copy(&ask).unwrap();
        let server = std::thread::scope(|s| {
            // Ports are Send, not Sync: the server moves to its thread and back.
            let responder = s.spawn(move || {
                let request = server.receive_timeout(Duration::from_secs(60)).unwrap();
                let request = request.expect("the request");
                for index in 0..N {
                    request.respond_copy(&Answer::to(&request, index)).unwrap();
                }
                drop(request);
                server
            });
            Runtime::TokioCurrentThread.block_on(async {
                let mut rng = Rng(7);
                let mut index = 0;
                loop {
                    if rng.next().is_multiple_of(3) {
                        // Poll once and drop.
                        let mut receive = std::pin::pin!(pending.receive_async());
                        let once =
                            std::future::poll_fn(|cx| Poll::Ready(receive.as_mut().poll(cx))).await;
                        match once {
                            Poll::Ready(Ok(Some(answer))) => {
                                assert_eq!(*answer, Answer::to(&ask, index));
                                index += 1;
                            }
                            Poll::Ready(Ok(None)) => break,
                            Poll::Ready(Err(e)) => panic!("{e}"),
                            Poll::Pending => tokio::task::yield_now().await,
                        }
                        continue;
                    }
                    match pending.receive_async().await.unwrap() {
                        Some(answer) => {
                            assert_eq!(*answer, Answer::to(&ask, index));
                            index += 1;
                        }
                        None => break,
                    }
                }
                assert_eq!(index, N);
            });
            responder.join().unwrap()
        });
        drop(pending);
        // A call: the first response of a fresh stream.
        std::thread::scope(|s| {
            s.spawn(move || {
                let request = server.receive_timeout(Duration::from_secs(60)).unwrap();
                let request = request.expect("the request");
                request.respond_copy(&Answer::to(&request, 0)).unwrap();
            });
            let one = Ask {
                client: 2,
                seq: 2,
                stream: 0,
            };
            let answer = Runtime::Smol.block_on(client.call_async(&one)).unwrap();
            assert_eq!(*answer, Answer::to(&one, 0));
        });
    }
    setup.assert_clean();
}

#[test]
fn many_tasks_on_many_services_are_all_woken() {
    const SERVICES: usize = 16;
    const SUBSCRIBERS: usize = 4;
    const N: u64 = 2_000;
    let setup = Setup::new("async", "stress");
    {
        let node = setup.node("stress");
        let services: Vec<_> = (0..SERVICES)
            .map(|i| counted(&node, &format!("stress/{i}")))
            .collect();
        let subscribers: Vec<Vec<_>> = services
            .iter()
            .map(|s| {
                (0..SUBSCRIBERS)
                    .map(|_| s.subscriber().create().unwrap())
                    .collect()
            })
            .collect();
        let publishers: Vec<_> = services
            .iter()
            .map(|s| s.publisher().create().unwrap())
            .collect();
        let lasts = std::thread::scope(|s| {
            for publisher in publishers {
                s.spawn(move || publish_counted(&publisher, N));
            }
            // Every subscriber its own task, spawned on the worker threads of a
            // multi-threaded runtime: the futures of an owned port are Send.
            Runtime::TokioMultiThread.block_on(async {
                let tasks: Vec<_> = subscribers
                    .into_iter()
                    .flatten()
                    .map(|mut subscriber| {
                        tokio::spawn(async move {
                            let mut last = 0;
                            while check(&mut last, &subscriber.receive_async().await.unwrap()) {}
                            last
                        })
                    })
                    .collect();
                let mut lasts = Vec::new();
                for task in tasks {
                    lasts.push(task.await.unwrap());
                }
                lasts
            })
        });
        assert_eq!(lasts, vec![N; SERVICES * SUBSCRIBERS]);
    }
    setup.assert_clean();
}
