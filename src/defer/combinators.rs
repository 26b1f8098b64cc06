//! Deferreds built from several others: [`DeferredList`],
//! [`gather_results`] and [`race`].
//!
//! Each combinator consumes its inputs and attaches one step to each, so the
//! inputs' values move into the combined result. Cancelling the combined
//! Deferred before it fires cancels every input, as Twisted does.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use super::chain::Core;
use super::deferred::Deferred;
use super::failure::{Failure, FailureGroup, FirstError};

/// Twisted's `DeferredList`: waits for a list of Deferreds and reports each
/// one's result.
///
/// Built with [`DeferredList::new`], configured with the Twisted options,
/// and turned into a Deferred with [`into_deferred`](DeferredList::into_deferred):
///
/// * default: fires with [`DeferredListResult::All`] once every input
///   has a result; an empty list fires at once.
/// * `fire_on_one_callback`: fires with [`DeferredListResult::First`] as
///   soon as one input succeeds (with `All` if none does; never for an
///   empty list).
/// * `fire_on_one_errback`: errbacks with [`FirstError`] as soon as one
///   input fails.
/// * `consume_errors`: an input's failure is absorbed by the list (that
///   input's chain continues with `()`), so it is not reported as
///   unhandled; without it the failure stays on the input's chain, exactly
///   as in Twisted.
///
/// Each input's chain continues with `()` after the list's step.
pub struct DeferredList<T: 'static> {
    inputs: Vec<Deferred<T>>,
    options: ListOptions,
}

/// The flags of a [`DeferredList`].
#[derive(Debug, Clone, Copy, Default)]
struct ListOptions {
    fire_on_one_callback: bool,
    fire_on_one_errback: bool,
    consume_errors: bool,
}

/// What a [`DeferredList`] fires with.
#[derive(Debug)]
pub enum DeferredListResult<T> {
    /// Every input's result, in input order.
    All(Vec<Result<T, Failure>>),
    /// With `fire_on_one_callback`: the first input to succeed.
    First {
        /// Position of that input.
        index: usize,
        /// Its value.
        value: T,
    },
}

impl<T> DeferredListResult<T> {
    /// The per-input results, if every input finished.
    pub fn into_all(self) -> Option<Vec<Result<T, Failure>>> {
        match self {
            DeferredListResult::All(results) => Some(results),
            DeferredListResult::First { .. } => None,
        }
    }

    /// The first success as `(index, value)`, if the list fired on one.
    pub fn into_first(self) -> Option<(usize, T)> {
        match self {
            DeferredListResult::First { index, value } => Some((index, value)),
            DeferredListResult::All(_) => None,
        }
    }
}

/// Per-list bookkeeping shared by the inputs' steps.
struct ListState<T> {
    results: Vec<Option<Result<T, Failure>>>,
    finished: usize,
}

/// What one input's result makes the list do, decided under a borrow.
enum ListAction<T> {
    Nothing,
    FireFirst(usize, T),
    FailFirst(usize, Failure),
    FireAll(Vec<Result<T, Failure>>),
}

impl<T: 'static> DeferredList<T> {
    /// A list over `inputs` with every option off.
    pub fn new(inputs: Vec<Deferred<T>>) -> Self {
        Self {
            inputs,
            options: ListOptions::default(),
        }
    }

    /// Fire as soon as one input succeeds.
    #[must_use]
    pub fn fire_on_one_callback(mut self, enabled: bool) -> Self {
        self.options.fire_on_one_callback = enabled;
        self
    }

    /// Errback with [`FirstError`] as soon as one input fails.
    #[must_use]
    pub fn fire_on_one_errback(mut self, enabled: bool) -> Self {
        self.options.fire_on_one_errback = enabled;
        self
    }

    /// Absorb the inputs' failures so they are not reported as unhandled.
    #[must_use]
    pub fn consume_errors(mut self, enabled: bool) -> Self {
        self.options.consume_errors = enabled;
        self
    }

    /// Attaches to the inputs and returns the combined Deferred.
    pub fn into_deferred(self) -> Deferred<DeferredListResult<T>> {
        let count = self.inputs.len();
        let output = with_input_canceller(&self.inputs);
        if count == 0 && !self.options.fire_on_one_callback {
            fire_if_pending(&output, Ok(DeferredListResult::All(Vec::new())));
        }
        let state = Rc::new(RefCell::new(ListState {
            results: (0..count).map(|_| None).collect(),
            finished: 0,
        }));
        for (index, input) in self.inputs.into_iter().enumerate() {
            let output = output.clone();
            let state = state.clone();
            let options = self.options;
            input.add_both(move |result: Result<T, Failure>| {
                let passed_on = match &result {
                    Err(failure) if !options.consume_errors => Err(failure.clone()),
                    _ => Ok(()),
                };
                let action = state
                    .borrow_mut()
                    .record(index, result, options, output.is_called());
                perform(&output, action);
                passed_on
            });
        }
        output
    }
}

impl<T> ListState<T> {
    /// Records input `index`'s result and decides whether the list fires.
    fn record(
        &mut self,
        index: usize,
        result: Result<T, Failure>,
        options: ListOptions,
        output_called: bool,
    ) -> ListAction<T> {
        self.finished += 1;
        if output_called {
            return ListAction::Nothing;
        }
        let result = match result {
            Ok(value) if options.fire_on_one_callback => {
                return ListAction::FireFirst(index, value);
            }
            Err(failure) if options.fire_on_one_errback => {
                return ListAction::FailFirst(index, failure);
            }
            result => result,
        };
        self.results[index] = Some(result);
        if self.finished < self.results.len() {
            return ListAction::Nothing;
        }
        let all = self.results.drain(..).flatten().collect();
        ListAction::FireAll(all)
    }
}

