//! `earshot account` and `earshot post` on a real workspace: the key file from `init`, sealed
//! credentials, a credential check against a local server answering as Mastodon documents,
//! and the flow draft → scheduled from the command line.

use std::path::Path;

use assert_cmd::Command;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn earshot(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("earshot").expect("binary built");
    command
        .env_remove("EARSHOT_DIR")
        .env_remove("EARSHOT_MASTER_KEY")
        .env_remove("EARSHOT_ACCOUNT_SECRET")
        .arg("--dir")
        .arg(dir);
    command
}

fn run_ok(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn run_err(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(!output.status.success(), "should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run_ok(earshot(dir.path()).arg("init"));
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("earshot.toml"))
        .and_then(|mut f| {
            std::io::Write::write_all(
                &mut f,
                b"\n[[team]]\nname = \"legal\"\nmembers = [\"lena\"]\n",
            )
        })
        .unwrap();
    for name in ["anna", "lena"] {
        run_ok(
            earshot(dir.path())
                .args(["user", "add", name, "--role", "agent"])
                .write_stdin("a long enough password\n"),
        );
    }
    dir
}

fn add_account(dir: &Path, server: &str, token: &str) -> String {
    run_ok(
        earshot(dir)
            .args([
                "account",
                "add",
                "shop",
                "--network",
                "mastodon",
                "--handle",
                "@shop@social.example",
                "--server",
                server,
                "--owner",
                "anna",
                "--language",
                "en",
                "--step",
                "legal",
            ])
            .write_stdin(format!("{token}\n")),
    )
}

#[test]
fn init_makes_a_private_key_and_credentials_are_stored_sealed() {
    let dir = workspace();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    add_account(dir.path(), "https://social.example", "very-secret-token-42");
    let database = std::fs::read(dir.path().join("earshot.db")).unwrap();
    let wal = std::fs::read(dir.path().join("earshot.db-wal")).unwrap_or_default();
    for bytes in [&database, &wal] {
        assert!(
            !bytes.windows(20).any(|w| w == b"very-secret-token-42"),
            "the token is not stored in plain text"
        );
    }
    let list = run_ok(earshot(dir.path()).args(["account", "list"]));
    assert!(
        list.contains("shop\tmastodon\t@shop@social.example\tactive\towner anna"),
        "{list}"
    );
    // Without the key file, nothing opens, and the error says what to do.
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let err = run_err(earshot(dir.path()).args(["account", "check", "shop"]));
    assert!(err.contains("no master key"), "{err}");
    // Another key: a clear error naming the account, no panic.
    let err = run_err(
        earshot(dir.path())
            .env("EARSHOT_MASTER_KEY", "ab".repeat(32))
            .args(["account", "check", "shop"]),
    );
    assert!(err.contains("cannot be decrypted"), "{err}");
    assert!(err.contains("@shop@social.example"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_records_the_accounts_health() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .and(header("authorization", "Bearer good-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "109348", "username": "shop", "acct": "shop", "display_name": "Shop"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"})),
        )
        .mount(&server)
        .await;
    let dir = workspace();
    let uri = server.uri();
    let dir_path = dir.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        add_account(&dir_path, &uri, "good-token");
        run_ok(earshot(&dir_path).args(["account", "check", "shop"]))
    })
    .await
    .unwrap();
    assert!(output.contains("signed in as shop"), "{output}");
    let dir_path = dir.path().to_path_buf();
    let uri = server.uri();
    let (err, list) = tokio::task::spawn_blocking(move || {
        run_ok(earshot(&dir_path).args(["account", "remove", "shop"]));
        run_ok(
            earshot(&dir_path)
                .args([
                    "account",
                    "add",
                    "shop",
                    "--network",
                    "mastodon",
                    "--handle",
                    "@shop@social.example",
                    "--server",
                    &uri,
                    "--owner",
                    "anna",
                ])
                .env("EARSHOT_ACCOUNT_SECRET", "revoked-token"),
        );
        let err = run_err(earshot(&dir_path).args(["account", "check", "shop"]));
        (err, run_ok(earshot(&dir_path).args(["account", "list"])))
    })
    .await
    .unwrap();
    assert!(err.contains("The access token is invalid"), "{err}");
    assert!(list.contains("disconnected"), "{list}");
}

#[test]
fn a_post_is_drafted_reviewed_and_scheduled_from_the_command_line() {
    let dir = workspace();
    add_account(dir.path(), "https://social.example", "token");
    let added = run_ok(earshot(dir.path()).args([
        "post",
        "add",
        "--title",
        "Winter tips",
        "--as",
        "anna",
        "--variant",
        "shop=How do you keep your bike chain clean in winter? Tell us your tricks",
    ]));
    assert!(added.contains("Post 1 created as a draft"), "{added}");
    assert!(added.contains("pass  network_rules"), "{added}");
    run_ok(earshot(dir.path()).args(["post", "submit", "1", "--as", "anna"]));
    let own = run_err(earshot(dir.path()).args(["post", "approve", "1", "--as", "anna"]));
    assert!(own.contains("cannot approve"), "{own}");
    run_ok(earshot(dir.path()).args(["post", "approve", "1", "--as", "lena"]));
    let bad_time = run_err(earshot(dir.path()).args([
        "post",
        "schedule",
        "1",
        "--as",
        "anna",
        "--at",
        "next tuesday",
    ]));
    assert!(bad_time.contains("RFC 3339"), "{bad_time}");
    let scheduled = run_ok(earshot(dir.path()).args([
        "post",
        "schedule",
        "1",
        "--as",
        "anna",
        "--at",
        "2099-06-01T09:00:00Z",
    ]));
    assert!(
        scheduled.contains("scheduled for 2099-06-01 09:00 UTC"),
        "{scheduled}"
    );
    let shown = run_ok(earshot(dir.path()).args(["post", "show", "1"]));
    assert!(shown.contains("legal approved by lena"), "{shown}");
    assert!(
        shown.contains("anna scheduled approved → scheduled"),
        "{shown}"
    );
    let listed = run_ok(earshot(dir.path()).args(["post", "list", "--state", "scheduled"]));
    assert!(listed.contains("Winter tips"), "{listed}");
}

