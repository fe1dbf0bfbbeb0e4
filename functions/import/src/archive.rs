//! Reading an uploaded zip as a stream of xAPI statements, within limits.
//!
//! The archive is read from a spooled file, never held in memory: entries are decompressed
//! as streams, `.jsonl` / `.ndjson` entries are read line by line (a line longer than the
//! limit is skipped without being buffered) and `.json` entries (an array of statements, or
//! one statement) are parsed one element at a time. Zip bombs are refused before anything is
//! decompressed (entry count, declared total size, per-entry compression ratio) and again
//! while reading (an entry that inflates past its declared size is corrupt).

use std::{
    cell::Cell,
    fmt,
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::Path,
    rc::Rc,
};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Limits that keep a hostile or broken upload from exhausting the function.
#[derive(Debug, Clone)]
pub struct ArchiveLimits {
    pub max_entries: usize,
    pub max_uncompressed_bytes: u64,
    pub max_compression_ratio: f64,
    /// Longest JSONL line, and largest single statement in a `.json` entry.
    pub max_statement_bytes: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_uncompressed_bytes: 4 << 30,
            max_compression_ratio: 200.0,
            max_statement_bytes: 1 << 20,
        }
    }
}

/// Why a whole archive is refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a readable zip archive: {0}")]
    NotZip(String),
    #[error("refused as a possible zip bomb: {0}")]
    Limit(String),
    #[error("entry {entry:?} is corrupt: {reason}")]
    CorruptEntry { entry: String, reason: String },
    #[error("reading the spooled archive: {0}")]
    Io(#[from] io::Error),
    /// The consumer stopped the walk (its own error is kept by the consumer).
    #[error("import stopped")]
    Stopped,
}

/// Where in an entry a statement or a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// 1-based line of a JSONL entry.
    Line(u64),
    /// 0-based index in a JSON array entry.
    Element(u64),
    /// The entry as a whole.
    Entry,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Element(n) => write!(f, "element {n}"),
            Self::Entry => f.write_str("entry"),
        }
    }
}

/// What the walk reports, in archive order.
#[derive(Debug)]
pub enum Item<'a> {
    /// A statement entry starts; `name` is its full path in the archive.
    EntryStart { name: &'a str },
    /// One parsed JSON value, to be validated as a statement.
    Statement {
        entry: &'a str,
        location: Location,
        value: Value,
    },
    /// Something in the entry could not be parsed; the rest of the entry continues where
    /// possible (JSONL) or ends (a broken JSON array).
    Unreadable {
        entry: &'a str,
        location: Location,
        reason: String,
    },
    /// An entry that holds no statements by its name (folders are not reported).
    Skipped {
        entry: &'a str,
        reason: &'static str,
    },
}

/// Whether an entry name is a statement file, and which kind.
fn entry_kind(name: &str) -> Result<EntryKind, &'static str> {
    let base = name.rsplit('/').next().unwrap_or(name);
    if name.starts_with("__MACOSX/") || base.starts_with('.') {
        return Err("operating-system metadata");
    }
    let lower = base.to_ascii_lowercase();
    if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        Ok(EntryKind::Lines)
    } else if lower.ends_with(".json") {
        Ok(EntryKind::Document)
    } else {
        Err("not a .json, .jsonl or .ndjson file")
    }
}

enum EntryKind {
    Lines,
    Document,
}

