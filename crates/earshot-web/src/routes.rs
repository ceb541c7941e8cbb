//! THE route table: every route with its method, path and who may use it. The router is
//! built from it and nothing else, so a route cannot exist without an access rule, and the
//! table-driven security test walks the same list.
//!
//! To add a route: one line in [`table`], with the least role that may use it (see
//! docs/SECURITY.md for what each role may do) or [`Access::Public`].

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use earshot_core::Role;

use crate::{api, campaigns, inbox, links, live, login, pages, publishing, AppState};

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not: the login and invite pages, assets, health.
    Public,
    /// Signed-in users (or, under `/api`, bearer tokens) with at least this role.
    Min(Role),
}

/// A route as the table declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

impl RouteInfo {
    /// API routes answer in JSON and accept bearer tokens; the rest are pages.
    pub fn is_api(&self) -> bool {
        is_api_path(self.path)
    }
}

pub(crate) fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

pub(crate) struct Route {
    pub info: RouteInfo,
    pub handler: MethodRouter<AppState>,
}

fn route<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone())
        .unwrap_or_else(|_| panic!("route table: method {method} cannot be routed"));
    Route {
        info: RouteInfo {
            method,
            path,
            access,
        },
        handler: on(filter, handler),
    }
}

const VIEWER: Access = Access::Min(Role::Viewer);
/// Triage, replies, notes and tags; assigning to someone else needs a manager (checked in
/// the handler, since "assign to me" and "assign to Anna" share the route).
const AGENT: Access = Access::Min(Role::Agent);
const MANAGER: Access = Access::Min(Role::Manager);
const PUBLIC: Access = Access::Public;

