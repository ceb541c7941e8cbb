//! The JSON API and its OpenAPI 3.1 description.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use earshot_core::{CorrectionField, InterchangeMention, LabelCorrection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ApiErrorBody, WebError};
use crate::pages::parse_id;
use crate::params::{LangParam, MentionParams, RawFilters};
use crate::view::{collect_brands, collect_sources, BrandInfo, SourceInfo};
use crate::AppState;

/// One page of mentions.
#[derive(Debug, Serialize, ToSchema)]
pub struct MentionsResponse {
    /// Mentions in the interchange format (`earshot export` writes the same objects).
    #[schema(value_type = Vec<InterchangeMentionDoc>)]
    pub mentions: Vec<InterchangeMention>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// How many mentions carry a brand, language or source.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountInfo {
    pub name: String,
    pub count: u64,
}

/// Totals for the whole store.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsResponse {
    pub mentions: u64,
    pub duplicates: u64,
    pub per_brand: Vec<CountInfo>,
    pub per_lang: Vec<CountInfo>,
    pub per_source: Vec<CountInfo>,
}

fn counts(pairs: Vec<(String, u64)>) -> Vec<CountInfo> {
    pairs
        .into_iter()
        .map(|(name, count)| CountInfo { name, count })
        .collect()
}

// The two structs below exist only to describe `earshot_core` types in the OpenAPI document
// (the core crate has no OpenAPI dependency). A test checks that every field a real mention
// serializes to is described here, so they cannot drift apart unnoticed.

/// A mention in the JSON Lines interchange format.
#[derive(ToSchema)]
#[schema(as = InterchangeMention)]
#[allow(dead_code)]
pub struct InterchangeMentionDoc {
    /// Store-assigned id.
    id: Option<i64>,
    /// Name of the source that delivered it.
    source: Option<String>,
    /// The network's own id of the item.
    external_id: Option<String>,
    url: Option<String>,
    title: Option<String>,
    /// Plain text.
    text: Option<String>,
    /// RFC 3339.
    published_at: Option<String>,
    #[schema(value_type = Option<AuthorDoc>)]
    author: Option<AuthorDoc>,
    /// ISO 639-1 code, or `und`.
    lang: Option<String>,
    in_reply_to: Option<String>,
    canonical_url: Option<String>,
    links: Option<Vec<String>>,
    /// Names of the brands whose queries matched.
    brands: Option<Vec<String>>,
    /// Id of the earlier mention this one copies.
    duplicate_of: Option<i64>,
    /// RFC 3339.
    fetched_at: Option<String>,
    #[schema(value_type = Option<AnalysisDoc>)]
    analysis: Option<AnalysisDoc>,
    #[schema(value_type = Option<CorrectionsDoc>)]
    corrections: Option<CorrectionsDoc>,
}

/// What the models and rules said about a mention when it was stored.
#[derive(ToSchema)]
#[schema(as = Analysis)]
#[allow(dead_code)]
pub struct AnalysisDoc {
    /// ISO 639-1 code, or `und`.
    lang: String,
    /// `negative`, `neutral` or `positive`; `null` without a model for the language.
    #[schema(value_type = Option<ScoredDoc>)]
    sentiment: Option<ScoredDoc>,
    /// `OFF` or `NOT`.
    #[schema(value_type = Option<ScoredDoc>)]
    offensive: Option<ScoredDoc>,
    /// `spam` or `ham`.
    #[schema(value_type = Option<ScoredDoc>)]
    spam: Option<ScoredDoc>,
    /// `complaint`, `question`, `praise`, `purchase_intent`, `feedback`: those found.
    #[schema(value_type = Vec<ScoredDoc>)]
    intents: Vec<ScoredDoc>,
    /// The sentiment toward each brand the mention names.
    #[schema(value_type = Vec<TargetSentimentDoc>)]
    targets: Vec<TargetSentimentDoc>,
}

/// A label and its probability (or rule score), 0 to 1.
#[derive(ToSchema)]
#[schema(as = Scored)]
#[allow(dead_code)]
pub struct ScoredDoc {
    label: String,
    score: f32,
}

/// The sentiment of the clauses naming one brand.
#[derive(ToSchema)]
#[schema(as = TargetSentiment)]
#[allow(dead_code)]
pub struct TargetSentimentDoc {
    target: String,
    label: String,
    score: f32,
}

/// Labels people corrected; shown instead of the model's.
#[derive(ToSchema)]
#[schema(as = Corrections)]
#[allow(dead_code)]
pub struct CorrectionsDoc {
    sentiment: Option<String>,
    offensive: Option<String>,
    spam: Option<String>,
    /// Intent → present (`true`) or absent (`false`).
    intents: Option<std::collections::BTreeMap<String, bool>>,
}

