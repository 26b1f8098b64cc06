//! [`Stream`]: what a connection needs from its socket, for TCP and UNIX stream sockets.
//!
//! Tested by: reactor_tests/tcp.rs and reactor_tests/unix.rs

use std::io::{self, Write};
use std::net::Shutdown;
#[cfg(target_os = "linux")]
use std::os::fd::AsFd;

/// What a connection needs from its socket.
pub(crate) trait Stream:
    std::io::Read + Write + std::os::fd::AsFd + mio::event::Source + 'static
{
    fn shutdown_write(&self) -> io::Result<()>;
    fn set_nodelay(&self, enabled: bool) -> io::Result<()>;
    fn take_error(&self) -> io::Result<Option<io::Error>>;

    /// Writes `data` when more follows at once (a file region): a stream that can hold a
    /// partial packet back for it does so.
    fn write_before_more(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write(data)
    }
}

impl Stream for mio::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn set_nodelay(&self, enabled: bool) -> io::Result<()> {
        mio::net::TcpStream::set_nodelay(self, enabled)
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        mio::net::TcpStream::take_error(self)
    }

    #[cfg(target_os = "linux")]
    fn write_before_more(&mut self, data: &[u8]) -> io::Result<usize> {
        crate::sys::send_more(self.as_fd(), data)
    }
}

impl Stream for mio::net::UnixStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn set_nodelay(&self, _enabled: bool) -> io::Result<()> {
        Ok(())
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        mio::net::UnixStream::take_error(self)
    }
}