/// Walks every statement of the archive at `path`, calling `visit` for each item.
/// `visit` returns `false` to stop the walk (for instance when the writer has failed).
///
/// # Errors
/// [`ArchiveError`] when the archive as a whole cannot be trusted: it is not a zip, breaks a
/// limit, or an entry is corrupt (bad checksum, inflates past its declared size).
pub fn walk(
    path: &Path,
    limits: &ArchiveLimits,
    mut visit: impl FnMut(Item<'_>) -> bool,
) -> Result<WalkSummary, ArchiveError> {
    let file = File::open(path)?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| ArchiveError::NotZip(e.to_string()))?;
    if archive.len() > limits.max_entries {
        return Err(ArchiveError::Limit(format!(
            "{} entries, more than the limit of {}",
            archive.len(),
            limits.max_entries
        )));
    }
    let mut declared_total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| ArchiveError::NotZip(e.to_string()))?;
        declared_total = declared_total.saturating_add(entry.size());
        let compressed = entry.compressed_size().max(1);
        #[allow(clippy::cast_precision_loss)]
        let ratio = entry.size() as f64 / compressed as f64;
        if entry.size() > 1 << 20 && ratio > limits.max_compression_ratio {
            return Err(ArchiveError::Limit(format!(
                "entry {:?} expands {ratio:.0}:1, more than the limit of {}:1",
                String::from_utf8_lossy(entry.name_raw()),
                limits.max_compression_ratio
            )));
        }
    }
    if declared_total > limits.max_uncompressed_bytes {
        return Err(ArchiveError::Limit(format!(
            "{declared_total} bytes uncompressed, more than the limit of {}",
            limits.max_uncompressed_bytes
        )));
    }

    let mut summary = WalkSummary::default();
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|e| ArchiveError::NotZip(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        // Names that are not UTF-8 are kept readable rather than refused.
        let name = entry.name().map_or_else(
            |_| String::from_utf8_lossy(entry.name_raw()).into_owned(),
            |n| n.into_owned(),
        );
        let kind = match entry_kind(&name) {
            Ok(kind) => kind,
            Err(reason) => {
                summary.skipped_entries += 1;
                if !visit(Item::Skipped {
                    entry: &name,
                    reason,
                }) {
                    return Err(ArchiveError::Stopped);
                }
                continue;
            }
        };
        summary.entries += 1;
        if !visit(Item::EntryStart { name: &name }) {
            return Err(ArchiveError::Stopped);
        }
        let declared = entry.size();
        let guarded = Guarded {
            inner: entry,
            remaining: declared,
            statement_budget: Rc::new(Cell::new(u64::MAX)),
        };
        let outcome = match kind {
            EntryKind::Lines => read_lines(guarded, &name, limits, &mut visit),
            EntryKind::Document => read_document(guarded, &name, limits, &mut visit),
        };
        match outcome {
            Ok(true) => {}
            Ok(false) => return Err(ArchiveError::Stopped),
            Err(e) => {
                return Err(ArchiveError::CorruptEntry {
                    entry: name,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(summary)
}

/// Counts of the walk.
#[derive(Debug, Default, Clone, Copy)]
pub struct WalkSummary {
    pub entries: u64,
    pub skipped_entries: u64,
}

/// A reader that refuses to inflate past the entry's declared size, and past the budget of
/// the statement being parsed (so one giant JSON element cannot fill memory).
struct Guarded<R> {
    inner: R,
    remaining: u64,
    statement_budget: Rc<Cell<u64>>,
}

const OVER_STATEMENT_BUDGET: &str = "statement larger than the limit";

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let n64 = n as u64;
        if n64 > self.remaining {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "inflates past its declared size",
            ));
        }
        self.remaining -= n64;
        let budget = self.statement_budget.get();
        if n64 > budget {
            return Err(io::Error::other(OVER_STATEMENT_BUDGET));
        }
        self.statement_budget.set(budget - n64);
        Ok(n)
    }
}

/// Reads a JSONL entry. Returns `Ok(false)` when `visit` asked to stop, `Err` only for
/// archive-level failures (corrupt data); unparseable lines are reported and skipped.
fn read_lines<R: Read>(
    reader: Guarded<R>,
    entry: &str,
    limits: &ArchiveLimits,
    visit: &mut impl FnMut(Item<'_>) -> bool,
) -> io::Result<bool> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line = Vec::with_capacity(4096);
    let mut number: u64 = 0;
    loop {
        line.clear();
        number += 1;
        let (complete, too_long) =
            read_bounded_line(&mut reader, &mut line, limits.max_statement_bytes)?;
        if !complete && line.is_empty() && !too_long {
            return Ok(true);
        }
        let location = Location::Line(number);
        if too_long {
            let reason = format!("line longer than {} bytes", limits.max_statement_bytes);
            if !visit(Item::Unreadable {
                entry,
                location,
                reason,
            }) {
                return Ok(false);
            }
            continue;
        }
        let mut text: &[u8] = &line;
        if number == 1 {
            text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        }
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item = match serde_json::from_slice::<Value>(text) {
            Ok(value) => Item::Statement {
                entry,
                location,
                value,
            },
            Err(e) => Item::Unreadable {
                entry,
                location,
                reason: format!("not JSON: {e}"),
            },
        };
        if !visit(item) {
            return Ok(false);
        }
    }
}

