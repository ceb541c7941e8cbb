//! Live updates of the inbox list: `/inbox/stream` is a server-sent-events stream. Every
//! change to a conversation writes an event in the store; the stream polls those events (so
//! changes made by another process or another user appear too) and sends, per changed
//! conversation, its row rendered by the list's own template (`conversation`), or its id
//! when it no longer passes the page's filters (`conversation-gone`).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use earshot_core::ConversationId;
use earshot_store::StoreResult;
use futures::StreamExt;

use super::params::{InboxParams, InboxQuery};
use super::view::ConversationRow;
use super::{now, Actor};
use crate::i18n::Tr;
use crate::pages::PageContext;
use crate::AppState;

const POLL_EVERY: Duration = Duration::from_secs(1);
/// Events read per poll; a burst bigger than this drains over the next polls.
const POLL_BATCH: usize = 500;
/// Pages opened within this long of each other share one lookup of the newest event.
const NEWEST_REUSED_FOR: Duration = Duration::from_secs(1);

#[derive(Template)]
#[template(path = "inbox_row_fragment.html")]
struct RowFragment {
    t: Tr,
    r: ConversationRow,
}

/// The id of the newest conversation event (0 when there is none). The store answers "the
/// first event after x", so the newest is found by doubling x until nothing follows it,
/// then halving the gap: about 2·log2(events) cheap indexed lookups, shared between
/// pages opened in the same second.
pub(crate) async fn newest_event(app: &AppState) -> StoreResult<i64> {
    if let Ok(cache) = app.inbox_newest.lock() {
        if let Some((taken, id)) = *cache {
            if taken.elapsed() < NEWEST_REUSED_FOR {
                return Ok(id);
            }
        }
    }
    let store = app.web.store.as_ref();
    let has_after = |x: i64| async move {
        Ok::<_, earshot_store::StoreError>(!store.events_since(x, 1).await?.is_empty())
    };
    let newest = if !has_after(0).await? {
        0
    } else {
        let mut below = 0i64;
        let mut above = 1i64;
        while has_after(above).await? {
            below = above;
            above = above.saturating_mul(2);
        }
        // Something follows `below`, nothing follows `above`.
        while above - below > 1 {
            let middle = below + (above - below) / 2;
            if has_after(middle).await? {
                below = middle;
            } else {
                above = middle;
            }
        }
        above
    };
    if let Ok(mut cache) = app.inbox_newest.lock() {
        *cache = Some((Instant::now(), newest));
    }
    Ok(newest)
}

struct Poller {
    app: AppState,
    params: InboxParams,
    tr: Tr,
    after: i64,
    ticker: tokio::time::Interval,
}

impl Poller {
    async fn next_events(mut self) -> (Vec<Result<Event, Infallible>>, Self) {
        self.ticker.tick().await;
        let store = self.app.web.store.clone();
        let batch = match store.events_since(self.after, POLL_BATCH).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!("inbox live updates: reading events failed: {error}");
                return (Vec::new(), self);
            }
        };
        let Some(last) = batch.last().map(|e| e.id) else {
            return (Vec::new(), self);
        };
        let changed: BTreeSet<ConversationId> = batch.iter().map(|e| e.conversation).collect();
        let mut events = Vec::new();
        for id in changed {
            let conversation = match store.conversation(id).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(error) => {
                    // Try this batch again on the next tick rather than skip it.
                    tracing::warn!("inbox live updates: reading conversation {id}: {error}");
                    return (events, self);
                }
            };
            if !self.params.admits(&conversation) {
                events.push(Ok(Event::default()
                    .event("conversation-gone")
                    .id(last.to_string())
                    .data(id.0.to_string())));
                continue;
            }
            let root = store.get(conversation.root_mention).await.ok().flatten();
            let fragment = RowFragment {
                t: self.tr,
                r: ConversationRow::new(&conversation, root.as_ref(), now(&self.app), self.tr),
            };
            match fragment.render() {
                // SSE cannot carry a bare carriage return; the browser reads the reference back.
                Ok(html) => events.push(Ok(Event::default()
                    .event("conversation")
                    .id(last.to_string())
                    .data(html.trim().replace('\r', "&#13;")))),
                Err(error) => tracing::error!("inbox live updates: rendering {id}: {error}"),
            }
        }
        self.after = last;
        (events, self)
    }
}

pub async fn stream(
    State(app): State<AppState>,
    ctx: PageContext,
    actor: Actor,
    headers: HeaderMap,
) -> Response {
    let query = InboxQuery::parse(ctx.query.as_deref());
    let params = match InboxParams::parse(&query, &actor.name) {
        Ok(params) => params,
        Err(error) => return (error.status(), error.public_message()).into_response(),
    };
    let requested = match query.after.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(after)) if after >= 0 => Some(after),
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "parameter `after`: not an event id (a whole number, 0 or more)",
            )
                .into_response()
        }
    };
    // A reconnecting browser says how far it got; never go back before that.
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = match requested.max(resumed) {
        Some(after) => after,
        None => match newest_event(&app).await {
            Ok(id) => id,
            Err(error) => return ctx.error_page(error.into()),
        },
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
        .take_until(shutdown.cancelled_owned());
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
