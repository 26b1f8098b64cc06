//! One stream connection (TCP or UNIX): the reactor side of a [`Protocol`].
//!
//! Every user-facing method only changes state and asks the reactor for a flush; the reactor
//! then writes, closes and calls back the protocol at a point where no protocol callback is on
//! the stack. This is what makes any transport method safe to call from any callback.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::rc::{Rc, Weak};

use super::stream::Stream;
use super::{Address, DisconnectReason, Producer, Protocol, Transport};
use crate::payload::Payload;
use crate::reactor::{
    Flush, IoHandler, READS_PER_TURN, Reactor, ReactorInner, Readiness, SourceKey,
};

/// Default high watermark of a write buffer: a push producer is paused above it.
pub const DEFAULT_HIGH_WATERMARK: usize = 64 * 1024;
/// Default low watermark of a write buffer: a paused producer is resumed at or below it.
pub const DEFAULT_LOW_WATERMARK: usize = 16 * 1024;
/// Writes at least this large bypass the buffer when nothing is queued.
const DIRECT_WRITE_MIN: usize = 16 * 1024;
/// An emptied write buffer keeps at most this much capacity (idle connections stay small).
const RETAINED_CAPACITY: usize = 16 * 1024;

/// Called once an outgoing connection attempt has succeeded or failed.
pub(crate) type ConnectOutcome = Box<dyn FnOnce(Result<Rc<dyn Transport>, io::Error>)>;

/// The socket side of a connection.
struct Io<S> {
    stream: Option<S>,
    out: Vec<u8>,
    out_pos: usize,
    /// File regions queued after `out`, each followed by the bytes written after it.
    files: VecDeque<QueuedFile>,
    low_watermark: usize,
    high_watermark: usize,
    producer: Option<Rc<dyn Producer>>,
    streaming: bool,
    producer_paused: bool,
    reading_paused: bool,
    /// A readable event arrived while reading was paused.
    read_pending: bool,
    /// The peer has shut its sending side: a short read no longer means the socket is drained,
    /// since the end of file is still to be read.
    peer_closed: bool,
    /// The last write would have blocked; the next writable event resumes writing.
    write_blocked: bool,
    flush_scheduled: bool,
    /// `lose_connection` was called: close once the buffer is empty.
    disconnecting: bool,
    write_eof_requested: bool,
    write_shut: bool,
    read_eof: bool,
    /// A close decided but not yet carried out.
    closing: Option<DisconnectReason>,
    closed: bool,
    /// Still connecting (outgoing connections): what to tell once it is settled.
    connecting: Option<ConnectOutcome>,
}

/// A region of a file to send with `sendfile(2)`, and the bytes queued behind it.
struct QueuedFile {
    file: Rc<File>,
    offset: u64,
    remaining: u64,
    then: Vec<u8>,
}

impl<S> Io<S> {
    /// Bytes queued and not yet sent, file regions included (they cost no memory, but they
    /// stand between a producer and the wire all the same).
    fn buffered(&self) -> usize {
        let files = self.files.iter().fold(0u64, |sum, queued| {
            sum.saturating_add(queued.remaining)
                .saturating_add(queued.then.len() as u64)
        });
        (self.out.len() - self.out_pos).saturating_add(usize::try_from(files).unwrap_or(usize::MAX))
    }

    /// Where newly written bytes go: behind the last queued file region, if any.
    fn tail(&mut self) -> &mut Vec<u8> {
        match self.files.back_mut() {
            Some(queued) => &mut queued.then,
            None => &mut self.out,
        }
    }

    fn accepts_writes(&self) -> bool {
        !self.closed && self.closing.is_none() && !self.disconnecting && !self.write_eof_requested
    }
}

