//! The inbox pages: `/inbox` (the list), `/inbox/{id}` (a conversation and its actions),
//! `/inbox/feedback` (the product feedback log) and `/inbox/metrics`, and the form posts
//! behind the buttons (each answers with a redirect back, so reload never re-posts).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Duration;
use earshot_core::inbox::MetricsWindow;
use earshot_core::{ConversationId, ConversationState, MentionId, Priority, SavedViewId};
use serde::Deserialize;

use super::actions::{self, inbox_error, ReplyOutcome};
use super::params::{InboxParams, InboxQuery};
use super::view::{
    priority_key, state_key, window_label, ConversationRow, EventView, MetricsRow, NoteView,
    ReplyView, SlaView, ThreadItem,
};
use super::{new_form_key, now, Actor};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::pages::PageContext;
use crate::view::{iso_time, select_options, show_time, Layout, SelectOption};
use crate::AppState;

/// Conversations per page in the browser.
const PAGE_SIZE: usize = 50;

pub(crate) fn parse_conversation_id(raw: &str) -> Result<ConversationId, WebError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(ConversationId)
        .ok_or_else(|| {
            WebError::BadRequest(format!(
                "conversation id {raw:?} is not a positive whole number"
            ))
        })
}

/// A state or priority option of a drop-down: value, translated label, selected.
fn labelled(values: &[(&'static str, &'static str)], current: Option<&str>) -> Vec<SelectOption> {
    values
        .iter()
        .map(|(value, label)| SelectOption {
            value: value.to_string(),
            label: label.to_string(),
            selected: current == Some(*value),
        })
        .collect()
}

fn state_options(tr: Tr, current: Option<&str>) -> Vec<SelectOption> {
    let values: Vec<(&'static str, &'static str)> = ConversationState::ALL
        .iter()
        .map(|s| (s.as_str(), tr.t(state_key(*s))))
        .collect();
    labelled(&values, current)
}

fn priority_options(tr: Tr, current: Option<&str>) -> Vec<SelectOption> {
    let values: Vec<(&'static str, &'static str)> = Priority::ALL
        .iter()
        .map(|p| (p.as_str(), tr.t(priority_key(*p))))
        .collect();
    labelled(&values, current)
}

/// The filter form's current values and choices.
pub struct InboxForm {
    pub states: Vec<SelectOption>,
    pub all_states: bool,
    pub teams: Vec<SelectOption>,
    pub members: Vec<SelectOption>,
    pub mine: bool,
    pub unassigned: bool,
    pub priorities: Vec<SelectOption>,
    pub overdue: bool,
    pub brands: Vec<SelectOption>,
    pub sources: Vec<SelectOption>,
    pub languages: Vec<SelectOption>,
    pub tag: String,
    pub sort_newest: bool,
}

pub struct ViewLink {
    pub id: i64,
    pub name: String,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    t: Tr,
    layout: Layout,
    csrf: String,
    form: InboxForm,
    views: Vec<ViewLink>,
    filter_query: String,
    error: Option<String>,
    rows: Vec<ConversationRow>,
    next_href: Option<String>,
    stream_url: Option<String>,
}

async fn rows_for(
    app: &AppState,
    conversations: &[earshot_core::Conversation],
    tr: Tr,
) -> Vec<ConversationRow> {
    let store = app.web.store.as_ref();
    let root_ids: Vec<MentionId> = conversations.iter().map(|c| c.root_mention).collect();
    // Roots that cannot be read show without their text rather than failing the list.
    let roots: std::collections::HashMap<MentionId, earshot_core::Mention> = store
        .get_many(&root_ids)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let at = now(app);
    conversations
        .iter()
        .map(|c| ConversationRow::new(c, roots.get(&c.root_mention), at, tr))
        .collect()
}

