//! DeferredList, gather_results and race.

use super::{Boom, CapturedReports, arrived, log, outcome_of, taken};
use torsion::defer::{
    CancelledError, Deferred, DeferredList, DeferredListResult, Failure, FailureGroup, FirstError,
    gather_results, gather_results_consuming_errors, race, succeed,
};

/// `count` fresh unfired Deferreds.
fn pending(count: usize) -> Vec<Deferred<u32>> {
    (0..count).map(|_| Deferred::new()).collect()
}

/// Clones of `inputs`, kept by the test to fire them.
fn firers(inputs: &[Deferred<u32>]) -> Vec<Deferred<u32>> {
    inputs.to_vec()
}

/// The FirstError a failure wraps; panics if it wraps something else.
fn first_error(failure: &Failure) -> &FirstError {
    failure.downcast_ref::<FirstError>().expect("a FirstError")
}

/// By default a DeferredList waits for every input and reports each result in input order.
#[test]
fn deferred_list_reports_every_result_in_order() {
    let inputs = pending(3);
    let fire = firers(&inputs);
    let result = outcome_of(
        DeferredList::new(inputs)
            .consume_errors(true)
            .into_deferred(),
    );
    fire[2].callback(30).expect("fires once");
    fire[0].errback(Boom("zero")).expect("fires once");
    assert!(!arrived(&result));
    fire[1].callback(10).expect("fires once");
    let all = taken(&result)
        .ok()
        .and_then(DeferredListResult::into_all)
        .expect("all");
    assert!(all[0].as_ref().is_err_and(|f| f.check::<Boom>()));
    assert_eq!(all[1].as_ref().ok(), Some(&10));
    assert_eq!(all[2].as_ref().ok(), Some(&30));
}

/// An empty DeferredList fires at once with an empty list.
#[test]
fn empty_deferred_list_fires_at_once() {
    let result = outcome_of(DeferredList::<u32>::new(Vec::new()).into_deferred());
    let all = taken(&result).ok().and_then(DeferredListResult::into_all);
    assert_eq!(all.map(|list| list.len()), Some(0));
}

/// fire_on_one_callback fires with the index and value of the first success.
#[test]
fn fire_on_one_callback_fires_on_first_success() {
    let inputs = pending(3);
    let fire = firers(&inputs);
    let list = DeferredList::new(inputs)
        .fire_on_one_callback(true)
        .consume_errors(true);
    let result = outcome_of(list.into_deferred());
    fire[0].errback(Boom("zero")).expect("fires once");
    assert!(!arrived(&result));
    fire[2].callback(7).expect("fires once");
    let first = taken(&result).ok().and_then(DeferredListResult::into_first);
    assert_eq!(first, Some((2, 7)));
}

/// fire_on_one_callback with no success fires with every result once all inputs finished.
#[test]
fn fire_on_one_callback_without_success_reports_all() {
    let inputs = pending(2);
    let fire = firers(&inputs);
    let list = DeferredList::new(inputs)
        .fire_on_one_callback(true)
        .consume_errors(true);
    let result = outcome_of(list.into_deferred());
    fire[0].errback(Boom("a")).expect("fires once");
    fire[1].errback(Boom("b")).expect("fires once");
    let all = taken(&result)
        .ok()
        .and_then(DeferredListResult::into_all)
        .expect("all");
    assert!(all.iter().all(Result::is_err));
}

/// fire_on_one_errback fails with a FirstError naming the first failing input.
#[test]
fn fire_on_one_errback_fails_on_first_failure() {
    let inputs = pending(3);
    let fire = firers(&inputs);
    let list = DeferredList::new(inputs)
        .fire_on_one_errback(true)
        .consume_errors(true);
    let result = outcome_of(list.into_deferred());
    fire[0].callback(1).expect("fires once");
    fire[1].errback(Boom("one")).expect("fires once");
    let failure = taken(&result).expect_err("first failure");
    let first = first_error(&failure);
    assert_eq!(first.index, 1);
    assert!(first.failure.check::<Boom>());
}

