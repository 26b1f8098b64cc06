//! Where the reactor reports what nobody else handled: panicking callbacks, failed triggers,
//! unhandled Deferred failures, poll errors.
//!
//! By default each report is one line on standard error. An application (the `torsion` command
//! line, or a test) can install its own sink with [`set_error_sink`].

use std::any::Any;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use parking_lot::RwLock;

type Sink = Arc<dyn Fn(&str) + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Sends every future error report to `sink` instead of standard error (process-wide).
pub fn set_error_sink(sink: impl Fn(&str) + Send + Sync + 'static) {
    *SINK.write() = Some(Arc::new(sink));
}

/// Restores the default sink (one line on standard error).
pub fn reset_error_sink() {
    *SINK.write() = None;
}

/// Reports an error nobody else handled.
pub fn error(message: fmt::Arguments<'_>) {
    let sink = SINK.read().clone();
    match sink {
        Some(sink) => sink(&message.to_string()),
        None => {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        }
    }
}

/// The message of a panic payload, when it has one.
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "(a panic without a message)"
    }
}
