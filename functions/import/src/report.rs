//! The JSON report written beside a moved upload: what was read, what became of each
//! statement, and every rejection with its place (entry, line or element) and reason.
//!
//! Each statement read lands in exactly one count, so for every file
//! `statements_read = inserted + already_present + duplicates_in_file + rejected + lost +
//! discarded`, and a `completed` file has `lost = discarded = 0`.

use serde::Serialize;

use crate::archive::Location;

/// What became of an import, as the report, the ledger and the function's answer say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Every statement is stored, already present, a duplicate in the file, or rejected.
    #[default]
    Completed,
    /// This object version was completed by an earlier delivery; nothing was done.
    AlreadyImported,
    /// Nothing of the file was kept; `error` says why. The object is in `error/`.
    Failed,
    /// The object was not in `uploads/` and the ledger never saw it (deleted before the
    /// import ran).
    Missing,
    /// The object was replaced after its event; the new version's own event imports it.
    Superseded,
    /// Not an `uploads/*.zip` object.
    Ignored,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::AlreadyImported => "already_imported",
            Self::Failed => "failed",
            Self::Missing => "missing",
            Self::Superseded => "superseded",
            Self::Ignored => "ignored",
        }
    }
}

impl std::fmt::Display for ImportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rejected statement, unreadable part, or lost remainder of an entry.
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
    pub status: ImportStatus,
    /// Why the whole file failed, if it did.
    pub error: Option<String>,
    /// Statement entries (`.json`, `.jsonl`, `.ndjson`) started, including one that broke.
    pub entries: u64,
    pub skipped_entries: Vec<SkippedEntry>,
    /// Statements met: lines, array elements, and each lost remainder of an entry.
    pub statements_read: u64,
    /// Statements newly stored by this file (0 when it failed).
    pub inserted: u64,
    /// Statements another file stored before, with the same content.
    pub already_present: u64,
    /// Exact repeats of a statement earlier in this file.
    pub duplicates_in_file: u64,
    /// Statements refused, each listed in `rejects` (up to the report's limit) with its
    /// reason: invalid, unreadable, or a conflicting copy of a stored statement id.
    pub rejected: u64,
    /// Remainders of entries that could not be split into statements (a broken `.json`
    /// array counts one): any makes the file fail, since how much was in them is unknown.
    pub lost: u64,
    /// Valid, new statements not kept because the file failed.
    pub discarded: u64,
    /// Rows added across all nine tables (0 when the file failed).
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
    /// Share of the statements read that were rejected or lost.
    pub fn reject_share(&self) -> f64 {
        if self.statements_read == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let share = (self.rejected + self.lost) as f64 / self.statements_read as f64;
        share
    }

    /// Whether every statement read is accounted for in exactly one count.
    pub fn balances(&self) -> bool {
        self.statements_read
            == self.inserted
                + self.already_present
                + self.duplicates_in_file
                + self.rejected
                + self.lost
                + self.discarded
    }
}
