//! Tracked links, conversions and campaigns through the router, on a real SQLite store: the
//! public redirect (status, headers, 404, HEAD, bots), clicks per day with an injected clock,
//! signed conversions (valid, wrong secret, tampered, stale, missing header, replays), and the
//! campaign pages, report, CSV and JSON as a manager and a viewer would use them.

use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use earshot_core::links::{ClickCounting, NewTrackedLink, UtmParams, KNOWN_BOT_AGENTS};
use earshot_core::{Config, Role};
use earshot_store::{AuthStore, CampaignStore, LinkStore, NewUser, SqliteStore};
use earshot_web::auth;
use earshot_web::links::{ensure_signing_secret, sign_conversion};
use earshot_web::{router_with_clock, WebState};
use serde_json::{json, Value};
use tower::ServiceExt;

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const TARGET: &str = "https://zeltron.com/shop?ref=x&utm_source=mastodon#top";

struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    app: Router,
    now: Arc<Mutex<DateTime<Utc>>>,
    config: Config,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let now = Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2027, 3, 2, 23, 59, 0).unwrap(),
        ));
        let clock = now.clone();
        let mut config = Config::default();
        // Each click is written before the redirect answers, so the tests can read it back;
        // the batched counter has its own test in src/links.rs.
        config.links.click_counting = ClickCounting::Direct;
        config.links.base_url = Some("https://go.zeltron.test".into());
        let app = router_with_clock(
            WebState {
                store: store.clone(),
                config: Arc::new(RwLock::new(config.clone())),
                workspace: dir.path().to_path_buf(),
                live_rules: None,
                analyzer: Arc::new(earshot_analysis::Analyzer::rules_only()),
            },
            Arc::new(move || *clock.lock().unwrap()),
        );
        Fixture {
            dir,
            store,
            app,
            now,
            config,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }

    async fn link(&self, code: &str) {
        self.store
            .create_links(
                &[NewTrackedLink {
                    code: code.into(),
                    target_url: TARGET.into(),
                    utm: UtmParams {
                        source: Some("mastodon".into()),
                        ..UtmParams::default()
                    },
                    campaign_id: None,
                    post_id: None,
                }],
                self.now(),
            )
            .await
            .unwrap();
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn click(&self, method: &str, code: &str, agent: Option<&str>) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/l/{code}"))
            .header(header::HOST, "go.zeltron.test");
        if let Some(agent) = agent {
            request = request.header(header::USER_AGENT, agent);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn clicks(&self, code: &str) -> Vec<(NaiveDate, u64, u64)> {
        self.store
            .clicks_per_day(
                Some(code),
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.day, c.human, c.bot))
            .collect()
    }

    async fn session(&self, name: &str, role: Role) -> (String, String) {
        let user = self
            .store
            .create_user(NewUser {
                name: name.into(),
                display_name: None,
                role,
                password_hash: None,
                created_at: self.now(),
            })
            .await
            .unwrap();
        let secrets = auth::start_session(
            self.store.as_ref(),
            user.id,
            "192.0.2.1",
            &self.config.auth,
            self.now(),
        )
        .await
        .unwrap();
        (
            format!("{}={}", auth::SESSION_COOKIE, secrets.id),
            secrets.csrf,
        )
    }

    async fn get(&self, uri: &str, cookie: &str) -> Answer {
        self.send(
            Request::get(uri)
                .header(header::HOST, "earshot.test")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post_form(
        &self,
        uri: &str,
        session: &(String, String),
        form: &[(&str, &str)],
    ) -> Answer {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf", &session.1);
        for (key, value) in form {
            body.append_pair(key, value);
        }
        self.send(
            Request::post(uri)
                .header(header::HOST, "earshot.test")
                .header(header::ORIGIN, "http://earshot.test")
                .header(header::COOKIE, &session.0)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.finish()))
                .unwrap(),
        )
        .await
    }

    async fn post_conversion(
        &self,
        body: &str,
        timestamp: Option<i64>,
        signature: Option<String>,
    ) -> Answer {
        let mut request = Request::post("/api/conversions")
            .header(header::HOST, "earshot.test")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(ts) = timestamp {
            request = request.header("X-Earshot-Timestamp", ts.to_string());
        }
        if let Some(signature) = signature {
            request = request.header("X-Earshot-Signature", signature);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// A conversion signed now with `secret`.
    async fn signed(&self, secret: &str, body: &str) -> Answer {
        let ts = self.now().timestamp();
        let signature = sign_conversion(secret, &ts.to_string(), body.as_bytes());
        self.post_conversion(body, Some(ts), Some(signature)).await
    }
}

#[tokio::test]
async fn a_short_link_redirects_with_its_headers_and_counts_the_click() {
    let f = Fixture::new().await;
    f.link("Ab12Cd34").await;
    let answer = f.click("GET", "Ab12Cd34", Some(BROWSER)).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(answer.header(header::LOCATION), TARGET);
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    assert_eq!(
        answer.header(header::REFERRER_POLICY),
        "strict-origin-when-cross-origin"
    );
    let day = NaiveDate::from_ymd_opt(2027, 3, 2).unwrap();
    assert_eq!(f.clicks("Ab12Cd34").await, [(day, 1, 0)]);

    // HEAD answers the same redirect, counted as a crawler's probe.
    let head = f.click("HEAD", "Ab12Cd34", Some(BROWSER)).await;
    assert_eq!(head.status, StatusCode::FOUND);
    assert_eq!(head.header(header::LOCATION), TARGET);
    assert!(head.body.is_empty());
    assert_eq!(f.clicks("Ab12Cd34").await, [(day, 1, 1)]);

    // The pages keep their own referrer policy.
    let login = f.get("/login", "").await;
    assert_eq!(login.header(header::REFERRER_POLICY), "same-origin");
}

#[tokio::test]
async fn unknown_and_malformed_codes_are_a_404_page() {
    let f = Fixture::new().await;
    for code in ["Zz99Zz99", "a%20b%2Fc", "abc", "%3Cscript%3E"] {
        let answer = f.click("GET", code, Some(BROWSER)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{code}");
        assert!(answer.header(header::CONTENT_TYPE).starts_with("text/html"));
        assert!(answer.header(header::LOCATION).is_empty());
        assert!(!answer.body.contains("<script>"), "{}", answer.body);
    }
}

#[tokio::test]
async fn crawlers_and_link_previews_are_counted_apart_from_people() {
    let f = Fixture::new().await;
    f.link("bots0001").await;
    let agents = [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "WhatsApp/2.23.20.0",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "http.rb/5.1.1 (Mastodon/4.2.0; +https://mastodon.social/)",
        "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
        "NewsCrawler/3",
        "tiny-spider",
        "Link Preview Generator",
    ];
    for agent in agents {
        let answer = f.click("GET", "bots0001", Some(agent)).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{agent}");
    }
    // No user agent at all, and an empty one.
    f.click("GET", "bots0001", None).await;
    f.click("GET", "bots0001", Some("")).await;
    // Two people.
    f.click("GET", "bots0001", Some(BROWSER)).await;
    f.click(
        "GET",
        "bots0001",
        Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"),
    )
    .await;
    let day = NaiveDate::from_ymd_opt(2027, 3, 2).unwrap();
    assert_eq!(
        f.clicks("bots0001").await,
        [(day, 2, agents.len() as u64 + 2)]
    );
    assert!(KNOWN_BOT_AGENTS.len() >= 15, "the documented list");
}

#[tokio::test]
async fn clicks_land_on_the_day_of_the_click() {
    let f = Fixture::new().await;
    f.link("days0001").await;
    f.click("GET", "days0001", Some(BROWSER)).await;
    // 23:59 → 00:01 the next day (UTC).
    f.advance(Duration::minutes(2));
    f.click("GET", "days0001", Some(BROWSER)).await;
    f.click("GET", "days0001", Some(BROWSER)).await;
    f.advance(Duration::days(3));
    f.click("GET", "days0001", Some("Twitterbot/1.0")).await;
    let d = |day| NaiveDate::from_ymd_opt(2027, 3, day).unwrap();
    assert_eq!(
        f.clicks("days0001").await,
        [(d(2), 1, 0), (d(3), 2, 0), (d(6), 0, 1)]
    );
}

fn order(id: &str, value: i64) -> String {
    json!({
        "external_id": id,
        "value": value,
        "currency": "EUR",
        "kind": "sale",
        "link_code": "conv0001",
        "occurred_at": "2027-03-02T12:00:00Z",
    })
    .to_string()
}

#[tokio::test]
async fn conversions_need_a_fresh_valid_signature() {
    let f = Fixture::new().await;
    f.link("conv0001").await;
    let body = order("order-1", 4_999);

    // No secret yet: refused with what to do.
    let none = f.signed("anything", &body).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(
        none.body.contains("earshot conversions secret"),
        "{}",
        none.body
    );

    let secret = ensure_signing_secret(f.dir.path(), false).unwrap();
    let wrong = f.signed("not-the-secret", &body).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("does not match"), "{}", wrong.body);

    // Signed, then the body changed on the way.
    let ts = f.now().timestamp();
    let signature = sign_conversion(&secret, &ts.to_string(), body.as_bytes());
    let tampered = f
        .post_conversion(&order("order-1", 1), Some(ts), Some(signature.clone()))
        .await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);

    // Signed correctly, but more than 5 minutes ago: a replay is refused.
    let old = ts - 301;
    let stale_signature = sign_conversion(&secret, &old.to_string(), body.as_bytes());
    let stale = f
        .post_conversion(&body, Some(old), Some(stale_signature))
        .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert!(stale.body.contains("5 minutes"), "{}", stale.body);

    let no_timestamp = f
        .post_conversion(&body, None, Some(signature.clone()))
        .await;
    assert_eq!(no_timestamp.status, StatusCode::UNAUTHORIZED);
    assert!(no_timestamp.body.contains("X-Earshot-Timestamp"));
    let no_signature = f.post_conversion(&body, Some(ts), None).await;
    assert_eq!(no_signature.status, StatusCode::UNAUTHORIZED);
    assert!(no_signature.body.contains("X-Earshot-Signature"));
    assert!(f.store.conversions(None, 10).await.unwrap().is_empty());

    let created = f.post_conversion(&body, Some(ts), Some(signature)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let first = created.json();
    assert_eq!(first["conversion"]["value"], 4_999);
    assert_eq!(first["replayed"], false);

    // The shop sends it again (a retry): 200 and the first record.
    f.advance(Duration::seconds(30));
    let again = f.signed(&secret, &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["conversion"], first["conversion"]);
    assert_eq!(again.json()["replayed"], true);

    // The same id with another value: 409, and still one record.
    let clash = f.signed(&secret, &order("order-1", 5_999)).await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    assert!(clash.body.contains("order-1"), "{}", clash.body);
    let stored = f.store.conversions(None, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].value, 4_999);

    // Money is whole minor units; a float is a clear 400.
    let float = f
        .signed(
            &secret,
            &json!({"external_id": "o-2", "value": 49.99, "currency": "EUR", "kind": "sale", "link_code": "conv0001"}).to_string(),
        )
        .await;
    assert_eq!(float.status, StatusCode::BAD_REQUEST);
    assert!(float.body.contains("body:"), "{}", float.body);
    let unknown_code = f
        .signed(
            &secret,
            &json!({"external_id": "o-3", "value": 1, "currency": "EUR", "kind": "sale", "link_code": "nope9999"}).to_string(),
        )
        .await;
    assert_eq!(unknown_code.status, StatusCode::BAD_REQUEST);
    assert!(unknown_code.body.contains("nope9999"));

    // Without occurred_at, resending the same signed request (a network retry) is a replay.
    let undated = json!({"external_id": "o-5", "value": 700, "currency": "EUR", "kind": "lead", "link_code": "conv0001"}).to_string();
    let signed_at = f.now().timestamp();
    let signature = sign_conversion(&secret, &signed_at.to_string(), undated.as_bytes());
    let first_try = f
        .post_conversion(&undated, Some(signed_at), Some(signature.clone()))
        .await;
    assert_eq!(first_try.status, StatusCode::CREATED, "{}", first_try.body);
    f.advance(Duration::seconds(20));
    let retry = f
        .post_conversion(&undated, Some(signed_at), Some(signature))
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.body);

    // After a rotation the old secret no longer works.
    let rotated = ensure_signing_secret(f.dir.path(), true).unwrap();
    let old_secret = f.signed(&secret, &order("order-4", 1)).await;
    assert_eq!(old_secret.status, StatusCode::UNAUTHORIZED);
    let new_secret = f.signed(&rotated, &order("order-4", 1)).await;
    assert_eq!(new_secret.status, StatusCode::CREATED);
}

