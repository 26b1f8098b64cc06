//! Basic chain rules: order, callback/errback paths, firing, handles.

use super::{Boom, arrived, log, outcome_of, taken};
use torsion::defer::{
    AlreadyCalledError, Deferred, Failure, IntoDeferred, fail, maybe_deferred, succeed,
};

/// Callbacks run in the order they were added.
#[test]
fn callbacks_run_in_order_added() {
    let order = log();
    let firer: Deferred<()> = Deferred::new();
    let mut chain = firer.clone();
    for position in 0..3 {
        let order = order.clone();
        chain = chain.add_callback(move |()| {
            order.borrow_mut().push(position);
            Ok(())
        });
    }
    firer.callback(()).expect("first firing");
    assert_eq!(*order.borrow(), vec![0, 1, 2]);
}

/// Each callback receives the previous callback's output, whose type may change.
#[test]
fn callback_output_feeds_next_callback() {
    let firer: Deferred<u32> = Deferred::new();
    let result = outcome_of(
        firer
            .clone()
            .add_callback(|n| Ok(format!("n={n}")))
            .add_callback(|text| Ok(text.len())),
    );
    firer.callback(12).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(4));
}

/// Nothing runs before the Deferred fires.
#[test]
fn callbacks_wait_for_firing() {
    let firer: Deferred<u32> = Deferred::new();
    let result = outcome_of(firer.clone().add_callback(|n| Ok(n + 1)));
    assert!(!arrived(&result));
    firer.callback(1).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(2));
}

/// A step added to an already-fired Deferred runs immediately.
#[test]
fn step_added_after_firing_runs_immediately() {
    let result = outcome_of(succeed(5u32).add_callback(|n| Ok(n * 3)));
    assert_eq!(taken(&result).ok(), Some(15));
}

/// A callback returning Err skips the following callbacks and runs the next errback.
#[test]
fn failure_skips_callbacks_to_next_errback() {
    let skipped = log();
    let skipped_sink = skipped.clone();
    let result = outcome_of(
        succeed(1u32)
            .add_callback(|_| Err::<u32, _>(Failure::new(Boom("first"))))
            .add_callback(move |n| {
                skipped_sink.borrow_mut().push(n);
                Ok(n)
            })
            .add_errback(|failure| {
                assert!(failure.check::<Boom>());
                Ok(99)
            }),
    );
    assert!(skipped.borrow().is_empty());
    assert_eq!(taken(&result).ok(), Some(99));
}

/// An errback that returns Ok puts the chain back on the callback path.
#[test]
fn errback_ok_recovers_to_callback_path() {
    let result = outcome_of(
        fail::<u32>(Boom("recoverable"))
            .add_errback(|_| Ok(7))
            .add_callback(|n| Ok(n + 1)),
    );
    assert_eq!(taken(&result).ok(), Some(8));
}

/// An errback that returns Err keeps the chain failing and skips callbacks.
#[test]
fn errback_err_keeps_failing() {
    let result = outcome_of(
        fail::<u32>(Boom("first"))
            .add_errback(|_| Err(Failure::new(Boom("second"))))
            .add_callback(|n| Ok(n + 1)),
    );
    let failure = taken(&result).expect_err("still failing");
    assert_eq!(failure.downcast_ref::<Boom>(), Some(&Boom("second")));
}

/// A success passes errbacks by untouched.
#[test]
fn success_skips_errbacks() {
    let errbacks_run = log();
    let sink = errbacks_run.clone();
    let result = outcome_of(succeed(3u32).add_errback(move |failure| {
        sink.borrow_mut().push(failure.to_string());
        Ok(0)
    }));
    assert!(errbacks_run.borrow().is_empty());
    assert_eq!(taken(&result).ok(), Some(3));
}

/// add_callbacks runs exactly one of its pair: the callback on success, the errback on failure.
#[test]
fn add_callbacks_runs_exactly_one_side() {
    let on_success = outcome_of(succeed(2u32).add_callbacks(|n| Ok(n * 10), |_| Ok(0)));
    let on_failure = outcome_of(fail::<u32>(Boom("x")).add_callbacks(|n| Ok(n * 10), |_| Ok(1)));
    assert_eq!(taken(&on_success).ok(), Some(20));
    assert_eq!(taken(&on_failure).ok(), Some(1));
}

