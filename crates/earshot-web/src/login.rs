//! Signing in and out, and setting a password from an invite link.

use askama::Template;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::{DateTime, Utc};
use earshot_core::{throttle_wait, THROTTLE_WINDOW};
use serde::Deserialize;

use crate::auth::{self, Credential, SignedIn};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::pages::PageContext;
use crate::view::Layout;
use crate::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: Tr,
    layout: Layout,
    name: String,
    next: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    invited: Option<String>,
}

pub async fn login_page(
    ctx: PageContext,
    axum::extract::Query(query): axum::extract::Query<LoginQuery>,
) -> Response {
    let tr = ctx.tr();
    let page = LoginPage {
        t: tr,
        layout: ctx.layout(tr.t("login.title"), "login"),
        name: String::new(),
        next: auth::safe_next(query.next.as_deref()),
        error: None,
        notice: query.invited.map(|_| tr.t("invite.done")),
    };
    ctx.respond(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    name: String,
    password: String,
    next: String,
}

fn account_key(name: &str) -> String {
    format!("account:{}", name.trim().to_lowercase())
}

fn address_key(addr: &str) -> String {
    format!("address:{addr}")
}

/// The longer of the account's and the address's waits, if either is closed.
async fn throttled(
    app: &AppState,
    keys: [(&str, u32); 2],
    now: DateTime<Utc>,
) -> Result<Option<chrono::Duration>, WebError> {
    let mut longest: Option<chrono::Duration> = None;
    for (key, free) in keys {
        let failures = app
            .web
            .store
            .login_failures(key, now - THROTTLE_WINDOW)
            .await?;
        if let Some(last) = failures.last {
            if let Some(wait) = throttle_wait(failures.count, last, free, now) {
                longest = Some(longest.map_or(wait, |l| l.max(wait)));
            }
        }
    }
    Ok(longest)
}

pub async fn login_submit(State(app): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let ctx = PageContext::from_parts(&parts);
    let addr = auth::client_addr(&parts.extensions);
    let headers = parts.headers.clone();
    let Form(form) =
        match Form::<LoginForm>::from_request(Request::from_parts(parts, body), &app).await {
            Ok(form) => form,
            Err(error) => return ctx.error_page(WebError::BadRequest(error.body_text())),
        };
    match sign_in(&app, &ctx, &headers, &addr, form).await {
        Ok(response) => response,
        Err(error) => ctx.error_page(error),
    }
}

async fn sign_in(
    app: &AppState,
    ctx: &PageContext,
    headers: &HeaderMap,
    addr: &str,
    form: LoginForm,
) -> Result<Response, WebError> {
    let tr = ctx.tr();
    let now = app.now();
    let config = app.web.config().auth.clone();
    let account = account_key(&form.name);
    let address = address_key(addr);
    let mut page = LoginPage {
        t: tr,
        layout: ctx.layout(tr.t("login.title"), "login"),
        name: form.name.clone(),
        next: auth::safe_next(Some(&form.next)),
        error: None,
        notice: None,
    };
    let keys = [
        (account.as_str(), config.account_free_attempts),
        (address.as_str(), config.address_free_attempts),
    ];
    // Keyed by the name as typed, so the answer is the same whether the account exists.
    if let Some(wait) = throttled(app, keys, now).await? {
        let seconds = wait.num_seconds().max(1);
        page.error = Some(
            tr.t("login.throttled")
                .replace("{seconds}", &seconds.to_string()),
        );
        let mut response = ctx.respond(StatusCode::TOO_MANY_REQUESTS, &page);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    let found = app.web.store.user_credentials(form.name.trim()).await?;
    let (user, hash) = match found {
        Some((user, hash)) if !user.disabled => (Some(user), hash),
        _ => (None, None),
    };
    let verified = auth::verify_password_blocking(form.password, hash).await;
    let Some(user) = user.filter(|_| verified) else {
        app.web.store.record_login_failure(&account, now).await?;
        app.web.store.record_login_failure(&address, now).await?;
        page.error = Some(tr.t("login.failed").to_string());
        return Ok(ctx.respond(StatusCode::OK, &page));
    };
    app.web.store.clear_login_failures(&account).await?;
    // A new id on every sign-in: an id planted before (session fixation) never becomes valid.
    if let Some(old) = auth::cookie_value(headers, auth::SESSION_COOKIE) {
        app.web
            .store
            .delete_session(&auth::hash_secret(old))
            .await?;
    }
    let secrets = auth::start_session(app.web.store.as_ref(), user.id, addr, &config, now).await?;
    let mut response = Redirect::to(&page.next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        auth::session_cookie(&secrets.id, &config, headers)?,
    );
    Ok(response)
}

pub async fn logout(
    State(app): State<AppState>,
    ctx: PageContext,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    if let Credential::Session { id_hash, .. } = &signed_in.credential {
        if let Err(error) = app.web.store.delete_session(id_hash).await {
            return ctx.error_page(error.into());
        }
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, auth::clear_session_cookie());
    response
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    t: Tr,
    layout: Layout,
    user_name: String,
    action: String,
    error: Option<String>,
}

fn unknown_invite() -> WebError {
    WebError::NotFound("this invite link is unknown, already used or expired".into())
}

pub async fn invite_page(
    State(app): State<AppState>,
    Path(token): Path<String>,
    ctx: PageContext,
) -> Response {
    let tr = ctx.tr();
    let user = match app
        .web
        .store
        .invite_user(&auth::hash_secret(&token), app.now())
        .await
    {
        Ok(Some(user)) => user,
        Ok(None) => return ctx.error_page(unknown_invite()),
        Err(error) => return ctx.error_page(error.into()),
    };
    let page = InvitePage {
        t: tr,
        layout: ctx.layout(tr.t("invite.title"), "login"),
        user_name: user.name,
        action: ctx.path.clone(),
        error: None,
    };
    ctx.respond(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct InviteForm {
    password: String,
    confirm: String,
}

pub async fn invite_submit(
    State(app): State<AppState>,
    Path(token): Path<String>,
    ctx: PageContext,
    Form(form): Form<InviteForm>,
) -> Response {
    let tr = ctx.tr();
    let token_hash = auth::hash_secret(&token);
    let now = app.now();
    let user = match app.web.store.invite_user(&token_hash, now).await {
        Ok(Some(user)) => user,
        Ok(None) => return ctx.error_page(unknown_invite()),
        Err(error) => return ctx.error_page(error.into()),
    };
    let mut page = InvitePage {
        t: tr,
        layout: ctx.layout(tr.t("invite.title"), "login"),
        user_name: user.name,
        action: ctx.path.clone(),
        error: None,
    };
    if form.password != form.confirm {
        page.error = Some(tr.t("invite.mismatch").to_string());
        return ctx.respond(StatusCode::BAD_REQUEST, &page);
    }
    let hashed = tokio::task::spawn_blocking(move || auth::hash_password(&form.password)).await;
    let hash = match hashed {
        Ok(Ok(hash)) => hash,
        Ok(Err(auth::PasswordError::TooShort)) | Ok(Err(auth::PasswordError::TooLong)) => {
            page.error = Some(
                tr.t("invite.bad_length")
                    .replace("{min}", &auth::MIN_PASSWORD_CHARS.to_string()),
            );
            return ctx.respond(StatusCode::BAD_REQUEST, &page);
        }
        Ok(Err(error)) => return ctx.error_page(WebError::Internal(error.to_string())),
        Err(error) => return ctx.error_page(WebError::Internal(error.to_string())),
    };
    match app.web.store.redeem_invite(&token_hash, &hash, now).await {
        Ok(Some(_)) => Redirect::to("/login?invited=1").into_response(),
        Ok(None) => ctx.error_page(unknown_invite()),
        Err(error) => ctx.error_page(error.into()),
    }
}

/// For load balancers and scripts: answers without touching the store or a session.
pub async fn health() -> &'static str {
    "ok"
}
