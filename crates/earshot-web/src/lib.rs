//! Earshot's web interface: server-rendered pages (mentions with live updates, sources,
//! brands) in English and Russian, and a read-only JSON API described by OpenAPI 3.1.
//!
//! The layer holds no SQL and no business rules: it reads through [`earshot_store::Store`],
//! shapes view models, and lets compile-time templates (askama, auto-escaping) lay them out.

mod api;
mod error;
mod i18n;
mod inbox;
mod live;
mod pages;
mod params;
mod view;

use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;

pub use api::ApiDoc;
pub use error::WebError;
pub use i18n::{Tr, UiLang};

/// What the handlers share. The CLI builds it; the configuration is behind a lock because
/// the CLI may reload it while the server runs.
#[derive(Clone)]
pub struct WebState {
    pub store: Arc<dyn earshot_store::Store>,
    pub config: Arc<RwLock<earshot_core::Config>>,
    pub workspace: PathBuf,
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
    /// The last slow answer of `Store::stats`, with when it was taken.
    stats_cache: Arc<std::sync::Mutex<Option<(std::time::Instant, earshot_store::StoreStats)>>>,
    /// The newest conversation event seen, with when: where new inbox streams start.
    inbox_newest: Arc<std::sync::Mutex<Option<(std::time::Instant, i64)>>>,
}

/// Counting a million mentions per brand, language and source takes about a second; pages
/// that only need the counts for their filter menus reuse such a slow answer this long.
const SLOW_STATS_REUSED_FOR: std::time::Duration = std::time::Duration::from_secs(30);
const SLOW_STATS: std::time::Duration = std::time::Duration::from_millis(200);

impl AppState {
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
    build(state, CancellationToken::new())
}

/// Serve until `shutdown` completes, then finish the requests in flight and close the live
/// streams.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = CancellationToken::new();
    let app = build(state, token.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            token.cancel();
        })
        .await
}

/// Scripts and styles only from this server, nothing inline, no frames, forms post home.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn build(state: WebState, shutdown: CancellationToken) -> Router {
    let app = AppState {
        web: state,
        shutdown,
        stats_cache: Arc::default(),
        inbox_newest: Arc::default(),
    };
    Router::new()
        .route("/", get(pages::index))
        .route("/mentions", get(pages::mentions))
        .route("/mentions/stream", get(live::stream))
        .route("/mentions/{id}", get(pages::mention))
        .route("/sources", get(pages::sources))
        .route("/brands", get(pages::brands))
        .route("/inbox", get(inbox::pages::inbox))
        .route("/inbox/stream", get(inbox::live::stream))
        .route("/inbox/views", post(inbox::pages::save_view))
        .route("/inbox/views/{id}/delete", post(inbox::pages::delete_view))
        .route("/inbox/feedback", get(inbox::pages::feedback))
        .route("/inbox/feedback.csv", get(inbox::pages::feedback_csv))
        .route("/inbox/metrics", get(inbox::pages::metrics))
        .route("/inbox/{id}", get(inbox::pages::conversation))
        .route("/inbox/{id}/assign", post(inbox::pages::assign))
        .route("/inbox/{id}/state", post(inbox::pages::set_state))
        .route("/inbox/{id}/priority", post(inbox::pages::set_priority))
        .route("/inbox/{id}/tags", post(inbox::pages::tags))
        .route("/inbox/{id}/notes", post(inbox::pages::note))
        .route("/inbox/{id}/replies", post(inbox::pages::reply))
        .route("/inbox/{id}/elsewhere", post(inbox::pages::answered_elsewhere))
        .route("/inbox/{id}/feedback", post(inbox::pages::send_to_product))
        .route("/assets/app.js", get(app_js))
        .route("/assets/style.css", get(style_css))
        .route("/api/mentions", get(api::list_mentions))
        .route("/api/mentions/{id}", get(api::get_mention))
        .route("/api/sources", get(api::list_sources))
        .route("/api/brands", get(api::list_brands))
        .route("/api/stats", get(api::stats))
        .route("/api/conversations", get(inbox::api::list))
        .route("/api/conversations/{id}", get(inbox::api::get))
        .route("/api/conversations/{id}/assign", post(inbox::api::assign))
        .route("/api/conversations/{id}/state", post(inbox::api::set_state))
        .route("/api/conversations/{id}/priority", post(inbox::api::set_priority))
        .route("/api/conversations/{id}/tags", post(inbox::api::tags))
        .route("/api/conversations/{id}/notes", post(inbox::api::add_note))
        .route("/api/conversations/{id}/replies", post(inbox::api::reply))
        .route("/api/conversations/{id}/feedback", post(inbox::api::feedback))
        .route("/api/metrics/inbox", get(inbox::api::metrics))
        .route("/api/openapi.json", get(api::openapi))
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
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
}

async fn app_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../assets/app.js"),
    )
}

async fn style_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../assets/style.css"),
    )
}
