//! Campaign pages (list, new, report with spend), the report as CSV, and the campaign JSON API.
//! Managers create campaigns and record spend; everyone signed in reads.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::NaiveDate;
use earshot_core::campaigns::{format_basis_points, slug};
use earshot_core::{
    Campaign, CampaignId, CampaignReport, Currency, Goal, Money, NewCampaign, NewSpend, PostId,
};
use earshot_store::StoreError;
use serde::Deserialize;

use crate::error::{ApiError, WebError};
use crate::i18n::Tr;
use crate::inbox::pages::inert_cell;
use crate::links::{base_url, can_manage, csrf_of};
use crate::pages::PageContext;
use crate::view::{show_time, Layout};
use crate::AppState;

fn parse_id(id: &str) -> Result<CampaignId, WebError> {
    id.parse::<i64>()
        .map(CampaignId)
        .map_err(|_| WebError::NotFound(format!("there is no campaign {id:?}")))
}

fn money_text(minor: i64, currency: &Currency) -> String {
    format!("{} {currency}", Money::format_minor(minor, currency))
}

/// One currency's figures, formatted.
pub struct CurrencyView {
    pub currency: String,
    pub roi: String,
    pub roi_negative: bool,
    pub spend: String,
    pub budget: String,
    pub conversions: u64,
    pub value: String,
    pub cost_per_conversion: String,
}

/// A campaign's report, formatted for the page.
pub struct ReportView {
    pub id: i64,
    pub name: String,
    pub utm_campaign: String,
    pub goal: String,
    pub target: String,
    pub dates: String,
    pub clicks_human: u64,
    pub clicks_bot: u64,
    pub conversions: u64,
    pub goal_conversions: u64,
    pub conversion_rate: String,
    pub rows: Vec<CurrencyView>,
}

fn goal_text(campaign: &Campaign) -> String {
    match campaign.goal {
        Goal::Custom => format!("custom: {}", campaign.goal_kind()),
        goal => goal.as_str().to_string(),
    }
}

fn report_view(report: &CampaignReport) -> ReportView {
    let c = &report.campaign;
    let none = "—".to_string();
    ReportView {
        id: c.id.0,
        name: c.name.clone(),
        utm_campaign: c.utm_campaign.clone(),
        goal: goal_text(c),
        target: c
            .target
            .map(|t| t.to_string())
            .unwrap_or_else(|| none.clone()),
        dates: match c.ends_on {
            Some(end) => format!("{} – {end}", c.starts_on),
            None => format!("{} –", c.starts_on),
        },
        clicks_human: report.clicks_human,
        clicks_bot: report.clicks_bot,
        conversions: report.conversions,
        goal_conversions: report.goal_conversions,
        conversion_rate: report
            .conversion_rate_basis_points
            .map(format_basis_points)
            .unwrap_or_else(|| none.clone()),
        rows: report
            .rows
            .iter()
            .map(|r| CurrencyView {
                currency: r.currency.to_string(),
                roi: r
                    .roi_basis_points
                    .map(format_basis_points)
                    .unwrap_or_else(|| none.clone()),
                roi_negative: r.roi_basis_points.is_some_and(|roi| roi < 0),
                spend: money_text(r.spend, &r.currency),
                budget: r
                    .budget
                    .map(|b| money_text(b, &r.currency))
                    .unwrap_or_else(|| none.clone()),
                conversions: r.conversions,
                value: money_text(r.conversion_value, &r.currency),
                cost_per_conversion: r
                    .cost_per_conversion
                    .map(|c| money_text(c, &r.currency))
                    .unwrap_or_else(|| none.clone()),
            })
            .collect(),
    }
}

