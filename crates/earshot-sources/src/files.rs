//! Import files: JSON Lines in Earshot's interchange format, and CSV with configurable
//! column names. A bad line is reported with its line number and the rest goes on.

use earshot_core::{Author, IncomingMention, InterchangeMention};
use std::io::{BufRead, Read};

/// Lines longer than this are refused (and skipped without being held in memory).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// One line (or CSV record) that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "{file}: missing column {column:?} (for the `{field}` field); the header has: {header}"
    )]
    MissingColumn {
        file: String,
        field: &'static str,
        column: String,
        header: String,
    },
    #[error("{file}: cannot read the CSV header: {message}")]
    Header { file: String, message: String },
}

/// Read JSON Lines: one [`InterchangeMention`] per line. Blank lines are skipped; each bad
/// line yields a [`LineError`] and reading goes on. Reading stops after an I/O error.
pub fn read_jsonl<R: BufRead>(
    reader: R,
    file_label: &str,
) -> impl Iterator<Item = Result<IncomingMention, LineError>> {
    JsonlLines {
        reader,
        file_label: file_label.to_string(),
        line_number: 0,
        buffer: Vec::with_capacity(1024),
        finished: false,
    }
}

struct JsonlLines<R> {
    reader: R,
    file_label: String,
    line_number: u64,
    buffer: Vec<u8>,
    finished: bool,
}

enum RawLine {
    Complete,
    TooLong(u64),
    End,
}

impl<R: BufRead> JsonlLines<R> {
    /// Read the next line's bytes (newline excluded) into `self.buffer`, reading and
    /// discarding the rest of a line once it passes [`MAX_LINE_BYTES`].
    fn read_raw_line(&mut self) -> std::io::Result<RawLine> {
        self.buffer.clear();
        let mut total: u64 = 0;
        let mut read_anything = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(match (read_anything, total > MAX_LINE_BYTES as u64) {
                    (false, _) => RawLine::End,
                    (true, true) => RawLine::TooLong(total),
                    (true, false) => RawLine::Complete,
                });
            }
            read_anything = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let taken = newline.unwrap_or(available.len());
            total += taken as u64;
            if total <= MAX_LINE_BYTES as u64 {
                self.buffer.extend_from_slice(&available[..taken]);
            } else if !self.buffer.is_empty() {
                self.buffer = Vec::with_capacity(1024);
            }
            let consumed = newline.map_or(taken, |_| taken + 1);
            self.reader.consume(consumed);
            if newline.is_some() {
                return Ok(if total > MAX_LINE_BYTES as u64 {
                    RawLine::TooLong(total)
                } else {
                    RawLine::Complete
                });
            }
        }
    }

    fn parse_line(&self) -> Result<IncomingMention, String> {
        let line = self.buffer.strip_suffix(b"\r").unwrap_or(&self.buffer);
        let text = std::str::from_utf8(line)
            .map_err(|e| format!("not valid UTF-8 (at byte {})", e.valid_up_to()))?;
        let record: InterchangeMention =
            serde_json::from_str(text).map_err(|e| format!("not a JSON mention: {e}"))?;
        record
            .into_incoming(&self.file_label)
            .map_err(|e| e.to_string())
    }
}

impl<R: BufRead> Iterator for JsonlLines<R> {
    type Item = Result<IncomingMention, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished {
            let raw = self.read_raw_line();
            self.line_number += 1;
            let line = self.line_number;
            match raw {
                Err(e) => {
                    self.finished = true;
                    return Some(Err(LineError {
                        line,
                        message: format!("read error, import stopped here: {e}"),
                    }));
                }
                Ok(RawLine::End) => self.finished = true,
                Ok(RawLine::TooLong(length)) => {
                    return Some(Err(LineError {
                        line,
                        message: format!(
                            "line is {length} bytes, longer than the {MAX_LINE_BYTES} byte limit"
                        ),
                    }))
                }
                Ok(RawLine::Complete) => {
                    if self.buffer.iter().all(|b| b.is_ascii_whitespace()) {
                        continue;
                    }
                    return Some(
                        self.parse_line()
                            .map_err(|message| LineError { line, message }),
                    );
                }
            }
        }
        None
    }
}

/// Which CSV header names hold which of our fields. Defaults to our own field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvColumns {
    pub text: String,
    pub published_at: String,
    pub url: String,
    pub source: String,
    pub external_id: String,
    pub author_handle: String,
    pub author_name: String,
    pub author_url: String,
    pub author_followers: String,
    pub lang: String,
    pub title: String,
    pub in_reply_to: String,
}

impl Default for CsvColumns {
    fn default() -> Self {
        CsvColumns {
            text: "text".into(),
            published_at: "published_at".into(),
            url: "url".into(),
            source: "source".into(),
            external_id: "external_id".into(),
            author_handle: "author_handle".into(),
            author_name: "author_name".into(),
            author_url: "author_url".into(),
            author_followers: "author_followers".into(),
            lang: "lang".into(),
            title: "title".into(),
            in_reply_to: "in_reply_to".into(),
        }
    }
}

