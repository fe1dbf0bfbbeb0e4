//! The JSON report written beside a moved upload: what was read, what was rejected and
//! where (entry, line or element, reason).

use serde::Serialize;

use crate::archive::Location;

/// One rejected statement or unreadable part of an entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reject {
    pub entry: String,
    pub location: Location,
    pub reason: String,
}

/// An entry that was not read because of its name.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SkippedEntry {
    pub entry: String,
    pub reason: String,
}

/// The outcome of one import attempt, as stored next to the object and returned.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportReport {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub import_id: u64,
    /// `completed`, `already_imported` or `failed`.
    pub status: String,
    /// Why the whole file failed, if it did.
    pub error: Option<String>,
    pub entries: u64,
    pub skipped_entries: Vec<SkippedEntry>,
    pub statements_read: u64,
    pub inserted: u64,
    pub already_present: u64,
    /// Statements repeated inside this file (same id; part of `already_present`).
    pub duplicates_in_file: u64,
    pub rejected: u64,
    pub rows_written: u64,
    pub duration_ms: u64,
    /// The first rejections, in archive order; `rejects_truncated` says whether more exist.
    pub rejects: Vec<Reject>,
    pub rejects_truncated: bool,
    /// Where the object went, and where this report is.
    pub moved_to: Option<String>,
    pub report_key: Option<String>,
}

impl ImportReport {
    /// Share of statements rejected (unreadable parts count as one statement each).
    pub fn reject_share(&self) -> f64 {
        let seen = self.statements_read.max(self.rejected);
        if seen == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let share = self.rejected as f64 / seen as f64;
        share
    }
}
