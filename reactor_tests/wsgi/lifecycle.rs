//! close() on every path, back-pressure, disconnects, concurrency and shutdown.

use std::time::Duration;

use torsion::wsgi::WsgiEvent;

use super::{Harness, get, kinds, with_credit};
use crate::util::TURN;

/// An application whose `/report` answers with the module's log; other paths stream a
/// `Stream` (see each test) that records its chunks and close() in the log.
const TRACKED: &str = r#"
import os, time
log = []

class Stream:
    def __init__(self, environ):
        self.path = environ['PATH_INFO']
        self.count = 0
    def __iter__(self):
        return self
    def __next__(self):
        self.count += 1
        if self.path == '/raise' and self.count == 2:
            raise RuntimeError('broken iterator')
        if self.path == '/slow':
            time.sleep(0.001)
        if self.count > 5000 or (self.path == '/three' and self.count > 3):
            raise StopIteration
        return b'x' * 400
    def close(self):
        log.append('closed after %d' % self.count)
        with open(os.path.join(os.path.dirname(__file__), 'closed-' + self.path.strip('/')), 'w') as f:
            f.write(str(self.count))

def app(environ, start_response):
    start_response('200 OK', [])
    if environ['PATH_INFO'] == '/report':
        entries = list(log)
        log.clear()
        return ['\n'.join(entries).encode()]
    return Stream(environ)
"#;

/// close() is called once the iterable is exhausted.
#[test]
fn close_is_called_after_success() {
    let harness = Harness::new(TRACKED);
    let events = harness.run(get("/three"));
    assert_eq!(events.len(), 5, "{:?}", kinds(&events));
    assert!(matches!(events.last(), Some(WsgiEvent::Finished { .. })));
    assert_eq!(harness.text(get("/report")), "closed after 4");
}

/// close() is called when iteration raises (Twisted does not), and the failure is reported.
#[test]
fn close_is_called_when_iteration_raises() {
    let harness = Harness::new(TRACKED);
    let events = harness.run(get("/raise"));
    let expected = [
        "start".to_owned(),
        format!("body:{}", "x".repeat(400)),
        "failed".into(),
    ];
    assert_eq!(kinds(&events), expected);
    assert_eq!(harness.text(get("/report")), "closed after 2");
}

/// A disconnect stops iteration after the current chunk, and close() is still called.
#[test]
fn disconnect_stops_iteration_and_closes() {
    let harness = Harness::new(TRACKED);
    let request = get("/slow");
    let id = request.id;
    let control = request.control.clone();
    harness.pool.submit(request).expect("submit");
    crate::util::turn_until(&harness.reactor, 500, || {
        harness
            .events
            .borrow()
            .iter()
            .any(|event| matches!(event, WsgiEvent::Body { .. }))
    });
    control.disconnect();
    let events = harness.finish(id);
    assert!(
        matches!(events.last(), Some(WsgiEvent::Finished { .. })),
        "{events:?}"
    );
    let report = harness.text(get("/report"));
    let count: usize = report
        .strip_prefix("closed after ")
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("unexpected report {report:?}"));
    assert!(count < 5000, "iteration was not stopped: {count} chunks");
}

/// A worker that has more than its credit unacknowledged waits until the reactor acknowledges.
#[test]
fn back_pressure_blocks_until_acknowledged() {
    let harness = Harness::new(TRACKED);
    let (request, control) = with_credit(get("/slow"), 1000);
    let id = request.id;
    harness.pool.submit(request).expect("submit");
    let received = || -> usize {
        harness
            .events
            .borrow()
            .iter()
            .map(|event| match event {
                WsgiEvent::Body { chunk, .. } => chunk.len(),
                _ => 0,
            })
            .sum()
    };
    crate::util::turn_until(&harness.reactor, 500, || received() >= 1200);
    for _ in 0..10 {
        harness.reactor.iterate(Some(TURN)).expect("turn");
    }
    // 400 + 400 + 400 > 1000: the third chunk is the last before the worker waits.
    assert_eq!(received(), 1200);
    assert_eq!(control.outstanding(), 1200);
    control.acknowledge(400);
    crate::util::turn_until(&harness.reactor, 500, || received() >= 1600);
    for _ in 0..5 {
        harness.reactor.iterate(Some(TURN)).expect("turn");
    }
    assert_eq!(received(), 1600);
    control.disconnect();
    harness.finish(id);
    assert_eq!(harness.text(get("/report")), "closed after 4");
}

