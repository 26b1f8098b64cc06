//! Readings from `/proc`: a process's CPU time and resident memory.
// Each bench includes this file and uses only part of it.
#![allow(dead_code)]

use std::fs;
use std::io;

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`, 100 on every Linux architecture).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of process `pid` (or `"self"`), in seconds.
pub(crate) fn cpu_seconds(pid: &str) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: the fields that follow start after its closing ')'.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> io::Result<f64> {
        let field = fields
            .get(index)
            .ok_or_else(|| invalid("short stat line"))?;
        field.parse::<f64>().map_err(|_| invalid("bad tick count"))
    };
    // Fields 14 (utime) and 15 (stime) of stat(5), counted from the state field (3).
    Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SECOND)
}

/// Resident set size of process `pid` (or `"self"`), in bytes.
pub(crate) fn resident_bytes(pid: &str) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or_else(|| invalid("no VmRSS line"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| invalid("bad VmRSS value"))?;
    Ok(kib * 1024)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}
