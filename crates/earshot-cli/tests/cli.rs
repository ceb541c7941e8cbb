//! The `earshot` binary, run as a user would run it, on real workspaces in temporary directories.

use std::io::Write;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

fn earshot(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("earshot").expect("binary built");
    command.env_remove("EARSHOT_DIR").arg("--dir").arg(dir);
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn workspace_with_brands() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    earshot(dir.path()).arg("init").assert().success();
    earshot(dir.path())
        .args([
            "brand",
            "add",
            "Zeltron",
            "--query",
            "Zeltron OR Зелтрон OR Ζέλτρον",
        ])
        .assert()
        .success();
    earshot(dir.path())
        .args([
            "brand",
            "add",
            "Kvantix",
            "--query",
            "Kvantix OR Квантикс",
            "--competitor",
        ])
        .assert()
        .success();
    dir
}

const GOOD_LINES: &str = r#"{"text":"Зелтроном недоволен: опять нет связи","published_at":"2026-03-01T10:00:00Z","source":"vk","external_id":"1","author":{"handle":"@ivan","followers":120}}
{"text":"Η ΖΕΛΤΡΟΝ έκοψε πάλι το ίντερνετ σήμερα το πρωί","published_at":"2026-03-01T11:00:00Z","url":"https://forum.example/t/2?utm_source=x"}
{"text":"Switched from Kvantix to <b>Zeltron</b> and the speed is great","published_at":"2026-03-02T09:00:00+02:00","url":"https://blog.example/p/3","lang":"en"}
{"text":"Nothing about any brand here at all, just weather talk","published_at":"2026-03-02T10:00:00Z","url":"https://blog.example/p/4"}
"#;

fn write_file(dir: &Path, name: &str, contents: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(contents)
        .unwrap();
    path
}

fn export(dir: &Path) -> Vec<Value> {
    let output = earshot(dir).arg("export").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn init_refuses_to_overwrite_and_commands_need_a_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let output = earshot(dir.path())
        .args(["brand", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("earshot init"),
        "{}",
        stderr(&output)
    );
    earshot(dir.path()).arg("init").assert().success();
    assert!(dir.path().join("earshot.toml").exists());
    assert!(dir.path().join("earshot.db").exists());
    let again = earshot(dir.path()).arg("init").output().unwrap();
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already"));
}

#[test]
fn earshot_dir_environment_variable_selects_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::cargo_bin("earshot").unwrap();
    command
        .env("EARSHOT_DIR", dir.path())
        .arg("init")
        .assert()
        .success();
    let mut command = Command::cargo_bin("earshot").unwrap();
    command
        .env("EARSHOT_DIR", dir.path())
        .args(["brand", "add", "Zeltron", "--query", "Zeltron"])
        .assert()
        .success();
    let config = std::fs::read_to_string(dir.path().join("earshot.toml")).unwrap();
    assert!(config.contains("Zeltron"));
}

#[test]
fn malformed_brand_query_is_refused_with_its_column() {
    let dir = workspace_with_brands();
    let output = earshot(dir.path())
        .args(["brand", "add", "Noventa", "--query", "Noventa AND (cheap"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("column"), "{}", stderr(&output));
    let list = earshot(dir.path())
        .args(["brand", "list"])
        .output()
        .unwrap();
    assert!(!stdout(&list).contains("Noventa"));
    assert!(stdout(&list).contains("Kvantix (competitor)"));
    earshot(dir.path())
        .args(["brand", "remove", "Kvantix"])
        .assert()
        .success();
    let list = earshot(dir.path())
        .args(["brand", "list"])
        .output()
        .unwrap();
    assert!(!stdout(&list).contains("Kvantix"));
}

#[test]
fn import_stores_matching_mentions_once_and_reports_bad_lines() {
    let dir = workspace_with_brands();
    let mut contents = GOOD_LINES.as_bytes().to_vec();
    contents.extend_from_slice(b"this is not json\n");
    contents.extend_from_slice(
        b"{\"text\":\"Zeltron without a date\",\"url\":\"https://x.example/5\"}\n",
    );
    contents.extend_from_slice(b"{\"text\":\"Zeltron \xff\xfe broken bytes\",\"published_at\":\"2026-03-03T00:00:00Z\",\"url\":\"https://x.example/6\"}\n");
    let file = write_file(dir.path(), "mentions.jsonl", &contents);
    let output = earshot(dir.path())
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("line 5"), "{err}");
    assert!(
        err.contains("line 6") && err.contains("published_at"),
        "{err}"
    );
    assert!(err.contains("line 7") && err.contains("UTF-8"), "{err}");
    assert!(
        stdout(&output).contains("3 new mentions"),
        "{}",
        stdout(&output)
    );

    let stored = export(dir.path());
    assert_eq!(stored.len(), 3);
    let html = stored
        .iter()
        .find(|m| m["url"] == "https://blog.example/p/3")
        .unwrap();
    assert_eq!(
        html["text"],
        "Switched from Kvantix to Zeltron and the speed is great"
    );
    assert_eq!(html["brands"], serde_json::json!(["Kvantix", "Zeltron"]));
    let greek = stored
        .iter()
        .find(|m| m["url"].as_str().unwrap().contains("forum"))
        .unwrap();
    assert_eq!(greek["lang"], "el");
    assert_eq!(greek["canonical_url"], "https://forum.example/t/2");

    // The same file again stores nothing new.
    let again = earshot(dir.path())
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        stdout(&again).contains("0 new mentions"),
        "{}",
        stdout(&again)
    );
    assert_eq!(export(dir.path()).len(), 3);
}

