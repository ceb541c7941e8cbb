//! Earshot's web interface: server-rendered pages (mentions with live updates, sources,
//! brands) in English and Russian, and a read-only JSON API described by OpenAPI 3.1.
//!
//! The layer holds no SQL and no business rules: it reads through [`earshot_store::Store`],
//! shapes view models, and lets compile-time templates (askama, auto-escaping) lay them out.

mod api;
pub mod auth;
mod campaigns;
mod error;
mod i18n;
mod inbox;
pub mod links;
mod live;
mod login;
mod pages;
mod params;
mod publishing;
mod routes;
mod view;

use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use axum::Router;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;

pub use api::ApiDoc;
pub use campaigns::report_csv;
pub use error::WebError;
pub use i18n::{Tr, UiLang};
pub use routes::{route_table, Access, RouteInfo};

/// What the handlers share. The CLI builds it; the configuration is behind a lock because
/// the CLI may reload it while the server runs.
#[derive(Clone)]
pub struct WebState {
    pub store: Arc<dyn earshot_store::Store>,
    pub config: Arc<RwLock<earshot_core::Config>>,
    pub workspace: PathBuf,
    /// The routing rules the server's ingest routes by, when it ingests (`earshot serve`
    /// polling its sources): the rules editor swaps its saved rules in here, so they apply
    /// from the next batch without a restart. `None`: the editor only writes earshot.toml
    /// (every later `earshot fetch`/`import` reads it).
    pub live_rules: Option<Arc<earshot_engine::inbox::LiveRules>>,
    /// The models the pre-publish policy check scores posts with.
    pub analyzer: Arc<earshot_analysis::Analyzer>,
}

impl WebState {
    /// The configuration for reading. A writer that panicked leaves the last complete
    /// configuration in place, which is still the best one to show.
    fn config(&self) -> RwLockReadGuard<'_, earshot_core::Config> {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Clone)]
pub(crate) struct AppState {
    web: WebState,
    /// Cancelled when the server shuts down; ends the open live-update streams.
    shutdown: CancellationToken,
    /// The time now; tests replace it to move through expiry and throttling windows.
    clock: Clock,
    /// The last slow answer of `Store::stats`, with when it was taken.
    stats_cache: Arc<std::sync::Mutex<Option<(std::time::Instant, earshot_store::StoreStats)>>>,
    /// The newest conversation event seen, with when: where new inbox streams start.
    inbox_newest: Arc<std::sync::Mutex<Option<(std::time::Instant, i64)>>>,
    /// Held from reading earshot.toml to renaming the new file, so two saves of the rules
    /// editor cannot both pass the version check and one silently undo the other.
    rules_edit: Arc<tokio::sync::Mutex<()>>,
    /// Clicks on `/l/{code}`, counted as `[links] click_counting` says.
    clicks: Arc<links::ClickRecorder>,
}

/// Counting a million mentions per brand, language and source takes about a second; pages
/// that only need the counts for their filter menus reuse such a slow answer this long.
const SLOW_STATS_REUSED_FOR: std::time::Duration = std::time::Duration::from_secs(30);
const SLOW_STATS: std::time::Duration = std::time::Duration::from_millis(200);

/// Where the server reads the time (sessions, throttling, invites).
pub type Clock = Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

fn system_clock() -> Clock {
    Arc::new(chrono::Utc::now)
}

impl AppState {
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.clock)()
    }

    /// Store counts for the filter menus and the live stream's starting point: fresh when
    /// counting is fast (small stores), reused for a while when it is slow.
    pub(crate) async fn menu_stats(&self) -> earshot_store::StoreResult<earshot_store::StoreStats> {
        if let Ok(cache) = self.stats_cache.lock() {
            if let Some((taken, stats)) = cache.as_ref() {
                if taken.elapsed() < SLOW_STATS_REUSED_FOR {
                    return Ok(stats.clone());
                }
            }
        }
        let started = std::time::Instant::now();
        let stats = self.web.store.stats().await?;
        if started.elapsed() >= SLOW_STATS {
            if let Ok(mut cache) = self.stats_cache.lock() {
                *cache = Some((std::time::Instant::now(), stats.clone()));
            }
        }
        Ok(stats)
    }
}

/// The application without a shutdown signal (for tests and embedding).
pub fn router(state: WebState) -> Router {
    build(state, CancellationToken::new(), system_clock()).0
}

/// The application reading the time from `clock` (tests of expiry and throttling).
pub fn router_with_clock(state: WebState, clock: Clock) -> Router {
    build(state, CancellationToken::new(), clock).0
}

/// Serve until `shutdown` completes, then finish the requests in flight and close the live
/// streams.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = CancellationToken::new();
    let store = state.store.clone();
    let (app, clicks) = build(state, token.clone(), system_clock());
    // Batched click counts are written once a second, and once more after the last request.
    let flusher = {
        let clicks = clicks.clone();
        let store = store.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(links::CLICK_FLUSH_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = token.cancelled() => break,
                }
                if let Err(error) = clicks.flush(store.as_ref()).await {
                    tracing::warn!("writing click counts failed (kept for the next try): {error}");
                }
            }
        })
    };
    // The peer address feeds sign-in throttling per address.
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown({
        let token = token.clone();
        async move {
            shutdown.await;
            token.cancel();
        }
    })
    .await;
    token.cancel();
    let _ = flusher.await;
    if let Err(error) = clicks.flush(store.as_ref()).await {
        tracing::error!("writing the last click counts at shutdown failed: {error}");
    }
    served
}

/// Scripts and styles only from this server, nothing inline, no frames, forms post home.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn build(
    state: WebState,
    shutdown: CancellationToken,
    clock: Clock,
) -> (Router, Arc<links::ClickRecorder>) {
    let clicks = Arc::new(links::ClickRecorder::new(
        state.config().links.click_counting,
    ));
    let app = AppState {
        clicks: clicks.clone(),
        web: state,
        shutdown,
        clock,
        stats_cache: Arc::default(),
        inbox_newest: Arc::default(),
        rules_edit: Arc::default(),
    };
    // Every route comes from the table, each behind the guard with its own access rule.
    let mut router = Router::new();
    for route in routes::table() {
        let guard = auth::Guard {
            app: app.clone(),
            access: route.info.access,
            api: route.info.is_api(),
        };
        router = router.route(
            route.info.path,
            route
                .handler
                .layer(axum::middleware::from_fn_with_state(guard, auth::guard)),
        );
    }
    let router = router
        .fallback(pages::not_found)
        .with_state(app)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null`
        // with form posts, and the CSRF origin check needs the real origin. Other sites still
        // learn nothing from links they are sent to.
        // Only where a handler set none: the short-link redirect sets its own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ));
    (router, clicks)
}

pub(crate) async fn app_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../assets/app.js"),
    )
}

pub(crate) async fn style_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../assets/style.css"),
    )
}
