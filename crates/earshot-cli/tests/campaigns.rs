//! `earshot link`, `earshot campaign` and `earshot conversions` on a real workspace.

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
fn campaigns_links_spend_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(earshot(dir.path()).arg("init"));
    let added = run_ok(earshot(dir.path()).args([
        "campaign",
        "add",
        "Spring Sale",
        "--goal",
        "sales",
        "--target",
        "10",
        "--budget",
        "500",
        "--currency",
        "EUR",
        "--start",
        "2027-03-01",
        "--end",
        "2027-03-31",
        "--post",
        "12",
    ]));
    assert!(added.contains("utm_campaign=spring-sale"), "{added}");
    let short = run_ok(earshot(dir.path()).args([
        "link",
        "create",
        "https://zeltron.com/shop?ref=x#top",
        "--campaign",
        "spring sale",
        "--utm-source",
        "mastodon",
    ]));
    let short = short.trim();
    assert!(short.starts_with("http://127.0.0.1:8080/l/"), "{short}");
    let listed = run_ok(earshot(dir.path()).args(["link", "list"]));
    assert!(
        listed.contains(
            "https://zeltron.com/shop?ref=x&utm_source=mastodon&utm_campaign=spring-sale#top"
        ),
        "{listed}"
    );
    assert!(listed.contains("0 people"), "{listed}");
    run_ok(earshot(dir.path()).args([
        "campaign",
        "spend",
        "spring-sale",
        "120.50",
        "--on",
        "2027-03-02",
    ]));
    let refused = run_err(earshot(dir.path()).args(["campaign", "spend", "spring-sale", "12,50"]));
    assert!(refused.contains("12,50"), "{refused}");
    let unknown = run_err(earshot(dir.path()).args(["campaign", "report", "autumn"]));
    assert!(unknown.contains("no campaign named"), "{unknown}");
    let report = run_ok(earshot(dir.path()).args(["campaign", "report", "Spring Sale"]));
    assert!(
        report.contains("ROI") && report.contains("-100.00 %"),
        "{report}"
    );
    assert!(report.contains("spend 120.50 EUR"), "{report}");
    let csv = run_ok(earshot(dir.path()).args(["campaign", "report", "Spring Sale", "--csv"]));
    let row = csv.lines().nth(1).unwrap();
    assert_eq!(
        row,
        "Spring Sale,spring-sale,sales,10,0,0,0,EUR,120.50,500.00,0,0.00,,-100.00"
    );
    let list = run_ok(earshot(dir.path()).args(["campaign", "list"]));
    assert!(
        list.contains("Spring Sale") && list.contains("2027-03-01"),
        "{list}"
    );
    let bad_goal =
        run_err(earshot(dir.path()).args(["campaign", "add", "X", "--goal", "followers"]));
    assert!(bad_goal.contains("--goal"), "{bad_goal}");
}

#[test]
fn the_signing_secret_is_created_private_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let outside = run_err(earshot(dir.path()).args(["conversions", "secret"]));
    assert!(outside.contains("earshot init"), "{outside}");
    run_ok(earshot(dir.path()).arg("init"));
    let first = run_ok(earshot(dir.path()).args(["conversions", "secret"]));
    assert_eq!(first.trim().len(), 64);
    assert_eq!(
        run_ok(earshot(dir.path()).args(["conversions", "secret"])),
        first
    );
    let rotated = run_ok(earshot(dir.path()).args(["conversions", "secret", "--rotate"]));
    assert_ne!(rotated, first);
    let file = dir.path().join("conversions.secret");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), rotated);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn campaigns_are_edited_and_only_empty_ones_deleted() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(earshot(dir.path()).arg("init"));
    run_ok(earshot(dir.path()).args([
        "campaign",
        "add",
        "Autumn",
        "--goal",
        "leads",
        "--budget",
        "300",
        "--currency",
        "USD",
        "--start",
        "2027-09-01",
    ]));
    let edited = run_ok(earshot(dir.path()).args([
        "campaign",
        "edit",
        "autumn",
        "--rename",
        "Autumn Leads",
        "--end",
        "2027-10-31",
        "--target",
        "40",
    ]));
    assert!(
        edited.contains("\"Autumn Leads\" (utm_campaign=autumn)"),
        "{edited}"
    );
    let list = run_ok(earshot(dir.path()).args(["campaign", "list"]));
    assert!(
        list.contains("Autumn Leads\tautumn\tleads\t2027-09-01 – 2027-10-31"),
        "{list}"
    );
    let report = run_ok(earshot(dir.path()).args(["campaign", "report", "autumn"]));
    assert!(report.contains("of 40"), "{report}");
    let bad_end =
        run_err(earshot(dir.path()).args(["campaign", "edit", "autumn", "--end", "2027-01-01"]));
    assert!(bad_end.contains("end"), "{bad_end}");

    let no_post = run_err(earshot(dir.path()).args(["campaign", "attach", "autumn", "77"]));
    assert!(no_post.contains("no post 77"), "{no_post}");

    run_ok(earshot(dir.path()).args(["campaign", "spend", "autumn", "10", "--currency", "USD"]));
    let kept = run_err(earshot(dir.path()).args(["campaign", "delete", "autumn"]));
    assert!(kept.contains("end date"), "{kept}");
    run_ok(earshot(dir.path()).args(["campaign", "add", "Mistake", "--goal", "sales"]));
    let deleted = run_ok(earshot(dir.path()).args(["campaign", "delete", "mistake"]));
    assert!(deleted.contains("deleted"), "{deleted}");
    let list = run_ok(earshot(dir.path()).args(["campaign", "list"]));
    assert!(
        !list.contains("Mistake") && list.contains("Autumn Leads"),
        "{list}"
    );
}
