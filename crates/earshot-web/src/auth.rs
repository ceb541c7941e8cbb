//! Who is asking, and may they: secrets and password hashes, sessions, bearer tokens, the
//! CSRF and same-origin checks, and the guard every route of the route table goes through.
//!
//! Secrets (session ids, API tokens, invites) are 256 random bits shown to their owner once;
//! the store keeps only their SHA-256. Passwords are argon2id PHC strings, verified on the
//! blocking pool so a burst of sign-ins never stalls the async workers.

use std::net::SocketAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use earshot_core::{ApiToken, AuthConfig, Role, TokenId, User, UserId};
use earshot_store::{NewSession, NewToken, Store, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{ApiErrorBody, WebError};
use crate::pages::PageContext;
use crate::routes::Access;
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "earshot_session";
/// The header `fetch()` calls carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The hidden form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// API tokens start with this, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "es_";
/// How long an invite link works.
pub const INVITE_VALID_FOR: Duration = Duration::days(7);
/// Last-seen times are written at most this often per session or token, so reading a page
/// is not a database write every time.
const TOUCH_EVERY: Duration = Duration::minutes(1);
/// The most form body read to find the CSRF field.
const MAX_FORM_BYTES: usize = 1 << 20;

/// 256 random bits from the operating system, as 64 hex digits.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the store keeps of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("a password may have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("hashing the password failed: {0}")]
    Hash(String),
}

pub const MIN_PASSWORD_CHARS: usize = 10;
/// Argon2 accepts any length; a cap keeps a huge "password" from being a cheap way to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// An argon2id PHC string (the crate's defaults: 19 MiB, 2 passes, 1 lane — OWASP's minimum).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// `false` for a wrong password and for a hash that cannot be read.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of nothing anyone knows: unknown names are checked against it, so a wrong name
/// takes as long as a wrong password and the timing does not tell which accounts exist.
static DECOY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_password(&new_secret()).unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$".into())
});

/// Check a password off the async workers.
pub(crate) async fn verify_password_blocking(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let real = phc.is_some();
        let phc = phc.unwrap_or_else(|| DECOY_HASH.clone());
        verify_password(&password, &phc) && real
    })
    .await
    .unwrap_or(false)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new API token for `user`: the secret (to show once) and what was stored.
pub async fn issue_token(
    store: &dyn Store,
    user: UserId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(String, ApiToken), StoreError> {
    let secret = format!("{TOKEN_PREFIX}{}", new_secret());
    let stored = store
        .create_token(NewToken {
            token_hash: hash_secret(&secret),
            prefix: secret[..TOKEN_PREFIX.len() + 8].to_string(),
            name: name.to_string(),
            user_id: user,
            created_at: now,
        })
        .await?;
    Ok((secret, stored))
}

/// A one-time invite for `user`, valid [`INVITE_VALID_FOR`]; returns the secret for the link.
pub async fn issue_invite(
    store: &dyn Store,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let secret = new_secret();
    store
        .create_invite(&hash_secret(&secret), user, now, now + INVITE_VALID_FOR)
        .await?;
    Ok(secret)
}

/// A session just started: the id for the cookie and the CSRF token for forms.
#[derive(Debug, Clone)]
pub struct NewSessionSecrets {
    pub id: String,
    pub csrf: String,
}

/// Start a session for `user` (the login form does this; tests and embedders may too).
pub async fn start_session(
    store: &dyn Store,
    user: UserId,
    client_addr: &str,
    config: &AuthConfig,
    now: DateTime<Utc>,
) -> Result<NewSessionSecrets, StoreError> {
    let secrets = NewSessionSecrets {
        id: new_secret(),
        csrf: new_secret(),
    };
    store
        .create_session(NewSession {
            id_hash: hash_secret(&secrets.id),
            user_id: user,
            created_at: now,
            expires_at: now + config.session_max(),
            csrf_secret: secrets.csrf.clone(),
            client_addr: client_addr.to_string(),
        })
        .await?;
    Ok(secrets)
}

/// How a request proved who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    Session { id_hash: String, csrf: String },
    Token(TokenId),
}

/// The signed-in user of a request, in its extensions once the guard has let it through.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub credential: Credential,
}

impl SignedIn {
    /// The CSRF token for forms; `None` for bearer-token requests (they need none).
    pub fn csrf(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { csrf, .. } => Some(csrf),
            Credential::Token(_) => None,
        }
    }
}