impl CsvColumns {
    /// Our field names, as `--column FIELD=HEADER` accepts them.
    pub const FIELDS: [&'static str; 12] = [
        "text",
        "published_at",
        "url",
        "source",
        "external_id",
        "author_handle",
        "author_name",
        "author_url",
        "author_followers",
        "lang",
        "title",
        "in_reply_to",
    ];

    /// Read `field` from the column named `header`. An unknown field is an error listing the
    /// known ones.
    pub fn set(&mut self, field: &str, header: &str) -> Result<(), String> {
        let slot = match field {
            "text" => &mut self.text,
            "published_at" => &mut self.published_at,
            "url" => &mut self.url,
            "source" => &mut self.source,
            "external_id" => &mut self.external_id,
            "author_handle" => &mut self.author_handle,
            "author_name" => &mut self.author_name,
            "author_url" => &mut self.author_url,
            "author_followers" => &mut self.author_followers,
            "lang" => &mut self.lang,
            "title" => &mut self.title,
            "in_reply_to" => &mut self.in_reply_to,
            other => {
                return Err(format!(
                    "unknown field {other:?}; fields are {}",
                    Self::FIELDS.join(", ")
                ))
            }
        };
        *slot = header.to_string();
        Ok(())
    }
}

/// Column positions resolved against one file's header.
#[derive(Debug, Clone, Copy)]
struct ColumnIndexes {
    text: usize,
    published_at: usize,
    url: Option<usize>,
    source: Option<usize>,
    external_id: Option<usize>,
    author_handle: Option<usize>,
    author_name: Option<usize>,
    author_url: Option<usize>,
    author_followers: Option<usize>,
    lang: Option<usize>,
    title: Option<usize>,
    in_reply_to: Option<usize>,
}

/// Read CSV with a header row. `text` and `published_at` columns are required (a missing
/// one is a [`FileError`]); the others are optional. Each bad record yields a [`LineError`]
/// with the line it starts on, and reading goes on.
pub fn read_csv<R: Read>(
    reader: R,
    file_label: &str,
    columns: &CsvColumns,
) -> Result<impl Iterator<Item = Result<IncomingMention, LineError>>, FileError> {
    let mut csv_reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let header = csv_reader
        .headers()
        .map_err(|e| FileError::Header {
            file: file_label.to_string(),
            message: e.to_string(),
        })?
        .clone();
    let find = |name: &str| header.iter().position(|h| h.trim() == name.trim());
    let require = |field: &'static str, name: &str| {
        find(name).ok_or_else(|| FileError::MissingColumn {
            file: file_label.to_string(),
            field,
            column: name.to_string(),
            header: header.iter().collect::<Vec<_>>().join(", "),
        })
    };
    let indexes = ColumnIndexes {
        text: require("text", &columns.text)?,
        published_at: require("published_at", &columns.published_at)?,
        url: find(&columns.url),
        source: find(&columns.source),
        external_id: find(&columns.external_id),
        author_handle: find(&columns.author_handle),
        author_name: find(&columns.author_name),
        author_url: find(&columns.author_url),
        author_followers: find(&columns.author_followers),
        lang: find(&columns.lang),
        title: find(&columns.title),
        in_reply_to: find(&columns.in_reply_to),
    };
    let file_label = file_label.to_string();
    let followers_column = columns.author_followers.clone();
    Ok(csv_reader.into_records().map(move |record| {
        let record = record.map_err(|e| LineError {
            line: e.position().map_or(0, |p| p.line()),
            message: format!("unreadable CSV record: {e}"),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        csv_record_to_incoming(&record, &indexes, &file_label, &followers_column)
            .map_err(|message| LineError { line, message })
    }))
}

fn csv_record_to_incoming(
    record: &csv::StringRecord,
    indexes: &ColumnIndexes,
    file_label: &str,
    followers_column: &str,
) -> Result<IncomingMention, String> {
    let cell = |index: Option<usize>| {
        index
            .and_then(|i| record.get(i))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
    };
    let followers = match cell(indexes.author_followers) {
        Some(raw) => Some(raw.parse::<u64>().map_err(|_| {
            format!("column {followers_column:?} must be a whole number, got {raw:?}")
        })?),
        None => None,
    };
    let author = Author {
        handle: cell(indexes.author_handle),
        name: cell(indexes.author_name),
        url: cell(indexes.author_url),
        followers,
    };
    let mention = InterchangeMention {
        source: cell(indexes.source),
        external_id: cell(indexes.external_id),
        url: cell(indexes.url),
        title: cell(indexes.title),
        // Text keeps its inner whitespace; only a missing or empty cell counts as absent.
        text: record
            .get(indexes.text)
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string),
        published_at: cell(Some(indexes.published_at)),
        author: Some(author),
        lang: cell(indexes.lang),
        in_reply_to: cell(indexes.in_reply_to),
        ..InterchangeMention::default()
    };
    mention.into_incoming(file_label).map_err(|e| e.to_string())
}