/// The report as CSV, one row per currency (amounts of different currencies are never
/// added). Text cells a spreadsheet would evaluate are defused like the feedback export.
pub fn report_csv(report: &CampaignReport) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "campaign",
        "utm_campaign",
        "goal",
        "target",
        "goal_conversions",
        "clicks_human",
        "clicks_bot",
        "currency",
        "spend",
        "budget",
        "conversions",
        "conversion_value",
        "cost_per_conversion",
        "roi_percent",
    ])?;
    let c = &report.campaign;
    let common = [
        inert_cell(&c.name),
        inert_cell(&c.utm_campaign),
        inert_cell(&goal_text(c)),
        c.target.map(|t| t.to_string()).unwrap_or_default(),
        report.goal_conversions.to_string(),
        report.clicks_human.to_string(),
        report.clicks_bot.to_string(),
    ];
    if report.rows.is_empty() {
        let mut record: Vec<String> = common.to_vec();
        record.extend([
            "".into(),
            "".into(),
            "".into(),
            report.conversions.to_string(),
        ]);
        record.extend(["".into(), "".into(), "".into()]);
        writer.write_record(&record)?;
    }
    for row in &report.rows {
        let mut record: Vec<String> = common.to_vec();
        let amount = |minor: i64| Money::format_minor(minor, &row.currency);
        record.extend([
            row.currency.to_string(),
            amount(row.spend),
            row.budget.map(amount).unwrap_or_default(),
            row.conversions.to_string(),
            amount(row.conversion_value),
            row.cost_per_conversion.map(amount).unwrap_or_default(),
            row.roi_basis_points
                .map(|bp| format_basis_points(bp).trim_end_matches(" %").to_string())
                .unwrap_or_default(),
        ]);
        writer.write_record(&record)?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

// ---- Pages ----

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    t: Tr,
    layout: Layout,
    rows: Vec<ReportView>,
    can_edit: bool,
}

pub(crate) async fn campaigns_page(State(app): State<AppState>, ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let store = app.web.store.as_ref();
    let campaigns = match store.campaigns().await {
        Ok(campaigns) => campaigns,
        Err(error) => return ctx.error_page(error.into()),
    };
    let mut rows = Vec::with_capacity(campaigns.len());
    for campaign in campaigns {
        match store.campaign_report(campaign.id).await {
            Ok(Some(report)) => rows.push(report_view(&report)),
            Ok(None) => {}
            Err(error) => return ctx.error_page(error.into()),
        }
    }
    let page = CampaignsPage {
        t: tr,
        layout: ctx.layout(tr.t("campaigns.title"), "campaigns"),
        rows,
        can_edit: can_manage(&ctx),
    };
    ctx.respond(StatusCode::OK, &page)
}

/// The campaign form's fields as typed (empty for a new campaign, the campaign's for an edit).
#[derive(Debug, Default)]
pub struct CampaignFormView {
    pub name: String,
    pub utm_campaign: String,
    pub goal: String,
    pub custom_goal: String,
    pub target: String,
    pub budget: String,
    pub currency: String,
    pub starts_on: String,
    pub ends_on: String,
    pub posts: String,
}

impl CampaignFormView {
    fn of(campaign: &Campaign) -> CampaignFormView {
        CampaignFormView {
            name: campaign.name.clone(),
            utm_campaign: campaign.utm_campaign.clone(),
            goal: campaign.goal.as_str().to_string(),
            custom_goal: campaign.custom_goal.clone().unwrap_or_default(),
            target: campaign.target.map(|t| t.to_string()).unwrap_or_default(),
            budget: campaign
                .budget
                .as_ref()
                .map(|b| Money::format_minor(b.minor, &b.currency))
                .unwrap_or_default(),
            currency: campaign
                .budget
                .as_ref()
                .map(|b| b.currency.to_string())
                .unwrap_or_else(|| "EUR".into()),
            starts_on: campaign.starts_on.to_string(),
            ends_on: campaign.ends_on.map(|d| d.to_string()).unwrap_or_default(),
            posts: campaign
                .post_ids
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "campaign_new.html")]
struct NewCampaignPage {
    t: Tr,
    layout: Layout,
    csrf: String,
    goals: Vec<&'static str>,
    form: CampaignFormView,
    /// Where the form posts: `/campaigns` or `/campaigns/{id}`.
    action: String,
    editing: bool,
}

pub(crate) async fn new_campaign_page(ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let page = NewCampaignPage {
        t: tr,
        layout: ctx.layout(tr.t("campaigns.new"), "campaigns"),
        csrf: csrf_of(&ctx),
        goals: Goal::ALL.iter().map(|g| g.as_str()).collect(),
        form: CampaignFormView {
            currency: "EUR".into(),
            ..CampaignFormView::default()
        },
        action: "/campaigns".into(),
        editing: false,
    };
    ctx.respond(StatusCode::OK, &page)
}

/// `GET /campaigns/{id}/edit` (manager).
pub(crate) async fn edit_campaign_page(
    State(app): State<AppState>,
    ctx: PageContext,
    Path(id): Path<String>,
) -> Response {
    let tr = ctx.tr();
    let campaign = match existing_campaign(&app, &id).await {
        Ok(campaign) => campaign,
        Err(error) => return ctx.error_page(error),
    };
    let page = NewCampaignPage {
        t: tr,
        layout: ctx.layout(tr.t("campaigns.edit"), "campaigns"),
        csrf: csrf_of(&ctx),
        goals: Goal::ALL.iter().map(|g| g.as_str()).collect(),
        form: CampaignFormView::of(&campaign),
        action: format!("/campaigns/{}", campaign.id),
        editing: true,
    };
    ctx.respond(StatusCode::OK, &page)
}

async fn existing_campaign(app: &AppState, id: &str) -> Result<Campaign, WebError> {
    let id = parse_id(id)?;
    app.web
        .store
        .campaign(id)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("there is no campaign {id}")))
}

