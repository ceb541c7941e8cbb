//! The ingest hook: after the pipeline stores a batch, each new original mention either joins
//! the conversation of what it replies to, or opens a conversation routed by the rules.
//! And the SLA checker that flags missed deadlines and names whom to escalate to.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use earshot_core::{
    Analysis, ConversationState, ConversationTarget, InboxStep, InboxStepOutcome, Mention,
    MentionId, NewConversation, NewMention, Stamp,
};
use earshot_store::{Store, StoreResult};
use tokio_util::sync::CancellationToken;

use super::assign::Assigner;
use super::live::LiveRules;
use super::priority::decide_priority;
use super::rules::{analyze_for_routing, RoutingInput, RoutingRules, RoutingSignals};
use super::sla::Escalation;

/// What routing may look at of one stored mention.
#[derive(Debug, Clone, Copy)]
pub struct RouteItem<'a> {
    pub id: MentionId,
    pub source: &'a str,
    /// The mention's id on its network, and its canonical URL: what a later reply's
    /// `in_reply_to` names, so a reply in the same batch finds its parent.
    pub external_id: Option<&'a str>,
    pub canonical_url: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub lang: &'a str,
    pub brands: &'a [String],
    pub title: Option<&'a str>,
    pub text: &'a str,
    pub author_followers: Option<u64>,
    pub published_at: DateTime<Utc>,
    /// What the analysis stage found (`None` when the pipeline runs without an analyzer).
    pub analysis: Option<&'a Analysis>,
}

impl<'a> RouteItem<'a> {
    pub fn new_mention(id: MentionId, mention: &'a NewMention) -> Self {
        RouteItem {
            id,
            source: &mention.source,
            external_id: mention.external_id.as_deref(),
            canonical_url: mention.canonical_url.as_deref(),
            in_reply_to: mention.in_reply_to.as_deref(),
            lang: &mention.lang,
            brands: &mention.brands,
            title: mention.title.as_deref(),
            text: &mention.text,
            author_followers: mention.author.as_ref().and_then(|a| a.followers),
            published_at: mention.published_at,
            analysis: mention.analysis.as_ref(),
        }
    }

    pub fn stored(mention: &'a Mention) -> Self {
        RouteItem {
            id: mention.id,
            source: &mention.source,
            external_id: mention.external_id.as_deref(),
            canonical_url: mention.canonical_url.as_deref(),
            in_reply_to: mention.in_reply_to.as_deref(),
            lang: &mention.lang,
            brands: &mention.brands,
            title: mention.title.as_deref(),
            text: &mention.text,
            author_followers: mention.author.as_ref().and_then(|a| a.followers),
            published_at: mention.published_at,
            analysis: mention.analysis.as_ref(),
        }
    }
}

/// Gives the analysis of a mention as routing sees it. Until the analysis is a pipeline stage,
/// the default knows nothing (every signal `None`), so only the other conditions route.
pub type SignalSource = Arc<dyn Fn(&RouteItem<'_>) -> RoutingSignals + Send + Sync>;
/// The time routing and SLA checks take as "now"; injected so tests control it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What one call of [`InboxRouter::handle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxReport {
    /// Conversations opened (ignored ones included).
    pub opened: u64,
    /// Of those, opened in state `ignored`.
    pub ignored: u64,
    /// Of those, assigned to a member.
    pub assigned: u64,
    /// Mentions that joined the conversation of what they reply to.
    pub threaded: u64,
    /// Mentions that already had a conversation.
    pub already: u64,
}

impl InboxReport {
    pub fn add(&mut self, other: &InboxReport) {
        self.opened += other.opened;
        self.ignored += other.ignored;
        self.assigned += other.assigned;
        self.threaded += other.threaded;
        self.already += other.already;
    }
}

pub struct InboxRouter {
    store: Arc<dyn Store>,
    rules: Arc<LiveRules>,
    assigner: Assigner,
    signals: SignalSource,
    clock: Clock,
    one_at_a_time: bool,
}

impl InboxRouter {
    /// A router over `store`; the configured teams are written to the store first, so that
    /// assignment and escalation find them.
    pub async fn new(store: Arc<dyn Store>, rules: Arc<RoutingRules>) -> StoreResult<Self> {
        Self::with_live_rules(store, Arc::new(LiveRules::new(rules))).await
    }