/// An errback paired by add_callbacks does not see a failure raised by its own callback.
#[test]
fn paired_errback_skips_own_callback_failure() {
    let result = outcome_of(succeed(2u32).add_callbacks(
        |_| Err::<u32, _>(Failure::new(Boom("from callback"))),
        |_| Ok(0),
    ));
    assert!(taken(&result).expect_err("not recovered").check::<Boom>());
}

/// add_both receives successes and failures alike.
#[test]
fn add_both_sees_success_and_failure() {
    let describe = |outcome: Result<u32, Failure>| match outcome {
        Ok(n) => Ok(format!("ok {n}")),
        Err(failure) => Ok(format!("err {}", failure.error())),
    };
    let from_success = outcome_of(succeed(4u32).add_both(describe));
    let from_failure = outcome_of(fail::<u32>(Boom("b")).add_both(describe));
    assert_eq!(taken(&from_success).ok().as_deref(), Some("ok 4"));
    assert_eq!(taken(&from_failure).ok().as_deref(), Some("err boom: b"));
}

/// Firing a Deferred a second time returns AlreadyCalledError.
#[test]
fn firing_twice_is_already_called() {
    let firer: Deferred<u32> = Deferred::new();
    firer.callback(1).expect("first firing");
    assert_eq!(firer.callback(2), Err(AlreadyCalledError));
    assert_eq!(firer.errback(Boom("late")), Err(AlreadyCalledError));
}

/// A late second firing does not change the value the chain already carries.
#[test]
fn second_firing_does_not_change_result() {
    let firer: Deferred<u32> = Deferred::new();
    let result = outcome_of(firer.clone());
    firer.callback(1).expect("first firing");
    let _ = firer.callback(2);
    assert_eq!(taken(&result).ok(), Some(1));
}

/// is_called turns true when the Deferred fires, not before.
#[test]
fn is_called_tracks_firing() {
    let firer: Deferred<u32> = Deferred::new();
    assert!(!firer.is_called());
    firer.errback(Boom("fired")).expect("first firing");
    assert!(firer.is_called());
    drop(outcome_of(firer));
}

/// Adding a step through a handle whose type is no longer the chain's output panics.
#[test]
#[should_panic(expected = "stale Deferred handle")]
fn stale_handle_add_panics() {
    let firer: Deferred<u32> = Deferred::new();
    let _text = firer.clone().add_callback(|n| Ok(n.to_string()));
    firer.add_callback(|n| Ok(n + 1));
}

/// Firing through a handle typed after a type-changing step panics.
#[test]
#[should_panic(expected = "head type")]
fn firing_through_non_head_handle_panics() {
    let firer: Deferred<u32> = Deferred::new();
    let text = firer.add_callback(|n| Ok(n.to_string()));
    let _ = text.callback(String::from("not the head type"));
}

/// A clone whose type still matches the chain's output may keep adding steps.
#[test]
fn same_type_clone_can_add_steps() {
    let firer: Deferred<u32> = Deferred::new();
    let _doubled = firer.clone().add_callback(|n| Ok(n * 2));
    let result = outcome_of(firer.clone().add_callback(|n| Ok(n + 1)));
    firer.callback(5).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(11));
}

/// A callback may add a step to its own chain; that step runs after it, in the same pass.
#[test]
fn callback_adds_step_to_own_chain() {
    let firer: Deferred<u32> = Deferred::new();
    let order = log();
    let (handle, first_log, later_log) = (firer.clone(), order.clone(), order.clone());
    firer.clone().add_callback(move |n| {
        first_log.borrow_mut().push("first");
        handle.add_callback(move |m: u32| {
            later_log.borrow_mut().push("added during first");
            Ok(m)
        });
        Ok(n)
    });
    firer.callback(1).expect("first firing");
    assert_eq!(*order.borrow(), vec!["first", "added during first"]);
}