#[derive(Debug, Deserialize)]
pub struct CampaignForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    utm_campaign: String,
    #[serde(default)]
    goal: String,
    #[serde(default)]
    custom_goal: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    budget: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    posts: String,
}

fn parse_date(field: &str, text: &str) -> Result<NaiveDate, WebError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| WebError::BadRequest(format!("{field}: {text:?} is not a date (YYYY-MM-DD)")))
}

fn parse_currency(text: &str) -> Result<Currency, WebError> {
    Currency::parse(text).map_err(|e| WebError::BadRequest(format!("currency: {e}")))
}

impl CampaignForm {
    fn into_new(self) -> Result<NewCampaign, WebError> {
        let goal =
            Goal::parse(&self.goal).map_err(|e| WebError::BadRequest(format!("goal: {e}")))?;
        let target = match self.target.trim() {
            "" => None,
            t => Some(t.parse::<i64>().map_err(|_| {
                WebError::BadRequest(format!("target: {t:?} is not a whole number"))
            })?),
        };
        let budget = match self.budget.trim() {
            "" => None,
            amount => Some(
                Money::parse(amount, parse_currency(&self.currency)?)
                    .map_err(|e| WebError::BadRequest(format!("budget: {e}")))?,
            ),
        };
        let ends_on = match self.ends_on.trim() {
            "" => None,
            d => Some(parse_date("ends_on", d)?),
        };
        let post_ids = self
            .posts
            .split([',', ' '])
            .map(|p| p.trim().trim_start_matches('#'))
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<i64>()
                    .map_err(|_| WebError::BadRequest(format!("posts: {p:?} is not a post id")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let utm_campaign = match self.utm_campaign.trim() {
            "" => slug(&self.name),
            given => given.to_string(),
        };
        let new = NewCampaign {
            name: self.name.trim().to_string(),
            utm_campaign,
            goal,
            custom_goal: Some(self.custom_goal.trim().to_string()).filter(|g| !g.is_empty()),
            target,
            budget,
            starts_on: parse_date("starts_on", &self.starts_on)?,
            ends_on,
            post_ids,
        };
        new.validate().map_err(WebError::BadRequest)?;
        Ok(new)
    }
}

fn store_refusal(error: StoreError) -> WebError {
    match error {
        StoreError::InvalidInput(message) => WebError::BadRequest(message),
        StoreError::Conflict(message) => WebError::Conflict(message),
        StoreError::NotFound(message) => WebError::NotFound(message),
        other => other.into(),
    }
}

/// `POST /campaigns` (manager).
pub(crate) async fn create_campaign(
    State(app): State<AppState>,
    ctx: PageContext,
    Form(form): Form<CampaignForm>,
) -> Response {
    let new = match form.into_new() {
        Ok(new) => new,
        Err(error) => return ctx.error_page(error),
    };
    match app.web.store.create_campaign(new, app.now()).await {
        Ok(campaign) => Redirect::to(&format!("/campaigns/{}", campaign.id)).into_response(),
        Err(error) => ctx.error_page(store_refusal(error)),
    }
}

/// `POST /campaigns/{id}` (manager): the edit form.
pub(crate) async fn update_campaign(
    State(app): State<AppState>,
    ctx: PageContext,
    Path(id): Path<String>,
    Form(form): Form<CampaignForm>,
) -> Response {
    let result = async {
        let id = parse_id(&id)?;
        let new = form.into_new()?;
        app.web
            .store
            .update_campaign(id, new)
            .await
            .map_err(store_refusal)
    }
    .await;
    match result {
        Ok(campaign) => Redirect::to(&format!("/campaigns/{}", campaign.id)).into_response(),
        Err(error) => ctx.error_page(error),
    }
}

/// `POST /campaigns/{id}/delete` (manager): only a campaign without figures goes.
pub(crate) async fn delete_campaign(
    State(app): State<AppState>,
    ctx: PageContext,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = parse_id(&id)?;
        app.web
            .store
            .delete_campaign(id)
            .await
            .map_err(store_refusal)
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/campaigns").into_response(),
        Err(error) => ctx.error_page(error),
    }
}

/// A post a campaign serves, for its page.
pub struct CampaignPostView {
    pub id: i64,
    pub title: String,
    pub state: String,
    pub scheduled: String,
}

pub struct SpendView {
    pub amount: String,
    pub spent_on: String,
    pub note: String,
}

pub struct CampaignLinkView {
    pub short_url: String,
    pub target: String,
}

pub struct ConversionView {
    pub external_id: String,
    pub kind: String,
    pub value: String,
    pub via: String,
    pub occurred: String,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    t: Tr,
    layout: Layout,
    report: ReportView,
    spend: Vec<SpendView>,
    links: Vec<CampaignLinkView>,
    conversions: Vec<ConversionView>,
    posts: Vec<CampaignPostView>,
    can_edit: bool,
    csrf: String,
    today: String,
}

pub(crate) async fn campaign_page(
    State(app): State<AppState>,
    ctx: PageContext,
    Path(id): Path<String>,
) -> Response {
    let tr = ctx.tr();
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let store = app.web.store.as_ref();
    let report = match store.campaign_report(id).await {
        Ok(Some(report)) => report,
        Ok(None) => {
            return ctx.error_page(WebError::NotFound(format!("there is no campaign {id}")))
        }
        Err(error) => return ctx.error_page(error.into()),
    };
    let (spend, links, conversions) = match futures::try_join!(
        store.spend_entries(id),
        store.links(Some(id), 200),
        store.conversions(Some(id), 50)
    ) {
        Ok(all) => all,
        Err(error) => return ctx.error_page(error.into()),
    };
    let mut posts = Vec::with_capacity(report.campaign.post_ids.len());
    for post_id in &report.campaign.post_ids {
        match store.post(PostId(*post_id)).await {
            Ok(Some(detail)) => posts.push(CampaignPostView {
                id: *post_id,
                title: detail.post.title.clone(),
                state: detail.post.state.as_str().to_string(),
                scheduled: detail.post.scheduled_at.map(show_time).unwrap_or_default(),
            }),
            // A post id typed for a post that does not exist (or no longer does).
            Ok(None) => posts.push(CampaignPostView {
                id: *post_id,
                title: String::new(),
                state: "missing".into(),
                scheduled: String::new(),
            }),
            Err(error) => return ctx.error_page(error.into()),
        }
    }
    let base = base_url(&app);
    let page = CampaignPage {
        posts,
        t: tr,
        layout: ctx.layout(&report.campaign.name, "campaigns"),
        report: report_view(&report),
        spend: spend
            .iter()
            .map(|s| SpendView {
                amount: s.amount.to_string(),
                spent_on: s.spent_on.to_string(),
                note: s.note.clone(),
            })
            .collect(),
        links: links
            .iter()
            .map(|l| CampaignLinkView {
                short_url: format!("{base}/l/{}", l.code),
                target: l.target_url.clone(),
            })
            .collect(),
        conversions: conversions
            .iter()
            .map(|c| ConversionView {
                external_id: c.external_id.clone(),
                kind: c.kind.clone(),
                value: money_text(c.value, &c.currency),
                via: match (&c.link_code, &c.utm_campaign) {
                    (Some(code), _) => format!("/l/{code}"),
                    (None, Some(utm)) => format!("utm_campaign={utm}"),
                    (None, None) => String::new(),
                },
                occurred: show_time(c.occurred_at),
            })
            .collect(),
        can_edit: can_manage(&ctx),
        csrf: csrf_of(&ctx),
        today: app.now().date_naive().to_string(),
    };
    ctx.respond(StatusCode::OK, &page)
}

#[derive(Debug, Deserialize)]
pub struct SpendForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    spent_on: String,
    #[serde(default)]
    note: String,
}

