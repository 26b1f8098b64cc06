//! Listening sockets: TCP, UNIX and adopted descriptors, with a fair accept loop that backs off
//! when the process runs out of file descriptors instead of spinning.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use super::connection::Connection;
use super::stream::Stream;
use super::{Address, Factory};
use crate::log;
use crate::reactor::{ACCEPTS_PER_TURN, IoHandler, Reactor, ReactorInner, Readiness, SourceKey};
use crate::sys;
use crate::time::DelayedCall;

/// First pause after running out of descriptors; doubles up to [`MAX_ACCEPT_BACKOFF`].
const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Options for a listening socket.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// Length of the kernel's queue of connections not yet accepted (default 50, as Twisted).
    pub backlog: u32,
    /// For UNIX sockets: permission bits of the socket file (default 0o666).
    pub mode: u32,
    /// For UNIX sockets: guard the path with `PATH.lock` holding our pid, and remove a stale
    /// socket file left by a process that no longer runs (default true).
    pub lockfile: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            backlog: 50,
            mode: 0o666,
            lockfile: true,
        }
    }
}

/// A listening socket that accepts connections (Twisted's `IListeningPort`).
#[derive(Clone)]
pub struct Port {
    inner: Rc<dyn Listening>,
}

impl Port {
    /// The address the socket is bound to (with the real port when 0 was asked for).
    pub fn address(&self) -> Address {
        self.inner.address()
    }

    /// Stops accepting and closes the socket (and, for UNIX sockets, removes the socket file and
    /// its lock file). Connections already accepted are not affected.
    pub fn stop_listening(&self) {
        self.inner.stop();
    }

    /// Whether the port is still listening.
    pub fn is_listening(&self) -> bool {
        self.inner.is_listening()
    }
}

impl fmt::Debug for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port")
            .field("address", &self.address())
            .field("listening", &self.is_listening())
            .finish()
    }
}

trait Listening {
    fn address(&self) -> Address;
    fn stop(&self);
    fn is_listening(&self) -> bool;
}

/// What a listener needs from its socket.
trait Accept: mio::event::Source + 'static {
    type Stream: Stream;
    fn accept_one(&self) -> io::Result<(Self::Stream, Address)>;
    fn local(&self) -> io::Result<Address>;
    fn configure(_stream: &Self::Stream) {}
}

impl Accept for mio::net::TcpListener {
    type Stream = mio::net::TcpStream;

    fn accept_one(&self) -> io::Result<(Self::Stream, Address)> {
        let (stream, peer) = self.accept()?;
        Ok((stream, Address::Tcp(peer)))
    }

    fn local(&self) -> io::Result<Address> {
        self.local_addr().map(Address::Tcp)
    }

    fn configure(stream: &Self::Stream) {
        let _ = stream.set_nodelay(true);
    }
}

impl Accept for mio::net::UnixListener {
    type Stream = mio::net::UnixStream;

    fn accept_one(&self) -> io::Result<(Self::Stream, Address)> {
        let (stream, peer) = self.accept()?;
        Ok((
            stream,
            Address::Unix(peer.as_pathname().map(Path::to_path_buf)),
        ))
    }

    fn local(&self) -> io::Result<Address> {
        let addr = self.local_addr()?;
        Ok(Address::Unix(addr.as_pathname().map(Path::to_path_buf)))
    }
}

/// Files to remove when a UNIX listener stops.
#[derive(Default)]
struct Cleanup {
    socket: Option<PathBuf>,
    lock: Option<PathBuf>,
}

struct Listener<L: Accept> {
    reactor: Weak<ReactorInner>,
    me: Weak<Listener<L>>,
    key: Cell<Option<SourceKey>>,
    socket: RefCell<Option<L>>,
    factory: RefCell<Box<dyn Factory>>,
    address: Address,
    backoff: Cell<Duration>,
    retry: RefCell<Option<DelayedCall>>,
    cleanup: RefCell<Cleanup>,
}

