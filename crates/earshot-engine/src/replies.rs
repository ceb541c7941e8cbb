//! The bridge between the inbox's replies and the outbox: a reply queued in the inbox becomes
//! a publish message in the outbox (dedup key = the reply's idempotency key, so queueing it
//! twice posts it once), and what the outbox worker made of it comes back onto the reply —
//! sent with the network's id and link, or failed with the error, shown on the conversation.
//!
//! It works from the store alone (no in-process channel), so a reply queued by the web
//! server is sent even when the worker runs in another process, and nothing is lost to a
//! crash between the two steps: the next pass finds the reply still pending.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use earshot_core::{
    Config, NewOutboxMessage, OutboxState, PublishPayload, Reply, ReplyStatus, ReplyTarget,
    SourceKind, Stamp,
};
use earshot_store::{Store, StoreResult};
use tokio_util::sync::CancellationToken;

/// Replies looked at per pass.
const BATCH: usize = 200;
/// The outbox counts delivery attempts itself; the inbox keeps asking about a failed reply
/// (it may be retried from the page) until this many failures were recorded on it.
const MAX_RECORDED_FAILURES: u32 = 1_000;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyBridgeReport {
    /// Replies handed to the outbox for the first time.
    pub enqueued: usize,
    pub sent: usize,
    pub failed: usize,
}

pub struct ReplyBridge {
    store: Arc<dyn Store>,
    config: Arc<RwLock<Config>>,
}

impl ReplyBridge {
    pub fn new(store: Arc<dyn Store>, config: Arc<RwLock<Config>>) -> ReplyBridge {
        ReplyBridge { store, config }
    }

    /// Hand new replies to the outbox and bring back what became of those already there.
    pub async fn run_once(&self, now: DateTime<Utc>) -> StoreResult<ReplyBridgeReport> {
        let mut report = ReplyBridgeReport::default();
        for reply in self
            .store
            .replies_to_send(MAX_RECORDED_FAILURES, BATCH)
            .await?
        {
            match self
                .store
                .outbox_by_dedup_key(&reply.idempotency_key)
                .await?
            {
                None => {
                    if let Some(message) = self.publish_message(&reply).await? {
                        self.store.enqueue(message, now).await?;
                        report.enqueued += 1;
                    }
                }
                Some(message) => match message.state {
                    OutboxState::Delivered => {
                        let result = message.result.unwrap_or_default();
                        let remote_id = result.get("remote_id").and_then(|v| v.as_str());
                        let url = result.get("url").and_then(|v| v.as_str());
                        self.store
                            .mark_reply_sent(reply.id, remote_id, url, &Stamp::system(now))
                            .await?;
                        report.sent += 1;
                    }
                    OutboxState::Failed => {
                        let error = message
                            .last_error
                            .unwrap_or_else(|| "the outbox gave up on this reply".into());
                        // Record each failure once, not on every pass.
                        if reply.status != ReplyStatus::Failed
                            || reply.error.as_deref() != Some(error.as_str())
                        {
                            self.store
                                .mark_reply_failed(reply.id, &error, &Stamp::system(now))
                                .await?;
                            report.failed += 1;
                        }
                    }
                    OutboxState::Pending | OutboxState::InFlight => {}
                },
            }
        }
        Ok(report)
    }

    /// The post answering the conversation's latest message, as the conversation's source
    /// (the account that saw it). `None` (and the reply marked failed) when that source
    /// cannot post.
    async fn publish_message(&self, reply: &Reply) -> StoreResult<Option<NewOutboxMessage>> {
        let Some(detail) = self.store.conversation_detail(reply.conversation).await? else {
            return Ok(None);
        };
        let conversation = &detail.conversation;
        let source = {
            let config = self
                .config
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            config
                .sources
                .iter()
                .find(|s| s.name == conversation.source)
                .map(|s| (s.kind, s.url.clone()))
        };
        let server = match source {
            Some((SourceKind::Mastodon | SourceKind::Bluesky, url)) => url,
            _ => {
                self.store
                    .mark_reply_failed(
                        reply.id,
                        &format!(
                            "source {:?} has no network Earshot can post to; record the answer as answered elsewhere",
                            conversation.source
                        ),
                        &Stamp::system(reply.created_at),
                    )
                    .await?;
                return Ok(None);
            }
        };
        // The customer's latest message in the thread is the one to answer.
        let target = detail
            .mentions
            .iter()
            .rev()
            .find(|m| m.source == conversation.source)
            .or(detail.mentions.last());
        let payload = PublishPayload {
            account: conversation.source.clone(),
            text: reply.body.clone(),
            reply_to: target.map(|m| ReplyTarget {
                external_id: m.external_id.clone(),
                url: m.url.clone(),
                server: server.clone(),
            }),
            language: Some(conversation.lang.clone()).filter(|l| l != "und"),
            created_at: reply.created_at,
        };
        Ok(Some(NewOutboxMessage::publish(
            reply.idempotency_key.clone(),
            &payload,
        )))
    }

    /// Run a pass every `every` until `shutdown`; a failing pass is logged and retried.
    pub async fn run(&self, shutdown: CancellationToken, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            if let Err(error) = self.run_once(Utc::now()).await {
                tracing::warn!("reply bridge: {error}");
            }
        }
    }
}
