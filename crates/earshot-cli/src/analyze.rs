//! `earshot analyze [FILE|-]`: each interchange line written back, in order, with an added
//! `analysis` object.
//!
//! Lines are read in chunks (bounded memory whatever the input size), each chunk is analysed on
//! every core, and the results are written in input order. A line that cannot be read is
//! reported on stderr with its number; the others go on.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use earshot_analysis::{Analyzer, Scratch, Target};
use rayon::prelude::*;
use serde_json::Value;

use crate::commands::open_input;
use crate::models;
use crate::workspace::Workspace;

/// Lines analysed together: enough to keep every core busy, few enough to bound memory.
const CHUNK_LINES: usize = 4_096;
/// A chunk also ends once it holds this many bytes (a few very long lines).
const CHUNK_BYTES: usize = 16 << 20;

pub fn run(workspace: &Workspace, input: &Path, explain: bool) -> Result<ExitCode> {
    // Outside a workspace there are no brands and no workspace models; analysis still runs.
    let in_workspace = workspace.config_path().is_file();
    // Each brand with the terms of its queries, which name it too ("Билайн" for Beeline).
    let brands: Vec<Target> = if in_workspace {
        let config = workspace.load_config()?;
        let matcher = earshot_text::BrandMatcher::new(&config.brands)?;
        config
            .brands
            .iter()
            .map(|brand| Target::new(&brand.name, matcher.spellings(&brand.name)))
            .collect()
    } else {
        Vec::new()
    };
    let analyzer = models::load_for_analysis(in_workspace.then_some(workspace.dir.as_path()))?;
    let (reader, _, label) = open_input(input)?;
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());

    let mut line_number = 0usize;
    let mut bad_lines = 0u64;
    let mut chunk: Vec<(usize, Vec<u8>)> = Vec::with_capacity(CHUNK_LINES);
    let mut spare: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk_bytes = 0;
        let mut at_end = false;
        while chunk.len() < CHUNK_LINES && chunk_bytes < CHUNK_BYTES {
            let mut line = spare.pop().unwrap_or_default();
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("cannot read {label}"))?;
            if read == 0 {
                at_end = true;
                break;
            }
            line_number += 1;
            chunk_bytes += line.len();
            chunk.push((line_number, line));
        }
        let results: Vec<Option<Result<String, String>>> = chunk
            .par_iter()
            .map_init(
                || analyzer.scratch(),
                |scratch, (_, line)| analyze_line(&analyzer, scratch, line, &brands, explain),
            )
            .collect();
        for ((number, line), result) in chunk.drain(..).zip(results) {
            match result {
                None => {}
                Some(Ok(text)) => {
                    out.write_all(text.as_bytes())
                        .and_then(|()| out.write_all(b"\n"))
                        .context("cannot write the output")?;
                }
                Some(Err(message)) => {
                    bad_lines += 1;
                    eprintln!("{label}: line {number}: {message}");
                }
            }
            spare.push(line);
        }
        if at_end {
            break;
        }
    }
    out.flush().context("cannot write the output")?;
    Ok(if bad_lines == 0 {
        ExitCode::SUCCESS
    } else {
        // Like import: the good lines are written; the status tells scripts to look.
        ExitCode::from(3)
    })
}

/// One line: `None` for a blank line, else the line with its analysis, or what is wrong.
pub fn analyze_line(
    analyzer: &Analyzer,
    scratch: &mut Scratch,
    raw: &[u8],
    default_targets: &[Target],
    explain: bool,
) -> Option<Result<String, String>> {
    let raw = match std::str::from_utf8(raw) {
        Ok(raw) => raw.trim_start_matches('\u{feff}').trim(),
        Err(error) => return Some(Err(format!("not valid UTF-8: {error}"))),
    };
    if raw.is_empty() {
        return None;
    }
    Some(analyze_json(
        analyzer,
        scratch,
        raw,
        default_targets,
        explain,
    ))
}