/// `POST /campaigns/{id}/spend` (manager).
pub(crate) async fn add_spend(
    State(app): State<AppState>,
    ctx: PageContext,
    Path(id): Path<String>,
    Form(form): Form<SpendForm>,
) -> Response {
    let result = async {
        let id = parse_id(&id)?;
        let currency = parse_currency(&form.currency)?;
        let amount = Money::parse(&form.amount, currency)
            .map_err(|e| WebError::BadRequest(format!("amount: {e}")))?;
        let spent_on = match form.spent_on.trim() {
            "" => app.now().date_naive(),
            d => parse_date("spent_on", d)?,
        };
        app.web
            .store
            .add_spend(
                id,
                NewSpend {
                    amount,
                    spent_on,
                    note: form.note.trim().to_string(),
                },
                app.now(),
            )
            .await
            .map_err(store_refusal)?;
        Ok::<_, WebError>(id)
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/campaigns/{id}")).into_response(),
        Err(error) => ctx.error_page(error),
    }
}

/// `GET /campaigns/{id}/report.csv`.
pub(crate) async fn report_csv_download(
    State(app): State<AppState>,
    ctx: PageContext,
    Path(id): Path<String>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    let report = match app.web.store.campaign_report(id).await {
        Ok(Some(report)) => report,
        Ok(None) => {
            return ctx.error_page(WebError::NotFound(format!("there is no campaign {id}")))
        }
        Err(error) => return ctx.error_page(error.into()),
    };
    match report_csv(&report) {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"campaign-{id}-report.csv\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(error) => ctx.error_page(WebError::Internal(format!("CSV export failed: {error}"))),
    }
}

