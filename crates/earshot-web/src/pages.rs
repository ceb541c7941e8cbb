//! Server-rendered pages. Handlers gather data and build view models; templates lay out.

use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use earshot_core::MentionId;
use earshot_store::StoreStats;

use crate::auth::SignedIn;
use crate::error::WebError;
use crate::i18n::{self, Negotiated, Tr};
use crate::params::{LangParam, MentionParams, RawFilters};
use crate::view::{
    collect_brands, collect_sources, select_options, BrandInfo, Layout, MentionCard, MentionDetail,
    SelectOption, SourceRow,
};
use crate::{live, AppState};

/// Mentions per page in the browser.
const PAGE_SIZE: usize = 50;

/// What every page handler needs from the request: the interface language and where it is.
pub struct PageContext {
    pub negotiated: Negotiated,
    pub path: String,
    pub query: Option<String>,
    /// Set by the route guard when someone is signed in.
    pub signed_in: Option<SignedIn>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PageContext::from_parts(parts))
    }
}

impl PageContext {
    pub fn from_parts(parts: &Parts) -> Self {
        PageContext {
            negotiated: i18n::negotiate(parts.uri.query(), &parts.headers),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            signed_in: parts.extensions.get::<SignedIn>().cloned(),
        }
    }

    pub fn tr(&self) -> Tr {
        Tr::new(self.negotiated.lang)
    }

    pub(crate) fn layout(&self, title: &str, active: &'static str) -> Layout {
        let layout = Layout::new(
            self.tr(),
            title.to_string(),
            active,
            &self.path,
            self.query.as_deref(),
        );
        match &self.signed_in {
            Some(signed_in) => layout.with_user(signed_in),
            None => layout,
        }
    }

