//! Time: clocks, delayed calls and the timer queue.
//!
//! A [`Clock`] tells the time and schedules calls: `call_later(delay, f)` returns a
//! [`DelayedCall`] that can be cancelled, reset or delayed until it runs. Two kinds exist:
//!
//! - [`Clock::system`], the monotonic OS clock, driven by a [`Reactor`](crate::reactor::Reactor),
//!   which reads it once per turn and runs the calls that have come due;
//! - [`FakeClock`], a deterministic clock that only moves when told to
//!   ([`FakeClock::advance`], [`FakeClock::pump`]), for tests of anything that schedules calls
//!   (Twisted's `task.Clock`).
//!
//! Code that needs time takes a `&Clock` (or keeps a clone), so the same code runs against the
//! reactor's real clock in production and a `FakeClock` in its tests.
//!
//! Ordering rules, for both kinds: calls due at the same instant run in the order they were
//! scheduled; a cancelled call never runs; a call that is reset runs at its new time, after calls
//! already scheduled for that instant. Under a reactor, calls scheduled while a turn runs its due
//! calls wait for the next turn (so a call that reschedules itself with a zero delay cannot starve
//! I/O); a `FakeClock`'s `advance` runs such calls in the same advance, as Twisted's `Clock` does.
//!
//! Tested by: reactor_tests/time.rs
mod clock;
mod looping;
mod timers;

pub use clock::{Clock, FakeClock};
pub use looping::{LoopResult, LoopingCall, LoopingCallError, defer_later};
pub use timers::{DelayedCall, DelayedCallError};