// ---- JSON ----

/// `GET /api/campaigns`.
#[utoipa::path(
    get,
    path = "/api/campaigns",
    tag = "campaigns",
    responses((status = 200, description = "`{\"campaigns\": [...]}`, newest start first", body = serde_json::Value))
)]
pub(crate) async fn api_campaigns(State(app): State<AppState>) -> Result<Response, ApiError> {
    let campaigns = app.web.store.campaigns().await?;
    Ok(Json(serde_json::json!({ "campaigns": campaigns })).into_response())
}

/// A campaign as `POST /api/campaigns` and `POST /api/campaigns/{id}` take it: money as typed
/// decimal text (`"500.00"`), never a float.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CampaignBody {
    pub name: String,
    /// Default: the name as a slug (`Spring Sale` → `spring-sale`).
    #[serde(default)]
    pub utm_campaign: Option<String>,
    /// `leads`, `sales`, `sign_ups`, `resolved_complaints` or `custom`.
    pub goal: String,
    /// The conversion kind a `custom` goal counts.
    #[serde(default)]
    pub custom_goal: Option<String>,
    #[serde(default)]
    pub target: Option<i64>,
    /// Decimal text in the currency's minor-unit precision, e.g. `"500.00"`.
    #[serde(default)]
    pub budget: Option<String>,
    /// ISO 4217; needed with a budget.
    #[serde(default)]
    pub currency: Option<String>,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    #[serde(default)]
    pub ends_on: Option<String>,
    #[serde(default)]
    pub post_ids: Vec<i64>,
}

impl CampaignBody {
    fn into_new(self) -> Result<NewCampaign, WebError> {
        CampaignForm {
            name: self.name,
            utm_campaign: self.utm_campaign.unwrap_or_default(),
            goal: self.goal,
            custom_goal: self.custom_goal.unwrap_or_default(),
            target: self.target.map(|t| t.to_string()).unwrap_or_default(),
            budget: self.budget.unwrap_or_default(),
            currency: self.currency.unwrap_or_default(),
            starts_on: self.starts_on,
            ends_on: self.ends_on.unwrap_or_default(),
            posts: self
                .post_ids
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        }
        .into_new()
    }
}

