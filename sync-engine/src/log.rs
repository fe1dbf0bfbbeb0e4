//! A run's log: DataX-style lines (`2026-12-02 10:00:00.123 [job-42] INFO  message`) kept
//! in memory up to a cap, for the run's `exec_log` row and its S3 object. Lines past the
//! cap are counted, and the count is said at the end, so a huge `print` cannot exhaust a
//! function's memory. Nothing here writes to tracing: the run's records (printed or dirty)
//! are user data and stay in the run's own log.

use std::sync::Mutex;

use chrono::Utc;
use chrono_tz::Tz;

/// The default cap on a log kept in memory (16 MiB).
pub const DEFAULT_LOG_CAP_BYTES: usize = 16 << 20;

/// A run's log.
#[derive(Debug)]
pub struct RunLog {
    tag: String,
    zone: Tz,
    cap_bytes: usize,
    inner: Mutex<Lines>,
}

#[derive(Debug, Default)]
struct Lines {
    lines: Vec<String>,
    bytes: usize,
    dropped: u64,
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl RunLog {
    /// A log whose lines carry `tag` (`job-42`) and local times in `zone`.
    pub fn new(tag: impl Into<String>, zone: Tz, cap_bytes: usize) -> Self {
        Self {
            tag: tag.into(),
            zone,
            cap_bytes,
            inner: Mutex::new(Lines::default()),
        }
    }

    /// The zone of the log's times.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Adds a line.
    pub fn line(&self, level: Level, message: &str) {
        let level = match level {
            Level::Info => "INFO ",
            Level::Warn => "WARN ",
            Level::Error => "ERROR",
        };
        let now = Utc::now().with_timezone(&self.zone);
        let line = format!(
            "{} [{}] {level} {message}",
            now.format("%Y-%m-%d %H:%M:%S%.3f"),
            self.tag
        );
        self.push(line);
    }

    /// Adds a line as it is (a printed record, the summary block).
    pub fn raw(&self, text: String) {
        self.push(text);
    }

    fn push(&self, line: String) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.bytes + line.len() > self.cap_bytes {
            inner.dropped += 1;
            return;
        }
        inner.bytes += line.len() + 1;
        inner.lines.push(line);
    }

    pub fn info(&self, message: &str) {
        self.line(Level::Info, message);
    }

    pub fn warn(&self, message: &str) {
        self.line(Level::Warn, message);
    }

    pub fn error(&self, message: &str) {
        self.line(Level::Error, message);
    }

    /// The lines kept so far, and how many were dropped past the cap.
    pub fn snapshot(&self) -> (Vec<String>, u64) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (inner.lines.clone(), inner.dropped)
    }

    /// The whole log as text, ending with a line on what the cap dropped, if anything.
    pub fn text(&self) -> String {
        let (lines, dropped) = self.snapshot();
        let mut text = lines.join("\n");
        if dropped > 0 {
            text.push_str(&format!(
                "\n… {dropped} more lines were not kept (the log keeps {} MiB)",
                self.cap_bytes >> 20
            ));
        }
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_cap_are_counted_not_kept() {
        let log = RunLog::new("job-1", chrono_tz::Asia::Shanghai, 100);
        for i in 0..20 {
            log.raw(format!("record {i:02} ........"));
        }
        let (lines, dropped) = log.snapshot();
        assert_eq!(lines.len() as u64 + dropped, 20);
        assert!(dropped > 0);
        assert!(log.text().contains("more lines were not kept"));
        log.info("hello");
        assert!(!log.snapshot().0.last().is_some_and(|l| l.contains("hello")));
    }

    #[test]
    fn a_line_carries_time_tag_and_level() {
        let log = RunLog::new("job-7", chrono_tz::UTC, DEFAULT_LOG_CAP_BYTES);
        log.warn("careful");
        let (lines, _) = log.snapshot();
        assert!(lines[0].ends_with("[job-7] WARN  careful"), "{}", lines[0]);
        assert_eq!(lines[0].as_bytes()[4], b'-');
    }
}