/// A callback may fire another Deferred, whose chain runs to completion inside it.
#[test]
fn callback_fires_another_deferred() {
    let other: Deferred<u32> = Deferred::new();
    let other_result = outcome_of(other.clone().add_callback(|n| Ok(n + 100)));
    let firer: Deferred<u32> = Deferred::new();
    let seen_inside = log();
    let (slot, sink) = (other_result.clone(), seen_inside.clone());
    firer.clone().add_callback(move |n| {
        other.callback(n).expect("other fires once");
        sink.borrow_mut().push(super::arrived(&slot));
        Ok(())
    });
    firer.callback(1).expect("first firing");
    assert_eq!(*seen_inside.borrow(), vec![true]);
    assert_eq!(taken(&other_result).ok(), Some(101));
}

/// A callback may pause and unpause its own chain without stopping it for good.
#[test]
fn callback_pauses_and_unpauses_own_chain() {
    let firer: Deferred<u32> = Deferred::new();
    let handle = firer.clone();
    let result = outcome_of(
        firer
            .clone()
            .add_callback(move |n| {
                handle.pause();
                handle.unpause();
                Ok(n + 1)
            })
            .add_callback(|n| Ok(n * 2)),
    );
    firer.callback(1).expect("first firing");
    assert_eq!(taken(&result).ok(), Some(4));
}

/// succeed and fail build already-fired Deferreds.
#[test]
fn succeed_and_fail_are_already_fired() {
    let good = succeed(1u8);
    let bad = fail::<u8>(Boom("f"));
    assert!(good.is_called() && bad.is_called());
    assert_eq!(taken(&outcome_of(good)).ok(), Some(1));
    assert!(taken(&outcome_of(bad)).is_err());
}

/// maybe_deferred passes a returned Deferred through and wraps an immediate Result.
#[test]
fn maybe_deferred_accepts_both_shapes() {
    let pending: Deferred<u8> = Deferred::new();
    let passed = maybe_deferred({
        let pending = pending.clone();
        move || pending
    });
    let wrapped = maybe_deferred(|| Err::<u8, _>(Failure::new(Boom("now"))));
    let passed_result = outcome_of(passed);
    assert!(!arrived(&passed_result));
    pending.callback(9).expect("first firing");
    assert_eq!(taken(&passed_result).ok(), Some(9));
    assert!(taken(&outcome_of(wrapped)).is_err());
    assert!(Ok::<u8, Failure>(3).into_deferred().is_called());
}

/// chain_deferred fires the other Deferred with this chain's success.
#[test]
fn chain_deferred_forwards_success() {
    let source: Deferred<u32> = Deferred::new();
    let target: Deferred<u32> = Deferred::new();
    let target_result = outcome_of(target.clone());
    let after = outcome_of(source.clone().chain_deferred(target));
    source.callback(8).expect("first firing");
    assert_eq!(taken(&target_result).ok(), Some(8));
    assert!(taken(&after).is_ok());
}

/// chain_deferred fires the other Deferred's errback with this chain's failure.
#[test]
fn chain_deferred_forwards_failure() {
    let source: Deferred<u32> = Deferred::new();
    let target: Deferred<u32> = Deferred::new();
    let target_result = outcome_of(target.clone());
    let after = outcome_of(source.clone().chain_deferred(target));
    source.errback(Boom("chained")).expect("first firing");
    assert!(
        taken(&target_result)
            .expect_err("failure forwarded")
            .check::<Boom>()
    );
    assert!(
        taken(&after).is_ok(),
        "the source chain handed its failure on"
    );
}

/// chain_deferred into an already-fired Deferred leaves an AlreadyCalledError on this chain.
#[test]
fn chain_deferred_into_fired_target_fails() {
    let after = outcome_of(succeed(1u32).chain_deferred(succeed(2u32)));
    assert!(
        taken(&after)
            .expect_err("target was fired")
            .check::<AlreadyCalledError>()
    );
}

/// Debug output names the value type and the chain state.
#[test]
fn debug_describes_state() {
    let firer: Deferred<u32> = Deferred::new();
    assert!(format!("{firer:?}").contains("pending"));
    firer.callback(1).expect("first firing");
    let text = format!("{firer:?}");
    assert!(text.contains("u32") && text.contains("succeeded"), "{text}");
}