impl<L: Accept> Listener<L> {
    fn start(
        reactor: &Reactor,
        mut socket: L,
        factory: Box<dyn Factory>,
        cleanup: Cleanup,
    ) -> io::Result<Port> {
        let address = socket.local()?;
        let listener = Rc::new_cyclic(|me| Self {
            reactor: reactor.downgrade(),
            me: me.clone(),
            key: Cell::new(None),
            socket: RefCell::new(None),
            factory: RefCell::new(factory),
            address,
            backoff: Cell::new(MIN_ACCEPT_BACKOFF),
            retry: RefCell::new(None),
            cleanup: RefCell::new(cleanup),
        });
        let handler: Rc<dyn IoHandler> = listener.clone();
        let key = reactor.register(&mut socket, mio::Interest::READABLE, handler)?;
        listener.key.set(Some(key));
        *listener.socket.borrow_mut() = Some(socket);
        Ok(Port { inner: listener })
    }

    fn accept_some(&self, reactor: &Reactor) {
        for _ in 0..ACCEPTS_PER_TURN {
            let accepted = match self.socket.borrow().as_ref() {
                Some(socket) => socket.accept_one(),
                None => return,
            };
            match accepted {
                Ok((stream, peer)) => {
                    self.backoff.set(MIN_ACCEPT_BACKOFF);
                    self.serve(reactor, stream, peer);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if is_transient_accept_error(&error) => {}
                Err(error) if is_resource_exhaustion(&error) => {
                    return self.back_off(reactor, &error);
                }
                Err(error) => {
                    log::error(format_args!("accept on {} failed: {error}", self.address));
                    return self.back_off(reactor, &error);
                }
            }
        }
        if let Some(key) = self.key.get() {
            reactor.carry_over(key, Readiness::READABLE);
        }
    }

    fn serve(&self, reactor: &Reactor, stream: L::Stream, peer: Address) {
        L::configure(&stream);
        let Some(protocol) = self.factory.borrow_mut().build_protocol(&peer) else {
            return;
        };
        match Connection::register(reactor, stream, peer, self.address.clone(), protocol, None) {
            Ok(connection) => connection.start(),
            Err(error) => log::error(format_args!("could not register a connection: {error}")),
        }
    }

    /// Stops accepting for a while; pending connections wait in the kernel's queue meanwhile.
    fn back_off(&self, reactor: &Reactor, error: &io::Error) {
        let delay = self.backoff.get();
        log::error(format_args!(
            "accept on {} failed ({error}); retrying in {} ms",
            self.address,
            delay.as_millis()
        ));
        self.backoff.set((delay * 2).min(MAX_ACCEPT_BACKOFF));
        let me = self.me.clone();
        let retry_reactor = reactor.clone();
        let call = reactor.call_later(delay, move || {
            if let Some(me) = me.upgrade() {
                me.retry.borrow_mut().take();
                me.accept_some(&retry_reactor);
            }
        });
        *self.retry.borrow_mut() = Some(call);
    }
}

impl<L: Accept> IoHandler for Listener<L> {
    fn ready(&self, reactor: &Reactor, _readiness: Readiness) {
        if self.retry.borrow().is_none() {
            self.accept_some(reactor);
        }
    }

    fn reactor_shutdown(&self, _reactor: &Reactor) {
        self.stop();
    }
}

impl<L: Accept> Listening for Listener<L> {
    fn address(&self) -> Address {
        self.address.clone()
    }

    fn stop(&self) {
        if let Some(call) = self.retry.borrow_mut().take() {
            let _ = call.cancel();
        }
        let socket = self.socket.borrow_mut().take();
        if let (Some(mut socket), Some(key)) = (socket, self.key.take()) {
            if let Some(reactor) = self.reactor.upgrade().map(Reactor::from_inner) {
                let _ = reactor.deregister(&mut socket, key);
            }
        }
        let cleanup = std::mem::take(&mut *self.cleanup.borrow_mut());
        for path in [cleanup.socket, cleanup.lock].into_iter().flatten() {
            let _ = fs::remove_file(path);
        }
    }

    fn is_listening(&self) -> bool {
        self.socket.borrow().is_some()
    }
}

/// Errors that concern one connection only (it vanished before we accepted it).
fn is_transient_accept_error(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EPROTO | libc::EINTR | libc::EPERM)
    ) || error.kind() == io::ErrorKind::Interrupted
}

