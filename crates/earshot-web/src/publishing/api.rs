//! `/api/accounts` and `/api/posts`: the same workflow as the pages, in JSON. Credentials
//! never leave the store: accounts are listed without them.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use earshot_core::{Account, AccountId, Post, PostDetail, PostState, VariantDraft};
use earshot_engine::publishing::{check_post, CheckResult};
use earshot_store::PostFilter;
use serde::{Deserialize, Serialize};

use super::{act, parse_action, parse_post_id, publishing_error, save, store_error, Publisher};
use crate::error::{ApiError, WebError};
use crate::AppState;

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        WebError::BadRequest(format!("request body: {}", rejection.body_text())).into()
    })
}

#[derive(Debug, Serialize)]
pub struct AccountsJson {
    pub accounts: Vec<Account>,
}

pub async fn accounts(State(app): State<AppState>) -> Result<Json<AccountsJson>, ApiError> {
    let accounts = app.web.store.accounts().await.map_err(store_error)?;
    Ok(Json(AccountsJson { accounts }))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub account: Option<i64>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct PostsJson {
    pub posts: Vec<Post>,
}

pub async fn list(
    State(app): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PostsJson>, ApiError> {
    let Query(query) = query
        .map_err(|rejection| WebError::BadRequest(format!("query: {}", rejection.body_text())))?;
    let mut filter = PostFilter {
        account: query.account.map(AccountId),
        scheduled_from: query.from,
        scheduled_until: query.until,
        ..PostFilter::default()
    };
    if let Some(state) = query.state.as_deref().filter(|s| !s.is_empty()) {
        filter.states = vec![state
            .parse::<PostState>()
            .map_err(|m| WebError::BadRequest(format!("parameter `state`: {m}")))?];
    }
    let posts = app
        .web
        .store
        .list_posts(&filter, query.limit.unwrap_or(100))
        .await
        .map_err(store_error)?;
    Ok(Json(PostsJson { posts }))
}

/// A post with its approvals, history and the checks as they stand.
#[derive(Debug, Serialize)]
pub struct PostJson {
    #[serde(flatten)]
    pub detail: PostDetail,
    pub checks: Vec<CheckResult>,
}

async fn with_checks(app: &AppState, detail: PostDetail) -> Result<PostJson, ApiError> {
    let config = app.web.config().clone();
    let checks = check_post(
        app.web.store.as_ref(),
        &config,
        app.web.analyzer.as_ref(),
        &detail,
        None,
    )
    .await
    .map_err(publishing_error)?;
    Ok(PostJson { detail, checks })
}

pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PostJson>, ApiError> {
    let id = parse_post_id(&id)?;
    let detail = app
        .web
        .store
        .post(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| WebError::NotFound(format!("no post {id}")))?;
    Ok(Json(with_checks(&app, detail).await?))
}

#[derive(Debug, Deserialize)]
pub struct PostBody {
    #[serde(default)]
    pub title: String,
    pub variants: Vec<VariantDraft>,
}

pub async fn create(
    State(app): State<AppState>,
    who: Publisher,
    payload: Result<Json<PostBody>, JsonRejection>,
) -> Result<(StatusCode, Json<PostJson>), ApiError> {
    let payload = body(payload)?;
    let detail = save(&app, &who, None, &payload.title, &payload.variants).await?;
    Ok((StatusCode::CREATED, Json(with_checks(&app, detail).await?)))
}

pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    who: Publisher,
    payload: Result<Json<PostBody>, JsonRejection>,
) -> Result<Json<PostJson>, ApiError> {
    let id = parse_post_id(&id)?;
    let payload = body(payload)?;
    let detail = save(&app, &who, Some(id), &payload.title, &payload.variants).await?;
    Ok(Json(with_checks(&app, detail).await?))
}

#[derive(Debug, Deserialize)]
pub struct TransitionBody {
    /// submit, approve, reject, withdraw, schedule or unschedule.
    pub action: String,
    #[serde(default)]
    pub comment: Option<String>,
    /// RFC 3339, for `schedule`.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

pub async fn transition(
    State(app): State<AppState>,
    Path(id): Path<String>,
    who: Publisher,
    payload: Result<Json<TransitionBody>, JsonRejection>,
) -> Result<Json<PostJson>, ApiError> {
    let id = parse_post_id(&id)?;
    let payload = body(payload)?;
    let action = parse_action(&payload.action, payload.comment, payload.at)?;
    let detail = act(&app, &who, id, action).await?;
    Ok(Json(with_checks(&app, detail).await?))
}