/// A correction of one label of a mention.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CorrectionRequest {
    /// `sentiment`, `offensive`, `spam` or `intent`.
    pub field: String,
    /// sentiment: `negative`, `neutral`, `positive`; offensive: `OFF`, `NOT`; spam: `spam`,
    /// `ham`; intent: `complaint`, `question`, `praise`, `purchase_intent`, `feedback`.
    pub label: String,
    /// Intent only: `false` says the mention does NOT have this intent. Default `true`.
    #[serde(default = "default_present")]
    pub present: bool,
}

fn default_present() -> bool {
    true
}

/// Who wrote a mention.
#[derive(ToSchema)]
#[schema(as = Author)]
#[allow(dead_code)]
pub struct AuthorDoc {
    handle: Option<String>,
    name: Option<String>,
    url: Option<String>,
    followers: Option<u64>,
}

/// Filters for `GET /api/mentions`. Documentation only: the handler reads the raw query
/// itself so that each bad value is answered with an error naming its parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MentionsQueryDoc {
    /// Full-text query in Earshot's query language (`AND`, `OR`, `NOT`, quotes, parentheses).
    q: Option<String>,
    /// Only mentions matched to this brand.
    brand: Option<String>,
    /// Only mentions in this language (ISO 639-1).
    lang: Option<String>,
    /// Only mentions from this source.
    source: Option<String>,
    /// Published at or after this time (RFC 3339, or a date meaning its start).
    since: Option<String>,
    /// Published before this time (exclusive; RFC 3339, or a date meaning up to its end).
    until: Option<String>,
    /// `newest` (default) or `relevance`.
    sort: Option<String>,
    /// Page size, 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Leave out mentions that copy an earlier one.
    hide_duplicates: Option<bool>,
    /// Only this sentiment (`negative`, `neutral`, `positive`); a correction counts first.
    sentiment: Option<String>,
    /// Only mentions with this intent (`complaint`, `question`, `praise`, `purchase_intent`,
    /// `feedback`); a correction counts first.
    intent: Option<String>,
    /// Leave out mentions labelled spam.
    hide_spam: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/api/mentions",
    tag = "mentions",
    params(MentionsQueryDoc),
    responses(
        (status = 200, description = "One page of mentions", body = MentionsResponse),
        (status = 400, description = "A parameter is not valid; the message names it", body = ApiErrorBody),
        (status = 500, description = "Storage failed", body = ApiErrorBody),
    )
)]
pub async fn list_mentions(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<MentionsResponse>, ApiError> {
    let raw = RawFilters::from_query(query.as_deref(), LangParam::Api);
    let params = MentionParams::parse(&raw)?;
    let page = app
        .web
        .store
        .search(
            &params.filter,
            params.sort,
            params.cursor.as_deref(),
            params.limit,
        )
        .await?;
    Ok(Json(MentionsResponse {
        mentions: page.mentions.iter().map(InterchangeMention::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    post,
    path = "/api/mentions/{id}/corrections",
    tag = "mentions",
    params(("id" = i64, Path, description = "Mention id")),
    request_body = CorrectionRequest,
    responses(
        (status = 200, description = "The mention with the correction in force", body = InterchangeMentionDoc),
        (status = 400, description = "The id is not a number, or the body is not JSON", body = ApiErrorBody),
        (status = 404, description = "No mention has this id", body = ApiErrorBody),
        (status = 422, description = "Unknown field or label; the message lists the allowed ones", body = ApiErrorBody),
    )
)]
pub async fn correct_mention(
    State(app): State<AppState>,
    Path(id): Path<String>,
    actor: crate::inbox::Actor,
    body: axum::body::Bytes,
) -> Result<Json<InterchangeMention>, ApiError> {
    let id = parse_id(&id)?;
    let request: CorrectionRequest = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            WebError::Unprocessable(format!("correction: {e}"))
        } else {
            WebError::BadRequest(format!(
                "the body must be a JSON object like {{\"field\": \"sentiment\", \"label\": \"positive\"}}: {e}"
            ))
        }
    })?;
    let correction = CorrectionField::parse(&request.field)
        .and_then(|field| LabelCorrection::new(field, &request.label, request.present))
        .map_err(|e| WebError::Unprocessable(e.to_string()))?;
    if !app
        .web
        .store
        .record_correction(id, &correction, Some(&actor.name))
        .await?
    {
        return Err(WebError::NotFound(format!("no mention with id {id}")).into());
    }
    match app.web.store.get(id).await? {
        Some(m) => Ok(Json(InterchangeMention::from(&m))),
        None => Err(WebError::NotFound(format!("no mention with id {id}")).into()),
    }
}

#[utoipa::path(
    get,
    path = "/api/mentions/{id}",
    tag = "mentions",
    params(("id" = i64, Path, description = "Mention id")),
    responses(
        (status = 200, description = "The mention", body = InterchangeMentionDoc),
        (status = 400, description = "The id is not a number", body = ApiErrorBody),
        (status = 404, description = "No mention has this id", body = ApiErrorBody),
    )
)]
pub async fn get_mention(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<InterchangeMention>, ApiError> {
    let id = parse_id(&id)?;
    match app.web.store.get(id).await? {
        Some(m) => Ok(Json(InterchangeMention::from(&m))),
        None => Err(WebError::NotFound(format!("no mention with id {id}")).into()),
    }
}

#[utoipa::path(
    get,
    path = "/api/sources",
    tag = "configuration",
    responses(
        (status = 200, description = "Configured sources and their health", body = Vec<SourceInfo>),
        (status = 500, description = "Storage failed", body = ApiErrorBody),
    )
)]
pub async fn list_sources(State(app): State<AppState>) -> Result<Json<Vec<SourceInfo>>, ApiError> {
    let states = app.web.store.source_states().await?;
    Ok(Json(collect_sources(&app.web.config(), &states)))
}

