//! The conversation page's label corrections and team moves, and the routing rules editor,
//! over a real SQLite store and a real workspace directory with an earshot.toml: forms and
//! API as a browser or client sends them, with real sessions of each role.

use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use earshot_core::{
    Analysis, Author, Config, ConversationId, EventKind, NewConversation, NewMention, Role, Scored,
    Stamp,
};
use earshot_engine::inbox::{InboxRouter, LiveRules, RouteItem, RoutingRules};
use earshot_store::{AnalysisStore, AuthStore, InboxStore, NewUser, SqliteStore, Store};
use earshot_web::{router, WebState};
use serde_json::{json, Value};
use tower::ServiceExt;

const HOSTILE: &str = "<script>alert('rule')</script>";

/// earshot.toml as a person wrote it: comments everywhere, two teams, one rule.
const WORKSPACE_TOML: &str = r#"# Our workspace. Keep the comments!
languages = ["en"]

[[brand]]  # the only brand
name = "Zeltron"
queries = ["Zeltron"]

[[team]]
name = "support"
members = ["anna", "boris"]
manager = "maria"

[[team]]
name = "billing"
members = ["bill"]
timezone = "Asia/Tokyo"   # billing works from Tokyo

# Complaints go to support.
[[routing.rule]]
name = "complaints"
when = { intents = ["complaint"] }
then = { team = "support" }
"#;

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    app: Router,
    live: Arc<LiveRules>,
    router: InboxRouter,
}

struct Session {
    cookie: String,
    csrf: String,
}

fn opened() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

fn mention(id: usize, text: &str) -> NewMention {
    NewMention {
        source: "masto".into(),
        external_id: Some(format!("{id}")),
        url: Some(format!("https://social.example/@x/{id}")),
        canonical_url: Some(format!("https://social.example/@x/{id}")),
        title: None,
        text: text.into(),
        links: Vec::new(),
        published_at: opened() + chrono::Duration::minutes(id as i64),
        author: Some(Author {
            handle: Some(format!("@user{id}@social.example")),
            name: Some(format!("Author {id}")),
            url: None,
            followers: Some(10),
        }),
        lang: "en".into(),
        in_reply_to: None,
        brands: vec!["Zeltron".into()],
        fingerprint: (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        duplicate_of: None,
        analysis: Some(Analysis {
            lang: "en".into(),
            sentiment: Some(Scored {
                label: "negative".into(),
                score: 0.9,
            }),
            offensive: Some(Scored {
                label: "NOT".into(),
                score: 0.9,
            }),
            spam: Some(Scored {
                label: "ham".into(),
                score: 0.95,
            }),
            intents: vec![Scored {
                label: "complaint".into(),
                score: 0.8,
            }],
            targets: Vec::new(),
        }),
    }
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("earshot.toml"), WORKSPACE_TOML).unwrap();
    let config: Config = toml::from_str(WORKSPACE_TOML).unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let live = Arc::new(LiveRules::new(Arc::new(
        RoutingRules::compile(&config).unwrap(),
    )));
    // The same live rules as `earshot serve` shares between its ingest and the web.
    let inbox_router = InboxRouter::with_live_rules(store.clone(), live.clone())
        .await
        .unwrap()
        .with_clock(Arc::new(opened));
    let app = router(WebState {
        store: store.clone(),
        config: Arc::new(RwLock::new(config)),
        workspace: dir.path().to_path_buf(),
        live_rules: Some(live.clone()),
        analyzer: Arc::new(earshot_analysis::Analyzer::rules_only()),
    });
    Fixture {
        dir,
        store,
        app,
        live,
        router: inbox_router,
    }
}