/// Fires the list's output as `action` says.
fn perform<T: 'static>(output: &Deferred<DeferredListResult<T>>, action: ListAction<T>) {
    let result = match action {
        ListAction::Nothing => return,
        ListAction::FireFirst(index, value) => Ok(DeferredListResult::First { index, value }),
        ListAction::FailFirst(index, failure) => Err(Failure::new(FirstError { index, failure })),
        ListAction::FireAll(results) => Ok(DeferredListResult::All(results)),
    };
    fire_if_pending(output, result);
}

impl<T> fmt::Debug for DeferredList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredList")
            .field("inputs", &self.inputs.len())
            .field("options", &self.options)
            .finish()
    }
}

/// Twisted's `gatherResults`: all the inputs' values in input order, or a
/// [`FirstError`] failure as soon as one input fails. The inputs' failures
/// stay on their own chains (see [`gather_results_consuming_errors`]).
pub fn gather_results<T: 'static>(inputs: Vec<Deferred<T>>) -> Deferred<Vec<T>> {
    gather(inputs, false)
}

/// [`gather_results`] with `consumeErrors=True`: the inputs' failures are
/// absorbed, so only the combined Deferred carries the first one.
pub fn gather_results_consuming_errors<T: 'static>(inputs: Vec<Deferred<T>>) -> Deferred<Vec<T>> {
    gather(inputs, true)
}

/// Shared body of the two gather variants.
fn gather<T: 'static>(inputs: Vec<Deferred<T>>, consume_errors: bool) -> Deferred<Vec<T>> {
    DeferredList::new(inputs)
        .fire_on_one_errback(true)
        .consume_errors(consume_errors)
        .into_deferred()
        .add_callback(|outcome| match outcome {
            // With fire_on_one_errback the list only fires `All` when every
            // input succeeded, so this collects plain values.
            DeferredListResult::All(results) => results.into_iter().collect(),
            DeferredListResult::First { value, .. } => Ok(vec![value]),
        })
}

/// Per-race bookkeeping shared by the inputs' steps.
struct RaceState {
    winner: Option<usize>,
    failures: Vec<(usize, Failure)>,
}

/// Twisted's `race`: the index and value of the first input to succeed;
/// the other inputs are then cancelled. If every input fails, fails with a
/// [`FailureGroup`] of their failures in input order (at once for an empty
/// list). The inputs' failures are consumed. Cancelling the result cancels
/// every input.
pub fn race<T: 'static>(inputs: Vec<Deferred<T>>) -> Deferred<(usize, T)> {
    let count = inputs.len();
    let output = with_input_canceller(&inputs);
    if count == 0 {
        fire_if_pending(&output, Err(Failure::new(FailureGroup(Vec::new()))));
    }
    let cores: Rc<Vec<Rc<Core>>> = Rc::new(inputs.iter().map(|d| d.core().clone()).collect());
    let state = Rc::new(RefCell::new(RaceState {
        winner: None,
        failures: Vec::new(),
    }));
    for (index, input) in inputs.into_iter().enumerate() {
        let (won_output, lost_output) = (output.clone(), output.clone());
        let (won_state, lost_state) = (state.clone(), state.clone());
        let cores = cores.clone();
        input.add_callbacks(
            move |value| {
                if claim_victory(&won_state, index) {
                    cancel_all_but(&cores, index);
                    fire_if_pending(&won_output, Ok((index, value)));
                }
                Ok(())
            },
            move |failure| {
                if let Some(failures) = record_loss(&lost_state, index, failure, count) {
                    fire_if_pending(&lost_output, Err(Failure::new(FailureGroup(failures))));
                }
                Ok(())
            },
        );
    }
    output
}

/// Makes input `index` the winner unless another input already is.
fn claim_victory(state: &RefCell<RaceState>, index: usize) -> bool {
    let mut state = state.borrow_mut();
    if state.winner.is_some() {
        return false;
    }
    state.winner = Some(index);
    true
}

/// Records a failed input; once all `count` inputs failed, returns their
/// failures in input order.
fn record_loss(
    state: &RefCell<RaceState>,
    index: usize,
    failure: Failure,
    count: usize,
) -> Option<Vec<Failure>> {
    let mut state = state.borrow_mut();
    state.failures.push((index, failure));
    if state.failures.len() < count {
        return None;
    }
    state.failures.sort_by_key(|(index, _)| *index);
    Some(
        state
            .failures
            .drain(..)
            .map(|(_, failure)| failure)
            .collect(),
    )
}

/// Cancels every input chain except the winner's.
fn cancel_all_but(cores: &[Rc<Core>], winner: usize) {
    for (index, core) in cores.iter().enumerate() {
        if index != winner {
            core.cancel();
        }
    }
}

/// A combined Deferred whose cancellation cancels every input.
fn with_input_canceller<T: 'static, U: 'static>(inputs: &[Deferred<T>]) -> Deferred<U> {
    let cores: Vec<Rc<Core>> = inputs.iter().map(|d| d.core().clone()).collect();
    Deferred::with_canceller(move |_| {
        for core in &cores {
            core.cancel();
        }
    })
}

/// Fires a combinator's output unless it already has a result (its owner
/// may have fired or cancelled it first); a late result is dropped.
fn fire_if_pending<U: 'static>(output: &Deferred<U>, result: Result<U, Failure>) {
    if output.is_called() {
        return;
    }
    let fired = match result {
        Ok(value) => output.callback(value),
        Err(failure) => output.errback(failure),
    };
    debug_assert!(fired.is_ok(), "output checked unfired just above");
}
