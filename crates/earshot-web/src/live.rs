//! Live updates: `/mentions/stream` is a server-sent-events stream of new mentions that pass
//! the page's filters, each one an escaped HTML fragment rendered by the same template as
//! the page. It polls the store rather than listening to this process, so mentions written
//! by another process (`earshot fetch`, `earshot import`) appear too.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use earshot_core::MentionId;
use earshot_store::{Store, StoreError, StoreStats};
use futures::StreamExt;

use crate::i18n::{Tr, UiLang};
use crate::pages::PageContext;
use crate::params::{LangParam, MentionParams, RawFilters};
use crate::view::MentionCard;
use crate::AppState;

const POLL_EVERY: Duration = Duration::from_secs(1);
/// Mentions read per poll; a burst bigger than this drains over the next polls.
const POLL_BATCH: usize = 200;
const SCAN_BATCH: usize = 1000;

#[derive(Template)]
#[template(path = "card_fragment.html")]
struct CardFragment {
    t: Tr,
    m: MentionCard,
}

/// The highest mention id stored now. The store has no direct query for it, so scan forward
/// from a point known to be below it: ids are distinct positive numbers, so the largest is
/// at least the number of stored mentions (`stats.mentions` counts at most all of them), and
/// the scan reads only the few ids above that.
pub(crate) async fn newest_id(
    store: &dyn Store,
    stats: &StoreStats,
) -> Result<MentionId, StoreError> {
    let count = i64::try_from(stats.mentions).unwrap_or(i64::MAX);
    let mut newest = MentionId(count.saturating_sub(1).max(0));
    loop {
        let batch = store.since_id(newest, SCAN_BATCH).await?;
        match batch.last() {
            Some(last) => newest = last.id,
            None => break,
        }
        if batch.len() < SCAN_BATCH {
            break;
        }
    }
    Ok(newest)
}

/// The stream's URL for a page showing `raw`'s filters, starting after `newest`.
pub(crate) fn stream_href(raw: &RawFilters, newest: MentionId, lang: UiLang) -> String {
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    qs.append_pair("after", &newest.0.to_string());
    qs.extend_pairs(raw.filter_pairs(LangParam::Page));
    qs.append_pair(crate::i18n::UI_LANG_PARAM, lang.code());
    format!("/mentions/stream?{}", qs.finish())
}

struct Poller {
    app: AppState,
    params: MentionParams,
    tr: Tr,
    after: MentionId,
    ticker: tokio::time::Interval,
}

impl Poller {
    async fn next_events(mut self) -> (Vec<Result<Event, Infallible>>, Self) {
        self.ticker.tick().await;
        let batch = match self.app.web.store.since_id(self.after, POLL_BATCH).await {
            Ok(batch) => batch,
            Err(error) => {
                // A locked or briefly unavailable database: try again on the next tick.
                tracing::warn!("live updates: reading new mentions failed: {error}");
                return (Vec::new(), self);
            }
        };
        let mut events = Vec::new();
        for mention in &batch {
            self.after = self.after.max(mention.id);
            if !self.params.admits(mention) {
                continue;
            }
            let fragment = CardFragment {
                t: self.tr,
                m: MentionCard::new(mention),
            };
            match fragment.render() {
                Ok(html) => events.push(Ok(mention_event(mention.id, &html))),
                Err(error) => tracing::error!("live updates: rendering #{}: {error}", mention.id),
            }
        }
        (events, self)
    }
}

/// One `mention` event. SSE cannot carry a bare carriage return (axum refuses it), and a
/// mention's text may hold one, so it travels as a character reference, which the browser
/// reads back as the same character.
fn mention_event(id: MentionId, html: &str) -> Event {
    Event::default()
        .event("mention")
        .id(id.0.to_string())
        .data(html.trim().replace('\r', "&#13;"))
}

pub async fn stream(State(app): State<AppState>, ctx: PageContext, headers: HeaderMap) -> Response {
    let raw = RawFilters::from_query(ctx.query.as_deref(), LangParam::Page);
    let params = match MentionParams::parse(&raw) {
        Ok(params) => params,
        Err(error) => return (error.status(), error.public_message()).into_response(),
    };
    let requested = match raw.after.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(after)) if after >= 0 => Some(MentionId(after)),
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "parameter `after`: not a mention id (a whole number, 0 or more)",
            )
                .into_response()
        }
    };
    // A reconnecting browser says how far it got; never go back before that.
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(MentionId);
    let after = match requested.max(resumed) {
        Some(after) => after,
        None => {
            let newest = match app.menu_stats().await {
                Ok(stats) => newest_id(app.web.store.as_ref(), &stats).await,
                Err(error) => Err(error),
            };
            match newest {
                Ok(id) => id,
                Err(error) => return ctx.error_page(error.into()),
            }
        }
    };
    let mut ticker = tokio::time::interval(POLL_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let shutdown = app.shutdown.clone();
    let poller = Poller {
        app,
        params,
        tr: ctx.tr(),
        after,
        ticker,
    };
    let events =
        futures::stream::unfold(
            poller,
            |poller| async move { Some(poller.next_events().await) },
        )
        .flat_map(futures::stream::iter)
        // Ends the stream when the server shuts down, so graceful shutdown does not wait forever.
        .take_until(shutdown.cancelled_owned());
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
