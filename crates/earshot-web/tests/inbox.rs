//! The inbox pages, API and live stream over a real SQLite store, driven through the router
//! with real sessions (agent, manager) as a browser or API client would.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use earshot_core::{
    Author, Config, ConversationId, NewConversation, NewMention, Priority, Role, SourceConfig,
    SourceKind, Stamp, TeamConfig, TeamRecord,
};
use earshot_store::{AuthStore, InboxStore, NewUser, SqliteStore, Store};
use earshot_web::{router, WebState};
use futures::StreamExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const HOSTILE: &str = "<script>alert('x')</script><b onmouseover=\"x()\">bold</b>";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    app: Router,
}

struct Session {
    cookie: String,
    csrf: String,
}

fn config() -> Config {
    let mut config = Config::default();
    config.add_brand_query("Zeltron", "Zeltron", false);
    let mut masto = SourceConfig::new("masto", SourceKind::Mastodon);
    masto.url = Some("https://social.example".into());
    config.add_source(masto).unwrap();
    let mut feed = SourceConfig::new("tech-feed", SourceKind::Feed);
    feed.url = Some("https://news.example/feed.xml".into());
    config.add_source(feed).unwrap();
    let mut support = TeamConfig::new("support");
    support.members = vec!["anna".into(), "boris".into()];
    support.manager = Some("maria".into());
    config.teams = vec![support, TeamConfig::new("sales")];
    config
}

fn opened() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

