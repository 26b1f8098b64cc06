//! The few operating-system calls that need `unsafe`, each wrapped in a safe function whose
//! comment says why it is sound. The only other `unsafe` in the crate configures the embedded
//! interpreter (`wsgi::embed`).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

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

#[cfg(test)]
mod tests {
    /// glibc takes the allocator settings the server asks for.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn allocator_takes_settings() {
        assert!(super::keep_freed_memory(32 * 1024 * 1024, 1024 * 1024));
    }
}