/// Reads up to and excluding the next `\n` into `line`, keeping at most `max` bytes.
/// Returns (found a line, line was too long). A too-long line is consumed without being
/// stored.
fn read_bounded_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> io::Result<(bool, bool)> {
    let mut too_long = false;
    let mut seen_any = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((seen_any && !line.is_empty(), too_long));
        }
        seen_any = true;
        let (chunk, found, used) = match memchr_newline(available) {
            Some(at) => (&available[..at], true, at + 1),
            None => (available, false, available.len()),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(used);
        if found {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok((true, too_long));
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

/// Reads a `.json` entry: an array of statements, or a single statement object.
fn read_document<R: Read>(
    reader: Guarded<R>,
    entry: &str,
    limits: &ArchiveLimits,
    visit: &mut impl FnMut(Item<'_>) -> bool,
) -> io::Result<bool> {
    let budget = Rc::clone(&reader.statement_budget);
    let max = limits.max_statement_bytes as u64;
    budget.set(max);
    let mut deserializer =
        serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, reader));
    let mut state = DocumentState {
        entry,
        visit,
        budget: &budget,
        max,
        element: 0,
        stopped: false,
    };
    let outcome = (&mut deserializer).deserialize_any(DocumentVisitor { state: &mut state });
    let element = state.element;
    let stopped = state.stopped;
    let outcome = outcome.and_then(|()| deserializer.end());
    match outcome {
        Ok(()) => Ok(true),
        Err(_) if stopped => Ok(false),
        Err(e) => {
            let over_budget = e.io_error_kind() == Some(io::ErrorKind::Other)
                && e.to_string().contains(OVER_STATEMENT_BUDGET);
            if e.is_io() && !over_budget {
                return Err(io::Error::new(
                    e.io_error_kind().unwrap_or(io::ErrorKind::InvalidData),
                    e.to_string(),
                ));
            }
            let reason = if over_budget {
                format!(
                    "statement larger than {} bytes; the rest of the entry was not read",
                    limits.max_statement_bytes
                )
            } else {
                format!("not JSON ({e}); the rest of the entry was not read")
            };
            let location = if element == 0 {
                Location::Entry
            } else {
                Location::Element(element)
            };
            Ok(visit(Item::Unreadable {
                entry,
                location,
                reason,
            }))
        }
    }
}

struct DocumentState<'s, 'e, V> {
    entry: &'e str,
    visit: &'s mut V,
    budget: &'s Rc<Cell<u64>>,
    max: u64,
    element: u64,
    stopped: bool,
}

struct DocumentVisitor<'a, 's, 'e, V> {
    state: &'a mut DocumentState<'s, 'e, V>,
}