#[tokio::test]
async fn managers_plan_campaigns_and_everyone_reads_the_report() {
    let f = Fixture::new().await;
    let manager = f.session("maria", Role::Manager).await;
    let viewer = f.session("vera", Role::Viewer).await;
    let hostile = "<script>alert(1)</script> Spring";
    let created = f
        .post_form(
            "/campaigns",
            &manager,
            &[
                ("name", hostile),
                ("utm_campaign", "spring"),
                ("goal", "sales"),
                ("target", "10"),
                ("budget", "500"),
                ("currency", "EUR"),
                ("starts_on", "2027-03-01"),
                ("ends_on", "2027-03-31"),
                ("posts", "12, #15"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let page_url = created.header(header::LOCATION).to_string();
    assert!(page_url.starts_with("/campaigns/"), "{page_url}");
    let campaign = f.store.campaign_named("spring").await.unwrap().unwrap();
    assert_eq!(campaign.post_ids, [12, 15]);

    let spent = f
        .post_form(
            &format!("{page_url}/spend"),
            &manager,
            &[
                ("amount", "200.00"),
                ("currency", "EUR"),
                ("spent_on", "2027-03-02"),
                ("note", "boost"),
            ],
        )
        .await;
    assert_eq!(spent.status, StatusCode::SEE_OTHER, "{}", spent.body);
    let bad_spend = f
        .post_form(
            &format!("{page_url}/spend"),
            &manager,
            &[("amount", "12,50"), ("currency", "EUR")],
        )
        .await;
    assert_eq!(bad_spend.status, StatusCode::BAD_REQUEST);
    assert!(bad_spend.body.contains("amount"), "{}", bad_spend.body);

    // A link of the campaign, a person's click and a crawler's, a signed sale through it.
    let link = f
        .post_form(
            "/links",
            &manager,
            &[
                ("url", "https://zeltron.com/spring"),
                ("campaign", &campaign.id.to_string()),
                ("utm_source", "mastodon"),
            ],
        )
        .await;
    assert_eq!(link.status, StatusCode::SEE_OTHER, "{}", link.body);
    let code = link
        .header(header::LOCATION)
        .trim_start_matches("/links?created=")
        .to_string();
    let stored = f.store.link(&code).await.unwrap().unwrap();
    assert_eq!(
        stored.target_url,
        "https://zeltron.com/spring?utm_source=mastodon&utm_campaign=spring"
    );
    f.click("GET", &code, Some(BROWSER)).await;
    f.click("GET", &code, Some("Twitterbot/1.0")).await;
    let secret = ensure_signing_secret(f.dir.path(), false).unwrap();
    let sale = json!({"external_id": "s-1", "value": 60_000, "currency": "EUR", "kind": "sale", "link_code": code}).to_string();
    assert_eq!(f.signed(&secret, &sale).await.status, StatusCode::CREATED);

    let page = f.get(&page_url, &viewer.0).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("<script>alert(1)"),
        "the name is escaped"
    );
    assert!(page.body.contains("&#60;script&#62;"));
    // (600 − 200) / 200 = 200 %, cost per conversion 200.00 EUR.
    assert!(page.body.contains("200.00 %"), "{}", page.body);
    assert!(page.body.contains("200.00 EUR"));
    let roi_at = page.body.find("200.00 %").unwrap();
    let bots_at = page.body.find("id=\"secondary\"").unwrap();
    assert!(roi_at < bots_at, "ROI comes before the secondary figures");
    assert!(!page.body.contains("spend-form"), "a viewer gets no forms");
    let as_manager = f.get(&page_url, &manager.0).await;
    assert!(as_manager.body.contains("spend-form"));

    let list = f.get("/campaigns", &viewer.0).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("&#60;script&#62;") && list.body.contains("200.00 %"));

    let links = f.get("/links", &viewer.0).await;
    assert!(links
        .body
        .contains(&format!("https://go.zeltron.test/l/{code}")));

    let csv = f.get(&format!("{page_url}/report.csv"), &viewer.0).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header(header::CONTENT_TYPE).starts_with("text/csv"));
    let row = csv.body.lines().nth(1).unwrap();
    assert!(
        row.contains(",sales,10,1,1,1,EUR,200.00,500.00,1,600.00,200.00,200.00"),
        "{row}"
    );

    let report = f
        .get(&format!("/api/campaigns/{}/report", campaign.id), &viewer.0)
        .await;
    assert_eq!(report.status, StatusCode::OK);
    let report = report.json();
    assert_eq!(report["rows"][0]["roi_basis_points"], 20_000);
    assert_eq!(report["clicks_human"], 1);
    assert_eq!(report["clicks_bot"], 1);
    let api_links = f.get("/api/links", &viewer.0).await.json();
    assert_eq!(api_links["links"][0]["code"], code.as_str());
    assert_eq!(
        api_links["links"][0]["clicks"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["human"],
        1
    );
    let api_campaigns = f.get("/api/campaigns", &viewer.0).await.json();
    assert_eq!(api_campaigns["campaigns"][0]["utm_campaign"], "spring");
    assert_eq!(
        f.get("/api/campaigns/999/report", &viewer.0).await.status,
        StatusCode::NOT_FOUND
    );

    // Bad input names its field.
    let bad = f
        .post_form(
            "/campaigns",
            &manager,
            &[
                ("name", "Broken"),
                ("goal", "followers"),
                ("starts_on", "2027-03-01"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("goal"), "{}", bad.body);
    let viewer_post = f
        .post_form(
            "/campaigns",
            &viewer,
            &[
                ("name", "Nope"),
                ("goal", "sales"),
                ("starts_on", "2027-03-01"),
            ],
        )
        .await;
    assert_eq!(viewer_post.status, StatusCode::FORBIDDEN);
}

impl Fixture {
    async fn api(
        &self,
        method: &str,
        uri: &str,
        session: &(String, String),
        body: Option<Value>,
    ) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "earshot.test")
            .header(header::ORIGIN, "http://earshot.test")
            .header(header::COOKIE, &session.0)
            .header("X-CSRF-Token", &session.1)
            .header(header::CONTENT_TYPE, "application/json");
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.send(request.body(body).unwrap()).await
    }
}

/// A manager edits a campaign, attaches a post to it from the post's page (the page then
/// shows the campaign and the post's short links with their clicks), and may delete only a
/// campaign without figures; the same through the JSON API.
#[tokio::test]
async fn campaigns_are_edited_posts_attached_and_only_empty_ones_deleted() {
    use earshot_core::{Network, VariantDraft};
    use earshot_store::publishing_testsuite::new_account;
    use earshot_store::PublishingStore;

    let f = Fixture::new().await;
    let manager = f.session("maria", Role::Manager).await;
    let agent = f.session("anna", Role::Agent).await;
    let created = f
        .post_form(
            "/campaigns",
            &manager,
            &[
                ("name", "Winter"),
                ("goal", "leads"),
                ("starts_on", "2027-03-01"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let page_url = created.header(header::LOCATION).to_string();
    let campaign = f.store.campaign_named("winter").await.unwrap().unwrap();

    let edit = f.get(&format!("{page_url}/edit"), &manager.0).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("value=\"Winter\""), "{}", edit.body);
    assert!(edit.body.contains(&format!("action=\"{page_url}\"")));
    let edited = f
        .post_form(
            &page_url,
            &manager,
            &[
                ("name", "Winter <b>sale</b>"),
                ("utm_campaign", "winter-sale"),
                ("goal", "sales"),
                ("target", "7"),
                ("budget", "250.00"),
                ("currency", "EUR"),
                ("starts_on", "2027-03-01"),
                ("ends_on", "2027-03-31"),
                ("posts", ""),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let after = f.store.campaign(campaign.id).await.unwrap().unwrap();
    assert_eq!(after.name, "Winter <b>sale</b>");
    assert_eq!(after.utm_campaign, "winter-sale");
    assert_eq!(after.target, Some(7));
    assert_eq!(after.budget.unwrap().minor, 25_000);
    let bad = f
        .post_form(&page_url, &manager, &[("name", "X"), ("goal", "fame")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("goal"), "{}", bad.body);

    // A post, attached from its page.
    let account = f
        .store
        .create_account(new_account("shop", Network::Mastodon, &[]), f.now())
        .await
        .unwrap();
    let post = f
        .store
        .create_post(
            "<i>Launch</i> post",
            "anna",
            &[VariantDraft {
                account: account.id,
                text: "New gloves: https://zeltron.com/gloves".into(),
                media: vec![],
            }],
            f.now(),
        )
        .await
        .unwrap();
    let post_url = format!("/posts/{}", post.post.id);
    let before = f.get(&post_url, &manager.0).await;
    assert!(before.body.contains("no-post-links"), "{}", before.body);
    assert!(before.body.contains("id=\"campaign-choice\""));
    assert!(
        !f.get(&post_url, &agent.0)
            .await
            .body
            .contains("campaign-choice"),
        "only managers choose campaigns"
    );
    let attached = f
        .post_form(
            &format!("{post_url}/campaign"),
            &manager,
            &[("campaign", &campaign.id.to_string())],
        )
        .await;
    assert_eq!(attached.status, StatusCode::SEE_OTHER, "{}", attached.body);
    assert_eq!(
        f.store
            .campaign(campaign.id)
            .await
            .unwrap()
            .unwrap()
            .post_ids,
        vec![post.post.id.0]
    );
    let missing = f
        .post_form(
            &format!("{post_url}/campaign"),
            &manager,
            &[("campaign", "999")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // The link made when it is queued, clicked once.
    f.store
        .create_links(
            &[NewTrackedLink {
                code: "gloves01".into(),
                target_url: "https://zeltron.com/gloves?utm_campaign=winter-sale".into(),
                utm: UtmParams {
                    campaign: Some("winter-sale".into()),
                    ..UtmParams::default()
                },
                campaign_id: Some(campaign.id),
                post_id: Some(post.post.id.0),
            }],
            f.now(),
        )
        .await
        .unwrap();
    f.click("GET", "gloves01", Some(BROWSER)).await;
    let shown = f.get(&post_url, &manager.0).await;
    assert!(shown.body.contains("id=\"post-campaign-link\""));
    assert!(shown.body.contains("Winter &#60;b&#62;sale&#60;/b&#62;"));
    let links_at = shown.body.find("id=\"post-links\"").expect("links listed");
    let row = &shown.body[links_at..];
    assert!(row.contains("https://go.zeltron.test/l/gloves01"));
    assert!(
        row.contains("<td class=\"num\">1</td><td class=\"num\">0</td>"),
        "{row}"
    );
    let api_links = f
        .get(&format!("/api/posts/{}/links", post.post.id), &manager.0)
        .await;
    assert_eq!(api_links.json()["links"][0]["code"], "gloves01");

    let campaign_page = f.get(&page_url, &manager.0).await;
    assert!(campaign_page.body.contains("id=\"campaign-posts\""));
    assert!(campaign_page
        .body
        .contains("&#60;i&#62;Launch&#60;/i&#62; post"));
    assert!(!campaign_page.body.contains("<i>Launch"));

    // A campaign with a link keeps its figures; an empty one goes.
    let refused = f
        .post_form(&format!("{page_url}/delete"), &manager, &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("end date"), "{}", refused.body);

    let api_created = f
        .api(
            "POST",
            "/api/campaigns",
            &manager,
            Some(
                json!({"name": "Spare", "goal": "custom", "custom_goal": "demo_booked",
                        "budget": "99.90", "currency": "USD", "starts_on": "2027-04-01",
                        "post_ids": [post.post.id.0]}),
            ),
        )
        .await;
    assert_eq!(
        api_created.status,
        StatusCode::CREATED,
        "{}",
        api_created.body
    );
    let spare = api_created.json();
    assert_eq!(spare["utm_campaign"], "spare");
    assert_eq!(spare["budget"]["minor"], 9_990);
    let spare_id = spare["id"].as_i64().unwrap();
    let float_budget = f
        .api(
            "POST",
            &format!("/api/campaigns/{spare_id}"),
            &manager,
            Some(
                json!({"name": "Spare", "goal": "sales", "budget": "9.999", "currency": "USD",
                        "starts_on": "2027-04-01"}),
            ),
        )
        .await;
    assert_eq!(
        float_budget.status,
        StatusCode::BAD_REQUEST,
        "{}",
        float_budget.body
    );
    let renamed = f
        .api(
            "POST",
            &format!("/api/campaigns/{spare_id}"),
            &manager,
            Some(json!({"name": "Spare two", "goal": "sales", "starts_on": "2027-04-01"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.json()["post_ids"], json!([]));
    let refused = f
        .api(
            "DELETE",
            &format!("/api/campaigns/{}", campaign.id),
            &manager,
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let deleted = f
        .api(
            "DELETE",
            &format!("/api/campaigns/{spare_id}"),
            &manager,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert!(f
        .store
        .campaign(earshot_core::CampaignId(spare_id))
        .await
        .unwrap()
        .is_none());
    let by_form = f
        .post_form(
            "/campaigns",
            &manager,
            &[
                ("name", "Gone"),
                ("goal", "leads"),
                ("starts_on", "2027-05-01"),
            ],
        )
        .await;
    let gone_url = by_form.header(header::LOCATION).to_string();
    let gone = f
        .post_form(&format!("{gone_url}/delete"), &manager, &[])
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(gone.header(header::LOCATION), "/campaigns");
    assert_eq!(
        f.get(&gone_url, &manager.0).await.status,
        StatusCode::NOT_FOUND
    );

    let detached = f
        .api(
            "POST",
            &format!("/api/posts/{}/campaign", post.post.id),
            &manager,
            Some(json!({"campaign_id": null})),
        )
        .await;
    assert_eq!(detached.status, StatusCode::OK, "{}", detached.body);
    assert!(f
        .store
        .campaign(campaign.id)
        .await
        .unwrap()
        .unwrap()
        .post_ids
        .is_empty());
}