    /// A router that routes by whatever `rules` holds when a batch arrives, so the rules
    /// editor can change them while the server runs.
    pub async fn with_live_rules(
        store: Arc<dyn Store>,
        rules: Arc<LiveRules>,
    ) -> StoreResult<Self> {
        store.upsert_teams(&rules.current().team_records()).await?;
        Ok(InboxRouter {
            store,
            rules,
            assigner: Assigner::new(),
            signals: Arc::new(|item: &RouteItem<'_>| {
                item.analysis
                    .map(RoutingSignals::from_analysis)
                    .unwrap_or_default()
            }),
            clock: Arc::new(Utc::now),
            one_at_a_time: false,
        })
    }

    /// Route with one store transaction per conversation (the hook before batching), for
    /// benchmarks and for tests that check the batch path gives the same results.
    pub fn one_at_a_time(mut self, yes: bool) -> Self {
        self.one_at_a_time = yes;
        self
    }

    pub fn with_signals(mut self, signals: SignalSource) -> Self {
        self.signals = signals;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The rules in force now.
    pub fn rules(&self) -> Arc<RoutingRules> {
        self.rules.current()
    }

    /// Thread or route new original mentions (the pipeline leaves near-duplicates out). Items
    /// are taken oldest first, so a reply stored in the same batch as its parent joins it.
    /// The whole batch is written in one transaction ([`earshot_store::InboxBatchStore::create_conversations`]),
    /// with the lookups that decide between threading and opening done once for the batch.
    pub async fn handle(&self, items: &[RouteItem<'_>]) -> StoreResult<InboxReport> {
        if self.one_at_a_time {
            return self.handle_each(items).await;
        }
        if items.is_empty() {
            return Ok(InboxReport::default());
        }
        let now = (self.clock)();
        let stamp = Stamp::system(now);
        // One set of rules for the whole batch, even if the editor swaps them meanwhile.
        let rules = self.rules.current();
        let mut order: Vec<&RouteItem<'_>> = items.iter().collect();
        order.sort_by_key(|item| item.published_at);
        let ids: Vec<MentionId> = order.iter().map(|item| item.id).collect();
        let had_conversation = self.store.conversations_for_mentions(&ids).await?;
        let mut references: Vec<(String, String)> = Vec::new();
        for item in &order {
            for reference in reference_forms(item) {
                references.push((item.source.to_string(), reference));
            }
        }
        let stored = self.store.conversations_for_references(&references).await?;
        // What mentions of this batch became, by the keys a reply names them with: (source,
        // external id) found at rank 1 and (source, canonical URL) at rank 2, as in the store.
        let mut in_batch: HashMap<(String, String), (u8, ConversationTarget)> = HashMap::new();
        let mut steps: Vec<InboxStep> = Vec::new();
        // Per step: (ignored, assigned) for the report, and what an opened one replies to.
        let mut opened_flags: Vec<(bool, bool, Option<&str>)> = Vec::new();
        let mut report = InboxReport::default();
        let mut loads: Option<HashMap<(String, String), u64>> = None;
        for item in order {
            let parent = reference_forms(item).into_iter().find_map(|reference| {
                let key = (item.source.to_string(), reference);
                let from_store = stored
                    .get(&key)
                    .map(|&(rank, id)| (rank, ConversationTarget::Stored(id)));
                let from_batch = in_batch.get(&key).copied();
                match (from_store, from_batch) {
                    (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
                    (a, b) => a.or(b),
                }
                .map(|(_, target)| target)
            });
            if let Some(target) = parent {
                if had_conversation.contains_key(&item.id) {
                    report.already += 1;
                } else {
                    steps.push(InboxStep::Attach {
                        to: target,
                        mention: item.id,
                    });
                    opened_flags.push((false, false, None));
                    remember(&mut in_batch, item, target);
                }
                continue;
            }
            let (new, ignored, assigned) = self.decide(&rules, item, now, &mut loads).await?;
            if had_conversation.contains_key(&item.id) {
                report.already += 1;
                continue;
            }
            remember(
                &mut in_batch,
                item,
                ConversationTarget::OpenedInBatch(steps.len()),
            );
            steps.push(InboxStep::Open(new));
            opened_flags.push((ignored, assigned, item.in_reply_to));
        }
        if steps.is_empty() {
            return Ok(report);
        }
        let outcomes = self.store.create_conversations(&steps, &stamp).await?;
        for (outcome, (ignored, assigned, in_reply_to)) in outcomes.iter().zip(opened_flags) {
            match outcome {
                InboxStepOutcome::Opened(conversation) => {
                    // A reply to one of our published posts: the conversation belongs to it.
                    crate::publishing::link_reply_to_publication(
                        self.store.as_ref(),
                        *conversation,
                        in_reply_to,
                        now,
                    )
                    .await?;
                    report.opened += 1;
                    report.ignored += u64::from(ignored);
                    report.assigned += u64::from(assigned);
                }
                InboxStepOutcome::Attached(_) => report.threaded += 1,
                InboxStepOutcome::AlreadyOpen(_) | InboxStepOutcome::AlreadyAttached(_) => {
                    report.already += 1
                }
            }
        }
        Ok(report)
    }

    /// Route one mention that opens a conversation: rules, priority, assignment (counting
    /// the new conversation into `loads`, read once per batch) and deadlines. Returns the
    /// conversation to open and whether it is ignored and assigned.
    async fn decide(
        &self,
        rules: &RoutingRules,
        item: &RouteItem<'_>,
        now: DateTime<Utc>,
        loads: &mut Option<HashMap<(String, String), u64>>,
    ) -> StoreResult<(NewConversation, bool, bool)> {
        let signals = (self.signals)(item);
        let text = analyze_for_routing(item.title, item.text);
        let decision = rules.route(&RoutingInput {
            signals: &signals,
            lang: item.lang,
            source: item.source,
            brands: item.brands,
            text: &text,
            author_followers: item.author_followers,
        });
        let priority = decide_priority(
            decision.priority,
            &signals,
            item.author_followers,
            now - item.published_at,
        );
        let team = decision.team.as_deref().and_then(|name| rules.team(name));
        let mut assignee = None;
        if let (Some(team), Some(strategy), false) = (team, &decision.assign, decision.ignored) {
            if loads.is_none() {
                let mut known = HashMap::new();
                for load in self.store.member_loads(None).await? {
                    known.insert((load.team.clone(), load.member.clone()), load.open());
                }
                *loads = Some(known);
            }
            let known = loads.as_mut().expect("filled above");
            let load_of = |member: &str| {
                known
                    .get(&(team.name.clone(), member.to_string()))
                    .copied()
                    .unwrap_or(0)
            };
            assignee = self.assigner.choose(team, strategy, &load_of, now);
            if let Some(member) = &assignee {
                *known
                    .entry((team.name.clone(), member.clone()))
                    .or_insert(0) += 1;
            }
        }
        let deadlines =
            (!decision.ignored).then(|| rules.deadlines(decision.team.as_deref(), priority, now));
        let state = if decision.ignored {
            ConversationState::Ignored
        } else if assignee.is_some() {
            ConversationState::Assigned
        } else {
            ConversationState::New
        };
        let assigned = assignee.is_some();
        let new = NewConversation {
            root_mention: item.id,
            state,
            priority,
            team: decision.team.clone(),
            assignee,
            tags: decision.tags.clone(),
            routed_by: decision.rule.clone(),
            routing_reason: Some(decision.reason.clone()),
            negative: signals.is_negative(),
            first_response_due: deadlines.map(|d| d.first_response),
            resolution_due: deadlines.map(|d| d.resolution),
        };
        Ok((new, decision.ignored, assigned))
    }

    /// [`InboxRouter::handle`] one mention at a time: each conversation its own transaction,
    /// each reply's parent looked up on its own. Kept as the reference the batch path is
    /// tested against, and as the "before" of the routing benchmark.
    pub async fn handle_each(&self, items: &[RouteItem<'_>]) -> StoreResult<InboxReport> {
        let now = (self.clock)();
        let stamp = Stamp::system(now);
        // One set of rules for the whole batch, even if the editor swaps them meanwhile.
        let rules = self.rules.current();
        let mut order: Vec<&RouteItem<'_>> = items.iter().collect();
        order.sort_by_key(|item| item.published_at);
        let mut report = InboxReport::default();
        let mut loads: Option<HashMap<(String, String), u64>> = None;
        for item in order {
            if let Some(conversation) = self.parent_conversation(item).await? {
                let attached = self.store.conversation_for_mention(item.id).await?;
                if attached.is_none() {
                    self.store
                        .attach_mention(conversation, item.id, &stamp)
                        .await?;
                    report.threaded += 1;
                } else {
                    report.already += 1;
                }
                continue;
            }
            let (new, ignored, assigned) = self.decide(&rules, item, now, &mut loads).await?;
            let (conversation, created) = self.store.create_conversation(&new, &stamp).await?;
            if !created {
                report.already += 1;
                continue;
            }
            // A reply to one of our published posts: the conversation belongs to that post.
            crate::publishing::link_reply_to_publication(
                self.store.as_ref(),
                conversation.id,
                item.in_reply_to,
                now,
            )
            .await?;
            report.opened += 1;
            if ignored {
                report.ignored += 1;
            }
            if assigned {
                report.assigned += 1;
            }
        }
        Ok(report)
    }

    /// The conversation of the mention (or sent reply) this one answers, looked up by the
    /// reference as given and, for a link, by its canonical form.
    async fn parent_conversation(
        &self,
        item: &RouteItem<'_>,
    ) -> StoreResult<Option<earshot_core::ConversationId>> {
        let Some(reference) = item.in_reply_to.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        if let Some(found) = self
            .store
            .conversation_for_reference(item.source, reference)
            .await?
        {
            return Ok(Some(found));
        }
        match earshot_text::canonical_url(reference) {
            Some(canonical) if canonical != reference => {
                self.store
                    .conversation_for_reference(item.source, &canonical)
                    .await
            }
            _ => Ok(None),
        }
    }

    /// Route stored mentions after `after` that have no conversation (mentions stored while
    /// the inbox was off, or a batch whose routing failed). Returns what it did and the last
    /// mention id looked at, to continue from.
    pub async fn catch_up(
        &self,
        after: MentionId,
        batch: usize,
    ) -> StoreResult<(InboxReport, MentionId)> {
        let mut report = InboxReport::default();
        let mut last = after;
        loop {
            let mentions = self.store.since_id(last, batch.max(1)).await?;
            let Some(newest) = mentions.last() else {
                return Ok((report, last));
            };
            last = newest.id;
            let mut pending = Vec::new();
            for mention in &mentions {
                if mention.duplicate_of.is_none()
                    && self
                        .store
                        .conversation_for_mention(mention.id)
                        .await?
                        .is_none()
                {
                    pending.push(RouteItem::stored(mention));
                }
            }
            report.add(&self.handle(&pending).await?);
        }
    }
}

/// The forms of a reply's `in_reply_to` the store is asked about, in the order they are
/// tried: as given (trimmed), then its canonical URL when that differs.
fn reference_forms(item: &RouteItem<'_>) -> Vec<String> {
    let Some(reference) = item.in_reply_to.map(str::trim).filter(|r| !r.is_empty()) else {
        return Vec::new();
    };
    let mut forms = vec![reference.to_string()];
    if let Some(canonical) = earshot_text::canonical_url(reference) {
        if canonical != reference {
            forms.push(canonical);
        }
    }
    forms
}

/// Note where a mention of the batch went, under the keys a later reply may name it by.
fn remember(
    in_batch: &mut HashMap<(String, String), (u8, ConversationTarget)>,
    item: &RouteItem<'_>,
    target: ConversationTarget,
) {
    if let Some(external) = item.external_id {
        in_batch
            .entry((item.source.to_string(), external.to_string()))
            .or_insert((1, target));
    }
    if let Some(canonical) = item.canonical_url {
        in_batch
            .entry((item.source.to_string(), canonical.to_string()))
            .or_insert((2, target));
    }
}

/// Flag conversations whose deadlines passed (the store writes an `sla_breached` event for
/// each, once), record the escalation to the team's manager, and return the escalations for
/// the outbox to send. A breach of a team without a manager is flagged but not escalated.
pub async fn check_sla(
    store: &dyn Store,
    rules: &RoutingRules,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Escalation>> {
    let breaches = store.mark_overdue(now).await?;
    let mut escalations = Vec::with_capacity(breaches.len());
    for breach in breaches {
        let manager = breach
            .team
            .as_deref()
            .and_then(|team| rules.team(team))
            .and_then(|team| team.manager.clone())
            .or(breach.manager);
        let Some(manager) = manager else {
            continue;
        };
        store
            .record_escalation(
                breach.conversation,
                &manager,
                breach.clock,
                &Stamp::system(now),
            )
            .await?;
        escalations.push(Escalation {
            conversation: breach.conversation,
            team: breach.team,
            manager: Some(manager),
            kind: breach.clock,
            due_at: breach.due,
            priority: breach.priority,
            assignee: breach.assignee,
        });
    }
    Ok(escalations)
}

/// Run [`check_sla`] every `every` until cancelled, handing escalations to `escalations`
/// (the outbox's queue). A failed check is logged and tried again at the next tick.
pub async fn run_sla_checker(
    store: Arc<dyn Store>,
    rules: Arc<RoutingRules>,
    every: std::time::Duration,
    clock: Clock,
    escalations: tokio::sync::mpsc::Sender<Escalation>,
    cancel: CancellationToken,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match check_sla(store.as_ref(), &rules, clock()).await {
            Ok(found) => {
                for escalation in found {
                    if escalations.send(escalation).await.is_err() {
                        return;
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "SLA check failed; retrying at the next tick"),
        }
    }
}