/// Teams and members from the configuration, for the filter and the assign menus.
fn teams_and_members(app: &AppState) -> (Vec<String>, Vec<String>) {
    let config = app.web.config();
    let teams: Vec<String> = config.teams.iter().map(|t| t.name.clone()).collect();
    let mut members: Vec<String> = config
        .teams
        .iter()
        .flat_map(|t| t.members.iter().cloned())
        .collect();
    members.sort();
    members.dedup();
    (teams, members)
}

pub async fn inbox(State(app): State<AppState>, ctx: PageContext, actor: Actor) -> Response {
    let tr = ctx.tr();
    let mut query = InboxQuery::parse(ctx.query.as_deref());
    let views = match app.web.store.saved_views(&actor.name).await {
        Ok(views) => views,
        Err(error) => return ctx.error_page(error.into()),
    };
    let current_view = query.view.as_deref().and_then(|v| v.parse::<i64>().ok());
    if let Some(view_id) = current_view {
        match views.iter().find(|v| v.id.0 == view_id) {
            Some(view) => {
                let saved = InboxQuery::parse(Some(&view.query));
                query.pairs = saved.pairs;
            }
            None => {
                return ctx.error_page(WebError::NotFound(format!(
                    "you have no saved view {view_id}"
                )))
            }
        }
    }
    let (teams, members) = teams_and_members(&app);
    let (brands, sources, languages) = {
        let config = app.web.config();
        (
            config
                .brands
                .iter()
                .map(|b| b.name.clone())
                .collect::<Vec<_>>(),
            config
                .sources
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>(),
            config.languages.clone(),
        )
    };
    let states = query.all("state");
    let form = InboxForm {
        states: state_options(tr, states.first().copied()),
        all_states: states.contains(&"all"),
        teams: select_options(teams, query.get("team")),
        members: select_options(members, query.get("assignee")),
        mine: query.get("mine").is_some_and(|v| v != "0"),
        unassigned: query.get("unassigned").is_some_and(|v| v != "0"),
        priorities: priority_options(tr, query.get("priority")),
        overdue: query.get("overdue").is_some_and(|v| v != "0"),
        brands: select_options(brands, query.get("brand")),
        sources: select_options(sources, query.get("source")),
        languages: select_options(languages, query.get("language")),
        tag: query.get("tag").unwrap_or_default().to_string(),
        sort_newest: query.get("sort") == Some("newest"),
    };
    let filter_query = query.filter_query();
    let mut page = InboxPage {
        t: tr,
        layout: ctx.layout(tr.t("inbox.title"), "inbox"),
        csrf: actor.csrf.clone().unwrap_or_default(),
        form,
        views: views
            .iter()
            .map(|v| ViewLink {
                id: v.id.0,
                name: v.name.clone(),
                href: format!("/inbox?view={}", v.id.0),
                current: current_view == Some(v.id.0),
            })
            .collect(),
        filter_query: filter_query.clone(),
        error: None,
        rows: Vec::new(),
        next_href: None,
        stream_url: None,
    };
    let params = match InboxParams::parse(&query, &actor.name) {
        Ok(params) => params,
        Err(error) => {
            page.error = Some(error.public_message());
            return ctx.respond(StatusCode::BAD_REQUEST, &page);
        }
    };
    // Taken before the list, so a change in between shows up (again) rather than not at all.
    let newest_event = if params.cursor.is_none() {
        match super::live::newest_event(&app).await {
            Ok(id) => Some(id),
            Err(error) => return ctx.error_page(error.into()),
        }
    } else {
        None
    };
    let found = match app
        .web
        .store
        .list_conversations(&params.filter, params.cursor.as_deref(), PAGE_SIZE)
        .await
    {
        Ok(found) => found,
        Err(error) => {
            let error = inbox_error(error);
            if error.status() != StatusCode::BAD_REQUEST {
                return ctx.error_page(error);
            }
            page.error = Some(error.public_message());
            return ctx.respond(StatusCode::BAD_REQUEST, &page);
        }
    };
    page.rows = rows_for(&app, &found.conversations, tr).await;
    page.next_href = found.next_cursor.as_deref().map(|cursor| {
        let mut qs = url::form_urlencoded::Serializer::new(filter_query.clone());
        qs.append_pair("cursor", cursor);
        format!("/inbox?{}", qs.finish())
    });
    page.stream_url = newest_event.map(|after| {
        let mut qs = url::form_urlencoded::Serializer::new(filter_query.clone());
        qs.append_pair("after", &after.to_string());
        qs.append_pair(crate::i18n::UI_LANG_PARAM, tr.lang.code());
        format!("/inbox/stream?{}", qs.finish())
    });
    ctx.respond(StatusCode::OK, &page)
}

