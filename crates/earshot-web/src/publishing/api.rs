//! `/api/accounts` and `/api/posts`: the same workflow as the pages, in JSON. Credentials
//! never leave the store: accounts are listed without them.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use earshot_core::links::TrackedLink;
use earshot_core::{
    Account, AccountId, CampaignId, Post, PostDetail, PostId, PostState, VariantDraft,
};
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

#[utoipa::path(
    get,
    path = "/api/accounts",
    tag = "publishing",
    responses((status = 200, description = "`{\"accounts\": [...]}`: every official account with owner, languages, status and health; never its credentials", body = serde_json::Value))
)]
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

#[utoipa::path(
    get,
    path = "/api/posts",
    tag = "publishing",
    params(
        ("account" = Option<i64>, Query, description = "Only posts with a variant for this account"),
        ("state" = Option<String>, Query, description = "draft, in_review, approved, scheduled, published or failed"),
        ("from" = Option<String>, Query, description = "Scheduled at or after (RFC 3339)"),
        ("until" = Option<String>, Query, description = "Scheduled before (RFC 3339)"),
        ("limit" = Option<usize>, Query, description = "At most this many (default 100)"),
    ),
    responses(
        (status = 200, description = "`{\"posts\": [...]}`", body = serde_json::Value),
        (status = 400, description = "A parameter is malformed", body = crate::error::ApiErrorBody),
    )
)]
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

async fn existing_post(app: &AppState, id: PostId) -> Result<PostDetail, ApiError> {
    Ok(app
        .web
        .store
        .post(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| WebError::NotFound(format!("no post {id}")))?)
}

#[utoipa::path(
    get,
    path = "/api/posts/{id}",
    tag = "publishing",
    params(("id" = i64, Path, description = "Post id")),
    responses(
        (status = 200, description = "The post with its variants, approvals, history and the pre-publish checks as they stand", body = serde_json::Value),
        (status = 404, description = "No such post", body = crate::error::ApiErrorBody),
    )
)]
pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PostJson>, ApiError> {
    let id = parse_post_id(&id)?;
    let detail = existing_post(&app, id).await?;
    Ok(Json(with_checks(&app, detail).await?))
}

#[derive(Debug, Deserialize)]
pub struct PostBody {
    #[serde(default)]
    pub title: String,
    pub variants: Vec<VariantDraft>,
}

#[utoipa::path(
    post,
    path = "/api/posts",
    tag = "publishing",
    request_body(content = serde_json::Value, description = "`{\"title\": \"...\", \"variants\": [{\"account\": 1, \"text\": \"...\", \"media\": []}]}`"),
    responses(
        (status = 201, description = "The draft, with its checks", body = serde_json::Value),
        (status = 400, description = "The body is not such an object", body = crate::error::ApiErrorBody),
        (status = 422, description = "A variant breaks a rule; the message says which", body = crate::error::ApiErrorBody),
    )
)]
pub async fn create(
    State(app): State<AppState>,
    who: Publisher,
    payload: Result<Json<PostBody>, JsonRejection>,
) -> Result<(StatusCode, Json<PostJson>), ApiError> {
    let payload = body(payload)?;
    let detail = save(&app, &who, None, &payload.title, &payload.variants).await?;
    Ok((StatusCode::CREATED, Json(with_checks(&app, detail).await?)))
}

#[utoipa::path(
    post,
    path = "/api/posts/{id}",
    tag = "publishing",
    params(("id" = i64, Path, description = "Post id")),
    request_body(content = serde_json::Value, description = "As for `POST /api/posts`; an edit after an approval sends the post back to review"),
    responses(
        (status = 200, description = "The post, with its checks", body = serde_json::Value),
        (status = 404, description = "No such post", body = crate::error::ApiErrorBody),
        (status = 409, description = "The post can no longer be edited (published)", body = crate::error::ApiErrorBody),
    )
)]
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

#[utoipa::path(
    post,
    path = "/api/posts/{id}/transition",
    tag = "publishing",
    params(("id" = i64, Path, description = "Post id")),
    request_body(content = serde_json::Value, description = "`{\"action\": \"submit|approve|reject|withdraw|schedule|unschedule\", \"comment\": \"...\", \"at\": \"RFC 3339\"}`"),
    responses(
        (status = 200, description = "The post after the step", body = serde_json::Value),
        (status = 403, description = "Not allowed (for example the author approving their own post)", body = crate::error::ApiErrorBody),
        (status = 409, description = "Not allowed in this state, or a pre-publish check blocks; the message says which", body = crate::error::ApiErrorBody),
    )
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PostCampaignBody {
    /// The campaign the post serves, or `null` for none.
    pub campaign_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/posts/{id}/campaign",
    tag = "publishing",
    params(("id" = i64, Path, description = "Post id")),
    request_body = PostCampaignBody,
    responses(
        (status = 200, description = "The post, with its checks; its links are tagged with the campaign when it is queued", body = serde_json::Value),
        (status = 404, description = "No such post or campaign", body = crate::error::ApiErrorBody),
    )
)]
pub async fn set_campaign(
    State(app): State<AppState>,
    Path(id): Path<String>,
    payload: Result<Json<PostCampaignBody>, JsonRejection>,
) -> Result<Json<PostJson>, ApiError> {
    let id = parse_post_id(&id)?;
    let payload = body(payload)?;
    let detail = existing_post(&app, id).await?;
    app.web
        .store
        .set_post_campaign(id.0, payload.campaign_id.map(CampaignId))
        .await
        .map_err(store_error)?;
    Ok(Json(with_checks(&app, detail).await?))
}

#[derive(Debug, Serialize)]
pub struct PostLinksJson {
    pub links: Vec<TrackedLink>,
}

#[utoipa::path(
    get,
    path = "/api/posts/{id}/links",
    tag = "publishing",
    params(("id" = i64, Path, description = "Post id")),
    responses(
        (status = 200, description = "`{\"links\": [...]}`: the short links made for the post when it was queued for publishing, with their targets and UTM parameters", body = serde_json::Value),
        (status = 400, description = "The id is not a number", body = crate::error::ApiErrorBody),
    )
)]
pub async fn links(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PostLinksJson>, ApiError> {
    let id = parse_post_id(&id)?;
    let links = app.web.store.post_links(id.0).await.map_err(store_error)?;
    Ok(Json(PostLinksJson { links }))
}