/// The client's address as the socket saw it (`unknown` when served without one, as in tests).
pub(crate) fn client_addr(request_extensions: &axum::http::Extensions) -> String {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether the request came over HTTPS (directly, or through a proxy that says so).
fn came_over_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    forwarded_proto || forwarded
}

/// The `Set-Cookie` for a new session. `Secure` when configured or when the request came
/// over HTTPS; without it on plain HTTP, since a browser would drop a `Secure` cookie there.
pub(crate) fn session_cookie(
    id: &str,
    config: &AuthConfig,
    headers: &HeaderMap,
) -> Result<HeaderValue, WebError> {
    let secure = if config.secure_cookies || came_over_https(headers) {
        "; Secure"
    } else {
        ""
    };
    let max_age = config.session_max().num_seconds();
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| WebError::BadRequest(format!("cannot build the session cookie: {e}")))
}

pub(crate) fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("earshot_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Why a credential was not accepted (it is answered as if none had been sent).
enum Identified {
    Nobody,
    User(SignedIn),
    /// A bearer token was sent and is unknown, revoked or its user disabled.
    BadToken,
}

async fn identify(
    app: &AppState,
    headers: &HeaderMap,
    api: bool,
    now: DateTime<Utc>,
) -> Result<Identified, StoreError> {
    let store = app.web.store.as_ref();
    if api {
        if let Some(token) = bearer(headers) {
            let Some((stored, user)) = store.token_by_hash(&hash_secret(token)).await? else {
                return Ok(Identified::BadToken);
            };
            if stored.revoked || user.disabled {
                return Ok(Identified::BadToken);
            }
            if stored.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
                store.touch_token(stored.id, now).await?;
            }
            return Ok(Identified::User(SignedIn {
                user,
                credential: Credential::Token(stored.id),
            }));
        }
    }
    let Some(id) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok(Identified::Nobody);
    };
    let id_hash = hash_secret(id);
    let Some((session, user)) = store.session(&id_hash).await? else {
        return Ok(Identified::Nobody);
    };
    let auth = app.web.config().auth.clone();
    let expired = now >= session.expires_at
        || now - session.last_seen_at >= auth.session_idle()
        || now - session.created_at >= auth.session_max();
    if expired || user.disabled {
        store.delete_session(&id_hash).await?;
        return Ok(Identified::Nobody);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        store.touch_session(&id_hash, now).await?;
    }
    Ok(Identified::User(SignedIn {
        user,
        credential: Credential::Session {
            id_hash,
            csrf: session.csrf_secret,
        },
    }))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `host[:port]` of an absolute URL, lower-cased.
fn authority_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    Some(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Same-origin check for state-changing requests: `Origin` (or, without it, `Referer`) must
/// name this server's host. A request carrying neither comes from a non-browser client,
/// which no other site can make a victim's browser send; the CSRF token still applies to it.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| h.trim().to_ascii_lowercase())
    else {
        return false;
    };
    // A default port may be left out of Host but written in Origin, or the other way round.
    let strip_default = |a: &str| {
        a.strip_suffix(":80")
            .or_else(|| a.strip_suffix(":443"))
            .unwrap_or(a)
            .to_string()
    };
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .map(|v| v.to_str().ok().and_then(authority_of));
    match claimed {
        None => true,
        Some(Some(authority)) => strip_default(&authority) == strip_default(&host),
        // `Origin: null` (sandboxed frames, some redirects) or garbage.
        Some(None) => false,
    }
}

/// The guard's settings for one route of the route table.
#[derive(Clone)]
pub(crate) struct Guard {
    pub app: AppState,
    pub access: Access,
    pub api: bool,
}