/// write() blocks on back-pressure too, with the GIL released, until acknowledged.
#[test]
fn write_blocks_on_back_pressure() {
    let harness = Harness::with_threads(
        r#"
def app(environ, start_response):
    write = start_response('200 OK', [])
    if environ['PATH_INFO'] == '/ping':
        return [b'pong']
    for _ in range(3):
        write(b'y' * 600)
    return []
"#,
        2,
    );
    let (request, control) = with_credit(get("/"), 1000);
    let id = request.id;
    harness.pool.submit(request).expect("submit");
    crate::util::turn_until(&harness.reactor, 500, || {
        harness
            .events
            .borrow()
            .iter()
            .filter(|e| matches!(e, WsgiEvent::Body { .. }))
            .count()
            == 2
    });
    // The other worker still runs Python while this one waits.
    assert_eq!(harness.text(get("/ping")), "pong");
    assert_eq!(control.outstanding(), 1200);
    assert!(
        !harness
            .events
            .borrow()
            .iter()
            .any(|e| e.id() == id && e.is_terminal())
    );
    control.acknowledge(1200);
    let events = harness.finish(id);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, WsgiEvent::Body { .. }))
            .count(),
        3
    );
    assert!(matches!(events.last(), Some(WsgiEvent::Finished { .. })));
}

/// Several workers run requests at the same time (each waits for the other at a barrier).
#[test]
fn workers_run_requests_concurrently() {
    let harness = Harness::with_threads(
        r#"
import threading
barrier = threading.Barrier(2, timeout=10)
def app(environ, start_response):
    barrier.wait()
    start_response('200 OK', [])
    return [b'met']
"#,
        2,
    );
    let first = get("/");
    let second = get("/");
    let (a, b) = (first.id, second.id);
    harness.pool.submit(first).expect("submit");
    harness.pool.submit(second).expect("submit");
    assert_eq!(kinds(&harness.finish(a)), ["complete:met"]);
    assert_eq!(kinds(&harness.finish(b)), ["complete:met"]);
}

/// A request queued behind one that blocks is taken by another worker, although no further
/// submit wakes one: the blocked request only ends once the queued one has run.
#[test]
fn a_blocked_request_does_not_starve_the_queue() {
    let harness = Harness::with_threads(
        r#"
import threading
released = threading.Event()
def app(environ, start_response):
    if environ['PATH_INFO'] == '/release':
        released.set()
    elif not released.wait(10):
        raise RuntimeError('never released')
    start_response('200 OK', [])
    return [environ['PATH_INFO'].encode()]
"#,
        3,
    );
    let blocked = get("/block");
    let release = get("/release");
    let (a, b) = (blocked.id, release.id);
    assert!(harness.pool.submit_all([blocked, release]).is_empty());
    assert_eq!(kinds(&harness.finish(b)), ["complete:/release"]);
    assert_eq!(kinds(&harness.finish(a)), ["complete:/block"]);
}

/// Requests submitted together after shutdown are all given back.
#[test]
fn submit_all_after_shutdown_gives_every_request_back() {
    let mut harness = Harness::new(TRACKED);
    harness.pool.shutdown(Duration::from_secs(10));
    let refused = harness.pool.submit_all([get("/"), get("/two")]);
    assert_eq!(refused.len(), 2);
}

