//! The `torsion` binary and curl as the end-to-end tests run them: the command, a server read
//! from its first line and killed when dropped, start-up failures, and the server's memory.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};

/// `torsion ARGS` run in `dir`, outside any virtual environment the tests were started from.
pub(crate) fn torsion(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_torsion"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("VIRTUAL_ENV");
    command
}

/// A running `torsion web`; killed when dropped.
pub(crate) struct Running {
    pub(crate) child: Child,
    stderr: BufReader<ChildStderr>,
    /// Its first line, which says where it serves.
    first_line: String,
}

impl Running {
    /// Spawns `command` and reads its first line, which must say where it is serving.
    pub(crate) fn spawn(command: Command) -> Running {
        Self::spawn_then(command, |_| {})
    }

    /// [`spawn`](Self::spawn), running `while_starting` on the process before its first line
    /// is read (while it may still be importing the application).
    pub(crate) fn spawn_then(mut command: Command, while_starting: impl FnOnce(&Child)) -> Running {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        while_starting(&child);
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        assert!(line.contains("serving"), "unexpected first line: {line:?}");
        Running {
            child,
            stderr,
            first_line: line,
        }
    }

    /// The TCP address it serves on, from its first line.
    pub(crate) fn address(&self) -> SocketAddr {
        let line = &self.first_line;
        line.trim()
            .rsplit(' ')
            .next()
            .and_then(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    /// Sends `signal` (such as "-HUP") to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// The next line it writes to stderr.
    pub(crate) fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stderr.read_line(&mut line).unwrap();
        line
    }

    /// Stops it with `signal`; returns its exit status and the rest of its stderr.
    pub(crate) fn stop(mut self, signal: &str) -> (ExitStatus, String) {
        self.signal(signal);
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        (status, rest)
    }

    /// Its resident memory, in KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `torsion ARGS` in `dir`, which must fail to start with one line containing `needle`;
/// returns that line.
pub(crate) fn assert_fails_in_one_line(dir: &Path, args: &[&str], needle: &str) -> String {
    let output = torsion(dir, args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{args:?} started");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "not one line: {stderr}");
    stderr
}

/// curl printing only the body and any error, giving up after `seconds`.
pub(crate) fn curl(seconds: u32) -> Command {
    let mut command = Command::new("curl");
    command.args([
        "--silent",
        "--show-error",
        "--max-time",
        &seconds.to_string(),
    ]);
    command
}