/// A connection, shared by the reactor (as its I/O handler) and the protocol (as its transport).
pub(crate) struct Connection<S: Stream> {
    reactor: Weak<ReactorInner>,
    me: Weak<Connection<S>>,
    key: Cell<Option<SourceKey>>,
    io: RefCell<Io<S>>,
    protocol: RefCell<Option<Box<dyn Protocol>>>,
    peer: Address,
    host: Address,
}

impl<S: Stream> Connection<S> {
    /// Registers `stream` with the reactor; the protocol starts with [`Self::start`].
    pub(crate) fn register(
        reactor: &Reactor,
        mut stream: S,
        peer: Address,
        host: Address,
        protocol: Box<dyn Protocol>,
        connecting: Option<ConnectOutcome>,
    ) -> io::Result<Rc<Self>> {
        let connection = Rc::new_cyclic(|me| Self {
            reactor: reactor.downgrade(),
            me: me.clone(),
            key: Cell::new(None),
            io: RefCell::new(Io {
                stream: None,
                out: Vec::new(),
                out_pos: 0,
                files: VecDeque::new(),
                low_watermark: DEFAULT_LOW_WATERMARK,
                high_watermark: DEFAULT_HIGH_WATERMARK,
                producer: None,
                streaming: false,
                producer_paused: false,
                reading_paused: false,
                read_pending: false,
                peer_closed: false,
                write_blocked: false,
                flush_scheduled: false,
                disconnecting: false,
                write_eof_requested: false,
                write_shut: false,
                read_eof: false,
                closing: None,
                closed: false,
                connecting,
            }),
            protocol: RefCell::new(Some(protocol)),
            peer,
            host,
        });
        let handler: Rc<dyn IoHandler> = connection.clone();
        let key = reactor.register(
            &mut stream,
            mio::Interest::READABLE | mio::Interest::WRITABLE,
            handler,
        )?;
        connection.key.set(Some(key));
        connection.io.borrow_mut().stream = Some(stream);
        Ok(connection)
    }

    /// Tells the protocol the connection is made (accepted connections).
    pub(crate) fn start(&self) {
        let transport = self.transport();
        if let Some(protocol) = self.protocol.borrow_mut().as_mut() {
            protocol.connection_made(transport);
        }
    }

    fn transport(&self) -> Rc<dyn Transport> {
        match self.me.upgrade() {
            Some(me) => me,
            None => unreachable!("a connection's methods run only while it is alive"),
        }
    }

    fn reactor(&self) -> Option<Reactor> {
        self.reactor.upgrade().map(Reactor::from_inner)
    }

    fn request_flush(&self, io: &mut Io<S>) {
        if io.flush_scheduled {
            return;
        }
        io.flush_scheduled = true;
        if let (Some(reactor), Some(me)) = (self.reactor(), self.me.upgrade()) {
            reactor.schedule_flush(me);
        }
    }

    /// Finishes an outgoing connection attempt once the socket is writable or failed.
    fn settle_connect(&self) -> bool {
        let mut io = self.io.borrow_mut();
        let Some(outcome) = io.connecting.take() else {
            return true;
        };
        let failure = match io.stream.as_ref().map(|s| s.take_error()) {
            Some(Ok(None)) => None,
            Some(Ok(Some(error)) | Err(error)) => Some(error),
            None => Some(io::Error::new(
                io::ErrorKind::NotConnected,
                "connection closed",
            )),
        };
        drop(io);
        match failure {
            None => {
                self.start();
                outcome(Ok(self.transport()));
                true
            }
            Some(error) => {
                self.io.borrow_mut().closed = true;
                self.release_socket();
                self.protocol.borrow_mut().take();
                outcome(Err(error));
                false
            }
        }
    }

    /// Fails a pending connection attempt (its timeout passed).
    pub(crate) fn fail_connect(&self, error: io::Error) {
        let outcome = self.io.borrow_mut().connecting.take();
        if let Some(outcome) = outcome {
            self.io.borrow_mut().closed = true;
            self.release_socket();
            self.protocol.borrow_mut().take();
            outcome(Err(error));
        }
    }