pub(crate) fn table() -> Vec<Route> {
    use Method as M;
    vec![
        // Signing in and out.
        route(M::GET, "/login", PUBLIC, login::login_page),
        route(M::POST, "/login", PUBLIC, login::login_submit),
        route(M::POST, "/logout", VIEWER, login::logout),
        route(M::GET, "/invite/{token}", PUBLIC, login::invite_page),
        route(M::POST, "/invite/{token}", PUBLIC, login::invite_submit),
        route(M::GET, "/healthz", PUBLIC, login::health),
        route(M::GET, "/assets/app.js", PUBLIC, crate::app_js),
        route(M::GET, "/assets/style.css", PUBLIC, crate::style_css),
        // Pages.
        route(M::GET, "/", VIEWER, pages::index),
        route(M::GET, "/mentions", VIEWER, pages::mentions),
        route(M::GET, "/mentions/stream", VIEWER, live::stream),
        route(M::GET, "/mentions/{id}", VIEWER, pages::mention),
        route(M::GET, "/sources", VIEWER, pages::sources),
        route(M::GET, "/brands", VIEWER, pages::brands),
        // The inbox.
        route(M::GET, "/inbox", VIEWER, inbox::pages::inbox),
        route(M::GET, "/inbox/stream", VIEWER, inbox::live::stream),
        route(M::POST, "/inbox/views", VIEWER, inbox::pages::save_view),
        route(
            M::POST,
            "/inbox/views/{id}/delete",
            VIEWER,
            inbox::pages::delete_view,
        ),
        route(M::GET, "/inbox/feedback", VIEWER, inbox::pages::feedback),
        route(
            M::GET,
            "/inbox/feedback.csv",
            VIEWER,
            inbox::pages::feedback_csv,
        ),
        route(M::GET, "/inbox/metrics", MANAGER, inbox::pages::metrics),
        // Routing rules: everyone may read why conversations land where they do; managers
        // edit them (the change applies to every team).
        route(M::GET, "/inbox/rules", VIEWER, inbox::rules::rules),
        route(M::POST, "/inbox/rules", MANAGER, inbox::rules::save_rule),
        route(M::GET, "/inbox/rules/new", MANAGER, inbox::rules::new_rule),
        route(
            M::GET,
            "/inbox/rules/{rule}/edit",
            MANAGER,
            inbox::rules::edit_rule,
        ),
        route(
            M::POST,
            "/inbox/rules/{rule}/delete",
            MANAGER,
            inbox::rules::delete_rule,
        ),
        route(
            M::POST,
            "/inbox/rules/{rule}/move",
            MANAGER,
            inbox::rules::move_rule,
        ),
        route(M::GET, "/inbox/{id}", VIEWER, inbox::pages::conversation),
        route(M::POST, "/inbox/{id}/assign", AGENT, inbox::pages::assign),
        route(M::POST, "/inbox/{id}/team", AGENT, inbox::pages::set_team),
        route(
            M::POST,
            "/inbox/{id}/corrections",
            AGENT,
            inbox::pages::correct,
        ),
        route(M::POST, "/inbox/{id}/state", AGENT, inbox::pages::set_state),
        route(
            M::POST,
            "/inbox/{id}/priority",
            AGENT,
            inbox::pages::set_priority,
        ),
        route(M::POST, "/inbox/{id}/tags", AGENT, inbox::pages::tags),
        route(M::POST, "/inbox/{id}/notes", AGENT, inbox::pages::note),
        route(M::POST, "/inbox/{id}/replies", AGENT, inbox::pages::reply),
        route(
            M::POST,
            "/inbox/{id}/replies/{reply}/retry",
            AGENT,
            inbox::pages::retry_reply,
        ),
        route(
            M::POST,
            "/inbox/{id}/elsewhere",
            AGENT,
            inbox::pages::answered_elsewhere,
        ),
        route(
            M::POST,
            "/inbox/{id}/feedback",
            AGENT,
            inbox::pages::send_to_product,
        ),
        // Publishing: accounts, posts, the calendar (the workflow checks who may do what).
        route(M::GET, "/accounts", VIEWER, publishing::pages::accounts),
        route(M::GET, "/accounts/{id}", VIEWER, publishing::pages::account),
        route(M::GET, "/posts", VIEWER, publishing::pages::posts),
        route(M::POST, "/posts", AGENT, publishing::pages::create_post),
        route(M::GET, "/posts/new", AGENT, publishing::pages::new_post),
        route(M::GET, "/posts/{id}", VIEWER, publishing::pages::post),
        route(
            M::POST,
            "/posts/{id}",
            AGENT,
            publishing::pages::update_post,
        ),
        route(
            M::POST,
            "/posts/{id}/action",
            AGENT,
            publishing::pages::post_action,
        ),
        route(
            M::POST,
            "/posts/{id}/campaign",
            MANAGER,
            publishing::pages::set_post_campaign,
        ),
        route(M::GET, "/calendar", VIEWER, publishing::pages::calendar),
        // Tracked links: the public redirect, and conversions signed with the workspace's
        // secret (HMAC, checked by the handler: no session or token is involved).
        route(M::GET, "/l/{code}", PUBLIC, links::redirect),
        route(
            M::POST,
            "/api/conversions",
            PUBLIC,
            links::record_conversion,
        ),
        route(M::GET, "/links", VIEWER, links::links_page),
        route(M::POST, "/links", MANAGER, links::create_link),
        // Campaigns: everyone reads, managers plan and record spend.
        route(M::GET, "/campaigns", VIEWER, campaigns::campaigns_page),
        route(M::POST, "/campaigns", MANAGER, campaigns::create_campaign),
        route(
            M::GET,
            "/campaigns/new",
            MANAGER,
            campaigns::new_campaign_page,
        ),
        route(M::GET, "/campaigns/{id}", VIEWER, campaigns::campaign_page),
        route(
            M::POST,
            "/campaigns/{id}",
            MANAGER,
            campaigns::update_campaign,
        ),
        route(
            M::GET,
            "/campaigns/{id}/edit",
            MANAGER,
            campaigns::edit_campaign_page,
        ),
        route(
            M::POST,
            "/campaigns/{id}/delete",
            MANAGER,
            campaigns::delete_campaign,
        ),
        route(
            M::POST,
            "/campaigns/{id}/spend",
            MANAGER,
            campaigns::add_spend,
        ),
        route(
            M::GET,
            "/campaigns/{id}/report.csv",
            VIEWER,
            campaigns::report_csv_download,
        ),
        // JSON API.
        route(M::GET, "/api/accounts", VIEWER, publishing::api::accounts),
        route(M::GET, "/api/posts", VIEWER, publishing::api::list),
        route(M::POST, "/api/posts", AGENT, publishing::api::create),
        route(M::GET, "/api/posts/{id}", VIEWER, publishing::api::get),
        route(M::POST, "/api/posts/{id}", AGENT, publishing::api::update),
        route(
            M::POST,
            "/api/posts/{id}/transition",
            AGENT,
            publishing::api::transition,
        ),
        route(
            M::POST,
            "/api/posts/{id}/campaign",
            MANAGER,
            publishing::api::set_campaign,
        ),
        route(
            M::GET,
            "/api/posts/{id}/links",
            VIEWER,
            publishing::api::links,
        ),
        route(M::GET, "/api/mentions", VIEWER, api::list_mentions),
        route(M::GET, "/api/mentions/{id}", VIEWER, api::get_mention),
        route(
            M::POST,
            "/api/mentions/{id}/corrections",
            AGENT,
            api::correct_mention,
        ),
        route(M::GET, "/api/sources", VIEWER, api::list_sources),
        route(M::GET, "/api/brands", VIEWER, api::list_brands),
        route(M::GET, "/api/stats", VIEWER, api::stats),
        route(M::GET, "/api/openapi.json", VIEWER, api::openapi),
        route(M::GET, "/api/conversations", VIEWER, inbox::api::list),
        route(M::GET, "/api/conversations/{id}", VIEWER, inbox::api::get),
        route(
            M::POST,
            "/api/conversations/{id}/assign",
            AGENT,
            inbox::api::assign,
        ),
        route(
            M::POST,
            "/api/conversations/{id}/team",
            AGENT,
            inbox::api::set_team,
        ),
        route(
            M::POST,
            "/api/conversations/{id}/state",
            AGENT,
            inbox::api::set_state,
        ),
        route(
            M::POST,
            "/api/conversations/{id}/priority",
            AGENT,
            inbox::api::set_priority,
        ),
        route(
            M::POST,
            "/api/conversations/{id}/tags",
            AGENT,
            inbox::api::tags,
        ),
        route(
            M::POST,
            "/api/conversations/{id}/notes",
            AGENT,
            inbox::api::add_note,
        ),
        route(
            M::POST,
            "/api/conversations/{id}/replies",
            AGENT,
            inbox::api::reply,
        ),
        route(
            M::POST,
            "/api/conversations/{id}/feedback",
            AGENT,
            inbox::api::feedback,
        ),
        route(M::GET, "/api/metrics/inbox", MANAGER, inbox::api::metrics),
        route(M::GET, "/api/links", VIEWER, links::api_links),
        route(M::GET, "/api/campaigns", VIEWER, campaigns::api_campaigns),
        route(
            M::POST,
            "/api/campaigns",
            MANAGER,
            campaigns::api_create_campaign,
        ),
        route(
            M::POST,
            "/api/campaigns/{id}",
            MANAGER,
            campaigns::api_update_campaign,
        ),
        route(
            M::DELETE,
            "/api/campaigns/{id}",
            MANAGER,
            campaigns::api_delete_campaign,
        ),
        route(
            M::GET,
            "/api/campaigns/{id}/report",
            VIEWER,
            campaigns::api_campaign_report,
        ),
    ]
}

/// Every route the server answers, with its access rule (for tests and documentation).
pub fn route_table() -> Vec<RouteInfo> {
    table().into_iter().map(|r| r.info).collect()
}
