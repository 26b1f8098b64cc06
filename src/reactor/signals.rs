//! Unix signals, delivered on the reactor thread through a self-pipe per signal.
//!
//! While the reactor runs with signal handlers installed (the default), SIGINT and SIGTERM start
//! an orderly shutdown; a second one while shutdown is under way stops the loop at once, without
//! waiting for pending "before shutdown" triggers. Any signal listed in [`Signal`] can also be
//! hooked with [`Reactor::on_signal`](super::Reactor::on_signal); hooks run on the reactor thread,
//! never inside the signal handler. The handler itself only writes a byte to a pipe (what
//! `signal-hook` installs), which is async-signal-safe.

use std::collections::HashMap;
use std::io::{self, Read};

use super::{Reactor, RunState};
use crate::log;

/// Signals the reactor can deliver to hooks.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Signal {
    /// SIGINT (Ctrl-C): starts an orderly shutdown.
    Interrupt,
    /// SIGTERM: starts an orderly shutdown.
    Terminate,
    /// SIGHUP: by convention, reload configuration (certificates, logs).
    Hangup,
    /// SIGUSR1: by convention, reopen log files.
    User1,
    /// SIGUSR2.
    User2,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Self::Interrupt => libc::SIGINT,
            Self::Terminate => libc::SIGTERM,
            Self::Hangup => libc::SIGHUP,
            Self::User1 => libc::SIGUSR1,
            Self::User2 => libc::SIGUSR2,
        }
    }

    fn stops_reactor(self) -> bool {
        matches!(self, Self::Interrupt | Self::Terminate)
    }
}

type Hook = Box<dyn FnMut()>;

struct Installed {
    signal: Signal,
    id: signal_hook::SigId,
    reader: mio::net::UnixStream,
}

/// The reactor's signal hooks and installed handlers.
pub(crate) struct Signals {
    hooks: HashMap<Signal, Vec<Hook>>,
    installed: Vec<Installed>,
    active: bool,
}

impl Signals {
    pub(crate) fn new() -> Self {
        Self {
            hooks: HashMap::new(),
            installed: Vec::new(),
            active: false,
        }
    }

    fn is_installed(&self, signal: Signal) -> bool {
        self.installed.iter().any(|i| i.signal == signal)
    }

    /// Removes every installed handler (when `run` returns).
    pub(crate) fn uninstall(&mut self) {
        for installed in self.installed.drain(..) {
            signal_hook::low_level::unregister(installed.id);
        }
        self.active = false;
    }
}

/// Installs SIGINT, SIGTERM and every hooked signal (during startup).
pub(crate) fn install(reactor: &Reactor) {
    if !reactor.signal_handlers_wanted() {
        return;
    }
    reactor.signals().borrow_mut().active = true;
    let hooked: Vec<Signal> = reactor.signals().borrow().hooks.keys().copied().collect();
    for signal in [Signal::Interrupt, Signal::Terminate]
        .into_iter()
        .chain(hooked)
    {
        if let Err(error) = install_one(reactor, signal) {
            log::error(format_args!(
                "could not install a handler for {signal:?}: {error}"
            ));
        }
    }
}

fn install_one(reactor: &Reactor, signal: Signal) -> io::Result<()> {
    if reactor.signals().borrow().is_installed(signal) {
        return Ok(());
    }
    let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
    reader.set_nonblocking(true)?;
    let mut reader = mio::net::UnixStream::from_std(reader);
    let index = reactor.signals().borrow().installed.len();
    reactor.registry_register(&mut reader, Reactor::signal_token(index))?;
    let id = signal_hook::low_level::pipe::register(signal.number(), writer)?;
    reactor
        .signals()
        .borrow_mut()
        .installed
        .push(Installed { signal, id, reader });
    Ok(())
}

/// Adds a hook, installing the signal's handler at once if the reactor is already running.
pub(crate) fn add_hook(reactor: &Reactor, signal: Signal, hook: Hook) -> io::Result<()> {
    let active = {
        let mut signals = reactor.signals().borrow_mut();
        signals.hooks.entry(signal).or_default().push(hook);
        signals.active
    };
    if active {
        install_one(reactor, signal)?;
    }
    Ok(())
}

/// Handles readiness of the self-pipe of the `index`th installed signal.
pub(crate) fn dispatch(reactor: &Reactor, index: usize) {
    let received = {
        let mut signals = reactor.signals().borrow_mut();
        let Some(installed) = signals.installed.get_mut(index) else {
            return;
        };
        drain(&mut installed.reader).then_some(installed.signal)
    };
    let Some(signal) = received else { return };
    if signal.stops_reactor() {
        match reactor.state() {
            RunState::Stopping => reactor.crash(),
            _ => {
                let _ = reactor.stop();
            }
        }
    }
    run_hooks(reactor, signal);
}

/// Reads everything in the pipe; returns whether anything was there.
fn drain(reader: &mut mio::net::UnixStream) -> bool {
    let mut buffer = [0u8; 64];
    let mut any = false;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return any,
            Ok(_) => any = true,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return any,
        }
    }
}

fn run_hooks(reactor: &Reactor, signal: Signal) {
    let mut hooks = reactor
        .signals()
        .borrow_mut()
        .hooks
        .remove(&signal)
        .unwrap_or_default();
    for hook in &mut hooks {
        reactor.guard("signal hook", hook);
    }
    let mut signals = reactor.signals().borrow_mut();
    let added_meanwhile = signals.hooks.remove(&signal).unwrap_or_default();
    hooks.extend(added_meanwhile);
    signals.hooks.insert(signal, hooks);
}
