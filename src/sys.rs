//! The few operating-system calls that need `unsafe`, each wrapped in a safe function whose
//! comment says why it is sound. The only other `unsafe` in the crate configures the embedded
//! interpreter (`wsgi::embed`).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Takes ownership of an inherited descriptor (systemd socket activation, or a listening socket
/// passed by a parent process).
///
/// Fails unless `fd` is open in this process. The caller must not use `fd` through any other
/// handle afterwards; descriptors passed by a service manager are used exactly once.
pub(crate) fn adopt_descriptor(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only reads the descriptor flags; it tells us whether `fd` is open and
    // touches no memory.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is open (checked above) and, per this function's contract, nothing else in
    // the process owns it, so the new OwnedFd is its only owner and closes it exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A new descriptor for the open file `fd` refers to (close-on-exec), owned by the caller; the
/// original stays with whoever owns it. Used to keep a Python file object's file open while
/// the reactor sends it (`wsgi.file_wrapper`), whatever the application does with its own.
pub(crate) fn duplicate_descriptor(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC reads no memory; on a descriptor that is not open it fails with
    // EBADF, and on success it returns a descriptor nothing else in the process owns.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if copy == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` was just made by fcntl and is owned by nothing else, so the OwnedFd is its
    // only owner and closes it exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Whether a process with this id exists (used to spot stale UNIX-socket lock files).
pub(crate) fn process_exists(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists and may
    // be signalled. It touches no memory.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The process's limit on open descriptors (soft, hard).
pub(crate) fn open_files_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the valid, exclusively borrowed `limit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Raises the soft limit on open descriptors to `wanted`, capped at the hard limit; returns
/// the new soft limit.
pub fn raise_open_files_limit(wanted: u64) -> io::Result<u64> {
    let (soft, hard) = open_files_limit()?;
    let target = wanted.min(hard);
    if target <= soft {
        return Ok(soft);
    }
    let limit = libc::rlimit {
        rlim_cur: target,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads one valid `rlimit` from `limit`.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(target)
}

/// Asks the C allocator to keep freed memory instead of handing it back to the system after
/// every large free, and to serve blocks up to `mmap_threshold` bytes from its heaps: a server
/// that allocates and frees a response body per request otherwise pays page faults for each.
/// Returns whether the allocator took the settings (only glibc's does).
pub(crate) fn keep_freed_memory(trim_threshold: usize, mmap_threshold: usize) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let trim = libc::c_int::try_from(trim_threshold).unwrap_or(libc::c_int::MAX);
        let mmap = libc::c_int::try_from(mmap_threshold).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes allocator parameters; invalid values are refused with 0.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, trim) == 1
                && libc::mallopt(libc::M_MMAP_THRESHOLD, mmap) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (trim_threshold, mmap_threshold);
        false
    }
}

/// Copies up to `len` bytes of `file`, starting at `offset`, to `socket` inside the kernel
/// (`sendfile(2)`); returns how many bytes were sent. The file's own position is not used or
/// moved. A non-blocking socket that is full gives `WouldBlock`; where the call does not
/// exist the error is `Unsupported`.
pub(crate) fn send_file(
    socket: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: u64,
    len: usize,
) -> io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        let mut position = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset too large"))?;
        // One call moves at most this much; the caller loops.
        let len = len.min(1 << 30);
        // SAFETY: both descriptors are open for the duration of the call (they are borrowed);
        // `position` is a valid, exclusively borrowed off_t the kernel reads and updates; no
        // other memory is touched.
        let sent =
            unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut position, len) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, file, offset, len);
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Sends what `socket` takes of `data`, telling the kernel more follows at once (`MSG_MORE`):
/// TCP holds a last partial segment back for the next send instead of pushing it, so a
/// response head and the file body `sendfile(2)` sends right after it leave in one segment
/// rather than two. A full non-blocking socket gives `WouldBlock`.
#[cfg(target_os = "linux")]
pub(crate) fn send_more(socket: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    // SAFETY: the descriptor is open for the duration of the call (it is borrowed); the kernel
    // only reads `data.len()` bytes from `data`, a live shared borrow.
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_MORE | libc::MSG_NOSIGNAL,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

#[cfg(test)]
mod tests {
    /// glibc takes the allocator settings the server asks for.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn allocator_takes_settings() {
        assert!(super::keep_freed_memory(32 * 1024 * 1024, 1024 * 1024));
    }

    /// sendfile copies the asked region of a file into a socket, from the given offset.
    #[test]
    #[cfg(target_os = "linux")]
    fn send_file_copies_a_region() {
        use std::io::{Read, Write};
        use std::os::fd::AsFd;
        let mut file = tempfile_with(b"0123456789");
        file.flush().unwrap();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let sent = super::send_file(a.as_fd(), file.as_fd(), 3, 4).unwrap();
        assert_eq!(sent, 4);
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"3456");
    }

    /// Bytes sent with MSG_MORE arrive like any others, and in order with what follows.
    #[test]
    #[cfg(target_os = "linux")]
    fn send_more_delivers_the_bytes() {
        use std::io::{Read, Write};
        use std::os::fd::AsFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut sender = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut receiver, _) = listener.accept().unwrap();
        assert_eq!(super::send_more(sender.as_fd(), b"head ").unwrap(), 5);
        sender.write_all(b"body").unwrap();
        drop(sender);
        let mut got = Vec::new();
        receiver.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"head body");
    }

    #[cfg(target_os = "linux")]
    fn tempfile_with(bytes: &[u8]) -> std::fs::File {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("torsion-sendfile-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.write_all(bytes).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }
}
