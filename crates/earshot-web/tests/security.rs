//! Access control over the whole app, on a real SQLite store: every route of the route table
//! against every kind of caller, CSRF and same-origin checks, session fixation and expiry,
//! sign-in throttling, revoked tokens, disabled users, open redirects and hostile names.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use earshot_core::{Config, Role, User};
use earshot_store::{AuthStore, NewUser, SqliteStore, Store};
use earshot_web::auth::{self, SESSION_COOKIE};
use earshot_web::{route_table, router_with_clock, Access, WebState};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    app: Router,
    now: Arc<Mutex<DateTime<Utc>>>,
    config: Config,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let now = Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        ));
        let clock_now = now.clone();
        let config = Config::default();
        let app = router_with_clock(
            WebState {
                store: store.clone(),
                config: Arc::new(RwLock::new(config.clone())),
                workspace: dir.path().to_path_buf(),
                live_rules: None,
                analyzer: std::sync::Arc::new(earshot_analysis::Analyzer::rules_only()),
            },
            Arc::new(move || *clock_now.lock().unwrap()),
        );
        Fixture {
            _dir: dir,
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

    async fn user(&self, name: &str, display_name: Option<&str>, role: Role) -> User {
        self.store
            .create_user(NewUser {
                name: name.into(),
                display_name: display_name.map(str::to_string),
                role,
                password_hash: Some(auth::hash_password(PASSWORD).unwrap()),
                created_at: self.now(),
            })
            .await
            .unwrap()
    }

    /// A fresh session: the `Cookie` header value and the CSRF token.
    async fn session(&self, user: &User) -> (String, String) {
        let secrets = auth::start_session(
            self.store.as_ref(),
            user.id,
            "192.0.2.1",
            &self.config.auth,
            self.now(),
        )
        .await
        .unwrap();
        (format!("{SESSION_COOKIE}={}", secrets.id), secrets.csrf)
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = if headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|t| t == "text/event-stream")
        {
            String::new()
        } else {
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn login(
        &self,
        name: &str,
        password: &str,
        from: &str,
        extra: &[(&str, &str)],
    ) -> Answer {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("name", name)
            .append_pair("password", password)
            .append_pair("next", "/sources")
            .finish();
        let mut request = Request::post("/login")
            .header(header::HOST, "earshot.test")
            .header(header::ORIGIN, "http://earshot.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (key, value) in extra {
            request = request.header(*key, *value);
        }
        let mut request = request.body(Body::from(form)).unwrap();
        let addr: SocketAddr = format!("{from}:5555").parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
        self.send(request).await
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The session id a `Set-Cookie` hands out, if any.
    fn new_session_id(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{SESSION_COOKIE}=")))
            .map(|v| v.split(';').next().unwrap().to_string())
            .filter(|v| !v.is_empty())
    }
}

fn get(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::get(uri).header(header::HOST, "earshot.test");
    for (key, value) in headers {
        request = request.header(*key, *value);
    }
    request.body(Body::empty()).unwrap()
}

fn post_form(uri: &str, headers: &[(&str, &str)], form: &str) -> Request<Body> {
    let mut request = Request::post(uri)
        .header(header::HOST, "earshot.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (key, value) in headers {
        request = request.header(*key, *value);
    }
    request.body(Body::from(form.to_string())).unwrap()
}

#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    Session(Role),
    Token(Role),
    RevokedToken,
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_table_says() {
    let f = Fixture::new().await;
    let mention = f
        .store
        .write_batch(
            vec![earshot_store::testsuite::mention("blog", "1", "Zeltron", 0)],
            None,
        )
        .await
        .unwrap()
        .inserted[0];
    let mut users = Vec::new();
    for role in Role::ALL {
        users.push((role, f.user(role.as_str(), None, role).await));
    }
    let user_of = |role: Role| users.iter().find(|(r, _)| *r == role).unwrap().1.clone();
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let (secret, _) = auth::issue_token(f.store.as_ref(), user_of(role).id, "t", f.now())
            .await
            .unwrap();
        tokens.push((role, secret));
    }
    let (revoked, revoked_token) =
        auth::issue_token(f.store.as_ref(), user_of(Role::Admin).id, "old", f.now())
            .await
            .unwrap();
    f.store.revoke_token(revoked_token.id).await.unwrap();

    let mut callers = vec![Caller::Anonymous, Caller::RevokedToken];
    for role in Role::ALL {
        callers.push(Caller::Session(role));
        callers.push(Caller::Token(role));
    }
    let table = route_table();
    assert!(table.len() >= 20, "the table lists every route");
    let mut checked = 0;
    for route in &table {
        let path = route
            .path
            .replace("{id}", &mention.0.to_string())
            .replace("{token}", "not-an-invite")
            .replace("{reply}", "1")
            .replace("{rule}", "1")
            .replace("{code}", "Ab12Cd34");
        for caller in &callers {
            let mut headers: Vec<(String, String)> =
                vec![("origin".into(), "http://earshot.test".into())];
            let mut role = None;
            match caller {
                Caller::Anonymous => {}
                Caller::Session(r) => {
                    let (cookie, csrf) = f.session(&user_of(*r)).await;
                    headers.push(("cookie".into(), cookie));
                    headers.push((auth::CSRF_HEADER.into(), csrf));
                    role = Some(*r);
                }
                Caller::Token(r) => {
                    let secret = &tokens.iter().find(|(t, _)| t == r).unwrap().1;
                    headers.push(("authorization".into(), format!("Bearer {secret}")));
                    // Tokens count under /api only.
                    role = route.is_api().then_some(*r);
                }
                Caller::RevokedToken => {
                    headers.push(("authorization".into(), format!("Bearer {revoked}")));
                }
            }
            let mut request = Request::builder()
                .method(route.method.clone())
                .uri(&path)
                .header(header::HOST, "earshot.test");
            for (key, value) in &headers {
                request = request.header(key.as_str(), value.as_str());
            }
            let request = if route.method == Method::POST {
                request
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from("name=nobody&password=wrong-password"))
                    .unwrap()
            } else {
                request.body(Body::empty()).unwrap()
            };
            let answer = f.send(request).await;
            let what = format!("{} {} as {caller:?}", route.method, route.path);
            match route.access {
                // Public, but authenticated by its own HMAC signature, which no caller here
                // sends: refused whoever asks, sessions and tokens included.
                Access::Public if route.path == "/api/conversions" => {
                    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
                    assert!(answer.body.contains("\"error\""), "{what}: {}", answer.body);
                }
                Access::Public => assert!(
                    ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&answer.status)
                        && !answer.location().starts_with("/login?"),
                    "{what}: public, got {}",
                    answer.status
                ),
                Access::Min(needed) => match role {
                    None if route.is_api() => {
                        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
                        assert!(answer.body.contains("\"error\""), "{what}: {}", answer.body);
                    }
                    None => {
                        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{what}");
                        assert!(answer.location().starts_with("/login"), "{what}");
                    }
                    Some(have) if have < needed => {
                        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what}")
                    }
                    // Past the guard: whatever the handler says about this input (a route
                    // for a conversation answers 404 for an id that is no conversation), but
                    // never a refusal, a login redirect or a server error.
                    Some(_) => assert!(
                        ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&answer.status)
                            && !answer.status.is_server_error()
                            && !answer.location().starts_with("/login?"),
                        "{what}: allowed, got {} {}",
                        answer.status,
                        answer.location()
                    ),
                },
            }
            checked += 1;
        }
    }
    assert_eq!(checked, table.len() * callers.len());
}

