//! Import files: every bad-input case yields a line error and the rest goes on.

use earshot_sources::files::{
    read_csv, read_jsonl, CsvColumns, FileError, LineError, MAX_LINE_BYTES,
};
use std::io::{BufReader, Cursor, Read};

const GOOD: &str = r#"{"source":"vk","external_id":"1","text":"Acme is great","published_at":"2026-03-01T10:00:00Z"}"#;

fn collect_jsonl(
    input: impl Read,
    label: &str,
) -> (Vec<earshot_core::IncomingMention>, Vec<LineError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for result in read_jsonl(BufReader::new(input), label) {
        match result {
            Ok(m) => good.push(m),
            Err(e) => bad.push(e),
        }
    }
    (good, bad)
}

#[test]
fn jsonl_reads_good_lines_and_reports_bad_ones_by_line() {
    let mut input = Vec::new();
    input.extend_from_slice(GOOD.as_bytes());
    input.extend_from_slice(b"\n\n   \r\n"); // blank lines 2 and 3 are skipped
    input.extend_from_slice(b"{\"text\": \"caf\xff\", \"published_at\": \"2026-03-01T10:00:00Z\", \"url\": \"https://x/1\"}\n");
    input.extend_from_slice(b"not json at all\n");
    input.extend_from_slice(br#"{"url":"https://x/2","text":"no time"}"#);
    input.extend_from_slice(b"\n");
    input.extend_from_slice(
        br#"{"url":"https://x/3","text":"bad time","published_at":"yesterday"}"#,
    );
    input.extend_from_slice(b"\r\n");
    input.extend_from_slice(br#"{"text":"who?","published_at":"2026-03-01T10:00:00Z"}"#);
    input.extend_from_slice(b"\n");
    input.extend_from_slice(br#"{"url":"https://x/4","text":"<p>last</p>","published_at":"2026-03-02T10:00:00+02:00","author":{"handle":"@bob","followers":12},"lang":"el"}"#);

    let (good, bad) = collect_jsonl(Cursor::new(input), "import.jsonl");
    assert_eq!(good.len(), 2);
    assert_eq!(good[0].source, "vk");
    assert_eq!(good[0].external_id.as_deref(), Some("1"));
    assert!(!good[0].is_html);
    let last = &good[1];
    assert_eq!(
        last.source, "import.jsonl",
        "no source: the file label stands in"
    );
    assert!(last.is_html);
    assert_eq!(last.published_at.to_rfc3339(), "2026-03-02T08:00:00+00:00");
    assert_eq!(last.author.as_ref().unwrap().followers, Some(12));
    assert_eq!(last.lang.as_deref(), Some("el"));

    let lines: Vec<u64> = bad.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 8]);
    assert!(bad[0].message.contains("UTF-8"), "{}", bad[0]);
    assert!(bad[1].message.contains("not a JSON mention"), "{}", bad[1]);
    assert!(bad[2].message.contains("published_at"), "{}", bad[2]);
    assert!(bad[3].message.contains("yesterday"), "{}", bad[3]);
    assert!(bad[4].message.contains("url"), "{}", bad[4]);
    assert!(bad[2].to_string().starts_with("line 6: "), "{}", bad[2]);
}

#[test]
fn jsonl_wrong_types_are_line_errors() {
    let input = format!("{GOOD}\n{{\"text\": 5, \"published_at\": \"2026-03-01T10:00:00Z\", \"url\": \"u\"}}\n[1,2]\n{GOOD}");
    let (good, bad) = collect_jsonl(Cursor::new(input), "f");
    assert_eq!(good.len(), 2);
    assert_eq!(bad.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3]);
    assert!(bad[0].message.contains("invalid type"), "{}", bad[0]);
}

/// A 50 MB line produced on the fly, so the test itself never holds it.
#[test]
fn a_huge_line_is_refused_and_the_next_line_still_read() {
    const HUGE: u64 = 50 * 1024 * 1024;
    let input = Cursor::new(format!("{GOOD}\n{{\"text\":\""))
        .chain(std::io::repeat(b'a').take(HUGE))
        .chain(Cursor::new(format!("\"}}\n{GOOD}\n")));
    let (good, bad) = collect_jsonl(input, "big.jsonl");
    assert_eq!(good.len(), 2, "the lines around the huge one are read");
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].line, 2);
    assert!(
        bad[0]
            .message
            .contains(&format!("{MAX_LINE_BYTES} byte limit")),
        "{}",
        bad[0]
    );
    assert!(
        bad[0].message.contains(&(HUGE + 11).to_string()),
        "reports the length: {}",
        bad[0]
    );
}

