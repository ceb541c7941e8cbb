//! `earshot analyze` and `earshot model train | eval | list`, run as a user would, on tiny data
//! written here (not ../shared/data) and real workspaces in temporary directories.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use earshot_core::{CorrectionField, LabelCorrection, MentionFilter, SortOrder};
use earshot_store::{AnalysisStore, SqliteStore, Store};
use serde_json::Value;

fn earshot(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("earshot").expect("binary built");
    command.env_remove("EARSHOT_DIR").arg("--dir").arg(dir);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn workspace(brands: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    earshot(dir.path()).arg("init").assert().success();
    for brand in brands {
        earshot(dir.path())
            .args(["brand", "add", brand, "--query", brand])
            .assert()
            .success();
    }
    dir
}

const NOUNS: [&str; 12] = [
    "phone", "router", "plan", "app", "laptop", "screen", "battery", "camera", "tablet", "watch",
    "charger", "speaker",
];

/// Clearly separable English sentiment data: train on the first nouns, test on the rest.
fn write_sentiment_data(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let lines = |nouns: &[&str]| -> String {
        let mut out = String::new();
        for (n, noun) in nouns.iter().enumerate() {
            for (text, label) in [
                (
                    format!("I love this {noun}, wonderful and great"),
                    "positive",
                ),
                (
                    format!("this {noun} is awful, I hate it, terrible"),
                    "negative",
                ),
                (format!("the {noun} is on the table today"), "neutral"),
            ] {
                out.push_str(
                    &serde_json::json!({"id": format!("{n}{label}"), "text": text, "label": label, "lang": "en"})
                        .to_string(),
                );
                out.push('\n');
            }
        }
        out
    };
    std::fs::write(dir.join("train.jsonl"), lines(&NOUNS[..9])).unwrap();
    std::fs::write(dir.join("test.jsonl"), lines(&NOUNS[9..])).unwrap();
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

/// The JSON values of a JSON Lines text.
fn json_lines(lines: &str) -> Vec<Value> {
    lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The report `earshot model eval` printed is the one of the predictions it wrote.
fn assert_prints_the_accuracy_of(output: &Output, written: &[Value]) {
    let correct = written
        .iter()
        .filter(|line| line["predicted"] == line["gold"])
        .count();
    let accuracy = correct as f64 / written.len() as f64;
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!("accuracy {accuracy:.4}")),
        "{accuracy} not in {stdout}"
    );
}

/// The command failed and said `message` on stderr.
fn assert_fails_saying(output: &Output, message: &str) {
    assert!(!output.status.success(), "{}", text(&output.stdout));
    assert!(
        text(&output.stderr).contains(message),
        "{}",
        text(&output.stderr)
    );
}

/// `earshot model train --task sentiment --data DATA` with `more` arguments.
fn train_sentiment(ws: &Path, data: &Path, more: &[&str]) -> Output {
    run(earshot(ws)
        .args(["model", "train", "--task", "sentiment", "--data"])
        .arg(data)
        .args(more))
}

#[test]
fn analyze_writes_every_good_line_back_in_order_and_names_bad_lines() {
    let dir = tempfile::tempdir().unwrap(); // not a workspace: built-in models, no brands
    let input = concat!(
        "{\"text\":\"Where can I buy a Zeltron?\",\"lang\":\"en\",\"id\":1}\n",
        "{\"text\":\"thank you so much, great support!\",\"lang\":\"en\",\"id\":2}\n",
        "{\"lang\":\"en\"}\n",
        "not json at all\n",
        "\n",
        "{\"text\":\"Zeltron dropped my calls again\",\"targets\":[\"Zeltron\"],\"id\":3}\n",
    );
    let output = run(earshot(dir.path()).arg("analyze").write_stdin(input));
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("stdin: line 3: missing required field `text`"),
        "{stderr}"
    );
    assert!(stderr.contains("stdin: line 4: not valid JSON"), "{stderr}");
    let lines: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert_eq!(
        ids,
        vec![1, 2, 3],
        "in input order, bad and blank lines left out"
    );
    let intents = |line: &Value| -> Vec<String> {
        line["analysis"]["intents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(intents(&lines[0]), vec!["question", "purchase_intent"]);
    assert_eq!(intents(&lines[1]), vec!["praise"]);
    assert_eq!(lines[0]["analysis"]["lang"], "en");
    // The models shipped in models/ are built into the binary.
    let sentiment = lines[0]["analysis"]["sentiment"]["label"].as_str();
    assert!(
        matches!(sentiment, Some("negative" | "neutral" | "positive")),
        "{}",
        lines[0]
    );
}

#[test]
fn train_eval_list_and_analyze_with_targets_from_the_workspace() {
    let ws = workspace(&["Zeltron", "Kvantix"]);
    let data = ws.path().join("data/sentiment-en");
    write_sentiment_data(&data);

    let output = run(earshot(ws.path()).args([
        "model",
        "train",
        "--task",
        "sentiment",
        "--data",
        data.to_str().unwrap(),
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("trained sentiment (en)"), "{stdout}");
    let saved = ws.path().join("models/sentiment-en.esm");
    assert!(saved.is_file(), "{stdout}");

    let output = run(earshot(ws.path()).args([
        "model",
        "eval",
        "--task",
        "sentiment",
        "--data",
        data.to_str().unwrap(),
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    for figure in [
        "accuracy",
        "macro-F1",
        "macro-recall",
        "weighted-F1",
        "gold \\ predicted",
    ] {
        assert!(report.contains(figure), "{figure} missing in {report}");
    }
    let accuracy: f64 = report
        .split("accuracy ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {report}"));
    assert!(
        accuracy >= 0.8,
        "separable data, accuracy {accuracy}: {report}"
    );
    assert!(
        report.contains("(workspace)"),
        "the workspace model is the one in use: {report}"
    );

    let output = run(earshot(ws.path()).args(["model", "list"]));
    let listing = text(&output.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("sentiment\ten\tnegative,neutral,positive\tworkspace\t")),
        "{listing}"
    );

    // With the model and the workspace's brands: the tone toward each brand, also where the
    // text names a brand by another term of its query.
    earshot(ws.path())
        .args(["brand", "add", "Noventa", "--query", "Noventa OR novvy"])
        .assert()
        .success();
    let output = run(earshot(ws.path()).arg("analyze").write_stdin(
        "{\"text\":\"Zeltron is awful, I hate it. I love Kvantix, wonderful. Novvy is awful, I hate it\",\"lang\":\"en\"}\n",
    ));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let line: Value = serde_json::from_str(text(&output.stdout).trim()).unwrap();
    let mut targets: Vec<(String, String)> = line["analysis"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["target"].as_str().unwrap().to_owned(),
                t["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![
            ("Kvantix".to_owned(), "positive".to_owned()),
            ("Noventa".to_owned(), "negative".to_owned()),
            ("Zeltron".to_owned(), "negative".to_owned())
        ]
    );
    assert!(line["analysis"]["sentiment"]["label"].is_string());
}

#[test]
fn a_damaged_workspace_model_is_named() {
    let ws = workspace(&[]);
    std::fs::create_dir_all(ws.path().join("models")).unwrap();
    std::fs::write(ws.path().join("models/broken.esm"), b"not a model").unwrap();
    let output = run(earshot(ws.path()).args(["model", "list"]));
    assert_fails_saying(&output, "broken.esm");
}

#[test]
fn train_takes_an_idf_corpus_and_the_nb_search_as_the_shipped_models_were_trained() {
    let ws = workspace(&[]);
    let data = ws.path().join("data/sentiment-en");
    write_sentiment_data(&data);
    let other = ws.path().join("data/more-english");
    write_sentiment_data(&other);
    let out = ws.path().join("trained.esm");
    let output = train_sentiment(
        ws.path(),
        &data,
        &[
            "--idf-corpus",
            data.to_str().unwrap(),
            other.to_str().unwrap(),
            "--nb-search",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    // 9 nouns × 3 sentences in each folder's train.jsonl.
    assert!(
        stdout.contains("IDF table over 54 texts of 2 training sets"),
        "{stdout}"
    );
    let chosen = stdout
        .lines()
        .find(|line| line.starts_with("chosen: C "))
        .unwrap_or_else(|| panic!("no chosen options in {stdout}"));
    assert!(
        chosen.contains("5-fold cross-validation macro-F1"),
        "{chosen}"
    );
    assert!(out.is_file(), "{stdout}");

    let empty = ws.path().join("data/empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("train.jsonl"), "not json\n").unwrap();
    let output = train_sentiment(ws.path(), &data, &["--idf-corpus", empty.to_str().unwrap()]);
    assert_fails_saying(&output, "no readable training text");
    let output = train_sentiment(
        ws.path(),
        &data,
        &["--idf-corpus", "/nonexistent/idf-texts"],
    );
    assert_fails_saying(&output, "/nonexistent/idf-texts/train.jsonl not found");
}

#[test]
fn eval_writes_each_test_prediction_for_paired_comparisons() {
    let ws = workspace(&[]);
    let data = ws.path().join("data/sentiment-en");
    write_sentiment_data(&data);
    let model = ws.path().join("trained.esm");
    let output = train_sentiment(ws.path(), &data, &["--out", model.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let predictions = ws.path().join("predictions.jsonl");
    let output = run(earshot(ws.path()).args([
        "model",
        "eval",
        "--task",
        "sentiment",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--predictions",
        predictions.to_str().unwrap(),
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let test = json_lines(&std::fs::read_to_string(data.join("test.jsonl")).unwrap());
    let written = json_lines(&std::fs::read_to_string(&predictions).unwrap());
    assert_eq!(written.len(), test.len());
    for (line, example) in written.iter().zip(&test) {
        assert_eq!(line["id"], example["id"]);
        assert_eq!(line["gold"], example["label"]);
        let score = line["score"].as_f64().unwrap();
        assert!((1.0 / 3.0..=1.0).contains(&score), "{line}");
    }
    assert_prints_the_accuracy_of(&output, &written);
}

/// `earshot model eval --analyzer` scores what `earshot analyze` reports, text by text: the
/// built-in models with the rules and the language check.
#[test]
fn eval_through_the_analyzer_scores_what_analyze_reports() {
    let ws = workspace(&[]);
    let data = ws.path().join("data/complaints");
    std::fs::create_dir_all(&data).unwrap();
    let examples = [
        (
            "My order never arrived and nobody answers, this is unacceptable",
            "complaint",
            "en",
        ),
        (
            "The app crashes every time I open it, fix it now",
            "complaint",
            "en",
        ),
        (
            "Worst service ever, still waiting for my refund",
            "complaint",
            "en",
        ),
        (
            "Thanks for the quick help yesterday, great team",
            "other",
            "en",
        ),
        ("What time does the store open on Sunday?", "other", "en"),
        (
            "Just bought the new phone, looking forward to trying it",
            "other",
            "en",
        ),
        // No English words at all: the Russian complaint rules answer it.
        ("Ужасный сервис, верните деньги", "complaint", "ru"),
    ];
    let mut lines = String::new();
    for (n, (text, label, lang)) in examples.iter().enumerate() {
        lines.push_str(
            &serde_json::json!({"id": n.to_string(), "text": text, "label": label, "lang": lang})
                .to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(data.join("test.jsonl"), &lines).unwrap();
    let predictions = ws.path().join("predictions.jsonl");
    let output = run(earshot(ws.path()).args([
        "model",
        "eval",
        "--task",
        "complaint",
        "--analyzer",
        "--data",
        data.to_str().unwrap(),
        "--predictions",
        predictions.to_str().unwrap(),
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let analyzed =
        run(earshot(ws.path()).args(["analyze", data.join("test.jsonl").to_str().unwrap()]));
    assert!(analyzed.status.success(), "{}", text(&analyzed.stderr));
    let analyses = json_lines(&text(&analyzed.stdout));
    let written = json_lines(&std::fs::read_to_string(&predictions).unwrap());
    assert_eq!(written.len(), examples.len());
    for ((line, analysis), (_, gold, _)) in written.iter().zip(&analyses).zip(&examples) {
        let flagged = analysis["analysis"]["intents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|intent| intent["label"] == "complaint");
        let expected = if flagged { "complaint" } else { "other" };
        assert_eq!(line["predicted"], expected, "{line} against {analysis}");
        assert_eq!(line["gold"], *gold);
    }
    assert!(text(&output.stdout).contains("(the whole analysis)"));
    assert_prints_the_accuracy_of(&output, &written);
}

#[test]
fn eval_through_the_analyzer_counts_texts_it_gives_no_label() {
    let ws = workspace(&[]);
    let data = ws.path().join("data/sentiment-de");
    std::fs::create_dir_all(&data).unwrap();
    // No German sentiment model exists: the analysis reports no sentiment for it.
    let lines = [
        serde_json::json!({"text": "I love this phone, it is wonderful", "label": "positive", "lang": "en"}),
        serde_json::json!({"text": "Das Telefon ist wirklich sehr gut und schnell, ich bin froh", "label": "positive", "lang": "de"}),
    ]
    .map(|line| line.to_string())
    .join("\n");
    // A broken line is named on stderr and counted, and the rest goes on.
    std::fs::write(data.join("test.jsonl"), format!("{lines}\n{{not json\n")).unwrap();
    let output = run(earshot(ws.path()).args([
        "model",
        "eval",
        "--task",
        "sentiment",
        "--analyzer",
        "--data",
        data.to_str().unwrap(),
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "1 texts got no sentiment (taken for languages without a model: de 1), counted as neutral"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("examples 2 "), "{stdout}");
    assert!(stdout.contains("skipped lines 1"), "{stdout}");
    assert!(
        text(&output.stderr).contains("test.jsonl:3: "),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn eval_through_the_analyzer_refuses_what_the_analysis_does_not_report() {
    let ws = workspace(&[]);
    let data = ws.path().join("data/banking");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("test.jsonl"),
        r#"{"text": "my card was declined", "label": "declined_card_payment"}"#,
    )
    .unwrap();
    let eval = |extra: &[&str]| {
        run(earshot(ws.path())
            .args([
                "model",
                "eval",
                "--task",
                "banking77",
                "--analyzer",
                "--data",
            ])
            .arg(&data)
            .args(extra))
    };
    assert_fails_saying(
        &eval(&[]),
        "the analysis reports sentiment, offensive, spam and complaint, not banking77",
    );
    // One model, or the whole analysis: not both.
    assert_fails_saying(&eval(&["--model", "x.esm"]), "cannot be used with");
}

#[test]
fn train_names_a_missing_data_folder() {
    let ws = workspace(&[]);
    let output = run(earshot(ws.path()).args([
        "model",
        "train",
        "--task",
        "spam",
        "--data",
        "/nonexistent/spam-data",
    ]));
    assert_fails_saying(&output, "/nonexistent/spam-data/train.jsonl not found");
}

/// A forum mention in the interchange format, published at `minute` past 10:00.
fn forum_line(external_id: &str, text: &str, lang: Option<&str>, minute: u32) -> Value {
    let mut line = serde_json::json!({
        "text": text,
        "published_at": format!("2026-03-01T10:{minute:02}:00Z"),
        "source": "forum",
        "external_id": external_id,
    });
    if let Some(lang) = lang {
        line["lang"] = lang.into();
    }
    line
}

/// Imports `lines` with `earshot import` and opens the workspace's store, with its mentions,
/// newest first.
async fn import_lines(ws: &Path, lines: &[Value]) -> (SqliteStore, Vec<earshot_core::Mention>) {
    let mut file = String::new();
    for line in lines {
        file.push_str(&line.to_string());
        file.push('\n');
    }
    let import = ws.join("mentions.jsonl");
    std::fs::write(&import, file).unwrap();
    let output = run(earshot(ws).args(["import", import.to_str().unwrap()]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let store = SqliteStore::open(ws).await.unwrap();
    let mentions = store
        .search(&MentionFilter::default(), SortOrder::Newest, None, 100)
        .await
        .unwrap()
        .mentions;
    (store, mentions)
}

#[tokio::test(flavor = "multi_thread")]
async fn train_with_corrections_reports_before_and_after_on_held_out_corrections() {
    let ws = workspace(&["Zeltron"]);
    // Mentions whose wording the data never labels: "meh" is what this team calls negative.
    let mut lines: Vec<Value> = (0..30)
        .map(|n| {
            forum_line(
                &n.to_string(),
                &format!("Zeltron meh meh number {n}"),
                Some("en"),
                0,
            )
        })
        .collect();
    // And ten whose language cannot be named (no letters but the handle): the English models
    // read them, so their corrections teach the English model; a Greek one teaches no English
    // model.
    for n in 0..10 {
        let text = if n == 0 {
            "@Zeltron ΧΧ 👎".to_owned()
        } else {
            format!("@Zeltron 👎👎 {n}")
        };
        lines.push(forum_line(&format!("emoji-{n}"), &text, None, 30));
    }
    let (store, mentions) = import_lines(ws.path(), &lines).await;
    assert_eq!(mentions.len(), 40);
    let undetermined = mentions.iter().filter(|m| m.lang == "und").count();
    assert_eq!(
        undetermined, 10,
        "the emoji mentions' language is undetermined"
    );
    // Ids 1-30 English, 31 Greek, 32-40 emoji: 39 English-model corrections, those with an id
    // divisible by 5 held out.
    let negative = LabelCorrection::new(CorrectionField::Sentiment, "negative", true).unwrap();
    for mention in &mentions {
        assert!(store
            .record_correction(mention.id, &negative, Some("tester"))
            .await
            .unwrap());
    }
    store.close().await;

    let data = ws.path().join("data/sentiment-en");
    write_sentiment_data(&data);
    let output = train_sentiment(ws.path(), &data, &["--with-corrections"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("corrections of sentiment (en): 31 learned from, 8 held out"),
        "{stdout}"
    );
    let held_out = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("held-out corrections:"))
        .unwrap_or_else(|| panic!("no held-out line in {stdout}"));
    let figures: Vec<f64> = held_out
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|part| part.parse().ok())
        .collect();
    let (before, after) = (figures[0], figures[1]);
    assert!(
        after > before,
        "learning the corrections must help on held-out ones: {held_out}"
    );
    assert!(
        stdout.contains("test sets + held-out corrections:"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reanalyze_applies_the_models_in_use_now_and_keeps_corrections() {
    let ws = workspace(&["Zeltron"]);
    let texts = [
        "Zeltron is awful, I hate it",
        "I love Zeltron, wonderful",
        "Zeltron is on the table",
    ];
    let lines: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(n, text)| forum_line(&n.to_string(), text, Some("en"), 0))
        .collect();
    let (store, imported) = import_lines(ws.path(), &lines).await;
    let first = imported
        .iter()
        .find(|m| m.text == texts[0])
        .unwrap()
        .clone();
    let correction = LabelCorrection::new(CorrectionField::Sentiment, "neutral", true).unwrap();
    assert!(store
        .record_correction(first.id, &correction, Some("tester"))
        .await
        .unwrap());
    store.close().await;

    // A workspace model replaces the built-in one; stored mentions still carry the old labels
    // until they are analysed again.
    let data = ws.path().join("data/sentiment-en");
    write_sentiment_data(&data);
    let output = train_sentiment(ws.path(), &data, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = run(earshot(ws.path()).arg("reanalyze"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("re-analysed 3 mentions"),
        "{}",
        text(&output.stdout)
    );

    // Each stored analysis is what `analyze` gives now, with the brand as a target.
    let mut input = String::new();
    for text in texts {
        input.push_str(&serde_json::json!({"text": text, "lang": "en"}).to_string());
        input.push('\n');
    }
    let output = run(earshot(ws.path()).arg("analyze").write_stdin(input));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let expected: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["analysis"].clone())
        .collect();
    let store = SqliteStore::open(ws.path()).await.unwrap();
    for (text, expected) in texts.iter().zip(&expected) {
        let stored = store
            .search(&MentionFilter::default(), SortOrder::Newest, None, 10)
            .await
            .unwrap()
            .mentions
            .into_iter()
            .find(|m| m.text == *text)
            .unwrap();
        let analysis = serde_json::to_value(stored.analysis.as_ref().unwrap()).unwrap();
        // Scores go through the store as f64 and come back with other digits: compare labels.
        let labels = |a: &Value| {
            let label = |field: &str| a[field]["label"].as_str().unwrap_or("-").to_owned();
            let list = |field: &str| -> Vec<String> {
                a[field]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|item| format!("{}:{}", item["target"], item["label"]))
                    .collect()
            };
            (
                [
                    label("lang"),
                    label("sentiment"),
                    label("offensive"),
                    label("spam"),
                ],
                a["lang"].clone(),
                list("intents"),
                list("targets"),
            )
        };
        assert_eq!(labels(&analysis), labels(expected), "{text}");
        assert_eq!(analysis["targets"][0]["target"], "Zeltron", "{text}");
    }
    let corrected = store.get(first.id).await.unwrap().unwrap();
    assert_eq!(corrected.corrections.sentiment.as_deref(), Some("neutral"));
    // The built-in model's scores are gone: the workspace model gave these.
    let score = |m: &earshot_core::Mention| m.analysis.as_ref().unwrap().sentiment.clone();
    let mut changed = 0;
    for before in &imported {
        let after = store.get(before.id).await.unwrap().unwrap();
        changed += usize::from(score(before) != score(&after));
    }
    assert_eq!(changed, texts.len(), "every analysis was replaced");
}