    fn read_some(&self, reactor: &Reactor) {
        for _ in 0..READS_PER_TURN {
            {
                let mut io = self.io.borrow_mut();
                if io.closed || io.closing.is_some() || io.read_eof || io.disconnecting {
                    return;
                }
                if io.reading_paused {
                    io.read_pending = true;
                    return;
                }
            }
            match reactor.with_read_buffer(|buffer| self.read_once(buffer)) {
                ReadOutcome::Drained => return,
                ReadOutcome::More => {}
                ReadOutcome::Eof => return self.eof_received(),
                ReadOutcome::Failed(error) => return self.close(DisconnectReason::Lost(error)),
            }
        }
        if let Some(key) = self.key.get() {
            reactor.carry_over(key, Readiness::READABLE);
        }
    }

    fn read_once(&self, buffer: &mut [u8]) -> ReadOutcome {
        loop {
            let (read, peer_closed) = {
                let mut io = self.io.borrow_mut();
                let peer_closed = io.peer_closed;
                match io.stream.as_mut() {
                    Some(stream) => (stream.read(buffer), peer_closed),
                    None => return ReadOutcome::Drained,
                }
            };
            match read {
                Ok(0) => return ReadOutcome::Eof,
                Ok(n) => {
                    self.deliver(&buffer[..n]);
                    // A short read took everything the socket had; new data brings a new event.
                    // Not so for the end of file: it came with the event being handled.
                    return if n < buffer.len() && !peer_closed {
                        ReadOutcome::Drained
                    } else {
                        ReadOutcome::More
                    };
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return ReadOutcome::Drained;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return ReadOutcome::Failed(error),
            }
        }
    }

    fn deliver(&self, data: &[u8]) {
        if let Ok(mut protocol) = self.protocol.try_borrow_mut() {
            if let Some(protocol) = protocol.as_mut() {
                protocol.data_received(data);
            }
        }
    }

    fn eof_received(&self) {
        self.io.borrow_mut().read_eof = true;
        let keep_open = match self.protocol.try_borrow_mut() {
            Ok(mut protocol) => protocol.as_mut().is_some_and(|p| p.eof_received()),
            Err(_) => false,
        };
        let mut io = self.io.borrow_mut();
        if !keep_open || io.write_shut {
            io.disconnecting = true;
        }
        self.request_flush(&mut io);
    }

    /// Writes what the socket takes: queued bytes, then each queued file region and the bytes
    /// behind it, in order.
    fn write_out(&self, io: &mut Io<S>) -> Result<(), io::Error> {
        loop {
            self.write_bytes(io)?;
            if io.out_pos < io.out.len() || io.files.is_empty() || !Self::send_front_file(io)? {
                return Ok(());
            }
        }
    }

    /// Sends the first queued file region; true once all of it went and the bytes queued
    /// behind it became the next to write.
    fn send_front_file(io: &mut Io<S>) -> Result<bool, io::Error> {
        let Io {
            stream,
            files,
            write_blocked,
            ..
        } = io;
        let (Some(stream), Some(front)) = (stream.as_ref(), files.front_mut()) else {
            return Ok(false);
        };
        while front.remaining > 0 {
            let want = usize::try_from(front.remaining).unwrap_or(usize::MAX);
            match crate::sys::send_file(stream.as_fd(), front.file.as_fd(), front.offset, want) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file being sent became shorter",
                    ));
                }
                Ok(n) => {
                    front.offset += n as u64;
                    front.remaining -= n as u64;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    *write_blocked = true;
                    return Ok(false);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if let Some(done) = files.pop_front() {
            io.out = done.then;
            io.out_pos = 0;
        }
        Ok(true)
    }