/// Without consume_errors an input's failure stays on its own chain and is reported as unhandled.
#[test]
fn deferred_list_without_consume_errors_leaves_input_failure() {
    let capture = CapturedReports::install();
    let inputs = pending(1);
    let fire = firers(&inputs);
    let result = outcome_of(DeferredList::new(inputs).into_deferred());
    fire[0].errback(Boom("kept")).expect("fires once");
    drop(fire);
    assert!(taken(&result).is_ok());
    assert_eq!(capture.reports().len(), 1);
}

/// With consume_errors an input's failure is absorbed and not reported.
#[test]
fn deferred_list_consume_errors_absorbs_input_failure() {
    let capture = CapturedReports::install();
    let inputs = pending(1);
    let fire = firers(&inputs);
    let result = outcome_of(
        DeferredList::new(inputs)
            .consume_errors(true)
            .into_deferred(),
    );
    fire[0].errback(Boom("absorbed")).expect("fires once");
    drop(fire);
    assert!(taken(&result).is_ok());
    assert!(capture.reports().is_empty());
}

/// Cancelling an unfired DeferredList cancels every input.
#[test]
fn deferred_list_cancel_cancels_inputs() {
    let cancelled = log();
    let inputs: Vec<Deferred<u32>> = (0..2)
        .map(|index| {
            let sink = cancelled.clone();
            Deferred::with_canceller(move |_| sink.borrow_mut().push(index))
        })
        .collect();
    let list = DeferredList::new(inputs)
        .consume_errors(true)
        .into_deferred();
    let result = outcome_of(list.clone());
    list.cancel();
    assert_eq!(*cancelled.borrow(), vec![0, 1]);
    let all = taken(&result)
        .ok()
        .and_then(DeferredListResult::into_all)
        .expect("all");
    assert!(
        all.iter()
            .all(|r| r.as_ref().is_err_and(|f| f.check::<CancelledError>()))
    );
}

/// Cancelling a DeferredList that already fired on one input leaves the other inputs alone.
#[test]
fn fired_deferred_list_cancel_leaves_inputs() {
    let inputs = pending(2);
    let fire = firers(&inputs);
    let list = DeferredList::new(inputs)
        .fire_on_one_callback(true)
        .into_deferred();
    let result = outcome_of(list.clone());
    fire[0].callback(1).expect("fires once");
    list.cancel();
    assert!(taken(&result).is_ok());
    assert!(!fire[1].is_called());
}

/// gather_results fires with every value in input order, whatever the firing order.
#[test]
fn gather_results_collects_in_input_order() {
    let inputs = pending(3);
    let fire = firers(&inputs);
    let result = outcome_of(gather_results(inputs));
    for index in [2, 0, 1] {
        fire[index].callback(index as u32 * 10).expect("fires once");
    }
    assert_eq!(taken(&result).ok(), Some(vec![0, 10, 20]));
}

/// gather_results of already-fired inputs fires at once.
#[test]
fn gather_results_of_fired_inputs_fires_at_once() {
    let result = outcome_of(gather_results(vec![succeed(1u8), succeed(2)]));
    assert_eq!(taken(&result).ok(), Some(vec![1, 2]));
}

/// gather_results of no inputs fires at once with an empty list.
#[test]
fn gather_results_of_nothing_is_empty() {
    let result = outcome_of(gather_results(Vec::<Deferred<u8>>::new()));
    assert_eq!(taken(&result).ok(), Some(Vec::new()));
}

/// gather_results fails with FirstError as soon as one input fails, without waiting for the rest.
#[test]
fn gather_results_fails_on_first_failure() {
    let _capture = CapturedReports::install();
    let inputs = pending(2);
    let fire = firers(&inputs);
    let result = outcome_of(gather_results(inputs));
    fire[1].errback(Boom("second")).expect("fires once");
    let failure = taken(&result).expect_err("first failure");
    assert_eq!(first_error(&failure).index, 1);
    assert!(!fire[0].is_called());
}

/// gather_results leaves the failing input's failure on its chain, where it is reported.
#[test]
fn gather_results_reports_input_failure() {
    let capture = CapturedReports::install();
    let inputs = pending(1);
    let fire = firers(&inputs);
    drop(outcome_of(gather_results(inputs)));
    fire[0].errback(Boom("input")).expect("fires once");
    drop(fire);
    assert_eq!(capture.reports().len(), 1);
    assert!(capture.reports()[0].contains("boom: input"));
}

