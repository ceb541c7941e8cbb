//! Labelled examples in JSON Lines: `{"id": "...", "text": "...", "label": "...", "lang": "..."}`.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    #[serde(default)]
    pub id: String,
    pub text: String,
    pub label: String,
    #[serde(default)]
    pub lang: Option<String>,
}

/// A line that could not be read, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// The readable examples of a file and the lines that were not.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub examples: Vec<Example>,
    pub skipped: Vec<LineError>,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Reads a JSON Lines file of labelled examples. Blank lines are ignored; a line that is not a
/// JSON object with string `text` and `label` is reported in [`Dataset::skipped`] and the rest
/// are still read.
pub fn read_examples(path: &Path) -> Result<Dataset, DataError> {
    let io_error = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut dataset = Dataset::default();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line_number = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                dataset.skipped.push(LineError {
                    path: path.to_owned(),
                    line: line_number,
                    message: "not valid UTF-8".to_owned(),
                });
                continue;
            }
            Err(e) => return Err(io_error(e)),
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Example>(&line) {
            Ok(example) => dataset.examples.push(example),
            Err(e) => dataset.skipped.push(LineError {
                path: path.to_owned(),
                line: line_number,
                message: format!("not a labelled example: {e}"),
            }),
        }
    }
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn bad_lines_are_reported_with_their_number_and_the_rest_read() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            r#"{{"id":"1","text":"good","label":"positive","lang":"en"}}"#
        )
        .unwrap();
        writeln!(file, "not json").unwrap();
        writeln!(file).unwrap();
        writeln!(file, r#"{{"id":"3","text":"no label"}}"#).unwrap();
        writeln!(file, r#"{{"text":"bad","label":"negative"}}"#).unwrap();
        file.flush().unwrap();
        let dataset = read_examples(file.path()).unwrap();
        assert_eq!(dataset.examples.len(), 2);
        assert_eq!(dataset.examples[1].label, "negative");
        assert_eq!(dataset.examples[1].lang, None);
        let lines: Vec<usize> = dataset.skipped.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 4]);
        assert!(dataset.skipped[1]
            .to_string()
            .contains(":4: not a labelled example"));
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let error = read_examples(Path::new("/nonexistent/earshot/train.jsonl")).unwrap_err();
        assert!(error
            .to_string()
            .contains("/nonexistent/earshot/train.jsonl"));
    }
}