#[test]
fn a_line_at_the_limit_is_still_parsed() {
    let prefix = r#"{"url":"https://x/1","published_at":"2026-03-01T10:00:00Z","text":""#;
    let filler = MAX_LINE_BYTES - prefix.len() - 2;
    let line = format!("{prefix}{}\"}}", "b".repeat(filler));
    assert_eq!(line.len(), MAX_LINE_BYTES);
    let (good, bad) = collect_jsonl(Cursor::new(line), "edge.jsonl");
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(good[0].text.len(), filler);
}

#[test]
fn empty_input_yields_nothing() {
    let (good, bad) = collect_jsonl(Cursor::new(""), "empty.jsonl");
    assert!(good.is_empty() && bad.is_empty());
}

#[test]
fn csv_with_default_columns() {
    let csv = "text,published_at,url,author_handle,author_followers,lang\n\
               \"Acme, again\",2026-03-01T10:00:00Z,https://x/1,@ann,10,en\n\
               missing time,,https://x/2,,,\n\
               followers bad,2026-03-01T10:00:00Z,https://x/3,@bob,many,\n\
               \"multi\nline\",2026-03-01T11:00:00Z,https://x/4,,,\n";
    let results: Vec<_> = read_csv(csv.as_bytes(), "export.csv", &CsvColumns::default())
        .unwrap()
        .collect();
    assert_eq!(results.len(), 4);
    let first = results[0].as_ref().unwrap();
    assert_eq!(first.text, "Acme, again");
    assert_eq!(first.source, "export.csv");
    assert_eq!(first.author.as_ref().unwrap().followers, Some(10));
    assert_eq!(
        first.author.as_ref().unwrap().handle.as_deref(),
        Some("@ann")
    );
    let missing = results[1].as_ref().unwrap_err();
    assert_eq!(missing.line, 3);
    assert!(missing.message.contains("published_at"), "{missing}");
    let followers = results[2].as_ref().unwrap_err();
    assert_eq!(followers.line, 4);
    assert!(
        followers.message.contains("author_followers") && followers.message.contains("many"),
        "{followers}"
    );
    assert_eq!(results[3].as_ref().unwrap().text, "multi\nline");
}

#[test]
fn csv_with_custom_column_names() {
    let columns = CsvColumns {
        text: "Message".into(),
        published_at: "Date".into(),
        url: "Link".into(),
        source: "Network".into(),
        external_id: "Post ID".into(),
        author_name: "Author".into(),
        ..CsvColumns::default()
    };
    let csv = "Date,Network,Post ID,Author,Message,Ignored\n\
               2026-03-01T10:00:00+03:00,vk,wall-1_2,Иван,Кофе Acme отличный,x\n\
               2026-03-01T10:00:00Z,vk,,Nobody,no identity,\n";
    let results: Vec<_> = read_csv(csv.as_bytes(), "brand.csv", &columns)
        .unwrap()
        .collect();
    let first = results[0].as_ref().unwrap();
    assert_eq!(first.source, "vk");
    assert_eq!(first.external_id.as_deref(), Some("wall-1_2"));
    assert_eq!(first.text, "Кофе Acme отличный");
    assert_eq!(first.author.as_ref().unwrap().name.as_deref(), Some("Иван"));
    assert_eq!(first.published_at.to_rfc3339(), "2026-03-01T07:00:00+00:00");
    let error = results[1].as_ref().unwrap_err();
    assert_eq!(error.line, 3);
    assert!(error.message.contains("url"), "{error}");
}

#[test]
fn csv_missing_required_column_names_it() {
    let columns = CsvColumns {
        text: "Message".into(),
        ..CsvColumns::default()
    };
    let error = read_csv(
        "text,published_at\nhi,2026-03-01T10:00:00Z\n".as_bytes(),
        "x.csv",
        &columns,
    )
    .err()
    .unwrap();
    assert!(
        matches!(error, FileError::MissingColumn { field: "text", .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("x.csv") && message.contains("\"Message\""),
        "{message}"
    );
}

#[test]
fn csv_invalid_utf8_record_is_a_line_error() {
    let mut csv = b"text,published_at,url\n".to_vec();
    csv.extend_from_slice(b"caf\xe9,2026-03-01T10:00:00Z,https://x/1\n");
    csv.extend_from_slice(b"fine,2026-03-01T10:00:00Z,https://x/2\n");
    let results: Vec<_> = read_csv(csv.as_slice(), "latin1.csv", &CsvColumns::default())
        .unwrap()
        .collect();
    assert_eq!(results.len(), 2);
    let error = results[0].as_ref().unwrap_err();
    assert_eq!(error.line, 2);
    assert!(error.message.contains("UTF-8"), "{error}");
    assert_eq!(results[1].as_ref().unwrap().text, "fine");
}