#[test]
fn export_then_import_round_trips_into_a_new_workspace() {
    let first = workspace_with_brands();
    let file = write_file(first.path(), "in.jsonl", GOOD_LINES.as_bytes());
    earshot(first.path())
        .arg("import")
        .arg(&file)
        .assert()
        .success();
    let exported = earshot(first.path()).arg("export").output().unwrap();
    let second = workspace_with_brands();
    let copy = write_file(second.path(), "copy.jsonl", &exported.stdout);
    earshot(second.path())
        .arg("import")
        .arg(&copy)
        .assert()
        .success();
    let strip = |mut mentions: Vec<Value>| {
        for m in &mut mentions {
            let m = m.as_object_mut().unwrap();
            m.remove("id");
            m.remove("fetched_at");
            m.remove("duplicate_of");
        }
        mentions.sort_by_key(|m| m["url"].to_string() + m["external_id"].to_string().as_str());
        mentions
    };
    assert_eq!(strip(export(first.path())), strip(export(second.path())));
}

#[test]
fn import_reads_stdin_and_csv_with_named_columns() {
    let dir = workspace_with_brands();
    earshot(dir.path())
        .args(["import", "-"])
        .write_stdin(GOOD_LINES)
        .assert()
        .success();
    assert_eq!(export(dir.path()).len(), 3);
    let csv = "body,date,link,who\n\"Квантикс снова поднял цены\",2026-04-01T08:00:00Z,https://csv.example/1,@olga\n";
    let file = write_file(dir.path(), "posts.csv", csv.as_bytes());
    let output = earshot(dir.path())
        .arg("import")
        .arg(&file)
        .args(["--column", "text=body", "--column", "published_at=date"])
        .args(["--column", "url=link", "--column", "author_handle=who"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stored = export(dir.path());
    let row = stored
        .iter()
        .find(|m| m["url"] == "https://csv.example/1")
        .unwrap();
    assert_eq!(row["brands"], serde_json::json!(["Kvantix"]));
    assert_eq!(row["author"]["handle"], "@olga");
    let missing = write_file(
        dir.path(),
        "bad.csv",
        b"body,link\nZeltron,https://csv.example/2\n",
    );
    let output = earshot(dir.path())
        .arg("import")
        .arg(&missing)
        .args(["--column", "text=body", "--column", "url=link"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("published_at"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn search_finds_inflected_forms_with_filters_and_writes_json_lines() {
    let dir = workspace_with_brands();
    let file = write_file(dir.path(), "in.jsonl", GOOD_LINES.as_bytes());
    earshot(dir.path())
        .arg("import")
        .arg(&file)
        .assert()
        .success();
    let output = earshot(dir.path())
        .args(["search", "Зелтрон", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["external_id"], "1");
    let output = earshot(dir.path())
        .args(["search", "Zeltron OR Ζέλτρον", "--lang", "el", "--json"])
        .output()
        .unwrap();
    assert_eq!(stdout(&output).lines().count(), 1, "{}", stdout(&output));
    let output = earshot(dir.path())
        .args(["search", "speed", "--since", "2026-03-03", "--json"])
        .output()
        .unwrap();
    assert_eq!(stdout(&output).lines().count(), 0);
    let bad = earshot(dir.path())
        .args(["search", "speed AND"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("column"), "{}", stderr(&bad));
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_polls_a_feed_once_and_records_source_health() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let rss = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Tech blog</title><link>https://tech.example/</link>
<item><title>Review: Zeltron fibre</title><link>https://tech.example/zeltron?utm_campaign=x</link>
<guid>tech-1</guid><pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;We tried &lt;b&gt;Zeltron&lt;/b&gt; for a month.&lt;/p&gt;</description></item>
<item><title>Weather</title><link>https://tech.example/weather</link><guid>tech-2</guid>
<pubDate>Mon, 02 Mar 2026 11:00:00 GMT</pubDate><description>Sunny</description></item>
</channel></rss>"#;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_string(rss),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/broken.xml"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let dir = workspace_with_brands();
    let feed = format!("{}/feed.xml", server.uri());
    let broken = format!("{}/broken.xml", server.uri());
    let dir_path = dir.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        earshot(&dir_path)
            .args(["source", "add", "tech", "--kind", "feed", "--url", &feed])
            .assert()
            .success();
        earshot(&dir_path)
            .args(["source", "add", "down", "--kind", "feed", "--url", &broken])
            .assert()
            .success();
        let fetch = earshot(&dir_path).arg("fetch").output().unwrap();
        let list = earshot(&dir_path)
            .args(["source", "list"])
            .output()
            .unwrap();
        (fetch, list)
    })
    .await
    .unwrap();
    let (fetch, list) = output;
    assert_eq!(fetch.status.code(), Some(1), "one source failed");
    assert!(
        stdout(&fetch).contains("tech: 2 items, 1 new mentions"),
        "{}",
        stdout(&fetch)
    );
    assert!(stderr(&fetch).contains("down"), "{}", stderr(&fetch));
    let listing = stdout(&list);
    assert!(listing.contains("items seen: 2  stored: 1"), "{listing}");
    assert!(listing.contains("last error"), "{listing}");
    let stored = export(dir.path());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["title"], "Review: Zeltron fibre");
    assert_eq!(stored[0]["text"], "We tried Zeltron for a month.");
}
