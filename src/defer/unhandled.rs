//! Reporting of failures that nobody handled.
//!
//! A chain whose last handle goes away while its result is a [`Failure`]
//! lost that error: nothing will ever see it. Twisted logs such failures
//! when the Deferred is garbage collected; here the report happens when the
//! chain is dropped, through a per-thread hook that tests can replace.

use std::cell::RefCell;

use super::failure::Failure;

/// A function that receives every unhandled failure on this thread.
pub type UnhandledErrorReporter = Box<dyn Fn(&Failure)>;

thread_local! {
    static REPORTER: RefCell<Option<UnhandledErrorReporter>> = const { RefCell::new(None) };
}

/// Replaces this thread's unhandled-failure reporter.
///
/// The default reporter prints `Unhandled error in Deferred: <failure>` as
/// one line to stderr. Deferreds are single-threaded, so the hook is per
/// thread; tests install a capturing reporter on their own thread.
pub fn set_unhandled_error_reporter(reporter: UnhandledErrorReporter) {
    REPORTER.with(|slot| *slot.borrow_mut() = Some(reporter));
}

/// Restores this thread's default (stderr) unhandled-failure reporter.
pub fn reset_unhandled_error_reporter() {
    REPORTER.with(|slot| *slot.borrow_mut() = None);
}

/// The default report line for `failure`.
pub fn unhandled_error_message(failure: &Failure) -> String {
    format!("Unhandled error in Deferred: {failure}")
}

/// Sends `failure` to this thread's reporter.
///
/// The reporter is taken out of its slot while it runs, so a reporter that
/// itself drops a failed Deferred falls back to stderr instead of
/// re-entering the slot.
pub(crate) fn report_unhandled(failure: &Failure) {
    let installed = REPORTER
        .try_with(|slot| slot.try_borrow_mut().ok().and_then(|mut slot| slot.take()))
        .ok()
        .flatten();
    let Some(reporter) = installed else {
        eprintln!("{}", unhandled_error_message(failure));
        return;
    };
    reporter(failure);
    let _ = REPORTER.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            slot.get_or_insert(reporter);
        }
    });
}