    /// Writes the queued bytes the socket takes. When a file region follows them (a response
    /// head before its body), the stream is told more comes at once, so that both can leave
    /// in one packet.
    fn write_bytes(&self, io: &mut Io<S>) -> Result<(), io::Error> {
        let file_follows = !io.files.is_empty();
        while io.out_pos < io.out.len() {
            let Some(stream) = io.stream.as_mut() else {
                return Ok(());
            };
            let pending = &io.out[io.out_pos..];
            let written = if file_follows {
                stream.write_before_more(pending)
            } else {
                stream.write(pending)
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => io.out_pos += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    io.write_blocked = true;
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if io.out_pos == io.out.len() {
            io.out.clear();
            io.out_pos = 0;
            if io.out.capacity() > RETAINED_CAPACITY {
                io.out = Vec::new();
            }
        } else if io.out_pos > io.out.len() / 2 {
            io.out.drain(..io.out_pos);
            io.out_pos = 0;
        }
        Ok(())
    }

    /// The producer to resume now that the buffer has drained, if any.
    fn producer_to_resume(io: &mut Io<S>) -> Option<Rc<dyn Producer>> {
        let producer = io.producer.clone()?;
        if io.buffered() > io.low_watermark || io.closed {
            return None;
        }
        if io.streaming {
            if !io.producer_paused {
                return None;
            }
            io.producer_paused = false;
        }
        Some(producer)
    }

    /// Carries out a decided close: releases the socket and tells the producer and protocol.
    fn close(&self, reason: DisconnectReason) {
        let protocol = match self.protocol.try_borrow_mut() {
            Ok(mut protocol) => protocol.take(),
            Err(_) => {
                // The protocol is running (this close came from inside one of its callbacks).
                let mut io = self.io.borrow_mut();
                io.closing.get_or_insert(reason);
                self.request_flush(&mut io);
                return;
            }
        };
        let producer = {
            let mut io = self.io.borrow_mut();
            if io.closed {
                return;
            }
            io.closed = true;
            io.closing = None;
            io.out = Vec::new();
            io.out_pos = 0;
            io.files.clear();
            io.producer.take()
        };
        self.release_socket();
        if let Some(producer) = producer {
            producer.stop_producing();
        }
        if let Some(mut protocol) = protocol {
            protocol.connection_lost(reason);
        }
    }

    fn release_socket(&self) {
        let stream = self.io.borrow_mut().stream.take();
        if let (Some(mut stream), Some(key), Some(reactor)) =
            (stream, self.key.take(), self.reactor())
        {
            let _ = reactor.deregister(&mut stream, key);
        }
    }

    fn try_write_direct(&self, io: &mut Io<S>, data: &[u8]) -> usize {
        if io.buffered() > 0 || io.write_blocked || data.len() < DIRECT_WRITE_MIN {
            return 0;
        }
        let Some(stream) = io.stream.as_mut() else {
            return 0;
        };
        match stream.write(data) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                io.write_blocked = true;
                0
            }
            Err(_) => 0,
        }
    }
}

impl<S: Stream> Connection<S> {
    /// Pauses a streaming producer once the buffer is above the high watermark.
    fn after_write(&self, mut io: std::cell::RefMut<'_, Io<S>>) {
        let pause = io.streaming && !io.producer_paused && io.buffered() > io.high_watermark;
        let producer = if pause { io.producer.clone() } else { None };
        if producer.is_some() {
            io.producer_paused = true;
        }
        drop(io);
        if let Some(producer) = producer {
            producer.pause_producing();
        }
    }

    /// One vectored write of what is queued, `head` and `body`; returns how much the socket took.
    fn write_vectored_now(io: &mut Io<S>, head: &[u8], body: &[u8]) -> usize {
        let Io {
            stream,
            out,
            out_pos,
            write_blocked,
            ..
        } = io;
        let Some(stream) = stream.as_mut() else {
            return 0;
        };
        let slices = [
            IoSlice::new(&out[*out_pos..]),
            IoSlice::new(head),
            IoSlice::new(body),
        ];
        loop {
            match stream.write_vectored(&slices) {
                Ok(n) => return n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    *write_blocked = true;
                    return 0;
                }
                // The flush that follows meets the error again and closes.
                Err(_) => return 0,
            }
        }
    }
}

