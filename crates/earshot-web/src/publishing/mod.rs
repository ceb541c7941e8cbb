//! Publishing in the browser and over the API: the accounts registry, the post queue, the
//! editor with its variants, checks, approval panel and history, and the calendar.
//!
//! Pages and API share [`act`]: the same workflow call (through `earshot_engine::publishing`,
//! which runs the checks before approving or scheduling) whether a form or JSON asked.

pub(crate) mod api;
pub(crate) mod pages;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use earshot_core::{Actor, PostAction, PostDetail, PostId, Role, VariantDraft};
use earshot_engine::publishing::{self as engine, PublishingError};
use earshot_store::StoreError;

use crate::auth::SignedIn;
use crate::error::WebError;
use crate::AppState;

/// The signed-in user as the workflow sees them: name, role and teams from earshot.toml.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub actor: Actor,
    pub csrf: Option<String>,
}

impl FromRequestParts<AppState> for Publisher {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Every publishing route is behind the guard; without it the handler must fail closed.
        match parts.extensions.get::<SignedIn>() {
            Some(signed_in) => {
                let teams = state.web.config().teams.clone();
                Ok(Publisher {
                    actor: Actor::from_teams(
                        signed_in.user.name.clone(),
                        signed_in.user.role,
                        &teams,
                    ),
                    csrf: signed_in.csrf().map(str::to_string),
                })
            }
            None => Err((StatusCode::UNAUTHORIZED, "sign in first").into_response()),
        }
    }
}

impl Publisher {
    pub fn may_write(&self) -> bool {
        self.actor.role >= Role::Agent
    }
}

/// Store errors as the caller should see them: what they can fix is not a server failure.
pub(crate) fn store_error(error: StoreError) -> WebError {
    match error {
        StoreError::NotFound(message) => WebError::NotFound(message),
        StoreError::Conflict(message) => WebError::Conflict(message),
        StoreError::InvalidInput(message) => WebError::Unprocessable(message),
        other => other.into(),
    }
}

pub(crate) fn publishing_error(error: PublishingError) -> WebError {
    match error {
        PublishingError::Store(error) => store_error(error),
        blocked @ PublishingError::Blocked { .. } => WebError::Conflict(blocked.to_string()),
        PublishingError::Refused(message) => WebError::Unprocessable(message),
    }
}

/// A workflow step asked by name (forms and JSON use the same words).
pub(crate) fn parse_action(
    name: &str,
    comment: Option<String>,
    at: Option<DateTime<Utc>>,
) -> Result<PostAction, WebError> {
    Ok(match name {
        "submit" => PostAction::Submit,
        "approve" => PostAction::Approve,
        "reject" => PostAction::Reject {
            comment: comment.unwrap_or_default(),
        },
        "withdraw" => PostAction::Withdraw,
        "unschedule" => PostAction::Unschedule,
        "schedule" => PostAction::Schedule {
            at: at.ok_or_else(|| {
                WebError::BadRequest("parameter `at`: scheduling needs a time".into())
            })?,
        },
        other => {
            return Err(WebError::BadRequest(format!(
                "parameter `action`: unknown action {other:?}; expected submit, approve, reject, withdraw, schedule or unschedule"
            )))
        }
    })
}

/// Run a workflow step: approve and schedule go through the checks.
pub(crate) async fn act(
    app: &AppState,
    who: &Publisher,
    id: PostId,
    action: PostAction,
) -> Result<PostDetail, WebError> {
    if !who.may_write() {
        return Err(WebError::Forbidden(
            "changing posts needs the agent role or above".into(),
        ));
    }
    let now = app.now();
    let store = app.web.store.as_ref();
    let config = app.web.config().clone();
    let analyzer = app.web.analyzer.as_ref();
    match action {
        PostAction::Approve => engine::approve(store, &config, analyzer, &who.actor, id, now)
            .await
            .map_err(publishing_error),
        PostAction::Schedule { at } => {
            engine::schedule(store, &config, analyzer, &who.actor, id, at, now)
                .await
                .map_err(publishing_error)
        }
        other => store
            .transition_post(id, &who.actor, &other, now)
            .await
            .map_err(store_error),
    }
}

/// Save a new post or an edit of one.
pub(crate) async fn save(
    app: &AppState,
    who: &Publisher,
    id: Option<PostId>,
    title: &str,
    variants: &[VariantDraft],
) -> Result<PostDetail, WebError> {
    if !who.may_write() {
        return Err(WebError::Forbidden(
            "writing posts needs the agent role or above".into(),
        ));
    }
    let store = &app.web.store;
    let now = app.now();
    match id {
        None => store
            .create_post(title, &who.actor.name, variants, now)
            .await
            .map_err(store_error),
        Some(id) => store
            .update_post(id, title, variants, &who.actor, now)
            .await
            .map_err(store_error),
    }
}

pub(crate) fn parse_post_id(text: &str) -> Result<PostId, WebError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(PostId)
        .ok_or_else(|| WebError::NotFound(format!("no post {text:?}")))
}
