//! The publishing pages: /accounts, /accounts/{id}, /posts, /posts/new, /posts/{id} and
//! /calendar. Times are shown and entered in the workspace's time zone
//! (`[publishing] timezone`, UTC by default), named on every page that shows one.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use earshot_core::{Account, AccountId, Post, PostDetail, PostId, PostState, VariantDraft};
use earshot_engine::publishing::{check_post, CheckResult};
use earshot_store::{PostFilter, StoreError};
use serde::Deserialize;

use super::{act, parse_action, parse_post_id, save, store_error, Publisher};
use crate::error::WebError;
use crate::i18n::Tr;
use crate::pages::PageContext;
use crate::view::Layout;
use crate::AppState;

fn zone(app: &AppState) -> Tz {
    app.web
        .config()
        .publishing
        .timezone
        .as_deref()
        .unwrap_or("UTC")
        .parse()
        .unwrap_or(chrono_tz::UTC)
}

fn local(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` field) in the workspace's zone.
fn parse_local(text: &str, tz: Tz) -> Result<DateTime<Utc>, WebError> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M").map_err(|_| {
        WebError::BadRequest(format!(
            "parameter `at`: {text:?} is not a time like 2026-06-01T09:30"
        ))
    })?;
    tz.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            WebError::BadRequest(format!(
                "parameter `at`: {text:?} does not exist or is ambiguous in {tz} (a clock change); pick another minute"
            ))
        })
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

pub struct AccountRow {
    pub id: i64,
    pub name: String,
    pub network: &'static str,
    pub handle: String,
    pub owner: String,
    pub purpose: String,
    pub languages: String,
    pub status: &'static str,
    pub checked: Option<String>,
    pub error: Option<String>,
    pub steps: String,
    pub posts_per_day: u32,
}

impl AccountRow {
    fn new(account: &Account, tz: Tz) -> AccountRow {
        AccountRow {
            id: account.id.0,
            name: account.name.clone(),
            network: account.network.as_str(),
            handle: account.handle.clone(),
            owner: account.owner.clone(),
            purpose: account.purpose.clone(),
            languages: account.languages.join(", "),
            status: account.status.as_str(),
            checked: account.last_check_at.map(|t| local(t, tz)),
            error: account.last_error.clone(),
            steps: account.effective_steps().join(" → "),
            posts_per_day: account.posts_per_day,
        }
    }
}

pub struct Workload {
    pub owner: String,
    pub accounts: usize,
    pub names: String,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    t: Tr,
    layout: Layout,
    rows: Vec<AccountRow>,
    workload: Vec<Workload>,
    zone: String,
}

pub async fn accounts(State(app): State<AppState>, ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let tz = zone(&app);
    let accounts = match app.web.store.accounts().await {
        Ok(accounts) => accounts,
        Err(error) => return ctx.error_page(store_error(error)),
    };
    let mut by_owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for account in &accounts {
        by_owner
            .entry(account.owner.clone())
            .or_default()
            .push(account.name.clone());
    }
    let mut workload: Vec<Workload> = by_owner
        .into_iter()
        .map(|(owner, names)| Workload {
            owner,
            accounts: names.len(),
            names: names.join(", "),
        })
        .collect();
    workload.sort_by(|a, b| b.accounts.cmp(&a.accounts).then(a.owner.cmp(&b.owner)));
    let page = AccountsPage {
        t: tr,
        layout: ctx.layout(tr.t("accounts.title"), "accounts"),
        rows: accounts.iter().map(|a| AccountRow::new(a, tz)).collect(),
        workload,
        zone: tz.to_string(),
    };
    ctx.respond(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    t: Tr,
    layout: Layout,
    account: AccountRow,
    queue: Vec<PostRow>,
    zone: String,
}

pub async fn account(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
) -> Response {
    let tr = ctx.tr();
    let tz = zone(&app);
    let Some(id) = id.parse::<i64>().ok().map(AccountId) else {
        return ctx.error_page(WebError::NotFound(format!("no account {id:?}")));
    };
    let account = match app.web.store.account(id).await {
        Ok(Some(account)) => account,
        Ok(None) => return ctx.error_page(WebError::NotFound(format!("no account {id}"))),
        Err(error) => return ctx.error_page(store_error(error)),
    };
    let filter = PostFilter {
        account: Some(id),
        ..PostFilter::default()
    };
    let posts = match app.web.store.list_posts(&filter, 200).await {
        Ok(posts) => posts,
        Err(error) => return ctx.error_page(store_error(error)),
    };
    let names = account_names(&app).await;
    let page = AccountPage {
        t: tr,
        layout: ctx.layout(&account.name, "accounts"),
        account: AccountRow::new(&account, tz),
        queue: posts.iter().map(|p| PostRow::new(p, &names, tz)).collect(),
        zone: tz.to_string(),
    };
    ctx.respond(StatusCode::OK, &page)
}

// ---------------------------------------------------------------------------------------------
// Posts
// ---------------------------------------------------------------------------------------------

async fn account_names(app: &AppState) -> HashMap<AccountId, String> {
    app.web
        .store
        .accounts()
        .await
        .map(|accounts| accounts.into_iter().map(|a| (a.id, a.name)).collect())
        .unwrap_or_default()
}

pub struct PostRow {
    pub id: i64,
    pub title: String,
    pub state: &'static str,
    pub author: String,
    pub scheduled: Option<String>,
    pub accounts: String,
}

impl PostRow {
    fn new(post: &Post, names: &HashMap<AccountId, String>, tz: Tz) -> PostRow {
        PostRow {
            id: post.id.0,
            title: if post.title.is_empty() {
                format!("#{}", post.id)
            } else {
                post.title.clone()
            },
            state: post.state.as_str(),
            author: post.author.clone(),
            scheduled: post.scheduled_at.map(|t| local(t, tz)),
            accounts: post
                .variants
                .iter()
                .map(|v| names.get(&v.account).cloned().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PostsQuery {
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "posts.html")]
struct PostsPage {
    t: Tr,
    layout: Layout,
    rows: Vec<PostRow>,
    accounts: Vec<Choice>,
    states: Vec<Choice>,
    may_write: bool,
    zone: String,
}

pub async fn posts(
    State(app): State<AppState>,
    ctx: PageContext,
    who: Publisher,
    Query(query): Query<PostsQuery>,
) -> Response {
    let tr = ctx.tr();
    let tz = zone(&app);
    let mut filter = PostFilter::default();
    let account = query.account.filter(|a| !a.is_empty());
    if let Some(account) = &account {
        match account.parse::<i64>() {
            Ok(id) => filter.account = Some(AccountId(id)),
            Err(_) => {
                return ctx.error_page(WebError::BadRequest(format!(
                    "parameter `account`: {account:?} is not an account id"
                )))
            }
        }
    }
    let state = query.state.filter(|s| !s.is_empty());
    if let Some(state) = &state {
        match state.parse::<PostState>() {
            Ok(state) => filter.states = vec![state],
            Err(message) => {
                return ctx.error_page(WebError::BadRequest(format!(
                    "parameter `state`: {message}"
                )))
            }
        }
    }
    let posts = match app.web.store.list_posts(&filter, 200).await {
        Ok(posts) => posts,
        Err(error) => return ctx.error_page(store_error(error)),
    };
    let all = app.web.store.accounts().await.unwrap_or_default();
    let names: HashMap<AccountId, String> = all.iter().map(|a| (a.id, a.name.clone())).collect();
    let page = PostsPage {
        t: tr,
        layout: ctx.layout(tr.t("posts.title"), "posts"),
        rows: posts.iter().map(|p| PostRow::new(p, &names, tz)).collect(),
        accounts: all
            .iter()
            .map(|a| Choice {
                value: a.id.0.to_string(),
                label: a.name.clone(),
                selected: account.as_deref() == Some(a.id.0.to_string().as_str()),
            })
            .collect(),
        states: PostState::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_string(),
                label: s.as_str().to_string(),
                selected: state.as_deref() == Some(s.as_str()),
            })
            .collect(),
        may_write: who.may_write(),
        zone: tz.to_string(),
    };
    ctx.respond(StatusCode::OK, &page)
}

/// One account's field in the editor.
pub struct VariantField {
    pub account_id: i64,
    pub account: String,
    pub network: &'static str,
    pub limit: String,
    pub text: String,
    pub media: String,
    pub published_url: Option<String>,
    pub error: Option<String>,
}

pub struct StepView {
    pub step: String,
    pub approver: Option<String>,
    pub at: Option<String>,
    pub next: bool,
}

pub struct EventView {
    pub at: String,
    pub actor: String,
    pub kind: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub comment: Option<String>,
}

pub struct CheckView {
    pub name: &'static str,
    pub verdict: &'static str,
    pub explanation: String,
}

impl From<&CheckResult> for CheckView {
    fn from(result: &CheckResult) -> Self {
        CheckView {
            name: result.check.as_str(),
            verdict: result.verdict.as_str(),
            explanation: result.explanation.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "post.html")]
struct PostPage {
    t: Tr,
    layout: Layout,
    /// 0 for a new post.
    id: i64,
    title: String,
    state: &'static str,
    author: String,
    scheduled: Option<String>,
    fields: Vec<VariantField>,
    checks: Vec<CheckView>,
    steps: Vec<StepView>,
    history: Vec<EventView>,
    error: Option<String>,
    csrf: String,
    may_write: bool,
    editable: bool,
    can_submit: bool,
    can_review: bool,
    can_schedule: bool,
    can_unschedule: bool,
    can_withdraw: bool,
    zone: String,
    /// The campaigns a post can serve, and the one it serves.
    campaigns: Vec<CampaignChoice>,
    campaign: Option<CampaignChoice>,
    can_set_campaign: bool,
    links: Vec<PostLinkView>,
}

/// A campaign in the post page's chooser.
pub struct CampaignChoice {
    pub id: i64,
    pub name: String,
}

/// A short link made for the post when it was queued, with its clicks so far.
pub struct PostLinkView {
    pub short_url: String,
    pub target: String,
    pub people: u64,
    pub bots: u64,
}

fn limit_text(account: &Account) -> String {
    let rules = account.network.rules();
    let unit = match rules.length {
        earshot_core::publishing::LengthRule::Graphemes => "graphemes",
        earshot_core::publishing::LengthRule::Characters { .. } => "characters",
    };
    format!(
        "{} {unit}, {} media, mentions {}",
        rules.max_length, rules.max_media, rules.mention_form
    )
}

async fn render_post(
    app: &AppState,
    ctx: &PageContext,
    who: &Publisher,
    detail: Option<&PostDetail>,
    drafts: Option<(&str, &[VariantDraft])>,
    error: Option<WebError>,
) -> Response {
    let tr = ctx.tr();
    let tz = zone(app);
    let accounts = match app.web.store.accounts().await {
        Ok(accounts) => accounts,
        Err(error) => return ctx.error_page(store_error(error)),
    };
    let variants: Vec<VariantDraft> = match (drafts, detail) {
        (Some((_, drafts)), _) => drafts.to_vec(),
        (None, Some(detail)) => detail
            .post
            .variants
            .iter()
            .map(|v| VariantDraft {
                account: v.account,
                text: v.text.clone(),
                media: v.media.clone(),
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    let fields = accounts
        .iter()
        .map(|account| {
            let draft = variants.iter().find(|v| v.account == account.id);
            let saved =
                detail.and_then(|d| d.post.variants.iter().find(|v| v.account == account.id));
            VariantField {
                account_id: account.id.0,
                account: account.label(),
                network: account.network.as_str(),
                limit: limit_text(account),
                text: draft.map(|d| d.text.clone()).unwrap_or_default(),
                media: draft.map(|d| d.media.join("\n")).unwrap_or_default(),
                published_url: saved.and_then(|v| v.url.clone()),
                error: saved.and_then(|v| v.error.clone()),
            }
        })
        .collect();
    let checks = match detail {
        Some(detail) => {
            let config = app.web.config().clone();
            match check_post(
                app.web.store.as_ref(),
                &config,
                app.web.analyzer.as_ref(),
                detail,
                None,
            )
            .await
            {
                Ok(results) => results.iter().map(CheckView::from).collect(),
                Err(error) => vec![CheckView {
                    name: "checks",
                    verdict: "warn",
                    explanation: error.to_string(),
                }],
            }
        }
        None => Vec::new(),
    };
    let state = detail.map(|d| d.post.state);
    let author = detail
        .map(|d| d.post.author.clone())
        .unwrap_or_else(|| who.actor.name.clone());
    let is_author_or_manager =
        author == who.actor.name || who.actor.role >= earshot_core::Role::Manager;
    let steps = detail
        .map(|d| {
            d.steps
                .iter()
                .enumerate()
                .map(|(index, step)| {
                    let approval = d.approvals.get(index);
                    StepView {
                        step: step.clone(),
                        approver: approval.map(|a| a.approver.clone()),
                        at: approval.map(|a| local(a.at, tz)),
                        next: index == d.approvals.len() && d.post.state == PostState::InReview,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let history = detail
        .map(|d| {
            d.history
                .iter()
                .map(|e| EventView {
                    at: local(e.at, tz),
                    actor: e.actor.clone(),
                    kind: e.kind.as_str(),
                    from: e.from.as_str(),
                    to: e.to.as_str(),
                    comment: e.comment.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let (campaigns, campaign, links) = match detail {
        Some(detail) => match campaign_and_links(app, detail.post.id.0).await {
            Ok(found) => found,
            Err(error) => return ctx.error_page(store_error(error)),
        },
        None => (Vec::new(), None, Vec::new()),
    };
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status());
    let title_text = drafts
        .map(|(title, _)| title.to_string())
        .or_else(|| detail.map(|d| d.post.title.clone()))
        .unwrap_or_default();
    let page = PostPage {
        t: tr,
        layout: ctx.layout(
            if detail.is_some() {
                tr.t("post.title")
            } else {
                tr.t("post.new")
            },
            "posts",
        ),
        id: detail.map_or(0, |d| d.post.id.0),
        title: title_text,
        state: state.map_or("draft", |s| s.as_str()),
        author,
        scheduled: detail
            .and_then(|d| d.post.scheduled_at)
            .map(|t| local(t, tz)),
        fields,
        checks,
        steps,
        history,
        error: error.map(|e| e.public_message()),
        csrf: who.csrf.clone().unwrap_or_default(),
        may_write: who.may_write(),
        editable: who.may_write()
            && is_author_or_manager
            && !matches!(state, Some(PostState::Published | PostState::Failed)),
        can_submit: who.may_write() && is_author_or_manager && state == Some(PostState::Draft),
        can_review: who.may_write() && state == Some(PostState::InReview),
        can_schedule: who.may_write() && is_author_or_manager && state == Some(PostState::Approved),
        can_unschedule: who.may_write()
            && is_author_or_manager
            && state == Some(PostState::Scheduled),
        can_withdraw: who.may_write()
            && is_author_or_manager
            && matches!(
                state,
                Some(PostState::InReview | PostState::Approved | PostState::Failed)
            ),
        zone: tz.to_string(),
        campaigns,
        campaign,
        can_set_campaign: who.actor.role >= earshot_core::Role::Manager && who.csrf.is_some(),
        links,
    };
    ctx.respond(status, &page)
}

/// The campaigns to choose from, the one the post serves, and the post's short links with
/// their clicks.
async fn campaign_and_links(
    app: &AppState,
    post: i64,
) -> Result<
    (
        Vec<CampaignChoice>,
        Option<CampaignChoice>,
        Vec<PostLinkView>,
    ),
    StoreError,
> {
    let store = app.web.store.as_ref();
    let all = store.campaigns().await?;
    let serving = all
        .iter()
        .find(|c| c.post_ids.contains(&post))
        .map(|c| CampaignChoice {
            id: c.id.0,
            name: c.name.clone(),
        });
    let choices = all
        .iter()
        .map(|c| CampaignChoice {
            id: c.id.0,
            name: c.name.clone(),
        })
        .collect();
    let base = crate::links::base_url(app);
    let today = app.now().date_naive();
    let mut links = Vec::new();
    for link in store.post_links(post).await? {
        let clicks = store
            .clicks_per_day(Some(&link.code), link.created_at.date_naive(), today)
            .await?;
        links.push(PostLinkView {
            short_url: format!("{base}/l/{}", link.code),
            target: link.target_url.clone(),
            people: clicks.iter().map(|c| c.human).sum(),
            bots: clicks.iter().map(|c| c.bot).sum(),
        });
    }
    Ok((choices, serving, links))
}

pub async fn new_post(State(app): State<AppState>, ctx: PageContext, who: Publisher) -> Response {
    render_post(&app, &ctx, &who, None, None, None).await
}

/// The editor's fields: `title`, `text_{account}` and `media_{account}` (one per line).
/// An account left empty gets no variant.
fn drafts_from_form(form: &[(String, String)]) -> Result<(String, Vec<VariantDraft>), WebError> {
    let mut title = String::new();
    let mut texts: BTreeMap<i64, String> = BTreeMap::new();
    let mut media: HashMap<i64, Vec<String>> = HashMap::new();
    for (key, value) in form {
        if key == "title" {
            title = value.clone();
        } else if let Some(id) = key.strip_prefix("text_") {
            let id = id.parse::<i64>().map_err(|_| {
                WebError::BadRequest(format!("field `{key}`: not an account's text"))
            })?;
            texts.insert(id, value.replace("\r\n", "\n"));
        } else if let Some(id) = key.strip_prefix("media_") {
            let id = id.parse::<i64>().map_err(|_| {
                WebError::BadRequest(format!("field `{key}`: not an account's media"))
            })?;
            media.insert(
                id,
                value
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            );
        }
    }
    let drafts = texts
        .into_iter()
        .filter_map(|(id, text)| {
            let media = media.remove(&id).unwrap_or_default();
            (!text.trim().is_empty() || !media.is_empty()).then_some(VariantDraft {
                account: AccountId(id),
                text,
                media,
            })
        })
        .collect();
    Ok((title, drafts))
}

pub async fn create_post(
    State(app): State<AppState>,
    ctx: PageContext,
    who: Publisher,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (title, drafts) = match drafts_from_form(&form) {
        Ok(parsed) => parsed,
        Err(error) => return ctx.error_page(error),
    };
    match save(&app, &who, None, &title, &drafts).await {
        Ok(detail) => Redirect::to(&format!("/posts/{}", detail.post.id)).into_response(),
        Err(error) => {
            render_post(&app, &ctx, &who, None, Some((&title, &drafts)), Some(error)).await
        }
    }
}

async fn load(app: &AppState, id: PostId) -> Result<PostDetail, WebError> {
    app.web
        .store
        .post(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| WebError::NotFound(format!("no post {id}")))
}

pub async fn post(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    who: Publisher,
) -> Response {
    let detail = match parse_post_id(&id) {
        Ok(id) => load(&app, id).await,
        Err(error) => Err(error),
    };
    match detail {
        Ok(detail) => render_post(&app, &ctx, &who, Some(&detail), None, None).await,
        Err(error) => ctx.error_page(error),
    }
}

pub async fn update_post(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    who: Publisher,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let id = match parse_post_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let (title, drafts) = match drafts_from_form(&form) {
        Ok(parsed) => parsed,
        Err(error) => return ctx.error_page(error),
    };
    match save(&app, &who, Some(id), &title, &drafts).await {
        Ok(_) => Redirect::to(&format!("/posts/{id}")).into_response(),
        Err(error) => match load(&app, id).await {
            Ok(detail) => {
                render_post(
                    &app,
                    &ctx,
                    &who,
                    Some(&detail),
                    Some((&title, &drafts)),
                    Some(error),
                )
                .await
            }
            Err(_) => ctx.error_page(error),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    pub action: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub at: Option<String>,
}

pub async fn post_action(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    who: Publisher,
    Form(form): Form<ActionForm>,
) -> Response {
    let id = match parse_post_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let tz = zone(&app);
    let at = match form.at.as_deref().filter(|a| !a.trim().is_empty()) {
        Some(text) => match parse_local(text, tz) {
            Ok(at) => Some(at),
            Err(error) => return ctx.error_page(error),
        },
        None => None,
    };
    let result = match parse_action(&form.action, form.comment, at) {
        Ok(action) => act(&app, &who, id, action).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/posts/{id}")).into_response(),
        Err(error) => match load(&app, id).await {
            Ok(detail) => render_post(&app, &ctx, &who, Some(&detail), None, Some(error)).await,
            Err(_) => ctx.error_page(error),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct PostCampaignForm {
    /// A campaign id, or empty for none.
    #[serde(default)]
    pub campaign: String,
}

/// `POST /posts/{id}/campaign` (manager): the campaign the post serves. Its links are tagged
/// with that campaign when the post is queued for publishing.
pub async fn set_post_campaign(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
    Form(form): Form<PostCampaignForm>,
) -> Response {
    let result = async {
        let id = parse_post_id(&id)?;
        load(&app, id).await?;
        let campaign = match form.campaign.trim() {
            "" => None,
            text => Some(earshot_core::CampaignId(text.parse::<i64>().map_err(
                |_| WebError::BadRequest(format!("campaign: {text:?} is not a campaign id")),
            )?)),
        };
        app.web
            .store
            .set_post_campaign(id.0, campaign)
            .await
            .map_err(store_error)?;
        Ok::<_, WebError>(id)
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/posts/{id}")).into_response(),
        Err(error) => ctx.error_page(error),
    }
}

// ---------------------------------------------------------------------------------------------
// Calendar
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    #[serde(default)]
    pub view: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
}

pub struct CalendarEntry {
    pub id: i64,
    pub time: String,
    pub title: String,
    pub accounts: String,
    pub state: &'static str,
}

pub struct CalendarDay {
    pub label: String,
    pub in_range: bool,
    pub today: bool,
    pub entries: Vec<CalendarEntry>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    t: Tr,
    layout: Layout,
    month: bool,
    heading: String,
    weeks: Vec<Vec<CalendarDay>>,
    prev: String,
    next: String,
    week_href: String,
    month_href: String,
    zone: String,
}

pub async fn calendar(
    State(app): State<AppState>,
    ctx: PageContext,
    Query(query): Query<CalendarQuery>,
) -> Response {
    let tr = ctx.tr();
    let tz = zone(&app);
    let today = app.now().with_timezone(&tz).date_naive();
    let month = match query.view.as_deref() {
        None | Some("") | Some("week") => false,
        Some("month") => true,
        Some(other) => {
            return ctx.error_page(WebError::BadRequest(format!(
                "parameter `view`: {other:?} is not week or month"
            )))
        }
    };
    let anchor = match query.date.as_deref().filter(|d| !d.is_empty()) {
        Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) => date,
            Err(_) => {
                return ctx.error_page(WebError::BadRequest(format!(
                    "parameter `date`: {text:?} is not a date like 2026-06-01"
                )))
            }
        },
        None => today,
    };
    let account = match query.account.as_deref().filter(|a| !a.is_empty()) {
        Some(text) => match text.parse::<i64>() {
            Ok(id) => Some(AccountId(id)),
            Err(_) => {
                return ctx.error_page(WebError::BadRequest(format!(
                    "parameter `account`: {text:?} is not an account id"
                )))
            }
        },
        None => None,
    };
    // The range shown: the week (Monday first) or the weeks covering the month.
    let (range_start, range_end, first, last) = if month {
        let first = anchor.with_day(1).expect("day 1 exists");
        let next_month = if first.month() == 12 {
            NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
        }
        .expect("the first of a month exists");
        let start = first - Duration::days(first.weekday().num_days_from_monday() as i64);
        let last = next_month - Duration::days(1);
        let end = last + Duration::days(6 - last.weekday().num_days_from_monday() as i64);
        (start, end, first, last)
    } else {
        let start = anchor - Duration::days(anchor.weekday().num_days_from_monday() as i64);
        let end = start + Duration::days(6);
        (start, end, start, end)
    };
    let to_utc = |date: NaiveDate| {
        tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| date.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
    };
    let filter = PostFilter {
        account,
        scheduled_from: Some(to_utc(range_start)),
        scheduled_until: Some(to_utc(range_end + Duration::days(1))),
        ..PostFilter::default()
    };
    let posts = match app
        .web
        .store
        .list_posts(&filter, earshot_store::publishing::MAX_POST_PAGE)
        .await
    {
        Ok(posts) => posts,
        Err(error) => return ctx.error_page(store_error(error)),
    };
    let names = account_names(&app).await;
    let mut by_day: BTreeMap<NaiveDate, Vec<CalendarEntry>> = BTreeMap::new();
    for post in &posts {
        let Some(at) = post.scheduled_at else {
            continue;
        };
        let local_at = at.with_timezone(&tz);
        by_day
            .entry(local_at.date_naive())
            .or_default()
            .push(CalendarEntry {
                id: post.id.0,
                time: local_at.format("%H:%M").to_string(),
                title: if post.title.is_empty() {
                    format!("#{}", post.id)
                } else {
                    post.title.clone()
                },
                accounts: post
                    .variants
                    .iter()
                    .map(|v| names.get(&v.account).cloned().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", "),
                state: post.state.as_str(),
            });
    }
    let mut weeks = Vec::new();
    let mut day = range_start;
    while day <= range_end {
        let mut week = Vec::with_capacity(7);
        for _ in 0..7 {
            week.push(CalendarDay {
                label: day.format("%a %d.%m").to_string(),
                in_range: day >= first && day <= last,
                today: day == today,
                entries: by_day.remove(&day).unwrap_or_default(),
            });
            day += Duration::days(1);
        }
        weeks.push(week);
    }
    let view = if month { "month" } else { "week" };
    let (prev, next) = if month {
        (first - Duration::days(1), last + Duration::days(1))
    } else {
        (anchor - Duration::days(7), anchor + Duration::days(7))
    };
    let account_param = account
        .map(|a| format!("&account={}", a.0))
        .unwrap_or_default();
    let href = |view: &str, date: NaiveDate| {
        format!(
            "/calendar?view={view}&date={}{account_param}",
            date.format("%Y-%m-%d")
        )
    };
    let heading = if month {
        first.format("%Y-%m").to_string()
    } else {
        format!("{} – {}", first.format("%Y-%m-%d"), last.format("%Y-%m-%d"))
    };
    let page = CalendarPage {
        t: tr,
        layout: ctx.layout(tr.t("calendar.title"), "calendar"),
        month,
        heading,
        weeks,
        prev: href(view, prev),
        next: href(view, next),
        week_href: href("week", anchor),
        month_href: href("month", anchor),
        zone: tz.to_string(),
    };
    ctx.respond(StatusCode::OK, &page)
}
