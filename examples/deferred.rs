//! A tour of Deferreds: chaining, errback recovery, chaining on another
//! Deferred, gathering results, and awaiting a Deferred from async code.
//!
//! Run with `cargo run --example deferred`. There is no reactor here: the
//! "operations" are fired by hand, which is exactly what a reactor does
//! when I/O completes.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use torsion::defer::{Deferred, Failure, gather_results, succeed};

/// The error our pretend lookups fail with.
#[derive(Debug)]
struct NotFound(String);

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no such user: {}", self.0)
    }
}

impl std::error::Error for NotFound {}

fn main() {
    chaining_and_recovery();
    waiting_on_another_deferred();
    gathering();
    awaiting();
}

/// Callbacks transform the value; a failure skips to the errback, which
/// recovers with a default.
fn chaining_and_recovery() {
    for name in ["alice", "mallory"] {
        let lookup: Deferred<String> = Deferred::new();
        lookup
            .clone()
            .add_callback(|name| {
                if name == "alice" {
                    Ok(1000u32)
                } else {
                    Err(Failure::new(NotFound(name)))
                }
            })
            .add_callback(|uid| Ok(format!("uid {uid}")))
            .add_errback(|failure| {
                let missing = failure.trap::<NotFound>()?;
                Ok(format!("unknown ({missing})"))
            })
            .add_callback(|text| {
                println!("lookup finished: {text}");
                Ok(())
            });
        lookup.callback(name.to_owned()).expect("fired once");
    }
}

/// A callback returns another Deferred: the chain waits for it.
fn waiting_on_another_deferred() {
    let fetch_profile: Deferred<String> = Deferred::new();
    let profile = fetch_profile.clone();
    succeed(1000u32)
        .add_callback_deferred(move |uid| {
            println!("fetching the profile of uid {uid}...");
            profile
        })
        .add_callback(|profile| {
            println!("profile arrived: {profile}");
            Ok(())
        });
    fetch_profile
        .callback("Alice, admin".to_owned())
        .expect("fired once");
}

/// Several operations at once; the results come back in input order.
fn gathering() {
    let pending: Vec<Deferred<u32>> = (0..3).map(|_| Deferred::new()).collect();
    gather_results(pending.clone()).add_callback(|sizes| {
        println!("all sizes: {sizes:?}");
        Ok(())
    });
    for (index, operation) in pending.iter().enumerate().rev() {
        operation.callback(index as u32 * 512).expect("fired once");
    }
}

/// A Deferred is a Future: async code awaits it.
fn awaiting() {
    let reply: Deferred<String> = Deferred::new();
    let awaited = reply.clone();
    let mut task = pin!(async move {
        match awaited.await {
            Ok(text) => println!("awaited: {text}"),
            Err(failure) => println!("awaited a failure: {failure}"),
        }
    });
    let mut context = Context::from_waker(Waker::noop());
    assert!(task.as_mut().poll(&mut context).is_pending());
    reply.callback("pong".to_owned()).expect("fired once");
    assert_eq!(task.as_mut().poll(&mut context), Poll::Ready(()));
}