/// A saved reply ready for this conversation: placeholders filled in.
pub struct SavedReplyChoice {
    pub name: String,
    pub text: String,
}

pub struct ConversationView {
    pub id: i64,
    pub state: &'static str,
    pub state_label: &'static str,
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub source: String,
    pub lang: String,
    pub brands: Vec<String>,
    pub tags: Vec<String>,
    pub routed_by: Option<String>,
    pub routing_reason: Option<String>,
    pub created: String,
    pub created_iso: String,
    pub sla: Option<SlaView>,
    pub first_response_due: Option<String>,
    pub resolution_due: Option<String>,
    pub first_response_at: Option<String>,
    pub resolved_at: Option<String>,
    pub overdue: bool,
    pub open: bool,
    pub ignored: bool,
    pub closed: bool,
}

/// What the conversation page shows besides the stored data: a refused reply's draft and why.
#[derive(Default)]
pub struct ReplyDraft {
    pub body: String,
    pub key: String,
    pub repeat_count: Option<u64>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    t: Tr,
    layout: Layout,
    csrf: String,
    c: ConversationView,
    thread: Vec<ThreadItem>,
    events: Vec<EventView>,
    notes: Vec<NoteView>,
    replies: Vec<ReplyView>,
    members: Vec<String>,
    can_publish: bool,
    saved_replies: Vec<SavedReplyChoice>,
    draft: ReplyDraft,
    elsewhere_key: String,
    priorities: Vec<SelectOption>,
    /// Teams to move the conversation to (the current one selected).
    teams: Vec<SelectOption>,
    /// Agents and above see the correction forms.
    can_correct: bool,
    /// The post of ours this conversation replies to.
    answers_post: Option<AnsweredPost>,
}

/// Our published post a conversation answers (a reply to it opened the conversation).
struct AnsweredPost {
    post_id: i64,
    link: Option<String>,
}

pub async fn conversation(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
) -> Response {
    match parse_conversation_id(&id) {
        Ok(id) => {
            render_conversation(
                &app,
                &ctx,
                &actor,
                id,
                ReplyDraft::default(),
                StatusCode::OK,
            )
            .await
        }
        Err(error) => ctx.error_page(error),
    }
}