#[tokio::test]
async fn pages_redirect_to_login_and_come_back() {
    let f = Fixture::new().await;
    let answer = f.send(get("/sources?x=1", &[])).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/login?next=%2Fsources%3Fx%3D1");
    f.user("anna", None, Role::Viewer).await;
    let answer = f.login("anna", PASSWORD, "192.0.2.5", &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), "/sources");
    let cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let over_https = f
        .login(
            "anna",
            PASSWORD,
            "192.0.2.5",
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert!(over_https.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn open_redirects_are_refused() {
    let f = Fixture::new().await;
    f.user("anna", None, Role::Viewer).await;
    let page = f.send(get("/login?next=https://evil.example/", &[])).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("name=\"next\" value=\"/mentions\""),
        "{}",
        page.body
    );
    for next in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("name", "anna")
            .append_pair("password", PASSWORD)
            .append_pair("next", next)
            .finish();
        let answer = f.send(post_form("/login", &[], &form)).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert_eq!(answer.location(), "/mentions", "next={next}");
    }
}

#[tokio::test]
async fn csrf_token_and_origin_are_required_for_changes() {
    let f = Fixture::new().await;
    let anna = f.user("anna", None, Role::Admin).await;
    let (cookie, csrf) = f.session(&anna).await;
    let origin = ("origin", "http://earshot.test");
    let missing = f
        .send(post_form("/logout", &[("cookie", &cookie), origin], ""))
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let wrong = f
        .send(post_form(
            "/logout",
            &[("cookie", &cookie), origin],
            "csrf=0000",
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let wrong_header = f
        .send(post_form(
            "/logout",
            &[("cookie", &cookie), origin, ("x-csrf-token", "nope")],
            &format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(
        wrong_header.status,
        StatusCode::FORBIDDEN,
        "the header wins"
    );
    let cross_site = f
        .send(post_form(
            "/logout",
            &[("cookie", &cookie), ("origin", "http://evil.example")],
            &format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let cross_referer = f
        .send(post_form(
            "/logout",
            &[("cookie", &cookie), ("referer", "http://evil.example/page")],
            &format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(cross_referer.status, StatusCode::FORBIDDEN);
    // Still signed in after all the refusals.
    assert_eq!(
        f.send(get("/sources", &[("cookie", &cookie)])).await.status,
        StatusCode::OK
    );
    let by_form = f
        .send(post_form(
            "/logout",
            &[("cookie", &cookie), origin],
            &format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(by_form.status, StatusCode::SEE_OTHER);
    let (cookie, csrf) = f.session(&anna).await;
    let by_header = f
        .send(post_form(
            "/logout",
            &[("cookie", &cookie), origin, ("x-csrf-token", &csrf)],
            "",
        ))
        .await;
    assert_eq!(by_header.status, StatusCode::SEE_OTHER);
    // A cross-site login form is refused too.
    let form = format!("name=anna&password={PASSWORD}");
    let forged = f
        .send(post_form(
            "/login",
            &[("origin", "http://evil.example")],
            &form,
        ))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_in_makes_a_new_session_and_logout_kills_it() {
    let f = Fixture::new().await;
    let anna = f.user("anna", None, Role::Agent).await;
    // An attacker's own valid session id planted in the victim's browser.
    let (planted, _) = f.session(&anna).await;
    let answer = f
        .login("anna", PASSWORD, "192.0.2.5", &[("cookie", &planted)])
        .await;
    let new_id = answer.new_session_id().expect("a session cookie");
    assert_ne!(format!("{SESSION_COOKIE}={new_id}"), planted);
    assert_eq!(
        f.send(get("/sources", &[("cookie", &planted)]))
            .await
            .status,
        StatusCode::SEE_OTHER,
        "the planted id ends at sign-in"
    );
    let cookie = format!("{SESSION_COOKIE}={new_id}");
    let page = f.send(get("/sources", &[("cookie", &cookie)])).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the logout form carries the CSRF token")
        .to_string();
    let out = f
        .send(post_form(
            "/logout",
            &[("cookie", &cookie), ("origin", "http://earshot.test")],
            &format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = f.send(get("/sources", &[("cookie", &cookie)])).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the old id is dead");
}

#[tokio::test]
async fn sessions_end_when_idle_or_old() {
    let f = Fixture::new().await;
    let anna = f.user("anna", None, Role::Viewer).await;
    let (cookie, _) = f.session(&anna).await;
    f.advance(Duration::hours(7));
    assert_eq!(
        f.send(get("/sources", &[("cookie", &cookie)])).await.status,
        StatusCode::OK
    );
    // Used seven hours in: idle time counts from then.
    f.advance(Duration::hours(7));
    assert_eq!(
        f.send(get("/sources", &[("cookie", &cookie)])).await.status,
        StatusCode::OK
    );
    f.advance(Duration::hours(8) + Duration::minutes(1));
    assert_eq!(
        f.send(get("/sources", &[("cookie", &cookie)])).await.status,
        StatusCode::SEE_OTHER,
        "idle for more than 8 hours"
    );
    let (cookie, _) = f.session(&anna).await;
    for _ in 0..23 {
        f.advance(Duration::hours(7));
        assert_eq!(
            f.send(get("/sources", &[("cookie", &cookie)])).await.status,
            StatusCode::OK
        );
    }
    f.advance(Duration::hours(7));
    assert_eq!(
        f.send(get("/sources", &[("cookie", &cookie)])).await.status,
        StatusCode::SEE_OTHER,
        "older than 7 days, however busy"
    );
}

fn retry_after(answer: &Answer) -> i64 {
    answer.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn failed_sign_ins_slow_the_account_down() {
    let f = Fixture::new().await;
    f.user("anna", None, Role::Viewer).await;
    for attempt in 0..5 {
        let answer = f.login("anna", "wrong password!", "192.0.2.5", &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "attempt {attempt}");
        assert!(answer.body.contains("Wrong user name or password"));
        assert!(answer.new_session_id().is_none());
    }
    // Locked for the account: even the right password, even from another address.
    let locked = f.login("anna", PASSWORD, "198.51.100.9", &[]).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&locked), 30);
    assert!(locked.new_session_id().is_none());
    // An unknown account is slowed the same way, so the answer does not tell them apart.
    for _ in 0..5 {
        f.login("ghost", "wrong password!", "198.51.100.1", &[])
            .await;
    }
    let ghost = f
        .login("ghost", "wrong password!", "198.51.100.2", &[])
        .await;
    assert_eq!(ghost.status, StatusCode::TOO_MANY_REQUESTS);
    f.advance(Duration::seconds(31));
    let answer = f.login("anna", "wrong password!", "192.0.2.5", &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "open again after the wait");
    let locked = f.login("anna", PASSWORD, "192.0.2.5", &[]).await;
    assert_eq!(retry_after(&locked), 60, "the wait doubles");
    f.advance(Duration::seconds(61));
    let success = f.login("anna", PASSWORD, "192.0.2.5", &[]).await;
    assert_eq!(success.status, StatusCode::SEE_OTHER);
    // Success reset the account's count: four more failures are not yet throttled.
    for _ in 0..4 {
        f.login("anna", "wrong password!", "192.0.2.6", &[]).await;
    }
    let answer = f.login("anna", PASSWORD, "192.0.2.6", &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn failed_sign_ins_slow_the_address_down() {
    let f = Fixture::new().await;
    f.user("anna", None, Role::Viewer).await;
    // Many names, one address: each account stays under its limit, the address does not.
    for i in 0..20 {
        let answer = f
            .login(&format!("guess{i}"), "wrong password!", "203.0.113.7", &[])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "attempt {i}");
    }
    let locked = f.login("anna", PASSWORD, "203.0.113.7", &[]).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&locked) >= 1);
    let elsewhere = f.login("anna", PASSWORD, "192.0.2.5", &[]).await;
    assert_eq!(
        elsewhere.status,
        StatusCode::SEE_OTHER,
        "other addresses go on"
    );
}

#[tokio::test]
async fn revoked_tokens_and_disabled_users_are_shut_out() {
    let f = Fixture::new().await;
    let anna = f.user("anna", None, Role::Manager).await;
    let (secret, token) = auth::issue_token(f.store.as_ref(), anna.id, "ci", f.now())
        .await
        .unwrap();
    assert!(secret.starts_with(&token.prefix));
    let bearer = format!("Bearer {secret}");
    let ok = f
        .send(get("/api/stats", &[("authorization", &bearer)]))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    // Bearer calls need no CSRF token and carry no cookie.
    assert!(ok.headers.get(header::SET_COOKIE).is_none());
    f.store.revoke_token(token.id).await.unwrap();
    let revoked = f
        .send(get("/api/stats", &[("authorization", &bearer)]))
        .await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert!(revoked.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));

    let (secret, _) = auth::issue_token(f.store.as_ref(), anna.id, "ci2", f.now())
        .await
        .unwrap();
    let (cookie, _) = f.session(&anna).await;
    f.store.disable_user("anna").await.unwrap();
    let bearer = format!("Bearer {secret}");
    assert_eq!(
        f.send(get("/api/stats", &[("authorization", &bearer)]))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.send(get("/mentions", &[("cookie", &cookie)]))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let login = f.login("anna", PASSWORD, "192.0.2.5", &[]).await;
    assert_eq!(
        login.status,
        StatusCode::OK,
        "a disabled user cannot sign in"
    );
    assert!(login.new_session_id().is_none());
}

#[tokio::test]
async fn names_with_markup_are_shown_inert() {
    let f = Fixture::new().await;
    let evil = f
        .user(
            "mallory",
            Some("<script>alert(1)</script>\"><img src=x onerror=alert(1)>"),
            Role::Viewer,
        )
        .await;
    let (cookie, _) = f.session(&evil).await;
    let page = f.send(get("/sources", &[("cookie", &cookie)])).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"));
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "the name is shown, escaped"
    );
    let typed = f
        .login(
            "<b>x</b>\"><script>alert(2)</script>",
            "whatever pass",
            "192.0.2.5",
            &[],
        )
        .await;
    assert!(!typed.body.contains("<script>alert(2)"));
    assert!(!typed.body.contains("<b>x</b>"));
}

#[tokio::test]
async fn an_invite_sets_the_password_once() {
    let f = Fixture::new().await;
    let nina = f
        .store
        .create_user(NewUser {
            name: "nina".into(),
            display_name: None,
            role: Role::Agent,
            password_hash: None,
            created_at: f.now(),
        })
        .await
        .unwrap();
    let invite = auth::issue_invite(f.store.as_ref(), nina.id, f.now())
        .await
        .unwrap();
    let path = format!("/invite/{invite}");
    let page = f.send(get(&path, &[])).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("nina"));
    let mismatch = f
        .send(post_form(
            &path,
            &[],
            "password=long+enough+1&confirm=long+enough+2",
        ))
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    let short = f
        .send(post_form(&path, &[], "password=short&confirm=short"))
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("password", PASSWORD)
        .append_pair("confirm", PASSWORD)
        .finish();
    let set = f.send(post_form(&path, &[], &form)).await;
    assert_eq!(set.status, StatusCode::SEE_OTHER);
    assert_eq!(set.location(), "/login?invited=1");
    let again = f.send(post_form(&path, &[], &form)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "used once only");
    let login = f.login("nina", PASSWORD, "192.0.2.5", &[]).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);

    let late = auth::issue_invite(f.store.as_ref(), nina.id, f.now())
        .await
        .unwrap();
    f.advance(Duration::days(7) + Duration::seconds(1));
    let expired = f.send(get(&format!("/invite/{late}"), &[])).await;
    assert_eq!(expired.status, StatusCode::NOT_FOUND);
}