#[utoipa::path(
    get,
    path = "/api/brands",
    tag = "configuration",
    responses((status = 200, description = "Brands, competitors and their queries", body = Vec<BrandInfo>))
)]
pub async fn list_brands(State(app): State<AppState>) -> Json<Vec<BrandInfo>> {
    Json(collect_brands(&app.web.config()))
}

#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "mentions",
    responses(
        (status = 200, description = "Totals", body = StatsResponse),
        (status = 500, description = "Storage failed", body = ApiErrorBody),
    )
)]
pub async fn stats(State(app): State<AppState>) -> Result<Json<StatsResponse>, ApiError> {
    let stats = app.web.store.stats().await?;
    Ok(Json(StatsResponse {
        mentions: stats.mentions,
        duplicates: stats.duplicates,
        per_brand: counts(stats.per_brand),
        per_lang: counts(stats.per_lang),
        per_source: counts(stats.per_source),
    }))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Earshot API",
        description = "The mentions Earshot has collected (with corrections of their analysis), its sources and brands, the engagement inbox, publishing and campaigns."
    ),
    paths(
        list_mentions,
        get_mention,
        correct_mention,
        list_sources,
        list_brands,
        stats,
        crate::inbox::api::list,
        crate::inbox::api::get,
        crate::inbox::api::assign,
        crate::inbox::api::set_team,
        crate::inbox::api::set_state,
        crate::inbox::api::set_priority,
        crate::inbox::api::tags,
        crate::inbox::api::add_note,
        crate::inbox::api::reply,
        crate::inbox::api::feedback,
        crate::inbox::api::metrics,
        crate::publishing::api::accounts,
        crate::publishing::api::list,
        crate::publishing::api::get,
        crate::publishing::api::create,
        crate::publishing::api::update,
        crate::publishing::api::transition,
        crate::publishing::api::set_campaign,
        crate::publishing::api::links,
        crate::links::record_conversion,
        crate::links::api_links,
        crate::campaigns::api_campaigns,
        crate::campaigns::api_create_campaign,
        crate::campaigns::api_update_campaign,
        crate::campaigns::api_delete_campaign,
        crate::campaigns::api_campaign_report
    ),
    components(schemas(
        MentionsResponse,
        InterchangeMentionDoc,
        AuthorDoc,
        AnalysisDoc,
        ScoredDoc,
        TargetSentimentDoc,
        CorrectionsDoc,
        CorrectionRequest,
        SourceInfo,
        BrandInfo,
        StatsResponse,
        CountInfo,
        ApiErrorBody,
        crate::inbox::api::ConversationJson,
        crate::inbox::api::ConversationsResponse,
        crate::inbox::api::ConversationDetailJson,
        crate::inbox::api::EventJson,
        crate::inbox::api::NoteJson,
        crate::inbox::api::ReplyJson,
        crate::inbox::api::FeedbackItemJson,
        crate::inbox::api::AssignBody,
        crate::inbox::api::TeamBody,
        crate::inbox::api::StateBody,
        crate::inbox::api::PriorityBody,
        crate::inbox::api::TagsBody,
        crate::inbox::api::NoteBody,
        crate::inbox::api::ReplyBody,
        crate::inbox::api::FeedbackBody,
        crate::inbox::api::InboxMetricsJson,
        crate::inbox::api::GroupMetricsJson,
        crate::inbox::api::DurationStatsJson,
        crate::publishing::api::PostCampaignBody,
        crate::campaigns::CampaignBody
    )),
    tags(
        (name = "mentions", description = "Collected mentions"),
        (name = "configuration", description = "Sources and brands (read-only)"),
        (name = "inbox", description = "Conversations to answer: list, triage, reply, metrics"),
        (name = "publishing", description = "Official accounts and posts: drafts, approvals, scheduling, pre-publish checks, tracked links"),
        (name = "campaigns", description = "Campaigns, tracked links and signed conversions: spend, clicks, conversions, ROI")
    )
)]
pub struct ApiDoc;

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