enum ReadOutcome {
    Drained,
    More,
    Eof,
    Failed(io::Error),
}

impl<S: Stream> Flush for Connection<S> {
    fn flush(&self, _reactor: &Reactor) {
        let mut io = self.io.borrow_mut();
        io.flush_scheduled = false;
        if io.closed || io.connecting.is_some() {
            return;
        }
        if let Some(reason) = io.closing.take() {
            drop(io);
            return self.close(reason);
        }
        if let Err(error) = self.write_out(&mut io) {
            drop(io);
            return self.close(DisconnectReason::Lost(error));
        }
        let resume = Self::producer_to_resume(&mut io);
        if io.buffered() == 0 {
            if io.disconnecting {
                drop(io);
                return self.close(DisconnectReason::Done);
            }
            if io.write_eof_requested && !io.write_shut {
                io.write_shut = true;
                let shut = io.stream.as_ref().map(|s| s.shutdown_write());
                if let Some(Err(error)) = shut {
                    drop(io);
                    return self.close(DisconnectReason::Lost(error));
                }
                if io.read_eof {
                    drop(io);
                    return self.close(DisconnectReason::Done);
                }
            }
        }
        drop(io);
        if let Some(producer) = resume {
            producer.resume_producing();
        }
    }
}

impl<S: Stream> IoHandler for Connection<S> {
    fn ready(&self, reactor: &Reactor, readiness: Readiness) {
        if self.io.borrow().connecting.is_some() && !self.settle_connect() {
            return;
        }
        if readiness.writable {
            let mut io = self.io.borrow_mut();
            io.write_blocked = false;
            if io.buffered() > 0 || io.closing.is_some() {
                self.request_flush(&mut io);
            }
        }
        if readiness.read_closed || readiness.closed {
            self.io.borrow_mut().peer_closed = true;
        }
        if readiness.readable || readiness.closed {
            self.read_some(reactor);
        }
    }

    fn reactor_shutdown(&self, _reactor: &Reactor) {
        if self.io.borrow().connecting.is_some() {
            return self.fail_connect(io::Error::new(
                io::ErrorKind::Interrupted,
                "the reactor shut down",
            ));
        }
        // What the socket takes now is still sent (a response finished just before shutdown);
        // nothing waits for a slow peer.
        {
            let mut io = self.io.borrow_mut();
            if !io.closed && io.closing.is_none() {
                let _ = self.write_out(&mut io);
            }
        }
        self.close(DisconnectReason::Shutdown);
    }
}

impl<S: Stream> Transport for Connection<S> {
    fn write(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut io = self.io.borrow_mut();
        if !io.accepts_writes() {
            return;
        }
        let written = self.try_write_direct(&mut io, data);
        if written < data.len() {
            io.tail().extend_from_slice(&data[written..]);
            if !io.write_blocked {
                self.request_flush(&mut io);
            }
        } else if io.producer.is_some() && !io.streaming {
            // Sent at once: the flush is what asks a pull producer for its next chunk.
            self.request_flush(&mut io);
        }
        self.after_write(io);
    }

