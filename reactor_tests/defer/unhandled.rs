//! Reporting of failures nobody handled.

use super::{Boom, CapturedReports, outcome_of};
use torsion::defer::{Deferred, Failure, fail, succeed, unhandled_error_message};

/// Dropping the last handle of a chain that ends in a failure reports it once.
#[test]
fn dropped_failure_is_reported() {
    let capture = CapturedReports::install();
    let firer: Deferred<u32> = Deferred::new();
    firer.errback(Boom("lost")).expect("fires once");
    drop(firer);
    assert_eq!(
        capture.reports(),
        vec![Failure::new(Boom("lost")).to_string()]
    );
}

/// A failed chain is not reported while any handle to it is alive.
#[test]
fn failure_not_reported_while_a_handle_lives() {
    let capture = CapturedReports::install();
    let firer = fail::<u32>(Boom("held"));
    let other = firer.clone();
    drop(firer);
    assert!(capture.reports().is_empty());
    drop(other);
    assert_eq!(capture.reports().len(), 1);
}

/// A failure recovered by an errback is not reported.
#[test]
fn handled_failure_is_not_reported() {
    let capture = CapturedReports::install();
    drop(fail::<u32>(Boom("handled")).add_errback(|_| Ok(0)));
    assert!(capture.reports().is_empty());
}

/// A failure that an errback passes on is still reported when the chain is dropped.
#[test]
fn failure_passed_on_by_errback_is_reported() {
    let capture = CapturedReports::install();
    drop(fail::<u32>(Boom("passed")).add_errback(Err));
    assert_eq!(capture.reports().len(), 1);
}

/// A chain dropped with a success reports nothing.
#[test]
fn dropped_success_is_not_reported() {
    let capture = CapturedReports::install();
    drop(succeed(1u32));
    drop(Deferred::<u32>::new());
    assert!(capture.reports().is_empty());
}

/// A failure handed to an outer chain is reported by neither chain once the outer one handles it.
#[test]
fn failure_handed_to_outer_chain_is_not_reported_twice() {
    let capture = CapturedReports::install();
    let inner = fail::<u32>(Boom("inner"));
    let result = outcome_of(succeed(0u32).add_callback_deferred(move |_| inner));
    drop(result);
    assert!(capture.reports().is_empty());
}

/// The default report line names the failure after a fixed prefix.
#[test]
fn default_report_line_format() {
    let line = unhandled_error_message(&Failure::new(Boom("x")));
    assert!(line.starts_with("Unhandled error in Deferred: "), "{line}");
    assert!(line.ends_with("boom: x"), "{line}");
}

/// A reporter that itself drops a failed Deferred does not deadlock or panic.
#[test]
fn reporter_reentrancy_is_safe() {
    let capture = CapturedReports::install();
    let nested = std::cell::RefCell::new(Some(fail::<u32>(Boom("nested"))));
    let outer_reports = capture.reports.clone();
    torsion::defer::set_unhandled_error_reporter(Box::new(move |failure| {
        outer_reports.borrow_mut().push(failure.to_string());
        drop(nested.borrow_mut().take());
    }));
    drop(fail::<u32>(Boom("outer")));
    assert_eq!(capture.reports().len(), 1);
}
