//! The publishing pages and API on a real SQLite store: accounts and workload, the editor,
//! the approval flow by form and by JSON, blocking checks, the calendar, escaping.

use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::{Duration, Utc};
use earshot_core::{Config, Network, NewAccount, Role, TeamConfig};
use earshot_store::{AuthStore, NewUser, PublishingStore, SqliteStore};
use earshot_web::{router, WebState};
use serde_json::{json, Value};
use tower::ServiceExt;

const HOSTILE: &str = "<script>alert(1)</script>";

struct Session {
    cookie: String,
    csrf: String,
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    app: Router,
    account: i64,
}

fn config() -> Config {
    let mut config = Config::default();
    let mut legal = TeamConfig::new("legal");
    legal.members = vec!["lena".into()];
    config.teams = vec![legal];
    config.publishing.banned_terms = vec!["guaranteed returns".into()];
    config
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let account = store
        .create_account(
            NewAccount {
                network: Network::Mastodon,
                name: "shop".into(),
                handle: "@shop@social.example".into(),
                server_url: "https://social.example".into(),
                owner: "olga".into(),
                purpose: format!("news {HOSTILE}"),
                languages: vec!["en".into()],
                posts_per_day: 3,
                approval_steps: vec!["legal".into()],
                sealed_credentials: vec![1],
            },
            Utc::now(),
        )
        .await
        .unwrap();
    for (name, handle) in [
        ("shop-sky", "shop.bsky.social"),
        ("help-sky", "help.bsky.social"),
    ] {
        store
            .create_account(
                NewAccount {
                    network: Network::Bluesky,
                    name: name.into(),
                    handle: handle.into(),
                    server_url: "https://bsky.social".into(),
                    owner: "olga".into(),
                    purpose: "support".into(),
                    languages: vec!["en".into()],
                    posts_per_day: 3,
                    approval_steps: vec![],
                    sealed_credentials: vec![1],
                },
                Utc::now(),
            )
            .await
            .unwrap();
    }
    let app = router(WebState {
        store: store.clone(),
        config: Arc::new(RwLock::new(config())),
        workspace: dir.path().to_path_buf(),
        analyzer: Arc::new(earshot_analysis::Analyzer::rules_only()),
        live_rules: None,
    });
    Fixture {
        _dir: dir,
        store,
        app,
        account: account.id.0,
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
            &config().auth,
            Utc::now(),
        )
        .await
        .unwrap();
        Session {
            cookie: format!("{}={}", earshot_web::auth::SESSION_COOKIE, secrets.id),
            csrf: secrets.csrf,
        }
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

    async fn api(&self, who: &Session, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = match body {
            Some(body) => Request::post(uri)
                .header(header::COOKIE, &who.cookie)
                .header("x-csrf-token", &who.csrf)
                .header(header::HOST, "earshot.test")
                .header(header::ORIGIN, "http://earshot.test")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => Request::get(uri)
                .header(header::COOKIE, &who.cookie)
                .body(Body::empty())
                .unwrap(),
        };
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn accounts_page_shows_owners_workload_and_escapes_text() {
    let f = fixture().await;
    let viewer = f.session("vic", Role::Viewer).await;
    let (status, page) = f.get(&viewer, "/accounts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("@shop@social.example"));
    assert!(page.contains("legal"));
    assert!(!page.contains(HOSTILE), "account text is escaped");
    assert!(page.contains("news &#60;script&#62;alert(1)"));
    // Olga owns all three accounts.
    assert!(
        page.contains("<td>olga</td><td class=\"num\">3</td>"),
        "{page}"
    );
    let (status, detail) = f.get(&viewer, &format!("/accounts/{}", f.account)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("id=\"queue\"") || detail.contains("class=\"empty\""));
    let (status, _) = f.get(&viewer, "/accounts/99999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, json) = f.api(&viewer, "/api/accounts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["accounts"].as_array().unwrap().len(), 3);
    assert!(json["accounts"][0].get("sealed_credentials").is_none());
    assert!(json.to_string().find("credentials").is_none());
}

#[tokio::test]
async fn a_post_goes_from_draft_to_scheduled_through_the_pages() {
    let f = fixture().await;
    let anna = f.session("anna", Role::Agent).await;
    let lena = f.session("lena", Role::Agent).await;
    let text_field = format!("text_{}", f.account);
    let (status, _, location) = f
        .form(
            &anna,
            "/posts",
            &[
                ("title", "Winter tips"),
                (
                    &text_field,
                    "How do you keep your chain clean in winter? Tell us",
                ),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    let id: i64 = location.trim_start_matches("/posts/").parse().unwrap();
    let (_, page) = f.get(&anna, &location).await;
    assert!(page.contains("id=\"post-state\">draft"), "{page}");
    assert!(
        page.contains("data-check=\"network_rules\""),
        "checks are shown"
    );
    let (status, _, _) = f
        .form(
            &anna,
            &format!("/posts/{id}/action"),
            &[("action", "submit")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The author cannot approve their own post: the page says why.
    let (status, page, _) = f
        .form(
            &anna,
            &format!("/posts/{id}/action"),
            &[("action", "approve")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("cannot approve"), "{page}");
    let (status, _, _) = f
        .form(
            &lena,
            &format!("/posts/{id}/action"),
            &[("action", "approve")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let when = (Utc::now() + Duration::days(2))
        .format("%Y-%m-%dT10:30")
        .to_string();
    let (status, page, _) = f
        .form(
            &anna,
            &format!("/posts/{id}/action"),
            &[("action", "schedule"), ("at", &when)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = f.get(&anna, &location).await;
    assert!(page.contains("id=\"post-state\">scheduled"), "{page}");
    assert!(
        page.contains("approved by lena") || page.contains("lena"),
        "{page}"
    );
    // History: created, submitted, approved, scheduled — who did what.
    for kind in ["created", "submitted", "approved", "scheduled"] {
        assert!(page.contains(&format!("<td>{kind}</td>")), "{kind}: {page}");
    }
    // The calendar's week holds it at its local time (UTC here).
    let day = &when[..10];
    let (status, calendar) = f
        .get(&anna, &format!("/calendar?view=week&date={day}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(calendar.contains("10:30 Winter tips"), "{calendar}");
    let (status, month) = f
        .get(&anna, &format!("/calendar?view=month&date={day}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(month.contains("10:30 Winter tips"));
    let (status, _) = f.get(&anna, "/calendar?view=year").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The queue of the account lists it.
    let (_, queue) = f.get(&anna, &format!("/posts?account={}", f.account)).await;
    assert!(queue.contains("Winter tips"));
}

#[tokio::test]
async fn an_edit_after_approval_returns_to_review() {
    let f = fixture().await;
    let anna = f.session("anna", Role::Agent).await;
    let lena = f.session("lena", Role::Agent).await;
    let (status, created) = f
        .api(
            &anna,
            "/api/posts",
            Some(json!({"title": "Edit", "variants": [{"account": f.account, "text": "First version of the text for you"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["post"]["id"].as_i64().unwrap();
    assert!(created["checks"].as_array().unwrap().len() >= 5);
    f.api(
        &anna,
        &format!("/api/posts/{id}/transition"),
        Some(json!({"action": "submit"})),
    )
    .await;
    let (status, approved) = f
        .api(
            &lena,
            &format!("/api/posts/{id}/transition"),
            Some(json!({"action": "approve"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["post"]["state"], "approved");
    let (status, edited) = f
        .api(
            &anna,
            &format!("/api/posts/{id}"),
            Some(json!({"title": "Edit", "variants": [{"account": f.account, "text": "Second version of the text for you"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["post"]["state"], "in_review");
    assert_eq!(edited["approvals"], json!([]));
    let (status, err) = f
        .api(
            &anna,
            &format!("/api/posts/{id}/transition"),
            Some(json!({"action": "dance"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("action"));
}

#[tokio::test]
async fn a_blocking_check_stops_approval_with_its_reason() {
    let f = fixture().await;
    let anna = f.session("anna", Role::Agent).await;
    let lena = f.session("lena", Role::Agent).await;
    let (_, created) = f
        .api(
            &anna,
            "/api/posts",
            Some(json!({"title": "Bad", "variants": [{"account": f.account, "text": "Guaranteed Returns on every bike"}]})),
        )
        .await;
    let id = created["post"]["id"].as_i64().unwrap();
    let policy = created["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "policy")
        .unwrap()
        .clone();
    assert_eq!(policy["verdict"], "block");
    f.api(
        &anna,
        &format!("/api/posts/{id}/transition"),
        Some(json!({"action": "submit"})),
    )
    .await;
    let (status, err) = f
        .api(
            &lena,
            &format!("/api/posts/{id}/transition"),
            Some(json!({"action": "approve"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("guaranteed returns"),
        "{err}"
    );
    // A too-long Bluesky variant is a blocking network rule naming the variant.
    let sky = f.store.account_by_name("shop-sky").await.unwrap().unwrap();
    let (_, long) = f
        .api(
            &anna,
            "/api/posts",
            Some(json!({"title": "Long", "variants": [{"account": sky.id.0, "text": "a".repeat(301)}]})),
        )
        .await;
    let rules = long["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "network_rules")
        .unwrap()
        .clone();
    assert_eq!(rules["verdict"], "block");
    assert!(rules["explanation"].as_str().unwrap().contains("shop-sky"));
    assert!(rules["explanation"]
        .as_str()
        .unwrap()
        .contains("301 graphemes"));
}

#[tokio::test]
async fn viewers_read_but_cannot_write() {
    let f = fixture().await;
    let vic = f.session("vic", Role::Viewer).await;
    let (status, _) = f.get(&vic, "/posts").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f
        .api(
            &vic,
            "/api/posts",
            Some(json!({"title": "x", "variants": []})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = f.get(&vic, "/posts/new").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