    fn write_owned(&self, head: &[u8], body: Payload) {
        let mut io = self.io.borrow_mut();
        if !io.accepts_writes() {
            return;
        }
        if io.write_blocked || !io.files.is_empty() {
            drop(io);
            return self.write_sequence(&[head, &body]);
        }
        let queued = io.buffered();
        let written = Self::write_vectored_now(&mut io, head, &body);
        if written >= queued + head.len() + body.len() {
            io.out.clear();
            io.out_pos = 0;
            if io.out.capacity() > RETAINED_CAPACITY {
                io.out = Vec::new();
            }
        } else if written >= queued + head.len() {
            // The socket took all but some of the body: a vector's rest stays where it is,
            // another buffer's rest is copied (it is not ours to keep).
            let taken = written - queued - head.len();
            match body {
                Payload::Vec(body) => {
                    io.out = body;
                    io.out_pos = taken;
                }
                Payload::Shared(_) => {
                    io.out.clear();
                    io.out_pos = 0;
                    io.out.extend_from_slice(&body[taken..]);
                }
            }
        } else {
            io.out_pos += written.min(queued);
            io.out
                .extend_from_slice(&head[written.saturating_sub(queued)..]);
            io.out.extend_from_slice(&body);
        }
        if io.buffered() > 0 {
            if !io.write_blocked {
                self.request_flush(&mut io);
            }
        } else if io.producer.is_some() && !io.streaming {
            self.request_flush(&mut io);
        }
        self.after_write(io);
    }

    fn send_file(&self, file: Rc<File>, offset: u64, len: u64) -> bool {
        if !cfg!(target_os = "linux") {
            return false;
        }
        let mut io = self.io.borrow_mut();
        if !io.accepts_writes() || len == 0 {
            return true;
        }
        io.files.push_back(QueuedFile {
            file,
            offset,
            remaining: len,
            then: Vec::new(),
        });
        if !io.write_blocked {
            self.request_flush(&mut io);
        }
        self.after_write(io);
        true
    }

    fn lose_connection(&self) {
        let mut io = self.io.borrow_mut();
        if io.closed || io.disconnecting {
            return;
        }
        io.disconnecting = true;
        self.request_flush(&mut io);
    }

    fn abort_connection(&self) {
        let mut io = self.io.borrow_mut();
        if io.closed {
            return;
        }
        io.closing = Some(DisconnectReason::Aborted);
        self.request_flush(&mut io);
    }

    fn write_eof(&self) {
        let mut io = self.io.borrow_mut();
        if io.closed || io.write_eof_requested {
            return;
        }
        io.write_eof_requested = true;
        self.request_flush(&mut io);
    }

    fn peer_address(&self) -> Address {
        self.peer.clone()
    }

    fn host_address(&self) -> Address {
        self.host.clone()
    }

    fn register_producer(&self, producer: Rc<dyn Producer>, streaming: bool) {
        let mut io = self.io.borrow_mut();
        if io.closed {
            drop(io);
            return producer.stop_producing();
        }
        io.producer = Some(producer);
        io.streaming = streaming;
        io.producer_paused = false;
        if !streaming {
            // A pull producer is asked for its first chunk at the next flush.
            self.request_flush(&mut io);
        }
    }

    fn unregister_producer(&self) {
        let mut io = self.io.borrow_mut();
        io.producer = None;
        io.producer_paused = false;
        if io.disconnecting {
            self.request_flush(&mut io);
        }
    }

    fn pause_producing(&self) {
        self.io.borrow_mut().reading_paused = true;
    }

    fn resume_producing(&self) {
        let mut io = self.io.borrow_mut();
        if !io.reading_paused {
            return;
        }
        io.reading_paused = false;
        io.read_pending = false;
        drop(io);
        if let (Some(reactor), Some(key)) = (self.reactor(), self.key.get()) {
            reactor.carry_over(key, Readiness::READABLE);
        }
    }

    fn set_write_watermarks(&self, low: usize, high: usize) {
        let mut io = self.io.borrow_mut();
        io.low_watermark = low.min(high);
        io.high_watermark = high;
    }

    fn buffered_len(&self) -> usize {
        self.io.borrow().buffered()
    }

    fn is_connected(&self) -> bool {
        let io = self.io.borrow();
        !io.closed && io.closing.is_none() && io.connecting.is_none()
    }

    fn set_tcp_nodelay(&self, enabled: bool) -> io::Result<()> {
        match self.io.borrow().stream.as_ref() {
            Some(stream) => stream.set_nodelay(enabled),
            None => Ok(()),
        }
    }
}