    /// Render a page; remembers a `?lang=` choice in a cookie.
    pub(crate) fn respond(&self, status: StatusCode, page: &impl Template) -> Response {
        match page.render() {
            Ok(html) => {
                let mut response = (
                    status,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    html,
                )
                    .into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::VARY,
                    HeaderValue::from_static("Cookie, Accept-Language"),
                );
                if self.negotiated.remember {
                    headers.insert(
                        header::SET_COOKIE,
                        i18n::remember_cookie(self.negotiated.lang),
                    );
                }
                response
            }
            Err(error) => self.error_page(WebError::Render(error)),
        }
    }

    pub fn error_page(&self, error: WebError) -> Response {
        error.log();
        let tr = self.tr();
        let heading = match error.status() {
            StatusCode::NOT_FOUND => tr.t("error.not_found"),
            StatusCode::BAD_REQUEST => tr.t("error.bad_request"),
            StatusCode::FORBIDDEN => tr.t("error.forbidden"),
            _ => tr.t("error.title"),
        };
        let message = match &error {
            WebError::Store(_) | WebError::Render(_) | WebError::Internal(_) => {
                tr.t("error.internal").to_string()
            }
            other => other.public_message(),
        };
        let page = ErrorPage {
            t: tr,
            layout: self.layout(tr.t("error.title"), ""),
            heading,
            message,
        };
        match page.render() {
            Ok(html) => (
                error.status(),
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            // The error page itself failed: plain text is all that is left.
            Err(_) => (error.status(), error.public_message()).into_response(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: Tr,
    layout: Layout,
    heading: &'static str,
    message: String,
}

/// `/` → `/mentions`, keeping the query (so `/?lang=ru` still switches language).
pub async fn index(uri: Uri) -> Redirect {
    match uri.query() {
        Some(q) => Redirect::to(&format!("/mentions?{q}")),
        None => Redirect::to("/mentions"),
    }
}

/// The search form's current values.
pub struct FormView {
    pub q: String,
    pub since: String,
    pub until: String,
    pub sort_relevance: bool,
    pub hide_duplicates: bool,
    pub brands: Vec<SelectOption>,
    pub languages: Vec<SelectOption>,
    pub sources: Vec<SelectOption>,
}

#[derive(Template)]
#[template(path = "mentions.html")]
struct MentionsPage {
    t: Tr,
    layout: Layout,
    form: FormView,
    error: Option<String>,
    error_title: &'static str,
    mentions: Vec<MentionCard>,
    next_href: Option<String>,
    first_href: String,
    stream_url: Option<String>,
}

pub async fn mentions(State(app): State<AppState>, ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let raw = RawFilters::from_query(ctx.query.as_deref(), LangParam::Page);
    let stats = match app.menu_stats().await {
        Ok(stats) => stats,
        Err(error) => return ctx.error_page(error.into()),
    };
    let form = form_view(&app, &raw, &stats);
    let first_href = page_href(&raw, None);
    let mut page = MentionsPage {
        t: tr,
        layout: ctx.layout(tr.t("mentions.title"), "mentions"),
        form,
        error: None,
        error_title: tr.t("mentions.bad_filter"),
        mentions: Vec::new(),
        next_href: None,
        first_href,
        stream_url: None,
    };
    let params = match MentionParams::parse(&raw) {
        Ok(params) => params,
        Err(error) => return bad_filters(&ctx, page, &raw, error),
    };
    // Taken before the search, so a mention stored in between shows up at least once
    // (the script skips one it already has) rather than not at all.
    let newest_id = if params.cursor.is_none() {
        match live::newest_id(app.web.store.as_ref(), &stats).await {
            Ok(id) => Some(id),
            Err(error) => return ctx.error_page(error.into()),
        }
    } else {
        None
    };
    let result = app
        .web
        .store
        .search(
            &params.filter,
            params.sort,
            params.cursor.as_deref(),
            PAGE_SIZE,
        )
        .await;
    let found = match result {
        Ok(found) => found,
        Err(error) => return bad_filters(&ctx, page, &raw, error.into()),
    };
    page.mentions = found.mentions.iter().map(MentionCard::new).collect();
    page.next_href = found
        .next_cursor
        .as_deref()
        .map(|cursor| page_href(&raw, Some(cursor)));
    page.stream_url = newest_id.map(|id| live::stream_href(&raw, id, tr.lang));
    ctx.respond(StatusCode::OK, &page)
}

/// The page with the problem instead of results: status 400 for what the caller sent,
/// the error page for what failed on the server.
fn bad_filters(
    ctx: &PageContext,
    mut page: MentionsPage,
    raw: &RawFilters,
    error: WebError,
) -> Response {
    if error.status() != StatusCode::BAD_REQUEST {
        return ctx.error_page(error);
    }
    if raw.q.is_some() && error.public_message().starts_with("parameter `q`") {
        page.error_title = page.t.t("mentions.bad_query");
    }
    page.error = Some(error.public_message());
    ctx.respond(StatusCode::BAD_REQUEST, &page)
}

fn form_view(app: &AppState, raw: &RawFilters, stats: &StoreStats) -> FormView {
    let config = app.web.config();
    let brands = config.brands.iter().map(|b| b.name.clone()).collect();
    let mut languages: Vec<String> = stats.per_lang.iter().map(|(l, _)| l.clone()).collect();
    languages.extend(config.languages.iter().cloned());
    let mut sources: Vec<String> = stats.per_source.iter().map(|(s, _)| s.clone()).collect();
    sources.extend(config.sources.iter().map(|s| s.name.clone()));
    FormView {
        q: raw.q.clone().unwrap_or_default(),
        since: raw.since.clone().unwrap_or_default(),
        until: raw.until.clone().unwrap_or_default(),
        sort_relevance: raw.sort.as_deref() == Some("relevance"),
        hide_duplicates: raw
            .hide_duplicates
            .as_deref()
            .is_some_and(|v| !matches!(v, "0" | "false" | "off" | "no")),
        brands: select_options(brands, raw.brand.as_deref()),
        languages: select_options(languages, raw.lang.as_deref()),
        sources: select_options(sources, raw.source.as_deref()),
    }
}

fn page_href(raw: &RawFilters, cursor: Option<&str>) -> String {
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    qs.extend_pairs(raw.filter_pairs(LangParam::Page));
    if let Some(cursor) = cursor {
        qs.append_pair("cursor", cursor);
    }
    let qs = qs.finish();
    if qs.is_empty() {
        "/mentions".into()
    } else {
        format!("/mentions?{qs}")
    }
}

#[derive(Template)]
#[template(path = "mention.html")]
struct MentionPage {
    t: Tr,
    layout: Layout,
    d: MentionDetail,
}

pub async fn mention(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ctx: PageContext,
) -> Response {
    let tr = ctx.tr();
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(error) => return ctx.error_page(error),
    };
    match app.web.store.get(id).await {
        Ok(Some(m)) => {
            let page = MentionPage {
                t: tr,
                layout: ctx.layout(&format!("{} #{}", tr.t("mention.title"), id), "mentions"),
                d: MentionDetail::new(&m),
            };
            ctx.respond(StatusCode::OK, &page)
        }
        Ok(None) => ctx.error_page(WebError::NotFound(format!("no mention #{id}"))),
        Err(error) => ctx.error_page(error.into()),
    }
}

pub(crate) fn parse_id(raw: &str) -> Result<MentionId, WebError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(MentionId)
        .ok_or_else(|| {
            WebError::BadRequest(format!("mention id {raw:?} is not a positive whole number"))
        })
}

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    t: Tr,
    layout: Layout,
    rows: Vec<SourceRow>,
}

pub async fn sources(State(app): State<AppState>, ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let states = match app.web.store.source_states().await {
        Ok(states) => states,
        Err(error) => return ctx.error_page(error.into()),
    };
    let rows = collect_sources(&app.web.config(), &states)
        .into_iter()
        .map(SourceRow::new)
        .collect();
    let page = SourcesPage {
        t: tr,
        layout: ctx.layout(tr.t("sources.title"), "sources"),
        rows,
    };
    ctx.respond(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "brands.html")]
struct BrandsPage {
    t: Tr,
    layout: Layout,
    ours: Vec<BrandInfo>,
    competitors: Vec<BrandInfo>,
}

pub async fn brands(State(app): State<AppState>, ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let (competitors, ours) = collect_brands(&app.web.config())
        .into_iter()
        .partition(|b| b.competitor);
    let page = BrandsPage {
        t: tr,
        layout: ctx.layout(tr.t("brands.title"), "brands"),
        ours,
        competitors,
    };
    ctx.respond(StatusCode::OK, &page)
}

/// Unknown paths: JSON under `/api`, a page elsewhere.
pub async fn not_found(ctx: PageContext) -> Response {
    let error = WebError::NotFound(format!("no page at {}", ctx.path));
    if ctx.path == "/api" || ctx.path.starts_with("/api/") {
        return crate::error::ApiError(error).into_response();
    }
    ctx.error_page(error)
}