/// Mastodon's `POST /api/v1/statuses` as far as exactly-once goes: one status per
/// `Idempotency-Key` (the same status again for a key it has seen), and the first creation's
/// answer held back so that the server has the status while the client still waits.
struct HeldStatuses {
    base: String,
    by_key: std::sync::Mutex<std::collections::HashMap<String, serde_json::Value>>,
    hold_first: std::sync::Mutex<Option<std::time::Duration>>,
}

struct HeldStatusesResponder(std::sync::Arc<HeldStatuses>);

impl wiremock::Respond for HeldStatusesResponder {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let key = request
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let state = &self.0;
        let mut by_key = state.by_key.lock().unwrap();
        if let Some(existing) = by_key.get(&key) {
            return ResponseTemplate::new(200).set_body_json(existing.clone());
        }
        let id = format!("1200{}", by_key.len() + 1);
        let status = json!({
            "id": id,
            "created_at": "2026-12-03T09:00:00.000Z",
            "uri": format!("{}/users/shop/statuses/{id}", state.base),
            "url": format!("{}/@shop/{id}", state.base),
            "content": format!("<p>{}</p>", body["status"].as_str().unwrap_or_default()),
            "visibility": "public"
        });
        by_key.insert(key, status.clone());
        let answer = ResponseTemplate::new(200).set_body_json(status);
        match state.hold_first.lock().unwrap().take() {
            Some(hold) => answer.set_delay(hold),
            None => answer,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_serve(dir: &Path, port: u16) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("earshot"))
        .env_remove("EARSHOT_DIR")
        .env_remove("EARSHOT_MASTER_KEY")
        .args(["--dir"])
        .arg(dir)
        .args(["serve", "--no-poll", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The whole `earshot serve` process is killed (SIGKILL) while its worker waits for the
/// network's answer to a post the network has already created; the restarted server sends it
/// again with the same Idempotency-Key after the lease, gets the same status back, and the
/// post ends published, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_mid_publication_publishes_the_post_once_after_a_restart() {
    let mastodon = MockServer::start().await;
    let statuses = std::sync::Arc::new(HeldStatuses {
        base: mastodon.uri(),
        by_key: Default::default(),
        hold_first: std::sync::Mutex::new(Some(std::time::Duration::from_secs(60))),
    });
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(header("authorization", "Bearer serve-token"))
        .respond_with(HeldStatusesResponder(statuses.clone()))
        .mount(&mastodon)
        .await;
    let dir = workspace();
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("earshot.toml"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"\n[outbox]\nlease_secs = 3\n"))
        .unwrap();
    add_account(dir.path(), &mastodon.uri(), "serve-token");
    run_ok(earshot(dir.path()).args([
        "post",
        "add",
        "--title",
        "Service week",
        "--as",
        "anna",
        "--variant",
        "shop=Service week: what should we check first on your bike?",
    ]));
    run_ok(earshot(dir.path()).args(["post", "submit", "1", "--as", "anna"]));
    run_ok(earshot(dir.path()).args(["post", "approve", "1", "--as", "lena"]));
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    run_ok(earshot(dir.path()).args(["post", "schedule", "1", "--as", "anna", "--at", &at]));

    let mut first = start_serve(dir.path(), free_port());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while statuses.by_key.lock().unwrap().is_empty() {
        if let Some(exit) = first.try_wait().unwrap() {
            panic!("earshot serve ended before publishing: {exit}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "earshot serve never reached the network"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    first.kill().unwrap(); // SIGKILL: no shutdown path runs
    first.wait().unwrap();
    let before = run_ok(earshot(dir.path()).args(["post", "show", "1"]));
    assert!(!before.contains("published"), "{before}");

    let mut second = start_serve(dir.path(), free_port());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let shown = loop {
        let shown = run_ok(earshot(dir.path()).args(["post", "show", "1"]));
        if shown.contains("→ published") || std::time::Instant::now() > deadline {
            break shown;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(shown.contains("→ published"), "{shown}");
    assert!(shown.contains("/@shop/12001"), "{shown}");
    assert_eq!(
        statuses.by_key.lock().unwrap().len(),
        1,
        "exactly one status on the network"
    );
    let creations = mastodon
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/v1/statuses")
        .count();
    assert_eq!(creations, 2, "sent twice, with one key: created once");
}
