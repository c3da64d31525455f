//! Readings from /proc: a process's CPU time (all its threads, user and system) and resident
//! memory, the whole machine's busy CPU time, and its available memory. The load client reads
//! them itself, at the edges of its measured window, so no other process needs to know the
//! window.

use std::io;
use std::time::Duration;

/// A process the load client watches.
#[derive(Debug, Clone, Copy)]
pub struct Process {
    pid: u32,
}

impl Process {
    /// The process with this ID.
    pub fn new(pid: u32) -> Self {
        Process { pid }
    }

    /// The load client itself.
    pub fn current() -> Self {
        Process {
            pid: std::process::id(),
        }
    }

    /// CPU time used so far, user plus system, over all threads (utime + stime of
    /// /proc/PID/stat; clock-tick resolution, usually 10 ms).
    pub fn cpu_time(self) -> io::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // The command name is in parentheses and may hold spaces; fields follow the last ')'.
        let after_name = stat
            .rfind(')')
            .map(|i| &stat[i + 1..])
            .ok_or_else(|| invalid("no command name in /proc/PID/stat"))?;
        let mut fields = after_name.split_whitespace();
        // After the name: state is field 3, utime field 14, stime field 15.
        let utime = fields.nth(11).and_then(|f| f.parse::<u64>().ok());
        let stime = fields.next().and_then(|f| f.parse::<u64>().ok());
        match (utime, stime) {
            (Some(u), Some(s)) => Ok(Duration::from_secs_f64((u + s) as f64 / clock_ticks())),
            _ => Err(invalid("no utime/stime in /proc/PID/stat")),
        }
    }

    /// Resident memory in bytes (the second field of /proc/PID/statm, in pages).
    pub fn rss_bytes(self) -> io::Result<u64> {
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", self.pid))?;
        let pages = statm
            .split_whitespace()
            .nth(1)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| invalid("no resident size in /proc/PID/statm"))?;
        Ok(pages * page_size())
    }
}

/// CPU time all cores spent busy so far (user, nice, system, irq, softirq and steal of the
/// first line of /proc/stat): what the server and the client did not use of it, other work did.
pub fn machine_busy() -> io::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| invalid("no cpu line in /proc/stat"))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| ticks.get(i).copied().unwrap_or(0))
        .sum();
    Ok(Duration::from_secs_f64(busy as f64 / clock_ticks()))
}

/// The machine's available memory in bytes (MemAvailable of /proc/meminfo).
pub fn mem_available() -> io::Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| invalid("no MemAvailable in /proc/meminfo"))
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let me = Process::current();
        assert!(me.cpu_time().is_ok());
        assert!(me.rss_bytes().unwrap() > 1 << 20);
        assert!(mem_available().unwrap() > 1 << 20);
        assert!(machine_busy().unwrap() > Duration::ZERO);
    }
}
