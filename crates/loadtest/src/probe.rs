//! Memory and CPU of the api process, read from /proc (Linux).

use std::time::Duration;

/// Reads figures of one process.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pid: u32,
}

/// Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

impl Probe {
    /// A probe of process `pid`.
    pub fn new(pid: u32) -> Self {
        Probe { pid }
    }

    /// Resets the peak resident set ("5" to clear_refs), so the next reading is the peak of
    /// what came after.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
    }

    /// The peak resident set since start or the last reset, in KiB.
    pub fn peak_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// User plus system CPU time so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(Duration::from_millis((utime + stime) * 1000 / TICKS_PER_SECOND))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let probe = Probe::new(std::process::id());
        assert!(probe.peak_kib().is_some_and(|kib| kib > 0));
        assert!(probe.cpu_time().is_some());
    }
}