/// Errors that mean the process or system is out of something; accepting again at once would
/// fail the same way.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Listens for TCP connections on `addr` (IPv4 or IPv6; port 0 picks a free port).
pub fn listen_tcp(
    reactor: &Reactor,
    addr: SocketAddr,
    options: &ListenOptions,
    factory: impl Factory + 'static,
) -> io::Result<Port> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    socket.bind(&SockAddr::from(addr))?;
    socket.listen(backlog(options))?;
    let listener = mio::net::TcpListener::from_std(socket.into());
    Listener::start(reactor, listener, Box::new(factory), Cleanup::default())
}

/// Listens for connections on the UNIX socket at `path`.
///
/// With `options.lockfile`, `PATH.lock` records our pid: a socket file whose lock names a dead
/// process (or that has no lock) is stale and replaced; a live owner is an error. Without it, an
/// existing path is an error. The socket file gets `options.mode`.
pub fn listen_unix(
    reactor: &Reactor,
    path: &Path,
    options: &ListenOptions,
    factory: impl Factory + 'static,
) -> io::Result<Port> {
    let lock = if options.lockfile {
        Some(acquire_lock(path)?)
    } else {
        None
    };
    let bound = bind_unix(path, options);
    if bound.is_err() {
        if let Some(lock) = &lock {
            let _ = fs::remove_file(lock);
        }
    }
    let listener = mio::net::UnixListener::from_std(bound?.into());
    let cleanup = Cleanup {
        socket: Some(path.to_path_buf()),
        lock,
    };
    Listener::start(reactor, listener, Box::new(factory), cleanup)
}

fn bind_unix(path: &Path, options: &ListenOptions) -> io::Result<Socket> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    socket.bind(&SockAddr::unix(path)?)?;
    fs::set_permissions(path, fs::Permissions::from_mode(options.mode))?;
    socket.listen(backlog(options))?;
    Ok(socket)
}

/// Takes `PATH.lock` for this process, clearing a stale lock and socket file.
fn acquire_lock(path: &Path) -> io::Result<PathBuf> {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    let pid = std::process::id().to_string();
    for _ in 0..3 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(mut file) => {
                io::Write::write_all(&mut file, pid.as_bytes())?;
                if path.exists() {
                    fs::remove_file(path)?;
                }
                return Ok(lock);
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                let owner = fs::read_to_string(&lock).unwrap_or_default();
                if let Ok(owner) = owner.trim().parse::<i32>() {
                    if sys::process_exists(owner) {
                        return Err(io::Error::new(
                            io::ErrorKind::AddrInUse,
                            format!(
                                "{} is in use by process {owner} (lock file {})",
                                path.display(),
                                lock.display()
                            ),
                        ));
                    }
                }
                let _ = fs::remove_file(&lock);
            }
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("could not take the lock file {}", lock.display()),
    ))
}

fn backlog(options: &ListenOptions) -> i32 {
    i32::try_from(options.backlog).unwrap_or(i32::MAX)
}

/// Serves connections on an inherited listening descriptor (systemd socket activation, or a
/// socket passed by a parent process); the socket's family is read from the descriptor.
///
/// The descriptor must be a listening stream socket and must not be used elsewhere afterwards.
pub fn adopt_listener(
    reactor: &Reactor,
    fd: RawFd,
    factory: impl Factory + 'static,
) -> io::Result<Port> {
    let socket = Socket::from(sys::adopt_descriptor(fd)?);
    if socket.r#type()? != Type::STREAM {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is not a stream socket"),
        ));
    }
    if !socket.is_listener()? {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is not listening"),
        ));
    }
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    let is_unix = socket.local_addr()?.is_unix();
    let fd: OwnedFd = socket.into();
    if is_unix {
        let listener = mio::net::UnixListener::from_std(fd.into());
        Listener::start(reactor, listener, Box::new(factory), Cleanup::default())
    } else {
        let listener = mio::net::TcpListener::from_std(fd.into());
        Listener::start(reactor, listener, Box::new(factory), Cleanup::default())
    }
}
