//! The bridge from [`Deferred`] to Rust's `Future`.
//!
//! Awaiting a `Deferred<T>` appends a final step that takes the chain's
//! result, so awaiting consumes it: a failure handed to an awaiter is not
//! reported as unhandled. Only `std::task` is used; any executor (the
//! reactor's `spawn_local`, or a test's poll loop) can drive it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::chain::TypeTag;
use super::deferred::{Deferred, unbox};
use super::failure::Failure;

/// Resolves to the chain's result at this handle.
///
/// The first poll appends the step that delivers the result, so no step can
/// be added afterwards. Dropping the future before the result arrives leaves
/// the chain running: the result is discarded when it comes, and a failure
/// is then reported as unhandled. Polling again after completion panics.
impl<T: 'static> Future for Deferred<T> {
    type Output = Result<T, Failure>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.core()
            .poll_awaited(TypeTag::of::<T>(), cx.waker())
            .map(|outcome| outcome.map(unbox))
    }
}
