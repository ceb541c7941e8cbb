//! `earshot user` and `earshot token` on a real workspace.

use std::path::Path;

use assert_cmd::Command;

fn earshot(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("earshot").expect("binary built");
    command.env_remove("EARSHOT_DIR").arg("--dir").arg(dir);
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

#[test]
fn users_are_added_listed_changed_and_disabled() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(earshot(dir.path()).arg("init"));
    run_ok(
        earshot(dir.path())
            .args(["user", "add", "anna", "--role", "admin"])
            .write_stdin("a long enough password\n"),
    );
    let invited =
        run_ok(earshot(dir.path()).args(["user", "add", "boris", "--role", "viewer", "--invite"]));
    let link = invited
        .lines()
        .find(|l| l.starts_with("http://127.0.0.1:8080/invite/"))
        .unwrap_or_else(|| panic!("an invite link in {invited}"));
    assert_eq!(link.len(), "http://127.0.0.1:8080/invite/".len() + 64);

    let short = run_err(
        earshot(dir.path())
            .args(["user", "add", "carl", "--role", "agent"])
            .write_stdin("short\n"),
    );
    assert!(short.contains("at least 10 characters"), "{short}");
    let taken = run_err(
        earshot(dir.path())
            .args(["user", "add", "anna", "--role", "agent"])
            .write_stdin("a long enough password\n"),
    );
    assert!(taken.contains("already exists"), "{taken}");
    let bad_role = run_err(earshot(dir.path()).args(["user", "add", "dora", "--role", "root"]));
    assert!(bad_role.contains("root"), "{bad_role}");
    let bad_name = run_err(
        earshot(dir.path())
            .args(["user", "add", "<b>", "--role", "agent"])
            .write_stdin("a long enough password\n"),
    );
    assert!(bad_name.contains("may hold only"), "{bad_name}");

    run_ok(earshot(dir.path()).args(["user", "set-role", "boris", "manager"]));
    let list = run_ok(earshot(dir.path()).args(["user", "list"]));
    assert!(list.contains("anna\tadmin"), "{list}");
    assert!(list.contains("boris\tmanager"), "{list}");
    assert!(!list.contains("carl"), "{list}");
    let unknown = run_err(earshot(dir.path()).args(["user", "set-role", "ghost", "viewer"]));
    assert!(unknown.contains("ghost"), "{unknown}");

    let token = run_ok(earshot(dir.path()).args(["token", "create", "anna", "--name", "ci"]));
    let secret = token.trim();
    assert!(secret.starts_with("es_") && secret.len() == 67, "{secret}");
    let tokens = run_ok(earshot(dir.path()).args(["token", "list"]));
    assert!(tokens.contains("\tci\tanna\tactive"), "{tokens}");
    assert!(!tokens.contains(secret), "the secret is shown once only");

    run_ok(earshot(dir.path()).args(["user", "disable", "anna"]));
    let list = run_ok(earshot(dir.path()).args(["user", "list"]));
    assert!(
        list.contains("anna\tadmin\t (disabled)") || list.contains("(disabled)"),
        "{list}"
    );
    let tokens = run_ok(earshot(dir.path()).args(["token", "list"]));
    assert!(
        tokens.contains("\tanna\trevoked"),
        "disabling revokes tokens: {tokens}"
    );
    let refused = run_err(earshot(dir.path()).args(["token", "create", "anna"]));
    assert!(refused.contains("disabled"), "{refused}");
}

#[test]
fn tokens_are_revoked_by_id() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(earshot(dir.path()).arg("init"));
    run_ok(
        earshot(dir.path())
            .args(["user", "add", "anna", "--role", "agent"])
            .write_stdin("a long enough password\n"),
    );
    run_ok(earshot(dir.path()).args(["token", "create", "anna"]));
    let list = run_ok(earshot(dir.path()).args(["token", "list"]));
    let id = list.split('\t').next().unwrap().to_string();
    let revoked = run_ok(earshot(dir.path()).args(["token", "revoke", &id]));
    assert!(revoked.contains("revoked"), "{revoked}");
    let list = run_ok(earshot(dir.path()).args(["token", "list"]));
    assert!(list.contains("\trevoked\t"), "{list}");
    let missing = run_err(earshot(dir.path()).args(["token", "revoke", "999"]));
    assert!(missing.contains("no token with id 999"), "{missing}");
    let nobody = run_err(earshot(dir.path()).args(["token", "create", "ghost"]));
    assert!(nobody.contains("no user named \"ghost\""), "{nobody}");
}

#[test]
fn users_get_checked_email_addresses_for_escalations() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(earshot(dir.path()).arg("init"));
    run_ok(
        earshot(dir.path())
            .args([
                "user",
                "add",
                "maria",
                "--role",
                "manager",
                "--email",
                "Maria@Brand.Example",
            ])
            .write_stdin("a long enough password\n"),
    );
    run_ok(earshot(dir.path()).args(["user", "add", "sam", "--role", "manager", "--invite"]));
    let bad = run_err(
        earshot(dir.path())
            .args([
                "user",
                "add",
                "eve",
                "--role",
                "agent",
                "--email",
                "eve at home",
            ])
            .write_stdin("a long enough password\n"),
    );
    assert!(bad.contains("eve at home"), "{bad}");
    let list = run_ok(earshot(dir.path()).args(["user", "list"]));
    assert!(
        !list.contains("eve"),
        "a refused address adds no user: {list}"
    );
    assert!(
        list.contains("maria\tmanager\t\tMaria@brand.example"),
        "{list}"
    );

    run_ok(earshot(dir.path()).args(["user", "set-email", "sam", "sam@brand.example"]));
    let refused = run_err(earshot(dir.path()).args([
        "user",
        "set-email",
        "sam",
        "sam@brand.example\nBcc: x@evil.example",
    ]));
    assert!(refused.contains("may not hold"), "{refused}");
    let ghost =
        run_err(earshot(dir.path()).args(["user", "set-email", "ghost", "g@brand.example"]));
    assert!(ghost.contains("ghost"), "{ghost}");
    let list = run_ok(earshot(dir.path()).args(["user", "list"]));
    assert!(list.contains("sam\tmanager\t\tsam@brand.example"), "{list}");

    run_ok(earshot(dir.path()).args(["user", "set-email", "sam", "--clear"]));
    let list = run_ok(earshot(dir.path()).args(["user", "list"]));
    assert!(!list.contains("sam@brand.example"), "{list}");
}