/// Identify the caller, then apply the route's access rule and, for state-changing
/// requests, the same-origin and CSRF checks. Lets the request through with [`SignedIn`]
/// in its extensions, or answers 303/401/403 itself.
pub(crate) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let now = guard.app.now();
    let unsafe_method = changes_state(request.method());
    let identified = match identify(&guard.app, request.headers(), guard.api, now).await {
        Ok(identified) => identified,
        Err(error) => return refuse(&guard, &request, WebError::from(error)),
    };
    let signed_in = match identified {
        Identified::User(user) => Some(user),
        Identified::Nobody => None,
        Identified::BadToken => {
            if guard.access == Access::Public {
                None
            } else {
                return unauthenticated(
                    &guard,
                    &request,
                    "the API token is unknown, revoked, or its user is disabled",
                );
            }
        }
    };
    let by_token = matches!(
        signed_in,
        Some(SignedIn {
            credential: Credential::Token(_),
            ..
        })
    );
    if unsafe_method && !by_token && !same_origin(request.headers()) {
        return refuse(
            &guard,
            &request,
            WebError::Forbidden(
                "cross-site request refused: the Origin or Referer is not this server".into(),
            ),
        );
    }
    if let Access::Min(needed) = guard.access {
        let Some(user) = &signed_in else {
            return unauthenticated(
                &guard,
                &request,
                "sign in, or send Authorization: Bearer TOKEN",
            );
        };
        if user.user.role < needed {
            return refuse(&guard, &request, forbidden_for(user.user.role, needed));
        }
    }
    let mut request = request;
    // Public forms (sign-in, invites) are posted before any session exists: the same-origin
    // check above is their protection.
    if unsafe_method && guard.access != Access::Public {
        if let Some(SignedIn {
            credential: Credential::Session { csrf, .. },
            ..
        }) = &signed_in
        {
            let (checked, ok) = check_csrf(request, csrf).await;
            request = checked;
            if !ok {
                return refuse(
                    &guard,
                    &request,
                    WebError::Forbidden(
                        "the form or request lacks a valid CSRF token: reload the page and try again"
                            .into(),
                    ),
                );
            }
        }
    }
    if let Some(user) = signed_in {
        request.extensions_mut().insert(user);
    }
    next.run(request).await
}

fn forbidden_for(have: Role, needed: Role) -> WebError {
    WebError::Forbidden(format!(
        "your role ({have}) may not do this: it needs {needed} or higher"
    ))
}

/// The token from the `X-CSRF-Token` header, else from the form body's `csrf` field; the
/// request comes back with its body intact for the handler.
async fn check_csrf(request: Request, expected: &str) -> (Request, bool) {
    if let Some(sent) = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        let ok = constant_time_eq(sent.trim().as_bytes(), expected.as_bytes());
        return (request, ok);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (request, false);
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return (Request::from_parts(parts, Body::empty()), false),
    };
    let ok = url::form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == CSRF_FIELD)
        .is_some_and(|(_, sent)| constant_time_eq(sent.as_bytes(), expected.as_bytes()));
    (Request::from_parts(parts, Body::from(bytes)), ok)
}

/// 401 JSON for the API; a redirect to the login page (coming back here after) for pages.
fn unauthenticated(guard: &Guard, request: &Request, message: &str) -> Response {
    if guard.api {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(ApiErrorBody {
                error: message.to_string(),
            }),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"earshot\""),
        );
        return response;
    }
    let mut target = "/login".to_string();
    if request.method() == Method::GET {
        let here = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        qs.append_pair("next", here);
        target = format!("/login?{}", qs.finish());
    }
    Redirect::to(&target).into_response()
}

/// An error answered in the route's kind: JSON for the API, a page elsewhere.
fn refuse(guard: &Guard, request: &Request, error: WebError) -> Response {
    if guard.api {
        return crate::error::ApiError(error).into_response();
    }
    let (parts, _) = clone_parts(request);
    PageContext::from_parts(&parts).error_page(error)
}

fn clone_parts(request: &Request) -> (axum::http::request::Parts, ()) {
    let mut builder = Request::builder()
        .method(request.method().clone())
        .uri(request.uri().clone());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    let mut copy = builder.body(()).unwrap_or_default();
    if let Some(user) = request.extensions().get::<SignedIn>() {
        copy.extensions_mut().insert(user.clone());
    }
    copy.into_parts()
}

/// Where to go after signing in: only a path on this server, so a crafted link cannot send
/// a freshly signed-in user to another site.
pub fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/mentions";
    let Some(next) = next.map(str::trim).filter(|n| !n.is_empty()) else {
        return HOME.into();
    };
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with("/login");
    if local {
        next.to_string()
    } else {
        HOME.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("x", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
        assert!(matches!(
            hash_password(&"x".repeat(2000)),
            Err(PasswordError::TooLong)
        ));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_secret());
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), a);
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/mentions?q=a")), "/mentions?q=a");
        assert_eq!(safe_next(Some("/sources")), "/sources");
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/login?next=//evil.example",
            "/a\r\nSet-Cookie: x=1",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/mentions", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/mentions");
    }

    #[test]
    fn same_origin_compares_hosts() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            same_origin(&headers),
            "no Origin and no Referer: not a browser"
        );
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
        headers.remove(header::ORIGIN);
        headers.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8080/mentions"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:9999/mentions"),
        );
        assert!(!same_origin(&headers));
    }
}