fn analyze_json(
    analyzer: &Analyzer,
    scratch: &mut Scratch,
    raw: &str,
    default_targets: &[Target],
    explain: bool,
) -> Result<String, String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("expected a JSON object with a `text` field".to_owned());
    };
    let text = match object.get("text") {
        Some(Value::String(text)) => text.as_str(),
        Some(_) => return Err("`text` must be a string".to_owned()),
        None => return Err("missing required field `text`".to_owned()),
    };
    let lang = match object.get("lang") {
        None | Some(Value::Null) => None,
        Some(Value::String(lang)) => Some(lang.as_str()).filter(|l| !l.trim().is_empty()),
        Some(_) => return Err("`lang` must be a string".to_owned()),
    };
    // The line's own targets (names) replace the workspace's brands.
    let line_targets: Option<Vec<Target>> = match object.get("targets") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(Target::named)
                        .ok_or_else(|| "`targets` must be a list of strings".to_owned())
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => return Err("`targets` must be a list of strings".to_owned()),
    };
    let targets: Vec<&Target> = line_targets
        .as_deref()
        .unwrap_or(default_targets)
        .iter()
        .collect();
    let analysis = analyzer.analyze_with_targets(scratch, text, lang, &targets);
    let explanation = explain.then(|| analyzer.explain(text, lang));
    if object.contains_key("analysis") || object.contains_key("explain") {
        // An older analysis is replaced; the line is written again from its parsed form.
        let mut object = object;
        object.insert(
            "analysis".to_owned(),
            serde_json::to_value(&analysis).expect("plain data serializes"),
        );
        object.remove("explain");
        if let Some(explanation) = &explanation {
            object.insert(
                "explain".to_owned(),
                serde_json::to_value(explanation).expect("plain data serializes"),
            );
        }
        return Ok(Value::Object(object).to_string());
    }
    // The line is kept byte for byte (its key order and number formatting) and the analysis
    // appended as its last field.
    let analysis_json = serde_json::to_string(&analysis).expect("plain data serializes");
    let body = raw
        .strip_suffix('}')
        .expect("a JSON object ends with a closing brace");
    let separator = if object.is_empty() { "" } else { "," };
    let explain_json = explanation.map_or(String::new(), |explanation| {
        format!(
            ",\"explain\":{}",
            serde_json::to_string(&explanation).expect("plain data serializes")
        )
    });
    Ok(format!(
        "{body}{separator}\"analysis\":{analysis_json}{explain_json}}}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_line(raw: &str, targets: &[&str]) -> Option<Result<String, String>> {
        let analyzer = Analyzer::rules_only();
        let targets: Vec<Target> = targets.iter().map(|t| Target::named(t)).collect();
        analyze_line(
            &analyzer,
            &mut analyzer.scratch(),
            raw.as_bytes(),
            &targets,
            false,
        )
    }

    #[test]
    fn a_line_is_kept_as_it_was_with_the_analysis_appended() {
        let out = run_line(
            r#"{"z": 1.50, "text": "Where can I buy it?", "lang": "en"}"#,
            &[],
        )
        .unwrap()
        .unwrap();
        assert!(
            out.starts_with(
                r#"{"z": 1.50, "text": "Where can I buy it?", "lang": "en","analysis":{"#
            ),
            "{out}"
        );
        let value: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["analysis"]["lang"], "en");
        assert_eq!(value["analysis"]["intents"][0]["label"], "question");
    }

    #[test]
    fn bad_lines_say_what_is_wrong_and_blank_lines_are_skipped() {
        let error = |raw: &str| run_line(raw, &[]).unwrap().unwrap_err();
        assert!(error("{not json").starts_with("not valid JSON"));
        assert_eq!(
            error("[1, 2]"),
            "expected a JSON object with a `text` field"
        );
        assert_eq!(error(r#"{"lang": "en"}"#), "missing required field `text`");
        assert_eq!(error(r#"{"text": 5}"#), "`text` must be a string");
        assert_eq!(
            error(r#"{"text": "x", "targets": "Acme"}"#),
            "`targets` must be a list of strings"
        );
        assert_eq!(
            error(r#"{"text": "x", "targets": [1]}"#),
            "`targets` must be a list of strings"
        );
        assert!(run_line("   \r\n", &[]).is_none());
        let invalid = Analyzer::rules_only();
        let result = analyze_line(
            &invalid,
            &mut invalid.scratch(),
            b"{\"text\": \"\xff\"}",
            &[],
            false,
        );
        assert!(result.unwrap().unwrap_err().starts_with("not valid UTF-8"));
    }

    #[test]
    fn explain_adds_the_cues_found_after_the_analysis_and_replaces_an_old_one() {
        let analyzer = Analyzer::rules_only();
        let explained = |raw: &str| {
            let out = analyze_line(
                &analyzer,
                &mut analyzer.scratch(),
                raw.as_bytes(),
                &[],
                true,
            )
            .unwrap()
            .unwrap();
            serde_json::from_str::<Value>(&out).unwrap()
        };
        let value =
            explained(r#"{"text": "I don't love it, where can I buy a new one?", "lang": "en"}"#);
        assert_eq!(value["explain"]["read_as"], "en");
        let cues = value["explain"]["cues"].as_array().unwrap();
        let cue = |name: &str| cues.iter().find(|c| c["cue"] == name).cloned();
        assert_eq!(cue("where can i buy").unwrap()["intent"], "purchase_intent");
        assert_eq!(cue("love").unwrap()["negated"], true);
        assert_eq!(cue("?").unwrap()["intent"], "question");
        // No models loaded: no verdicts.
        assert_eq!(value["explain"]["models"], serde_json::json!([]));
        let again = explained(r#"{"text": "thanks!", "explain": {"old": true}}"#);
        assert!(again["explain"].get("old").is_none(), "{again}");
        assert_eq!(again["explain"]["cues"][0]["cue"], "thanks");
    }

    #[test]
    fn an_existing_analysis_is_replaced() {
        let out = run_line(
            r#"{"text": "thank you so much!", "lang": "en", "analysis": {"old": true}}"#,
            &[],
        )
        .unwrap()
        .unwrap();
        let value: Value = serde_json::from_str(&out).unwrap();
        assert!(value["analysis"].get("old").is_none(), "{out}");
        assert_eq!(value["analysis"]["intents"][0]["label"], "praise");
    }
}