async fn render_conversation(
    app: &AppState,
    ctx: &PageContext,
    actor: &Actor,
    id: ConversationId,
    mut draft: ReplyDraft,
    status: StatusCode,
) -> Response {
    let tr = ctx.tr();
    let detail = match app.web.store.conversation_detail(id).await {
        Ok(Some(detail)) => detail,
        Ok(None) => {
            return ctx.error_page(WebError::NotFound(format!(
                "conversation {id} does not exist"
            )))
        }
        Err(error) => return ctx.error_page(inbox_error(error)),
    };
    let saved = match app.web.store.saved_replies().await {
        Ok(saved) => saved,
        Err(error) => return ctx.error_page(inbox_error(error)),
    };
    let answers_post = match app.web.store.publication_for_conversation(id).await {
        Ok(found) => found.map(|p| AnsweredPost {
            post_id: p.post_id,
            link: p.url.as_deref().and_then(crate::view::safe_href),
        }),
        Err(error) => return ctx.error_page(inbox_error(error)),
    };
    let c = &detail.conversation;
    let at = now(app);
    let author = c
        .author_name
        .clone()
        .or_else(|| c.author_handle.clone())
        .unwrap_or_default();
    let brand = c.brands.first().cloned().unwrap_or_default();
    if draft.key.is_empty() {
        draft.key = new_form_key();
    }
    let (_, members) = teams_and_members(app);
    let team_names: Vec<String> = match actions::routing_rules(app) {
        Ok(rules) => rules.teams().iter().map(|t| t.name.clone()).collect(),
        Err(error) => return ctx.error_page(error),
    };
    let mention_ids: Vec<MentionId> = detail.mentions.iter().map(|m| m.id).collect();
    let corrections = match app.web.store.corrections_of(&mention_ids).await {
        Ok(found) => found,
        Err(error) => return ctx.error_page(error.into()),
    };
    let view = ConversationView {
        id: c.id.0,
        state: c.state.as_str(),
        state_label: tr.t(state_key(c.state)),
        priority: c.priority.as_str(),
        priority_label: tr.t(priority_key(c.priority)),
        team: c.team.clone(),
        assignee: c.assignee.clone(),
        source: c.source.clone(),
        lang: c.lang.clone(),
        brands: c.brands.clone(),
        tags: c.tags.clone(),
        routed_by: c.routed_by.clone(),
        routing_reason: c.routing_reason.clone(),
        created: show_time(c.created_at),
        created_iso: iso_time(c.created_at),
        sla: SlaView::of(c, at, tr),
        first_response_due: c.first_response_due.map(show_time),
        resolution_due: c.resolution_due.map(show_time),
        first_response_at: c.first_response_at.map(show_time),
        resolved_at: c.resolved_at.map(show_time),
        overdue: c.is_overdue(),
        open: c.state.is_open(),
        ignored: c.state == ConversationState::Ignored,
        closed: !c.state.is_open(),
    };
    let page = ConversationPage {
        t: tr,
        layout: ctx.layout(&format!("{} #{}", tr.t("conversation.title"), id), "inbox"),
        csrf: actor.csrf.clone().unwrap_or_default(),
        thread: detail
            .mentions
            .iter()
            .map(|m| {
                let mut item = ThreadItem::new(m, c.root_mention);
                item.labels.credit(m.id, &corrections);
                item
            })
            .collect(),
        events: detail
            .events
            .iter()
            .map(|e| EventView::new(e, tr))
            .collect(),
        notes: detail.notes.iter().map(NoteView::new).collect(),
        replies: detail
            .replies
            .iter()
            .map(|r| ReplyView::new(r, tr))
            .collect(),
        members,
        can_publish: actions::publishing_kind(app, c).is_some(),
        saved_replies: saved
            .iter()
            .map(|s| SavedReplyChoice {
                name: s.name.clone(),
                text: s.render(&author, &brand),
            })
            .collect(),
        draft,
        elsewhere_key: new_form_key(),
        priorities: priority_options(tr, Some(c.priority.as_str())),
        teams: select_options(team_names, c.team.as_deref()),
        can_correct: actor.role >= earshot_core::Role::Agent,
        answers_post,
        c: view,
    };
    ctx.respond(status, &page)
}

fn back_to(id: ConversationId) -> Response {
    Redirect::to(&format!("/inbox/{id}")).into_response()
}