impl Fixture {
    async fn session(&self, name: &str, role: Role) -> Session {
        let user = self
            .store
            .create_user(NewUser {
                name: name.into(),
                display_name: None,
                role,
                password_hash: None,
                created_at: Utc::now(),
            })
            .await
            .unwrap();
        let secrets = earshot_web::auth::start_session(
            self.store.as_ref(),
            user.id,
            "test",
            &Config::default().auth,
            Utc::now(),
        )
        .await
        .unwrap();
        Session {
            cookie: format!("{}={}", earshot_web::auth::SESSION_COOKIE, secrets.id),
            csrf: secrets.csrf,
        }
    }

    /// Stores a mention and opens its conversation in `team`, as the router would.
    async fn conversation(&self, id: usize, team: Option<&str>) -> (ConversationId, i64) {
        let mention = self
            .store
            .write_batch(
                vec![mention(id, &format!("Zeltron broke, message {id}"))],
                None,
            )
            .await
            .unwrap()
            .inserted[0];
        let mut new = NewConversation::for_mention(mention);
        new.team = team.map(String::from);
        new.first_response_due = Some(opened() + chrono::Duration::hours(8));
        new.resolution_due = Some(opened() + chrono::Duration::hours(72));
        let (c, _) = self
            .store
            .create_conversation(&new, &Stamp::system(opened()))
            .await
            .unwrap();
        (c.id, mention.0)
    }

