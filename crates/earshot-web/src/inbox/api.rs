//! The inbox JSON API: `/api/conversations` (list, one, and the changes) and
//! `/api/metrics/inbox`. The shapes below are the API's own (described in OpenAPI); the
//! core types stay free of any API concerns.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use earshot_core::inbox::{DurationStats, GroupMetrics, MetricsWindow};
use earshot_core::{
    Conversation, ConversationDetail, ConversationEvent, FeedbackItem, InterchangeMention, Note,
    Reply,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::actions::{self, inbox_error, ReplyOutcome};
use super::pages::{metrics_window, parse_conversation_id};
use super::params::{InboxParams, InboxQuery};
use super::{now, Actor};
use crate::api::InterchangeMentionDoc;
use crate::error::{ApiError, ApiErrorBody, WebError};
use crate::AppState;

/// A conversation in the list and at the top of its detail.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationJson {
    pub id: i64,
    /// `new`, `assigned`, `waiting`, `resolved` or `ignored`.
    pub state: String,
    /// `urgent`, `high`, `normal` or `low`.
    pub priority: String,
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub brands: Vec<String>,
    pub source: String,
    pub lang: String,
    pub root_mention: i64,
    pub mention_count: u32,
    pub author_handle: Option<String>,
    pub author_name: Option<String>,
    pub author_followers: Option<u64>,
    pub routed_by: Option<String>,
    pub routing_reason: Option<String>,
    pub negative: bool,
    pub first_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// A deadline passed without the response or resolution it asked for.
    pub overdue: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Conversation> for ConversationJson {
    fn from(c: &Conversation) -> Self {
        ConversationJson {
            id: c.id.0,
            state: c.state.as_str().into(),
            priority: c.priority.as_str().into(),
            team: c.team.clone(),
            assignee: c.assignee.clone(),
            tags: c.tags.clone(),
            brands: c.brands.clone(),
            source: c.source.clone(),
            lang: c.lang.clone(),
            root_mention: c.root_mention.0,
            mention_count: c.mention_count,
            author_handle: c.author_handle.clone(),
            author_name: c.author_name.clone(),
            author_followers: c.author_followers,
            routed_by: c.routed_by.clone(),
            routing_reason: c.routing_reason.clone(),
            negative: c.negative,
            first_response_due: c.first_response_due,
            resolution_due: c.resolution_due,
            first_response_at: c.first_response_at,
            resolved_at: c.resolved_at,
            overdue: c.is_overdue(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationsResponse {
    pub conversations: Vec<ConversationJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventJson {
    pub id: i64,
    pub actor: String,
    pub at: DateTime<Utc>,
    /// `created`, `routed`, `assigned`, `state_changed`, `reply_sent`, ...
    pub kind: String,
    /// The event's fields (`from`, `to`, `reply`, `error`, ...), as stored.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<&ConversationEvent> for EventJson {
    fn from(e: &ConversationEvent) -> Self {
        let mut data = serde_json::to_value(&e.kind).unwrap_or(serde_json::Value::Null);
        if let Some(object) = data.as_object_mut() {
            object.remove("kind");
        }
        EventJson {
            id: e.id,
            actor: e.actor.clone(),
            at: e.at,
            kind: e.kind.name().into(),
            data,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoteJson {
    pub id: i64,
    pub author: String,
    pub body: String,
    /// Colleagues mentioned with `@name`.
    pub mentions: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&Note> for NoteJson {
    fn from(n: &Note) -> Self {
        NoteJson {
            id: n.id.0,
            author: n.author.clone(),
            body: n.body.clone(),
            mentions: n.mentions.clone(),
            created_at: n.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyJson {
    pub id: i64,
    pub conversation: i64,
    pub body: String,
    pub author: String,
    pub idempotency_key: String,
    /// `pending`, `sent`, `failed` or `answered_elsewhere`.
    pub status: String,
    pub network_id: Option<String>,
    pub network_url: Option<String>,
    pub error: Option<String>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<&Reply> for ReplyJson {
    fn from(r: &Reply) -> Self {
        ReplyJson {
            id: r.id.0,
            conversation: r.conversation.0,
            body: r.body.clone(),
            author: r.author.clone(),
            idempotency_key: r.idempotency_key.clone(),
            status: r.status.as_str().into(),
            network_id: r.network_id.clone(),
            network_url: r.network_url.clone(),
            error: r.error.clone(),
            attempts: r.attempts,
            created_at: r.created_at,
            sent_at: r.sent_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetailJson {
    pub conversation: ConversationJson,
    /// The thread, oldest first.
    #[schema(value_type = Vec<InterchangeMentionDoc>)]
    pub mentions: Vec<InterchangeMention>,
    pub events: Vec<EventJson>,
    pub notes: Vec<NoteJson>,
    pub replies: Vec<ReplyJson>,
}

impl From<&ConversationDetail> for ConversationDetailJson {
    fn from(d: &ConversationDetail) -> Self {
        ConversationDetailJson {
            conversation: (&d.conversation).into(),
            mentions: d.mentions.iter().map(InterchangeMention::from).collect(),
            events: d.events.iter().map(EventJson::from).collect(),
            notes: d.notes.iter().map(NoteJson::from).collect(),
            replies: d.replies.iter().map(ReplyJson::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackItemJson {
    pub id: i64,
    pub theme: String,
    pub summary: String,
    pub conversation: i64,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

impl From<&FeedbackItem> for FeedbackItemJson {
    fn from(f: &FeedbackItem) -> Self {
        FeedbackItemJson {
            id: f.id.0,
            theme: f.theme.clone(),
            summary: f.summary.clone(),
            conversation: f.conversation.0,
            author: f.author.clone(),
            created_at: f.created_at,
        }
    }
}

/// Filters for `GET /api/conversations`. Documentation only: the handler reads the raw
/// query so that each bad value gets an error naming its parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ConversationsQueryDoc {
    /// States (repeat or comma-separate); default the open ones (new, assigned, waiting);
    /// `all` for every state.
    state: Option<String>,
    team: Option<String>,
    /// Conversations of this member.
    assignee: Option<String>,
    /// Conversations of the caller.
    mine: Option<bool>,
    /// Only conversations nobody owns.
    unassigned: Option<bool>,
    /// `urgent`, `high`, `normal` or `low`.
    priority: Option<String>,
    /// Only conversations past a deadline.
    overdue: Option<bool>,
    brand: Option<String>,
    source: Option<String>,
    /// Language of the root mention (ISO 639-1).
    language: Option<String>,
    tag: Option<String>,
    /// `priority` (most urgent, then oldest; default) or `newest`.
    sort: Option<String>,
    /// Page size, 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/conversations",
    tag = "inbox",
    params(ConversationsQueryDoc),
    responses(
        (status = 200, description = "One page of conversations", body = ConversationsResponse),
        (status = 400, description = "A parameter is not valid; the message names it", body = ApiErrorBody),
    )
)]
pub async fn list(
    State(app): State<AppState>,
    actor: Actor,
    RawQuery(query): RawQuery,
) -> Result<Json<ConversationsResponse>, ApiError> {
    let query = InboxQuery::parse(query.as_deref());
    let params = InboxParams::parse(&query, &actor.name)?;
    let page = app
        .web
        .store
        .list_conversations(&params.filter, params.cursor.as_deref(), params.limit)
        .await
        .map_err(inbox_error)?;
    Ok(Json(ConversationsResponse {
        conversations: page
            .conversations
            .iter()
            .map(ConversationJson::from)
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    get,
    path = "/api/conversations/{id}",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation with its thread, events, notes and replies", body = ConversationDetailJson),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
    )
)]
pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetailJson>, ApiError> {
    let id = parse_conversation_id(&id)?;
    match app
        .web
        .store
        .conversation_detail(id)
        .await
        .map_err(inbox_error)?
    {
        Some(detail) => Ok(Json((&detail).into())),
        None => Err(WebError::NotFound(format!("conversation {id} does not exist")).into()),
    }
}

/// A JSON body, or an error that says what is wrong with it.
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        WebError::BadRequest(format!("request body: {}", rejection.body_text())).into()
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignBody {
    /// A member's name, `me`, or `null` to unassign.
    pub member: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/assign",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = AssignBody,
    responses(
        (status = 200, description = "The conversation after the change", body = ConversationJson),
        (status = 400, description = "Not a member of any team", body = ApiErrorBody),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
    )
)]
pub async fn assign(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    payload: Result<Json<AssignBody>, JsonRejection>,
) -> Result<Json<ConversationJson>, ApiError> {
    let id = parse_conversation_id(&id)?;
    let payload = body(payload)?;
    let c = actions::assign(&app, &actor, id, payload.member.as_deref()).await?;
    Ok(Json((&c).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamBody {
    /// The team to move the conversation to, or `null` for the shared queue (no team).
    pub team: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/team",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = TeamBody,
    responses(
        (status = 200, description = "The conversation after the move: an assignee outside the new team is unassigned; SLA deadlines are recomputed when the new team works other hours", body = ConversationJson),
        (status = 400, description = "No such team (the message lists the teams)", body = ApiErrorBody),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
    )
)]
pub async fn set_team(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    payload: Result<Json<TeamBody>, JsonRejection>,
) -> Result<Json<ConversationJson>, ApiError> {
    let id = parse_conversation_id(&id)?;
    let payload = body(payload)?;
    let c = actions::set_team(&app, &actor, id, payload.team.as_deref()).await?;
    Ok(Json((&c).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StateBody {
    /// `new`, `assigned`, `waiting`, `resolved`, `ignored`, or `reopen` (back to new or
    /// assigned, whichever fits the assignee).
    pub state: String,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/state",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = StateBody,
    responses(
        (status = 200, description = "The conversation after the change", body = ConversationJson),
        (status = 400, description = "Unknown state, or a transition the rules refuse (the message says why)", body = ApiErrorBody),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
    )
)]
pub async fn set_state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    payload: Result<Json<StateBody>, JsonRejection>,
) -> Result<Json<ConversationJson>, ApiError> {
    let id = parse_conversation_id(&id)?;
    let payload = body(payload)?;
    let c = actions::set_state(&app, &actor, id, &payload.state).await?;
    Ok(Json((&c).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PriorityBody {
    /// `urgent`, `high`, `normal` or `low`.
    pub priority: String,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/priority",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = PriorityBody,
    responses(
        (status = 200, description = "The conversation after the change", body = ConversationJson),
        (status = 400, description = "Unknown priority", body = ApiErrorBody),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
    )
)]
pub async fn set_priority(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    payload: Result<Json<PriorityBody>, JsonRejection>,
) -> Result<Json<ConversationJson>, ApiError> {
    let id = parse_conversation_id(&id)?;
    let payload = body(payload)?;
    let c = actions::set_priority(&app, &actor, id, &payload.priority).await?;
    Ok(Json((&c).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TagsBody {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/tags",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = TagsBody,
    responses(
        (status = 200, description = "The conversation after the change", body = ConversationJson),
        (status = 400, description = "A tag is empty or too long", body = ApiErrorBody),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
    )
)]
pub async fn tags(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    payload: Result<Json<TagsBody>, JsonRejection>,
) -> Result<Json<ConversationJson>, ApiError> {
    let id = parse_conversation_id(&id)?;
    let payload = body(payload)?;
    let c = actions::change_tags(&app, &actor, id, &payload.add, &payload.remove).await?;
    Ok(Json((&c).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NoteBody {
    /// The note; `@name` mentions colleagues.
    pub body: String,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/notes",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = NoteBody,
    responses(
        (status = 201, description = "The note", body = NoteJson),
        (status = 400, description = "Empty or too long", body = ApiErrorBody),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
    )
)]
pub async fn add_note(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    payload: Result<Json<NoteBody>, JsonRejection>,
) -> Result<(StatusCode, Json<NoteJson>), ApiError> {
    let id = parse_conversation_id(&id)?;
    let payload = body(payload)?;
    let note = actions::add_note(&app, &actor, id, &payload.body).await?;
    Ok((StatusCode::CREATED, Json((&note).into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplyBody {
    pub body: String,
    /// One per reply the client means to send; sending again with the same key returns the
    /// first reply. May come in the `Idempotency-Key` header instead.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Send even though this exact text already went out several times.
    #[serde(default)]
    pub confirm_repeat: bool,
    /// Record an answer given outside Earshot instead of sending one.
    #[serde(default)]
    pub answered_elsewhere: bool,
    /// With `answered_elsewhere`: a link to that answer.
    #[serde(default)]
    pub url: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/replies",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = ReplyBody,
    responses(
        (status = 201, description = "The reply, queued for sending (or recorded as answered elsewhere)", body = ReplyJson),
        (status = 400, description = "Empty body, missing key, or a source Earshot cannot post to", body = ApiErrorBody),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
        (status = 409, description = "The same text already went out several times (send with `confirm_repeat`), or the key belongs to another conversation", body = ApiErrorBody),
    )
)]
pub async fn reply(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    headers: HeaderMap,
    payload: Result<Json<ReplyBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ReplyJson>), ApiError> {
    let id = parse_conversation_id(&id)?;
    let payload = body(payload)?;
    let key = payload
        .idempotency_key
        .clone()
        .or_else(|| {
            headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    if payload.answered_elsewhere {
        let reply = actions::answered_elsewhere(
            &app,
            &actor,
            id,
            &payload.body,
            payload.url.as_deref(),
            &key,
        )
        .await?;
        return Ok((StatusCode::CREATED, Json((&reply).into())));
    }
    match actions::reply(&app, &actor, id, &payload.body, &key, payload.confirm_repeat).await? {
        ReplyOutcome::Queued(reply) => Ok((StatusCode::CREATED, Json((&reply).into()))),
        ReplyOutcome::RepeatWarning { count } => Err(WebError::Conflict(format!(
            "this exact text already went out {count} times unchanged; personalise it, or send with \"confirm_repeat\": true"
        ))
        .into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackBody {
    /// The theme of the product feedback log (reused ignoring case, or created).
    pub theme: String,
    #[serde(default)]
    pub summary: String,
}

#[utoipa::path(
    post,
    path = "/api/conversations/{id}/feedback",
    tag = "inbox",
    params(("id" = i64, Path, description = "Conversation id")),
    request_body = FeedbackBody,
    responses(
        (status = 201, description = "The feedback item", body = FeedbackItemJson),
        (status = 400, description = "Empty or too long theme", body = ApiErrorBody),
        (status = 404, description = "No such conversation", body = ApiErrorBody),
    )
)]
pub async fn feedback(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: Actor,
    payload: Result<Json<FeedbackBody>, JsonRejection>,
) -> Result<(StatusCode, Json<FeedbackItemJson>), ApiError> {
    let id = parse_conversation_id(&id)?;
    let payload = body(payload)?;
    let item = actions::send_to_product(&app, &actor, id, &payload.theme, &payload.summary).await?;
    Ok((StatusCode::CREATED, Json((&item).into())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DurationStatsJson {
    pub count: u64,
    pub median_secs: Option<f64>,
    pub p90_secs: Option<f64>,
}

impl From<&DurationStats> for DurationStatsJson {
    fn from(d: &DurationStats) -> Self {
        DurationStatsJson {
            count: d.count,
            median_secs: d.median_secs,
            p90_secs: d.p90_secs,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMetricsJson {
    /// The team, member, source or brand (`all` overall).
    pub key: String,
    pub conversations: u64,
    pub responded: u64,
    pub response_rate: Option<f64>,
    pub first_response: DurationStatsJson,
    pub resolution: DurationStatsJson,
}

impl From<&GroupMetrics> for GroupMetricsJson {
    fn from(g: &GroupMetrics) -> Self {
        GroupMetricsJson {
            key: g.key.clone(),
            conversations: g.conversations,
            responded: g.responded,
            response_rate: g.response_rate,
            first_response: (&g.first_response).into(),
            resolution: (&g.resolution).into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxMetricsJson {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub overall: GroupMetricsJson,
    pub by_team: Vec<GroupMetricsJson>,
    pub by_member: Vec<GroupMetricsJson>,
    pub by_source: Vec<GroupMetricsJson>,
    pub by_brand: Vec<GroupMetricsJson>,
    /// Open negative conversations nobody answered before their first-response deadline.
    pub unanswered_negative_overdue: Vec<i64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MetricsQueryDoc {
    /// Conversations created in the last this many days (1 to 3660; default 30).
    days: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/metrics/inbox",
    tag = "inbox",
    params(MetricsQueryDoc),
    responses(
        (status = 200, description = "Response rate and times, overall and per team, member, source and brand", body = InboxMetricsJson),
        (status = 400, description = "`days` is not valid", body = ApiErrorBody),
    )
)]
pub async fn metrics(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<InboxMetricsJson>, ApiError> {
    let (window, _) = metrics_window(&app, query.as_deref())?;
    let m = app
        .web
        .store
        .inbox_metrics(window, now(&app))
        .await
        .map_err(inbox_error)?;
    let groups = |g: &[GroupMetrics]| g.iter().map(GroupMetricsJson::from).collect();
    let MetricsWindow { since, until } = m.window;
    Ok(Json(InboxMetricsJson {
        since,
        until,
        overall: (&m.overall).into(),
        by_team: groups(&m.by_team),
        by_member: groups(&m.by_member),
        by_source: groups(&m.by_source),
        by_brand: groups(&m.by_brand),
        unanswered_negative_overdue: m.unanswered_negative_overdue.iter().map(|c| c.0).collect(),
    }))
}