/// Shutdown releases a worker blocked on back-pressure (close() is called) and fails the
/// requests still queued.
#[test]
fn shutdown_releases_blocked_workers_and_fails_queued_requests() {
    let mut harness = Harness::new(TRACKED);
    let (blocked, _control) = with_credit(get("/slow"), 100);
    let queued = get("/three");
    let (blocked_id, queued_id) = (blocked.id, queued.id);
    harness.pool.submit(blocked).expect("submit");
    crate::util::turn_until(&harness.reactor, 500, || {
        harness
            .events
            .borrow()
            .iter()
            .any(|event| matches!(event, WsgiEvent::Body { .. }))
    });
    harness.pool.submit(queued).expect("submit");
    assert_eq!(harness.pool.shutdown(Duration::from_secs(10)), 0);
    let events = harness.finish(blocked_id);
    assert!(
        matches!(events.last(), Some(WsgiEvent::Finished { .. })),
        "{events:?}"
    );
    let closed = std::fs::read_to_string(harness.module.dir.join("closed-slow"))
        .expect("close() ran and left its marker");
    assert_eq!(closed, "1");
    let (message, _, after_output) = super::failure(&harness.finish(queued_id));
    assert_eq!(message, "the server is shutting down");
    assert!(!after_output);
    assert!(harness.pool.submit(get("/")).is_err());
}

/// Requests that come one after another stay on the worker that ran the previous one (the
/// most recently parked worker is woken first), instead of rotating through the pool.
#[test]
fn requests_one_after_another_stay_on_one_warm_worker() {
    let harness = Harness::with_threads(
        r#"
import threading
def app(environ, start_response):
    start_response('200 OK', [])
    return [str(threading.get_ident()).encode()]
"#,
        4,
    );
    let mut runs: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for _ in 0..30 {
        *runs.entry(harness.text(get("/"))).or_default() += 1;
    }
    // A worker delayed past the watcher's period may hand one request to the watcher.
    let most = runs.values().copied().max().unwrap_or(0);
    assert!(most >= 25, "requests spread over the workers: {runs:?}");
}

/// Hundreds of requests submitted alone and in batches of random size, some sleeping in the
/// application and some instant, with pauses that let every worker park: each is answered
/// exactly once, with its own body (no wakeup is lost, no request runs twice), the last
/// batch too, submitted when every worker is parked.
#[test]
fn random_batches_with_sleeps_are_all_answered_once() {
    let harness = Harness::with_threads(
        r#"
import time
def app(environ, start_response):
    micros = int(environ['QUERY_STRING'] or 0)
    if micros:
        time.sleep(micros / 1e6)
    start_response('200 OK', [])
    return [environ['PATH_INFO'].encode()]
"#,
        4,
    );
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % bound
    };
    let mut expected = std::collections::HashMap::new();
    let mut sent = 0;
    while sent < 400 {
        let size = 1 + next(20) as usize;
        let mut batch = Vec::new();
        for _ in 0..size {
            let mut request = get(&format!("/r{sent}"));
            if next(4) == 0 {
                request.query_string = next(2000).to_string().into_bytes();
            }
            expected.insert(request.id, format!("complete:/r{sent}"));
            batch.push(request);
            sent += 1;
        }
        if next(2) == 0 {
            assert!(harness.pool.submit_all(batch).is_empty());
        } else {
            for request in batch {
                harness.pool.submit(request).expect("submit");
            }
        }
        // Sometimes let the pool drain and its workers park before the next batch.
        let turns = if next(5) == 0 { 20 } else { next(3) as usize };
        for _ in 0..turns {
            harness
                .reactor
                .iterate(Some(crate::util::TURN))
                .expect("turn");
        }
    }
    let answered = |count: usize| {
        crate::util::turn_until(&harness.reactor, 1000, || {
            harness
                .events
                .borrow()
                .iter()
                .filter(|event| event.is_terminal())
                .count()
                >= count
        })
    };
    // Last, a batch once all are answered and the pool has been idle long enough for every
    // worker to park and the watcher to step down: only the submit's own wakeup can start it.
    answered(expected.len());
    for _ in 0..3 {
        harness
            .reactor
            .iterate(Some(crate::util::TURN))
            .expect("turn");
    }
    let last: Vec<_> = (0..3).map(|n| get(&format!("/last{n}"))).collect();
    for (n, request) in last.iter().enumerate() {
        expected.insert(request.id, format!("complete:/last{n}"));
    }
    assert!(harness.pool.submit_all(last).is_empty());
    answered(expected.len());
    for (id, want) in &expected {
        assert_eq!(
            kinds(&harness.take(*id)),
            std::slice::from_ref(want),
            "request {id}"
        );
    }
    assert!(
        harness.events.borrow().is_empty(),
        "events for unknown requests"
    );
}