fn mention(source: &str, id: usize, text: &str, author: &str) -> NewMention {
    NewMention {
        source: source.into(),
        external_id: Some(format!("{id}")),
        url: Some(format!("https://social.example/@x/{id}")),
        canonical_url: Some(format!("https://social.example/@x/{id}")),
        title: None,
        text: text.into(),
        links: Vec::new(),
        published_at: opened() + chrono::Duration::minutes(id as i64),
        author: Some(Author {
            handle: Some(format!("@user{id}@social.example")),
            name: Some(author.into()),
            url: Some(format!("https://social.example/@user{id}")),
            followers: Some(1200),
        }),
        lang: "en".into(),
        in_reply_to: None,
        brands: vec!["Zeltron".into()],
        fingerprint: (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        duplicate_of: None,
        analysis: None,
    }
}

async fn user(store: &SqliteStore, name: &str, role: Role, config: &Config) -> Session {
    let user = store
        .create_user(NewUser {
            name: name.into(),
            display_name: None,
            role,
            password_hash: None,
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    let secrets =
        earshot_web::auth::start_session(store, user.id, "test", &config.auth, Utc::now())
            .await
            .unwrap();
    Session {
        cookie: format!("{}={}", earshot_web::auth::SESSION_COOKIE, secrets.id),
        csrf: secrets.csrf,
    }
}

/// `count` conversations on the Mastodon source (texts numbered), the first one hostile.
async fn fixture(count: usize) -> (Fixture, Vec<ConversationId>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let config = config();
    store
        .upsert_teams(&[TeamRecord {
            name: "support".into(),
            manager: Some("maria".into()),
            capacity: None,
            hours: Value::Null,
            members: vec!["anna".into(), "boris".into()],
        }])
        .await
        .unwrap();
    let mentions = (1..=count)
        .map(|i| {
            if i == 1 {
                mention("masto", i, &format!("{HOSTILE} broken again"), HOSTILE)
            } else {
                mention(
                    "masto",
                    i,
                    &format!("message number {i}"),
                    &format!("Author {i}"),
                )
            }
        })
        .collect();
    let ids = store.write_batch(mentions, None).await.unwrap().inserted;
    let mut conversations = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mut new = NewConversation::for_mention(*id);
        new.team = Some("support".into());
        new.priority = if i == 0 {
            Priority::Urgent
        } else {
            Priority::Normal
        };
        new.routed_by = Some("complaints".into());
        new.routing_reason = Some(format!("intent complaint {HOSTILE}"));
        new.first_response_due = Some(opened() + chrono::Duration::hours(1));
        let (c, _) = store
            .create_conversation(&new, &Stamp::system(opened()))
            .await
            .unwrap();
        conversations.push(c.id);
    }
    let app = router(WebState {
        store: store.clone(),
        config: Arc::new(RwLock::new(config)),
        workspace: dir.path().to_path_buf(),
        live_rules: None,
        analyzer: std::sync::Arc::new(earshot_analysis::Analyzer::rules_only()),
    });
    (
        Fixture {
            _dir: dir,
            store,
            app,
        },
        conversations,
    )
}

impl Fixture {
    async fn session(&self, name: &str, role: Role) -> Session {
        user(&self.store, name, role, &config()).await
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

    async fn api_get(&self, who: &Session, uri: &str) -> (StatusCode, Value) {
        let (status, body) = self.get(who, uri).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn the_list_shows_open_conversations_most_urgent_first_with_filters_and_pages() {
    let (f, ids) = fixture(60).await;
    let anna = f.session("anna", Role::Agent).await;
    let (status, page) = f.get(&anna, "/inbox").await;
    assert_eq!(status, StatusCode::OK);
    // Most urgent first: the urgent conversation leads the table.
    let first_row = page.find("\" id=\"conversation-").unwrap() + 2;
    assert!(
        page[first_row..].starts_with(&format!("id=\"conversation-{}\"", ids[0])),
        "{}",
        &page[first_row..first_row + 40]
    );
    assert_eq!(page.matches("<tr class=\"conversation").count(), 50);
    assert!(page.contains("message number 2"));
    assert!(page.contains("id=\"inbox-live\""));
    // The next page holds the remaining ten, and no row twice.
    let next = page.split("id=\"next-page\" href=\"").nth(1).unwrap();
    let next = next[..next.find('"').unwrap()].replace("&amp;", "&");
    let (_, second) = f.get(&anna, &next).await;
    assert_eq!(second.matches("<tr class=\"conversation").count(), 10);
    assert!(!second.contains(&format!("id=\"conversation-{}\"", ids[0])));

    // Filters: priority, unassigned/mine, state.
    let (_, urgent) = f.get(&anna, "/inbox?priority=urgent").await;
    assert_eq!(urgent.matches("<tr class=\"conversation").count(), 1);
    f.store
        .assign(ids[3], Some("anna"), &Stamp::new("anna", opened()))
        .await
        .unwrap();
    let (_, mine) = f.get(&anna, "/inbox?mine=1").await;
    assert_eq!(mine.matches("<tr class=\"conversation").count(), 1);
    assert!(mine.contains(&format!("id=\"conversation-{}\"", ids[3])));
    let (_, resolved) = f.get(&anna, "/inbox?state=resolved").await;
    assert_eq!(resolved.matches("<tr class=\"conversation").count(), 0);
    let (status, bad) = f.get(&anna, "/inbox?priority=asap").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("parameter `priority`"));
}

#[tokio::test]
async fn forms_move_a_conversation_through_its_states_and_record_who() {
    let (f, ids) = fixture(2).await;
    let anna = f.session("anna", Role::Agent).await;
    let id = ids[1];
    let (status, _, location) = f
        .form(&anna, &format!("/inbox/{id}/assign"), &[("member", "me")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(format!("/inbox/{id}").as_str()));
    let c = f.store.conversation(id).await.unwrap().unwrap();
    assert_eq!(c.assignee.as_deref(), Some("anna"));
    assert_eq!(c.state.as_str(), "assigned");

    f.form(
        &anna,
        &format!("/inbox/{id}/state"),
        &[("state", "resolved")],
    )
    .await;
    f.form(
        &anna,
        &format!("/inbox/{id}/tags"),
        &[("add", "vip, refund")],
    )
    .await;
    f.form(
        &anna,
        &format!("/inbox/{id}/notes"),
        &[("body", "@boris can you check?")],
    )
    .await;
    f.form(
        &anna,
        &format!("/inbox/{id}/priority"),
        &[("priority", "high")],
    )
    .await;
    let c = f.store.conversation(id).await.unwrap().unwrap();
    assert_eq!(c.state.as_str(), "resolved");
    assert_eq!(c.tags, vec!["refund", "vip"]);
    assert_eq!(c.priority, Priority::High);
    let (_, page) = f.get(&anna, &format!("/inbox/{id}")).await;
    assert!(page.contains("<mark class=\"at\">@boris</mark>"));
    assert!(page.contains("id=\"reopen-form\""));
    assert!(page.contains("— anna"), "events name who acted");

    // Reopen goes back to assigned (Anna still owns it); an impossible step says why.
    f.form(&anna, &format!("/inbox/{id}/state"), &[("state", "reopen")])
        .await;
    assert_eq!(
        f.store
            .conversation(id)
            .await
            .unwrap()
            .unwrap()
            .state
            .as_str(),
        "assigned"
    );
    let (status, body, _) = f
        .form(&anna, &format!("/inbox/{id}/state"), &[("state", "new")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unassign it instead"), "{body}");

    // An agent cannot hand a conversation to a colleague; a manager can.
    let (status, _, _) = f
        .form(
            &anna,
            &format!("/inbox/{id}/assign"),
            &[("member", "boris")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let maria = f.session("maria", Role::Manager).await;
    f.form(
        &maria,
        &format!("/inbox/{id}/assign"),
        &[("member", "boris")],
    )
    .await;
    assert_eq!(
        f.store
            .conversation(id)
            .await
            .unwrap()
            .unwrap()
            .assignee
            .as_deref(),
        Some("boris")
    );
    // A viewer may look but not act.
    let viewer = f.session("victor", Role::Viewer).await;
    let (status, _, _) = f
        .form(
            &viewer,
            &format!("/inbox/{id}/state"),
            &[("state", "ignored")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_double_submitted_reply_is_one_reply_and_repeated_texts_need_confirmation() {
    let (f, ids) = fixture(5).await;
    let anna = f.session("anna", Role::Agent).await;
    let id = ids[1];
    let (_, page) = f.get(&anna, &format!("/inbox/{id}")).await;
    let key = page.split("name=\"key\" value=\"").nth(1).unwrap();
    let key = &key[..key.find('"').unwrap()];
    assert_eq!(key.len(), 32);
    for _ in 0..2 {
        let (status, _, _) = f
            .form(
                &anna,
                &format!("/inbox/{id}/replies"),
                &[("body", "Sorry, fixing it"), ("key", key)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let detail = f.store.conversation_detail(id).await.unwrap().unwrap();
    assert_eq!(detail.replies.len(), 1);
    assert_eq!(detail.replies[0].idempotency_key, key);
    assert_eq!(detail.replies[0].author, "anna");

    // The same text sent three times already: the fourth asks first.
    for (i, conversation) in ids[2..5].iter().enumerate() {
        let reply = f
            .store
            .queue_reply(
                *conversation,
                "Thanks!",
                &format!("k{i}"),
                &Stamp::new("anna", opened()),
            )
            .await
            .unwrap();
        f.store
            .mark_reply_sent(reply.id, Some("1"), None, &Stamp::system(opened()))
            .await
            .unwrap();
    }
    let (status, body, _) = f
        .form(
            &anna,
            &format!("/inbox/{}/replies", ids[0]),
            &[("body", "Thanks!"), ("key", "fresh")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("id=\"repeat-warning\""));
    assert!(f
        .store
        .conversation_detail(ids[0])
        .await
        .unwrap()
        .unwrap()
        .replies
        .is_empty());
    let (status, _, _) = f
        .form(
            &anna,
            &format!("/inbox/{}/replies", ids[0]),
            &[
                ("body", "Thanks!"),
                ("key", "fresh"),
                ("confirm_repeat", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        f.store
            .conversation_detail(ids[0])
            .await
            .unwrap()
            .unwrap()
            .replies
            .len(),
        1
    );
}

#[tokio::test]
async fn the_api_lists_with_a_cursor_and_changes_conversations() {
    let (f, ids) = fixture(7).await;
    let anna = f.session("anna", Role::Agent).await;
    let (status, first) = f.api_get(&anna, "/api/conversations?limit=4").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["conversations"].as_array().unwrap().len(), 4);
    assert_eq!(first["conversations"][0]["priority"], "urgent");
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = f
        .api_get(
            &anna,
            &format!("/api/conversations?limit=4&cursor={cursor}"),
        )
        .await;
    assert_eq!(second["conversations"].as_array().unwrap().len(), 3);
    assert!(second["next_cursor"].is_null());

    let id = ids[2];
    let (status, c) = f
        .api_post(
            &anna,
            &format!("/api/conversations/{id}/assign"),
            json!({"member": "me"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["assignee"], "anna");
    let (status, c) = f
        .api_post(
            &anna,
            &format!("/api/conversations/{id}/state"),
            json!({"state": "waiting"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["state"], "waiting");
    let (status, error) = f
        .api_post(
            &anna,
            &format!("/api/conversations/{id}/state"),
            json!({"state": "closed"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"].as_str().unwrap().contains("closed"));
    let (status, _) = f
        .api_post(
            &anna,
            &format!("/api/conversations/{id}/notes"),
            json!({"body": "@anna ok"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, reply) = f
        .api_post(
            &anna,
            &format!("/api/conversations/{id}/replies"),
            json!({"body": "On it", "idempotency_key": "api-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(reply["status"], "pending");
    let (status, item) = f
        .api_post(
            &anna,
            &format!("/api/conversations/{id}/feedback"),
            json!({"theme": "Battery", "summary": "drains overnight"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(item["theme"], "Battery");
    let (status, detail) = f.api_get(&anna, &format!("/api/conversations/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "assigned",
        "state_changed",
        "note_added",
        "reply_queued",
        "sent_to_product",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let (status, missing) = f.api_get(&anna, "/api/conversations/99999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing["error"].as_str().unwrap().contains("99999"));
    let (status, bad) = f
        .api_post(
            &anna,
            &format!("/api/conversations/{id}/tags"),
            json!({"add": "not a list"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad["error"].as_str().unwrap().starts_with("request body"));
}

#[tokio::test]
async fn feeds_offer_only_answered_elsewhere() {
    let (f, _) = fixture(1).await;
    let anna = f.session("anna", Role::Agent).await;
    let root = f
        .store
        .write_batch(
            vec![mention(
                "tech-feed",
                500,
                "a blog post about Zeltron",
                "Blogger",
            )],
            None,
        )
        .await
        .unwrap()
        .inserted[0];
    let (c, _) = f
        .store
        .create_conversation(
            &NewConversation::for_mention(root),
            &Stamp::system(opened()),
        )
        .await
        .unwrap();
    let (_, page) = f.get(&anna, &format!("/inbox/{}", c.id)).await;
    assert!(page.contains("id=\"no-publisher\""));
    assert!(!page.contains("id=\"reply-form\""));
    let (status, error) = f
        .api_post(
            &anna,
            &format!("/api/conversations/{}/replies", c.id),
            json!({"body": "hi", "idempotency_key": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]
        .as_str()
        .unwrap()
        .contains("answered elsewhere"));
    let (status, _, _) = f
        .form(
            &anna,
            &format!("/inbox/{}/elsewhere", c.id),
            &[
                ("url", "https://blog.example/comment/1"),
                ("body", "answered in the comments"),
                ("key", "e1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let c = f.store.conversation(c.id).await.unwrap().unwrap();
    assert!(c.first_response_at.is_some());
}

#[tokio::test]
async fn hostile_text_and_names_are_inert_on_every_inbox_page() {
    let (f, ids) = fixture(2).await;
    let maria = f.session("maria", Role::Manager).await;
    let id = ids[0];
    f.store
        .add_note(
            id,
            &format!("@anna {HOSTILE}"),
            &Stamp::new("maria", opened()),
        )
        .await
        .unwrap();
    f.store
        .add_tag(id, "<i>tag</i>", &Stamp::new("maria", opened()))
        .await
        .unwrap();
    f.store
        .send_to_product(
            id,
            "<script>theme</script>",
            HOSTILE,
            &Stamp::new("maria", opened()),
        )
        .await
        .unwrap();
    f.store
        .create_saved_reply("<b>canned</b>", "Hi {author}, {brand} here", opened())
        .await
        .unwrap();
    for uri in [
        "/inbox".to_string(),
        format!("/inbox/{id}"),
        "/inbox/feedback".into(),
        "/inbox/metrics".into(),
    ] {
        let (status, page) = f.get(&maria, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(!page.contains("<script>alert"), "{uri} has live script");
        assert!(!page.contains("<script>theme"), "{uri} has live script");
        assert!(!page.contains("<b onmouseover"), "{uri} has live markup");
        assert!(!page.contains("<i>tag</i>"), "{uri} has live markup");
    }
    let (_, page) = f.get(&maria, &format!("/inbox/{id}")).await;
    assert!(
        page.contains("&#60;script&#62;alert("),
        "the hostile text shows as text"
    );
    // The saved reply is filled with the (escaped) author name.
    assert!(page.contains("Hi &#60;script&#62;"));
    // CSV cells that a spreadsheet would run are defused.
    let (status, csv) = f.get(&maria, "/inbox/feedback.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.starts_with("theme,summary,conversation,author,created_at"));
    assert!(csv.contains("<script>theme</script>"));
}

#[tokio::test]
async fn metrics_count_responses_and_only_managers_see_them() {
    let (f, ids) = fixture(4).await;
    let maria = f.session("maria", Role::Manager).await;
    let anna = f.session("anna", Role::Agent).await;
    let (status, _) = f.api_get(&anna, "/api/metrics/inbox").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, before) = f.api_get(&maria, "/api/metrics/inbox?days=3660").await;
    assert_eq!(before["overall"]["conversations"], 4);
    assert_eq!(before["overall"]["responded"], 0);
    let reply = f
        .store
        .queue_reply(ids[1], "Answer", "m1", &Stamp::new("anna", opened()))
        .await
        .unwrap();
    f.store
        .mark_reply_sent(
            reply.id,
            Some("9"),
            None,
            &Stamp::system(opened() + chrono::Duration::minutes(30)),
        )
        .await
        .unwrap();
    let (_, after) = f.api_get(&maria, "/api/metrics/inbox?days=3660").await;
    assert_eq!(after["overall"]["responded"], 1);
    assert_eq!(after["overall"]["response_rate"], 0.25);
    assert_eq!(after["overall"]["first_response"]["count"], 1);
    let (_, page) = f.get(&maria, "/inbox/metrics?days=3660").await;
    assert!(page.contains("id=\"m-response-rate\">25%<"), "{page}");
    let (status, bad) = f.api_get(&maria, "/api/metrics/inbox?days=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad["error"].as_str().unwrap().contains("`days`"));
}

#[tokio::test]
async fn saved_views_belong_to_their_user_and_apply_their_filters() {
    let (f, ids) = fixture(3).await;
    let anna = f.session("anna", Role::Agent).await;
    let boris = f.session("boris", Role::Agent).await;
    let (status, _, location) = f
        .form(
            &anna,
            "/inbox/views",
            &[
                ("name", "Urgent <now>"),
                ("filters", "priority=urgent&cursor=zz"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    let (_, page) = f.get(&anna, &location).await;
    assert!(page.contains("Urgent &#60;now&#62;"));
    assert_eq!(page.matches("<tr class=\"conversation").count(), 1);
    assert!(page.contains(&format!("id=\"conversation-{}\"", ids[0])));
    let (status, _) = f.get(&boris, &location).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_live_stream_sends_changed_rows_and_drops_those_leaving_the_filter() {
    let (f, ids) = fixture(2).await;
    let anna = f.session("anna", Role::Agent).await;
    let request = Request::get("/inbox/stream")
        .header(header::COOKIE, &anna.cookie)
        .body(Body::empty())
        .unwrap();
    let response = f.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    f.store
        .set_priority(ids[1], Priority::High, &Stamp::new("boris", opened()))
        .await
        .unwrap();
    f.store
        .set_state(
            ids[0],
            earshot_core::ConversationState::Ignored,
            &Stamp::new("boris", opened()),
        )
        .await
        .unwrap();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !(seen.contains("event: conversation\n") && seen.contains("event: conversation-gone")) {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("events before the deadline")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains(&format!("id=\\\"conversation-{}\\\"", ids[1]))
            || seen.contains(&format!("id=\"conversation-{}\"", ids[1]))
    );
    assert!(seen.contains(&format!("data: {}\n", ids[0])));
    assert!(!seen.contains("<script>alert"));
}

#[tokio::test]
async fn a_conversation_replying_to_our_post_names_the_post_with_a_safe_link() {
    use earshot_core::NewPublication;
    use earshot_store::PublicationStore;
    let (fixture, ids) = fixture(2).await;
    let store = &fixture.store;
    let mut published = Vec::new();
    for (post, url) in [
        (31, "https://social.example/@brand/11001"),
        (32, "javascript:alert(1)"),
    ] {
        let (row, _) = store
            .enqueue_publication(
                &NewPublication {
                    account_id: 1,
                    post_id: post,
                    variant_id: 1,
                    revision: 1,
                    text: "Spring sale".into(),
                    language: None,
                    reply_to: None,
                    scheduled_at: opened(),
                },
                opened(),
            )
            .await
            .unwrap();
        store
            .claim_due_publications(opened(), 1, Duration::from_secs(60))
            .await
            .unwrap();
        store
            .mark_publication_published(row.id, &format!("1100{post}"), Some(url), false, opened())
            .await
            .unwrap();
        published.push(row.id);
    }
    store
        .link_conversation_to_publication(ids[0], published[0], opened())
        .await
        .unwrap();
    store
        .link_conversation_to_publication(ids[1], published[1], opened())
        .await
        .unwrap();
    let agent = fixture.session("anna", Role::Agent).await;

    let (status, page) = fixture.get(&agent, &format!("/inbox/{}", ids[0])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"answers-post\""), "{page}");
    assert!(page.contains("A reply to our post #31"), "{page}");
    assert!(page.contains("href=\"https://social.example/@brand/11001\""));

    let (_, page) = fixture.get(&agent, &format!("/inbox/{}", ids[1])).await;
    assert!(page.contains("A reply to our post #32"));
    assert!(
        !page.contains("javascript:alert"),
        "an unsafe link from the network is not shown"
    );
}