    async fn get(&self, who: &Session, uri: &str) -> (StatusCode, String) {
        let request = Request::get(uri)
            .header(header::COOKIE, &who.cookie)
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn form(
        &self,
        who: &Session,
        uri: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf", &who.csrf);
        body.extend_pairs(fields.iter());
        let request = Request::post(uri)
            .header(header::COOKIE, &who.cookie)
            .header(header::HOST, "earshot.test")
            .header(header::ORIGIN, "http://earshot.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.finish()))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap(), location)
    }

    async fn api_post(&self, who: &Session, uri: &str, body: Value) -> (StatusCode, Value) {
        let request = Request::post(uri)
            .header(header::COOKIE, &who.cookie)
            .header("x-csrf-token", &who.csrf)
            .header(header::HOST, "earshot.test")
            .header(header::ORIGIN, "http://earshot.test")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("earshot.toml")).unwrap()
    }

    /// The version field of the rules page, as a browser would submit it.
    async fn version(&self, who: &Session) -> String {
        let (status, page) = self.get(who, "/inbox/rules").await;
        assert_eq!(status, StatusCode::OK);
        let at = page
            .find("name=\"version\" value=\"")
            .expect("a version field")
            + 22;
        page[at..at + page[at..].find('"').unwrap()].to_string()
    }

    /// Store a mention and let the live router route it; its conversation's team and rule.
    async fn route(&self, id: usize, text: &str) -> (Option<String>, Option<String>) {
        let mut new = mention(id, text);
        new.analysis = None;
        let stored = self
            .store
            .write_batch(vec![new], None)
            .await
            .unwrap()
            .inserted[0];
        let found = self.store.get(stored).await.unwrap().unwrap();
        self.router
            .handle(&[RouteItem::stored(&found)])
            .await
            .unwrap();
        let conversation = self
            .store
            .conversation_for_mention(stored)
            .await
            .unwrap()
            .unwrap();
        let c = self
            .store
            .conversation(conversation)
            .await
            .unwrap()
            .unwrap();
        (c.team, c.routed_by)
    }
}

#[tokio::test]
async fn labels_are_corrected_from_the_conversation_page_and_show_who() {
    let f = fixture().await;
    let anna = f.session("anna", Role::Agent).await;
    let (id, root) = f.conversation(1, Some("support")).await;
    let root = root.to_string();

    let (_, page) = f.get(&anna, &format!("/inbox/{id}")).await;
    assert!(
        page.contains(&format!("id=\"correct-{root}\"")),
        "agents see the forms"
    );
    assert!(page.contains("data-field=\"sentiment\" data-label=\"negative\""));

    let (status, _, location) = f
        .form(
            &anna,
            &format!("/inbox/{id}/corrections"),
            &[
                ("mention", &root),
                ("field", "sentiment"),
                ("label", "positive"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some(format!("/inbox/{id}#mention-{root}").as_str())
    );
    // Remove the complaint intent, add a question.
    for (intent, present) in [("complaint", "0"), ("question", "1")] {
        let (status, _, _) = f
            .form(
                &anna,
                &format!("/inbox/{id}/corrections"),
                &[
                    ("mention", &root),
                    ("field", "intent"),
                    ("label", intent),
                    ("present", present),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (_, page) = f.get(&anna, &format!("/inbox/{id}")).await;
    assert!(
        page.contains("data-field=\"sentiment\" data-label=\"positive\""),
        "the corrected label is shown"
    );
    assert!(!page.contains("data-label=\"negative\""), "not the model's");
    assert!(page.contains("<span class=\"corrected-by\">by anna</span>"));
    assert!(page.contains("data-field=\"intent\" data-label=\"question\""));
    assert!(!page.contains("data-field=\"intent\" data-label=\"complaint\""));
    // The history says what changed, from what, by whom.
    let detail = f.store.conversation_detail(id).await.unwrap().unwrap();
    let corrected: Vec<(&str, &EventKind)> = detail
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::LabelCorrected { .. }))
        .map(|e| (e.actor.as_str(), &e.kind))
        .collect();
    assert_eq!(
        corrected[0],
        (
            "anna",
            &EventKind::LabelCorrected {
                label: "sentiment".into(),
                from: Some("negative".into()),
                to: "positive".into(),
            }
        )
    );
    assert_eq!(corrected.len(), 3);
    // Kept for retraining, with who.
    let stored = f.store.corrections().await.unwrap();
    assert!(stored
        .iter()
        .any(|c| c.label == "positive" && c.by.as_deref() == Some("anna")));

    // Refusals: an unknown label names the field; a mention of another conversation is 404;
    // a viewer may not correct and sees no forms.
    let (status, body, _) = f
        .form(
            &anna,
            &format!("/inbox/{id}/corrections"),
            &[
                ("mention", &root),
                ("field", "sentiment"),
                ("label", "furious"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("`label`"), "{body}");
    let (_, other_root) = f.conversation(2, Some("support")).await;
    let (status, _, _) = f
        .form(
            &anna,
            &format!("/inbox/{id}/corrections"),
            &[
                ("mention", &other_root.to_string()),
                ("field", "spam"),
                ("label", "spam"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let victor = f.session("victor", Role::Viewer).await;
    let (status, _, _) = f
        .form(
            &victor,
            &format!("/inbox/{id}/corrections"),
            &[("mention", &root), ("field", "spam"), ("label", "spam")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, page) = f.get(&victor, &format!("/inbox/{id}")).await;
    assert!(!page.contains(&format!("id=\"correct-{root}\"")));
    assert!(page.contains("data-label=\"positive\""));
}

#[tokio::test]
async fn a_conversation_moves_to_another_team_by_form_and_api() {
    let f = fixture().await;
    let maria = f.session("maria", Role::Manager).await;
    let anna = f.session("anna", Role::Agent).await;
    let (id, _) = f.conversation(1, Some("support")).await;
    f.store
        .assign(id, Some("boris"), &Stamp::new("maria", opened()))
        .await
        .unwrap();
    let before = f.store.conversation(id).await.unwrap().unwrap();

    let (status, _, location) = f
        .form(&anna, &format!("/inbox/{id}/team"), &[("team", "billing")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(format!("/inbox/{id}").as_str()));
    let moved = f.store.conversation(id).await.unwrap().unwrap();
    assert_eq!(moved.team.as_deref(), Some("billing"));
    assert_eq!(moved.assignee, None, "boris is not in billing");
    // Billing works other hours (Tokyo), so the deadlines were recomputed in its calendar.
    let expected = f
        .live
        .current()
        .deadlines(Some("billing"), before.priority, before.created_at);
    assert_eq!(moved.first_response_due, Some(expected.first_response));
    assert_ne!(moved.first_response_due, before.first_response_due);
    let (_, page) = f.get(&anna, &format!("/inbox/{id}")).await;
    assert!(page.contains("moved to team</strong> support → billing <span class=\"actor\">— anna"));

    // The API: back to support (same hours as the shared queue, other than billing's).
    let (status, body) = f
        .api_post(
            &maria,
            &format!("/api/conversations/{id}/team"),
            json!({"team": "support"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["team"], "support");
    // Support and the shared queue keep the same office hours: no new deadlines.
    let in_support = f.store.conversation(id).await.unwrap().unwrap();
    let (status, body) = f
        .api_post(
            &maria,
            &format!("/api/conversations/{id}/team"),
            json!({"team": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["team"], Value::Null);
    let unrouted = f.store.conversation(id).await.unwrap().unwrap();
    assert_eq!(unrouted.first_response_due, in_support.first_response_due);

    let (status, body) = f
        .api_post(
            &maria,
            &format!("/api/conversations/{id}/team"),
            json!({"team": "legal"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("billing"),
        "{body}"
    );
    let victor = f.session("victor", Role::Viewer).await;
    let (status, _) = f
        .api_post(
            &victor,
            &format!("/api/conversations/{id}/team"),
            json!({"team": "billing"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = f
        .form(
            &victor,
            &format!("/inbox/{id}/team"),
            &[("team", "billing")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_rule_added_in_the_editor_lands_in_earshot_toml_and_routes_at_once() {
    let f = fixture().await;
    let maria = f.session("maria", Role::Manager).await;
    // Before: nothing routes "refund" to billing.
    assert_eq!(f.route(1, "Zeltron refund please").await.0, None);

    let version = f.version(&maria).await;
    let (status, body, location) = f
        .form(
            &maria,
            "/inbox/rules",
            &[
                ("version", &version),
                ("position", ""),
                ("name", "refunds"),
                ("keywords", "refund* OR \"money back\""),
                ("languages", "en"),
                ("team", "billing"),
                ("assign", "least_loaded"),
                ("tags", "money"),
                ("first", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location.as_deref(), Some("/inbox/rules?saved=1"));

    let file = f.file();
    for kept in [
        "# Our workspace. Keep the comments!",
        "[[brand]]  # the only brand",
        "# billing works from Tokyo",
        "# Complaints go to support.",
    ] {
        assert!(file.contains(kept), "lost {kept:?}:\n{file}");
    }
    let config: Config = toml::from_str(&file).unwrap();
    let names: Vec<&str> = config
        .routing
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, vec!["refunds", "complaints"]);
    assert_eq!(
        config.routing.rules[0].when.keywords.as_deref(),
        Some("refund* OR \"money back\"")
    );
    assert_eq!(config.teams.len(), 2, "the rest of the file is as it was");

    // The running router took the new rules: no restart.
    let (team, rule) = f.route(2, "Zeltron: I want a refund").await;
    assert_eq!(team.as_deref(), Some("billing"));
    assert_eq!(rule.as_deref(), Some("refunds"));

    let (_, page) = f.get(&maria, "/inbox/rules").await;
    assert!(page.contains("<td class=\"rule-name\">refunds</td>"));
    assert!(page.contains("keywords: refund* OR &#34;money back&#34;"));

    // Move it down, then delete it: the file follows, comments stay.
    let version = f.version(&maria).await;
    let (status, _, _) = f
        .form(
            &maria,
            "/inbox/rules/1/move",
            &[("version", &version), ("direction", "down")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let config: Config = toml::from_str(&f.file()).unwrap();
    assert_eq!(config.routing.rules[1].name, "refunds");
    let version = f.version(&maria).await;
    let (status, _, _) = f
        .form(&maria, "/inbox/rules/2/delete", &[("version", &version)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let file = f.file();
    let config: Config = toml::from_str(&file).unwrap();
    assert_eq!(config.routing.rules.len(), 1);
    assert!(file.contains("# Complaints go to support."), "{file}");
    assert_eq!(f.route(3, "Zeltron refund now").await.0, None);
}

#[tokio::test]
async fn edits_from_a_stale_page_and_invalid_rules_are_refused_naming_the_problem() {
    let f = fixture().await;
    let maria = f.session("maria", Role::Manager).await;
    let stale = f.version(&maria).await;
    // Someone edits the file by hand meanwhile.
    let hand_edited = format!("{WORKSPACE_TOML}\n# a hand edit\n");
    std::fs::write(f.dir.path().join("earshot.toml"), &hand_edited).unwrap();
    let (status, body, _) = f
        .form(
            &maria,
            "/inbox/rules",
            &[
                ("version", &stale),
                ("name", "late edit"),
                ("team", "billing"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.contains("earshot.toml changed since this page was loaded"),
        "{body}"
    );
    assert!(
        body.contains("value=\"late edit\""),
        "the edit stays in the form"
    );
    assert_eq!(f.file(), hand_edited, "nothing written");
    let (status, _, _) = f
        .form(&maria, "/inbox/rules/1/delete", &[("version", &stale)])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(f.file(), hand_edited);

    // A keyword query that does not parse: the error names the rule, the field and the column.
    let version = f.version(&maria).await;
    let (status, body, _) = f
        .form(
            &maria,
            "/inbox/rules",
            &[
                ("version", &version),
                ("position", "1"),
                ("name", "complaints"),
                ("keywords", "refund AND (charge"),
                ("team", "nowhere"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("keywords"), "{body}");
    assert!(body.contains("column"), "{body}");
    assert!(body.contains("nowhere"), "the unknown team too: {body}");
    assert_eq!(f.file(), hand_edited, "nothing written");
    assert_eq!(
        f.live.current().rule_names().collect::<Vec<_>>(),
        vec!["complaints"],
        "the router kept its rules"
    );

    // Markup in a rule's name and keywords is shown as text.
    let (status, body, _) = f
        .form(
            &maria,
            "/inbox/rules",
            &[
                ("version", &version),
                ("name", HOSTILE),
                ("keywords", "\"<b>bold</b>\""),
                ("tags", "<i>x</i>"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, page) = f.get(&maria, "/inbox/rules").await;
    assert!(
        !page.contains("<script>alert"),
        "live script in the rules page"
    );
    assert!(!page.contains("<b>bold"), "live markup");
    assert!(!page.contains("<i>x</i>"), "live markup");
    assert!(page.contains("&#60;script&#62;alert("));
    let (_, form) = f.get(&maria, "/inbox/rules/2/edit").await;
    assert!(!form.contains("<script>alert"), "live script in the form");
}

#[tokio::test]
async fn everyone_reads_the_rules_only_managers_edit_them() {
    let f = fixture().await;
    std::fs::remove_file(f.dir.path().join("earshot.toml")).unwrap();
    let victor = f.session("victor", Role::Viewer).await;
    let anna = f.session("anna", Role::Agent).await;
    // No file, no rules: the defaults are shown.
    let (status, page) = f.get(&victor, "/inbox/rules").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"rules-defaults\""));
    assert!(page.contains("<td class=\"rule-name\">billing words</td>"));
    assert!(!page.contains("id=\"add-rule\""), "viewers get no editor");
    for (who, uri) in [
        (&victor, "/inbox/rules/new"),
        (&anna, "/inbox/rules/1/edit"),
    ] {
        let (status, _) = f.get(who, uri).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
    }
    let (status, _, _) = f
        .form(&anna, "/inbox/rules", &[("version", "any"), ("name", "x")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!f.dir.path().join("earshot.toml").exists());
}