impl<'de, V: FnMut(Item<'_>) -> bool> Visitor<'de> for DocumentVisitor<'_, '_, '_, V> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of xAPI statements or one statement object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.state;
        loop {
            state.budget.set(state.max);
            let Some(value) = seq.next_element::<Value>()? else {
                break;
            };
            let item = Item::Statement {
                entry: state.entry,
                location: Location::Element(state.element),
                value,
            };
            state.element += 1;
            if !(state.visit)(item) {
                state.stopped = true;
                return Err(de::Error::custom("stopped"));
            }
        }
        state.budget.set(u64::MAX);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let state = self.state;
        let value = serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let item = Item::Statement {
            entry: state.entry,
            location: Location::Element(0),
            value,
        };
        state.element = 1;
        if !(state.visit)(item) {
            state.stopped = true;
            return Err(de::Error::custom("stopped"));
        }
        state.budget.set(u64::MAX);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        let mut writer = zip::ZipWriter::new(file.reopen().expect("reopen"));
        for (name, body) in entries {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .expect("start");
            writer.write_all(body).expect("write");
        }
        writer.finish().expect("finish");
        file
    }

    fn collect(path: &Path, limits: &ArchiveLimits) -> Result<Vec<String>, ArchiveError> {
        let mut seen = Vec::new();
        walk(path, limits, |item| {
            seen.push(match item {
                Item::EntryStart { name } => format!("start {name}"),
                Item::Statement {
                    entry,
                    location,
                    value,
                } => format!("{entry} {location}: {value}"),
                Item::Unreadable {
                    entry,
                    location,
                    reason,
                } => format!("{entry} {location}: ! {reason}"),
                Item::Skipped { entry, reason } => format!("skip {entry}: {reason}"),
            });
            true
        })?;
        Ok(seen)
    }

    #[test]
    fn reads_lines_arrays_and_single_objects_in_folders() {
        let zip = zip_of(&[
            ("day/a.jsonl", b"{\"n\":1}\r\n\n{\"n\":2}"),
            ("day/b.json", b"[{\"n\":3},{\"n\":4}]"),
            ("c.JSON", b"{\"n\":5}"),
            ("readme.txt", b"hello"),
        ]);
        let seen = collect(zip.path(), &ArchiveLimits::default()).expect("walk");
        assert_eq!(
            seen,
            [
                "start day/a.jsonl",
                "day/a.jsonl line 1: {\"n\":1}",
                "day/a.jsonl line 3: {\"n\":2}",
                "start day/b.json",
                "day/b.json element 0: {\"n\":3}",
                "day/b.json element 1: {\"n\":4}",
                "start c.JSON",
                "c.JSON element 0: {\"n\":5}",
                "skip readme.txt: not a .json, .jsonl or .ndjson file",
            ]
        );
    }

    #[test]
    fn bad_lines_are_reported_and_the_rest_continues() {
        let long = format!("{{\"pad\":\"{}\"}}", "x".repeat(200));
        let body = format!("{{oops\n{long}\n{{\"n\":1}}\n");
        let zip = zip_of(&[("a.jsonl", body.as_bytes())]);
        let limits = ArchiveLimits {
            max_statement_bytes: 100,
            ..ArchiveLimits::default()
        };
        let seen = collect(zip.path(), &limits).expect("walk");
        assert!(
            seen[1].starts_with("a.jsonl line 1: ! not JSON"),
            "{seen:?}"
        );
        assert_eq!(seen[2], "a.jsonl line 2: ! line longer than 100 bytes");
        assert_eq!(seen[3], "a.jsonl line 3: {\"n\":1}");
    }

    #[test]
    fn a_broken_array_keeps_what_came_before_and_reports_where_it_broke() {
        let zip = zip_of(&[("a.json", b"[{\"n\":1}, {\"n\": }]")]);
        let seen = collect(zip.path(), &ArchiveLimits::default()).expect("walk");
        assert_eq!(seen[1], "a.json element 0: {\"n\":1}");
        assert!(
            seen[2].starts_with("a.json element 1: ! not JSON"),
            "{seen:?}"
        );
    }

    #[test]
    fn a_giant_array_element_is_refused_without_buffering_it() {
        let body = format!(
            "[{{\"n\":1}},{{\"pad\":\"{}\"}},{{\"n\":3}}]",
            "y".repeat(300_000)
        );
        let zip = zip_of(&[("a.json", body.as_bytes())]);
        let limits = ArchiveLimits {
            max_statement_bytes: 100_000,
            ..ArchiveLimits::default()
        };
        let seen = collect(zip.path(), &limits).expect("walk");
        assert_eq!(seen[1], "a.json element 0: {\"n\":1}");
        assert!(
            seen[2].contains("statement larger than 100000 bytes"),
            "{seen:?}"
        );
    }

    #[test]
    fn refuses_what_is_not_a_zip_and_zip_bombs() {
        let not_zip = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(not_zip.path(), b"PK\x03\x04 but not really").expect("write");
        assert!(matches!(
            collect(not_zip.path(), &ArchiveLimits::default()),
            Err(ArchiveError::NotZip(_))
        ));

        let zeros = vec![b' '; 4 << 20];
        let bomb = zip_of(&[("a.jsonl", &zeros)]);
        let err = collect(bomb.path(), &ArchiveLimits::default()).expect_err("ratio refused");
        assert!(
            matches!(err, ArchiveError::Limit(ref m) if m.contains("expands")),
            "{err}"
        );

        let many = zip_of(&[("a.jsonl", b"{}"), ("b.jsonl", b"{}"), ("c.jsonl", b"{}")]);
        let limits = ArchiveLimits {
            max_entries: 2,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            collect(many.path(), &limits),
            Err(ArchiveError::Limit(_))
        ));
        let limits = ArchiveLimits {
            max_uncompressed_bytes: 4,
            ..ArchiveLimits::default()
        };
        assert!(matches!(
            collect(many.path(), &limits),
            Err(ArchiveError::Limit(_))
        ));
    }

    #[test]
    fn a_truncated_zip_is_refused() {
        let body = "{\"n\":1}\n".repeat(10_000);
        let zip = zip_of(&[("a.jsonl", body.as_bytes())]);
        let bytes = std::fs::read(zip.path()).expect("read");
        let cut = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(cut.path(), &bytes[..bytes.len() / 2]).expect("write");
        assert!(matches!(
            collect(cut.path(), &ArchiveLimits::default()),
            Err(ArchiveError::NotZip(_))
        ));
    }
}