/// Run a form's action and go back to the conversation, or show what went wrong.
async fn form_result<T>(
    ctx: &PageContext,
    id: ConversationId,
    result: Result<T, WebError>,
) -> Response {
    match result {
        Ok(_) => back_to(id),
        Err(error) => ctx.error_page(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    pub member: Option<String>,
}

pub async fn assign(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<AssignForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let result = actions::assign(&app, &actor, id, form.member.as_deref()).await;
    form_result(&ctx, id, result).await
}

#[derive(Debug, Deserialize)]
pub struct TeamForm {
    /// The team's name; empty for the shared queue.
    #[serde(default)]
    pub team: String,
}

pub async fn set_team(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<TeamForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let result = actions::set_team(&app, &actor, id, Some(&form.team)).await;
    form_result(&ctx, id, result).await
}

#[derive(Debug, Deserialize)]
pub struct CorrectionForm {
    pub mention: String,
    pub field: String,
    pub label: String,
    /// For intents: `1` adds the intent, `0` removes it. Other fields are always present.
    #[serde(default)]
    pub present: Option<String>,
}

pub async fn correct(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<CorrectionForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let Some(mention) = form
        .mention
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| *m > 0)
        .map(MentionId)
    else {
        return ctx.error_page(super::params::bad(
            "mention",
            format!("{:?} is not a mention id", form.mention),
        ));
    };
    let present = match form.present.as_deref().map(str::trim) {
        None | Some("1") | Some("true") => true,
        Some("0") | Some("false") => false,
        Some(other) => {
            return ctx.error_page(super::params::bad(
                "present",
                format!("{other:?} is neither 1 (add) nor 0 (remove)"),
            ))
        }
    };
    let result =
        actions::correct_label(&app, &actor, id, mention, &form.field, &form.label, present).await;
    match result {
        Ok(()) => Redirect::to(&format!("/inbox/{id}#mention-{mention}")).into_response(),
        Err(error) => ctx.error_page(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct StateForm {
    pub state: String,
}

pub async fn set_state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<StateForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let result = actions::set_state(&app, &actor, id, &form.state).await;
    form_result(&ctx, id, result).await
}

#[derive(Debug, Deserialize)]
pub struct PriorityForm {
    pub priority: String,
}

pub async fn set_priority(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<PriorityForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let result = actions::set_priority(&app, &actor, id, &form.priority).await;
    form_result(&ctx, id, result).await
}

#[derive(Debug, Deserialize)]
pub struct TagsForm {
    /// Comma-separated tags to add.
    #[serde(default)]
    pub add: String,
    #[serde(default)]
    pub remove: String,
}

fn split_tags(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn tags(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<TagsForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let result = actions::change_tags(
        &app,
        &actor,
        id,
        &split_tags(&form.add),
        &split_tags(&form.remove),
    )
    .await;
    form_result(&ctx, id, result).await
}

#[derive(Debug, Deserialize)]
pub struct NoteForm {
    pub body: String,
}

pub async fn note(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<NoteForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let result = actions::add_note(&app, &actor, id, &form.body).await;
    form_result(&ctx, id, result).await
}

#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    pub body: String,
    pub key: String,
    #[serde(default)]
    pub confirm_repeat: Option<String>,
}

pub async fn reply(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<ReplyForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let confirm = form.confirm_repeat.is_some();
    match actions::reply(&app, &actor, id, &form.body, &form.key, confirm).await {
        Ok(ReplyOutcome::Queued(_)) => back_to(id),
        Ok(ReplyOutcome::RepeatWarning { count }) => {
            let draft = ReplyDraft {
                body: form.body,
                key: form.key,
                repeat_count: Some(count),
                error: None,
            };
            render_conversation(&app, &ctx, &actor, id, draft, StatusCode::OK).await
        }
        Err(error) if error.status() == StatusCode::BAD_REQUEST => {
            let draft = ReplyDraft {
                body: form.body,
                key: form.key,
                repeat_count: None,
                error: Some(error.public_message()),
            };
            render_conversation(&app, &ctx, &actor, id, draft, StatusCode::BAD_REQUEST).await
        }
        Err(error) => ctx.error_page(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct ElsewhereForm {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub body: String,
    pub key: String,
}

pub async fn answered_elsewhere(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<ElsewhereForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let result =
        actions::answered_elsewhere(&app, &actor, id, &form.body, form.url.as_deref(), &form.key)
            .await;
    form_result(&ctx, id, result).await
}

#[derive(Debug, Deserialize)]
pub struct FeedbackForm {
    pub theme: String,
    #[serde(default)]
    pub summary: String,
}

pub async fn send_to_product(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<FeedbackForm>,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let result = actions::send_to_product(&app, &actor, id, &form.theme, &form.summary).await;
    form_result(&ctx, id, result).await
}

// ---- Saved views ----

#[derive(Debug, Deserialize)]
pub struct ViewForm {
    pub name: String,
    /// The list's filters as a query string.
    #[serde(default)]
    pub filters: String,
}

pub async fn save_view(
    State(app): State<AppState>,
    ctx: PageContext,
    actor: Actor,
    Form(form): Form<ViewForm>,
) -> Response {
    // Keep only what the list understands, so a view never stores anything else.
    let filters = InboxQuery::parse(Some(&form.filters));
    if let Err(error) = InboxParams::parse(&filters, &actor.name) {
        return ctx.error_page(error);
    }
    let name = form.name.trim();
    if name.is_empty() {
        return ctx.error_page(WebError::BadRequest(
            "field `name`: a saved view needs a name".into(),
        ));
    }
    match app
        .web
        .store
        .create_saved_view(&actor.name, name, &filters.filter_query(), now(&app))
        .await
    {
        Ok(view) => Redirect::to(&format!("/inbox?view={}", view.id.0)).into_response(),
        Err(error) => ctx.error_page(error.into()),
    }
}

pub async fn delete_view(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    actor: Actor,
) -> Response {
    let Some(id) = id.parse::<i64>().ok().map(SavedViewId) else {
        return ctx.error_page(WebError::BadRequest(format!(
            "saved view id {id:?} is not a whole number"
        )));
    };
    match app.web.store.delete_saved_view(&actor.name, id).await {
        Ok(true) => Redirect::to("/inbox").into_response(),
        Ok(false) => ctx.error_page(WebError::NotFound(format!("you have no saved view {id}"))),
        Err(error) => ctx.error_page(error.into()),
    }
}

// ---- Feedback log ----

pub struct ThemeView {
    pub name: String,
    pub count: u64,
    pub conversations: Vec<i64>,
    pub first: String,
    pub last: String,
    pub csv_href: String,
}

#[derive(Template)]
#[template(path = "feedback.html")]
struct FeedbackPage {
    t: Tr,
    layout: Layout,
    themes: Vec<ThemeView>,
}

pub async fn feedback(State(app): State<AppState>, ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let themes = match app.web.store.feedback_themes().await {
        Ok(themes) => themes,
        Err(error) => return ctx.error_page(inbox_error(error)),
    };
    let page = FeedbackPage {
        t: tr,
        layout: ctx.layout(tr.t("feedback.title"), "feedback"),
        themes: themes
            .iter()
            .map(|theme| {
                let mut qs = url::form_urlencoded::Serializer::new(String::new());
                qs.append_pair("theme", &theme.name);
                ThemeView {
                    name: theme.name.clone(),
                    count: theme.count,
                    conversations: theme.conversations.iter().map(|c| c.0).collect(),
                    first: show_time(theme.first_at),
                    last: show_time(theme.last_at),
                    csv_href: format!("/inbox/feedback.csv?{}", qs.finish()),
                }
            })
            .collect(),
    };
    ctx.respond(StatusCode::OK, &page)
}

/// A spreadsheet opening the file must not run a cell as a formula: text starting with one
/// of these gets a leading apostrophe.
pub(crate) fn inert_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

/// The feedback log as CSV (one theme with `?theme=`).
pub async fn feedback_csv(State(app): State<AppState>, ctx: PageContext) -> Response {
    let query = ctx.query.as_deref().unwrap_or("");
    let theme = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "theme")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.trim().is_empty());
    let items = match app.web.store.feedback_items(theme.as_deref()).await {
        Ok(items) => items,
        Err(error) => return ctx.error_page(inbox_error(error)),
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut rows = vec![[
        "theme".to_string(),
        "summary".into(),
        "conversation".into(),
        "author".into(),
        "created_at".into(),
    ]];
    rows.extend(items.iter().map(|item| {
        [
            inert_cell(&item.theme),
            inert_cell(&item.summary),
            item.conversation.0.to_string(),
            inert_cell(&item.author),
            iso_time(item.created_at),
        ]
    }));
    for row in rows {
        if let Err(error) = writer.write_record(&row) {
            return ctx.error_page(WebError::BadRequest(format!("CSV export failed: {error}")));
        }
    }
    let body = match writer.into_inner() {
        Ok(body) => body,
        Err(error) => {
            return ctx.error_page(WebError::BadRequest(format!("CSV export failed: {error}")))
        }
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"earshot-feedback.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

// ---- Metrics ----

pub struct MetricsTable {
    pub title: &'static str,
    pub id: &'static str,
    pub rows: Vec<MetricsRow>,
}

#[derive(Template)]
#[template(path = "inbox_metrics.html")]
struct MetricsPage {
    t: Tr,
    layout: Layout,
    window: String,
    days: i64,
    overall: MetricsRow,
    tables: Vec<MetricsTable>,
    overdue_negative: Vec<i64>,
}

/// Days of the metrics window when `?days=` is not given.
pub const DEFAULT_METRICS_DAYS: i64 = 30;
const MAX_METRICS_DAYS: i64 = 3660;

pub(crate) fn metrics_window(
    app: &AppState,
    query: Option<&str>,
) -> Result<(MetricsWindow, i64), WebError> {
    let days = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "days")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let days = match days {
        None => DEFAULT_METRICS_DAYS,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_METRICS_DAYS).contains(&n) => n,
            _ => {
                return Err(super::params::bad(
                    "days",
                    format!("{v:?} is not a whole number from 1 to {MAX_METRICS_DAYS}"),
                ))
            }
        },
    };
    let until = now(app);
    // The end is a second ahead so a conversation created this very second counts.
    let window = MetricsWindow {
        since: until - Duration::days(days),
        until: until + Duration::seconds(1),
    };
    Ok((window, days))
}

pub async fn metrics(State(app): State<AppState>, ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let (window, days) = match metrics_window(&app, ctx.query.as_deref()) {
        Ok(w) => w,
        Err(error) => return ctx.error_page(error),
    };
    let metrics = match app.web.store.inbox_metrics(window, now(&app)).await {
        Ok(m) => m,
        Err(error) => return ctx.error_page(inbox_error(error)),
    };
    let table = |title, id, groups: &[earshot_core::inbox::GroupMetrics]| MetricsTable {
        title,
        id,
        rows: groups.iter().map(MetricsRow::new).collect(),
    };
    let page = MetricsPage {
        t: tr,
        layout: ctx.layout(tr.t("metrics.title"), "metrics"),
        window: window_label(&metrics.window),
        days,
        overall: MetricsRow::new(&metrics.overall),
        tables: vec![
            table(tr.t("metrics.by_team"), "by-team", &metrics.by_team),
            table(tr.t("metrics.by_member"), "by-member", &metrics.by_member),
            table(tr.t("metrics.by_source"), "by-source", &metrics.by_source),
            table(tr.t("metrics.by_brand"), "by-brand", &metrics.by_brand),
        ],
        overdue_negative: metrics
            .unanswered_negative_overdue
            .iter()
            .map(|c| c.0)
            .collect(),
    };
    ctx.respond(StatusCode::OK, &page)
}

pub async fn retry_reply(
    State(app): State<AppState>,
    Path((id, reply)): Path<(String, String)>,
    ctx: PageContext,
) -> Response {
    let id = match parse_conversation_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let Some(reply) = reply.parse::<i64>().ok().map(earshot_core::ReplyId) else {
        return ctx.error_page(WebError::BadRequest(format!(
            "reply id {reply:?} is not a whole number"
        )));
    };
    let result = actions::retry_reply(&app, id, reply).await;
    form_result(&ctx, id, result).await
}
