//! Failure: type checks, trap, context text, and the typed errors.

use super::{Boom, Other};
use torsion::defer::{CancelledError, Failure, FailureGroup, FirstError};

/// check and downcast_ref recognise the wrapped error's type and nothing else.
#[test]
fn check_and_downcast_match_wrapped_type() {
    let failure = Failure::new(Boom("typed"));
    assert!(failure.check::<Boom>());
    assert!(!failure.check::<Other>());
    assert_eq!(failure.downcast_ref::<Boom>(), Some(&Boom("typed")));
    assert!(failure.downcast_ref::<Other>().is_none());
}

/// trap gives the error when the type matches and returns the same failure otherwise.
#[test]
fn trap_passes_other_failures_on() {
    let failure: Failure = Boom("trapped").into();
    assert_eq!(failure.trap::<Boom>().ok(), Some(&Boom("trapped")));
    let passed_on = failure.trap::<Other>().expect_err("not an Other");
    assert_eq!(passed_on.downcast_ref::<Boom>(), Some(&Boom("trapped")));
}

/// Display shows the error type and message, then any attached traceback.
#[test]
fn display_shows_type_message_and_traceback() {
    let failure = Failure::new(Boom("shown")).with_traceback("Traceback: line 1");
    let text = failure.to_string();
    assert!(text.contains("Boom: boom: shown"), "{text}");
    assert!(text.ends_with("\nTraceback: line 1"), "{text}");
    assert_eq!(failure.traceback(), Some("Traceback: line 1"));
}

/// Clones share the wrapped error.
#[test]
fn clones_share_the_error() {
    let failure = Failure::new(Boom("shared"));
    let clone = failure.clone();
    assert!(std::ptr::addr_eq(failure.error(), clone.error()));
}

/// FirstError exposes the failing input's error as its source.
#[test]
fn first_error_source_is_input_error() {
    let first = FirstError {
        index: 3,
        failure: Failure::new(CancelledError),
    };
    let source = std::error::Error::source(&first).expect("a source");
    assert!(source.is::<CancelledError>());
    assert!(first.to_string().starts_with("input 3 failed first"));
}

/// FailureGroup's message counts and lists its failures.
#[test]
fn failure_group_lists_failures() {
    let group = FailureGroup(vec![Failure::new(Boom("a")), Failure::new(Boom("b"))]);
    let text = group.to_string();
    assert!(text.starts_with("2 failures: "), "{text}");
    assert!(text.contains("boom: a") && text.contains("; "), "{text}");
}
