//! The end of every run: DataX's summary block, with its labels and formulas
//! (`JobContainer.logStatistics`): the average flow and the write speed divide the records
//! and bytes read by the whole seconds of the transfer (at least 1), the records read
//! count the failed reads too, and the failures are read plus write failures.

use chrono::NaiveDateTime;
use serde::Serialize;

/// The figures of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Local times of the job's start and end (`yyyy-MM-dd HH:mm:ss`).
    pub started_at: NaiveDateTime,
    pub ended_at: NaiveDateTime,
    /// 任务总计耗时, whole seconds.
    pub total_secs: i64,
    /// 任务平均流量, bytes per second.
    pub byte_speed: u64,
    /// 记录写入速度, records per second.
    pub record_speed: u64,
    /// 读出记录总数: records read, failed reads included.
    pub read_records: u64,
    /// 读写失败总数: failed reads plus failed writes (dirty records).
    pub failed_records: u64,
    /// Beyond DataX's block: records written, bytes read, the transfer in milliseconds.
    pub written_records: u64,
    pub read_bytes: u64,
    pub transfer_ms: u64,
}

/// The counters a run collected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub read_ok: u64,
    pub read_ok_bytes: u64,
    pub read_failed: u64,
    pub write_failed: u64,
    pub written: u64,
}

impl Counts {
    /// The two counts added (a range's invocations, a run's ranges).
    pub fn plus(self, other: Counts) -> Counts {
        Counts {
            read_ok: self.read_ok + other.read_ok,
            read_ok_bytes: self.read_ok_bytes + other.read_ok_bytes,
            read_failed: self.read_failed + other.read_failed,
            write_failed: self.write_failed + other.write_failed,
            written: self.written + other.written,
        }
    }

    /// Dirty records: failed reads and failed writes.
    pub fn errors(&self) -> u64 {
        self.read_failed + self.write_failed
    }
}

impl Summary {
    /// The summary of counts over these times.
    pub fn new(
        started_at: NaiveDateTime,
        ended_at: NaiveDateTime,
        transfer_ms: u64,
        counts: Counts,
    ) -> Self {
        let transfer_secs = (transfer_ms / 1000).max(1);
        Self {
            started_at,
            ended_at,
            total_secs: (ended_at - started_at).num_milliseconds() / 1000,
            byte_speed: counts.read_ok_bytes / transfer_secs,
            record_speed: counts.read_ok / transfer_secs,
            read_records: counts.read_ok + counts.read_failed,
            failed_records: counts.read_failed + counts.write_failed,
            written_records: counts.written,
            read_bytes: counts.read_ok_bytes,
            transfer_ms,
        }
    }

    /// DataX's block, line for line.
    pub fn block(&self) -> String {
        let time = |t: &NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
        format!(
            "\n{:<26}: {:<18}\n{:<26}: {:<18}\n{:<26}: {:>19}\n{:<26}: {:>19}\n{:<26}: {:>19}\n{:<26}: {:>19}\n{:<26}: {:>19}\n",
            "任务启动时刻",
            time(&self.started_at),
            "任务结束时刻",
            time(&self.ended_at),
            "任务总计耗时",
            format!("{}s", self.total_secs),
            "任务平均流量",
            format!("{}/s", stringify_bytes(self.byte_speed)),
            "记录写入速度",
            format!("{}rec/s", self.record_speed),
            "读出记录总数",
            self.read_records,
            "读写失败总数",
            self.failed_records,
        )
    }
}

/// DataX's `StrUtil.stringify`: the largest unit that is at least one, two decimals.
pub fn stringify_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes / size > 0 {
            return format!("{:.2}{unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn the_block_has_dataxs_labels_formulas_and_widths() {
        let start = NaiveDate::from_ymd_opt(2026, 12, 2)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .expect("valid");
        let end = start + chrono::Duration::milliseconds(10_400);
        let counts = Counts {
            read_ok: 100_000,
            read_ok_bytes: 2_600_000,
            read_failed: 1,
            write_failed: 2,
            written: 99_998,
        };
        let summary = Summary::new(start, end, 9_900, counts);
        assert_eq!(summary.total_secs, 10);
        assert_eq!(summary.record_speed, 11_111);
        assert_eq!(summary.read_records, 100_001);
        assert_eq!(summary.failed_records, 3);
        let block = summary.block();
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(
            lines[1],
            format!("{:<26}: 2026-12-02 10:00:00", "任务启动时刻")
        );
        assert!(lines[3].ends_with(&format!("{:>19}", "10s")), "{block}");
        assert!(
            lines[4].ends_with(&format!("{:>19}", "282.12KB/s")),
            "{block}"
        );
        assert!(
            lines[5].ends_with(&format!("{:>19}", "11111rec/s")),
            "{block}"
        );
        assert!(lines[7].ends_with(&format!("{:>19}", "3")), "{block}");
    }

    #[test]
    fn stringify_matches_dataxs_units() {
        assert_eq!(stringify_bytes(1023), "1023B");
        assert_eq!(stringify_bytes(1024), "1.00KB");
        assert_eq!(stringify_bytes(3 * 1024 * 1024 + 512 * 1024), "3.50MB");
    }
}