/// gather_results_consuming_errors absorbs the inputs' failures, so none is reported.
#[test]
fn gather_results_consuming_errors_absorbs() {
    let capture = CapturedReports::install();
    let inputs = pending(1);
    let fire = firers(&inputs);
    let result = outcome_of(gather_results_consuming_errors(inputs));
    fire[0].errback(Boom("input")).expect("fires once");
    drop(fire);
    assert!(taken(&result).is_err());
    assert!(capture.reports().is_empty());
}

/// Cancelling a gather cancels its pending inputs and fails with FirstError wrapping CancelledError.
#[test]
fn gather_cancel_propagates_to_inputs() {
    let inputs = pending(2);
    let fire = firers(&inputs);
    let gathered = gather_results_consuming_errors(inputs);
    let result = outcome_of(gathered.clone());
    gathered.cancel();
    assert!(fire.iter().all(Deferred::is_called));
    let failure = taken(&result).expect_err("cancelled");
    assert!(first_error(&failure).failure.check::<CancelledError>());
}

/// race fires with the index and value of the first input to succeed.
#[test]
fn race_first_success_wins() {
    let inputs = pending(3);
    let fire = firers(&inputs);
    let result = outcome_of(race(inputs));
    fire[0].errback(Boom("loser")).expect("fires once");
    fire[1].callback(11).expect("fires once");
    assert_eq!(taken(&result).ok(), Some((1, 11)));
}

/// Once an input wins a race, the other pending inputs are cancelled.
#[test]
fn race_cancels_losers() {
    let cancelled = log();
    let inputs: Vec<Deferred<u32>> = (0..3)
        .map(|index| {
            let sink = cancelled.clone();
            Deferred::with_canceller(move |_| sink.borrow_mut().push(index))
        })
        .collect();
    let fire = firers(&inputs);
    drop(outcome_of(race(inputs)));
    fire[1].callback(1).expect("fires once");
    assert_eq!(*cancelled.borrow(), vec![0, 2]);
}

/// When every input fails, race fails with a FailureGroup in input order.
#[test]
fn race_all_failing_is_failure_group() {
    let inputs = pending(2);
    let fire = firers(&inputs);
    let result = outcome_of(race(inputs));
    fire[1].errback(Boom("one")).expect("fires once");
    fire[0].errback(Boom("zero")).expect("fires once");
    let failure = taken(&result).expect_err("all failed");
    let group = failure
        .downcast_ref::<FailureGroup>()
        .expect("a FailureGroup");
    let labels: Vec<_> = group
        .0
        .iter()
        .map(|f| f.downcast_ref::<Boom>().map(|b| b.0))
        .collect();
    assert_eq!(labels, vec![Some("zero"), Some("one")]);
}

/// A race of no inputs fails at once with an empty FailureGroup.
#[test]
fn empty_race_fails_at_once() {
    let result = outcome_of(race(Vec::<Deferred<u32>>::new()));
    let failure = taken(&result).expect_err("nothing can win");
    assert_eq!(
        failure.downcast_ref::<FailureGroup>().map(|g| g.0.len()),
        Some(0)
    );
}

/// race consumes its inputs' failures, so a losing input is not reported.
#[test]
fn race_consumes_input_failures() {
    let capture = CapturedReports::install();
    let inputs = pending(2);
    let fire = firers(&inputs);
    let result = outcome_of(race(inputs));
    fire[0].errback(Boom("loser")).expect("fires once");
    fire[1].callback(2).expect("fires once");
    drop(fire);
    assert!(taken(&result).is_ok());
    assert!(capture.reports().is_empty());
}

/// Cancelling a race cancels every input and fails it with their CancelledErrors.
#[test]
fn race_cancel_cancels_inputs() {
    let inputs = pending(2);
    let fire = firers(&inputs);
    let raced = race(inputs);
    let result = outcome_of(raced.clone());
    raced.cancel();
    assert!(fire.iter().all(Deferred::is_called));
    let failure = taken(&result).expect_err("cancelled");
    let group = failure
        .downcast_ref::<FailureGroup>()
        .expect("a FailureGroup");
    assert!(group.0.iter().all(|f| f.check::<CancelledError>()));
    assert_eq!(group.0.len(), 2);
}