fn json_body<T>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, WebError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        WebError::BadRequest(format!("request body: {}", rejection.body_text()))
    })
}

#[utoipa::path(
    post,
    path = "/api/campaigns",
    tag = "campaigns",
    request_body = CampaignBody,
    responses(
        (status = 201, description = "The campaign", body = serde_json::Value),
        (status = 400, description = "A field is missing or malformed; the message names it", body = crate::error::ApiErrorBody),
        (status = 409, description = "Another campaign has this name or utm_campaign", body = crate::error::ApiErrorBody),
    )
)]
pub(crate) async fn api_create_campaign(
    State(app): State<AppState>,
    body: Result<Json<CampaignBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let new = json_body(body)?.into_new()?;
    let campaign = app
        .web
        .store
        .create_campaign(new, app.now())
        .await
        .map_err(store_refusal)?;
    Ok((StatusCode::CREATED, Json(campaign)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/campaigns/{id}",
    tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = CampaignBody,
    responses(
        (status = 200, description = "The campaign as changed (its posts replaced by `post_ids`)", body = serde_json::Value),
        (status = 400, description = "A field is missing or malformed", body = crate::error::ApiErrorBody),
        (status = 404, description = "No such campaign", body = crate::error::ApiErrorBody),
        (status = 409, description = "Another campaign has this name or utm_campaign", body = crate::error::ApiErrorBody),
    )
)]
pub(crate) async fn api_update_campaign(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<CampaignBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let new = json_body(body)?.into_new()?;
    let campaign = app
        .web
        .store
        .update_campaign(id, new)
        .await
        .map_err(store_refusal)?;
    Ok(Json(campaign).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/campaigns/{id}",
    tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such campaign", body = crate::error::ApiErrorBody),
        (status = 409, description = "The campaign holds spend, links or conversions; give it an end date instead", body = crate::error::ApiErrorBody),
    )
)]
pub(crate) async fn api_delete_campaign(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    app.web
        .store
        .delete_campaign(id)
        .await
        .map_err(store_refusal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/campaigns/{id}/report`.
#[utoipa::path(
    get,
    path = "/api/campaigns/{id}/report",
    tag = "campaigns",
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "Spend, clicks, conversions, cost per conversion and ROI per currency", body = serde_json::Value),
        (status = 404, description = "No such campaign", body = crate::error::ApiErrorBody),
    )
)]
pub(crate) async fn api_campaign_report(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    match app.web.store.campaign_report(id).await? {
        Some(report) => Ok(Json(report).into_response()),
        None => Err(WebError::NotFound(format!("there is no campaign {id}")).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate};
    use earshot_core::{CampaignFigures, ConversionTotal};

    #[test]
    fn the_csv_defuses_formulas_and_keeps_currencies_apart() {
        let campaign = Campaign {
            id: CampaignId(1),
            name: "=HYPERLINK(\"http://evil\")".into(),
            utm_campaign: "spring".into(),
            goal: Goal::Sales,
            custom_goal: None,
            target: Some(10),
            budget: None,
            starts_on: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
            ends_on: None,
            post_ids: vec![],
            created_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        let figures = CampaignFigures {
            clicks_human: 10,
            clicks_bot: 2,
            conversions: vec![ConversionTotal {
                currency: Currency::parse("USD").unwrap(),
                kind: "sale".into(),
                count: 2,
                value: 3_000,
            }],
            spend: vec![Money {
                minor: 1_000,
                currency: Currency::parse("EUR").unwrap(),
            }],
        };
        let csv =
            String::from_utf8(report_csv(&CampaignReport::compute(campaign, &figures)).unwrap())
                .unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(lines[1].starts_with("\"'=HYPERLINK("), "{csv}");
        assert!(lines[1].ends_with("EUR,10.00,,0,0.00,,-100.00"), "{csv}");
        assert!(lines[2].ends_with("USD,0.00,,2,30.00,0.00,"), "{csv}");
    }
}
