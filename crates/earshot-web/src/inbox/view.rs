//! View models of the inbox pages: raw text, prepared by the handlers; the templates escape
//! everything on output.

use chrono::{DateTime, Utc};
use earshot_core::inbox::{GroupMetrics, MetricsWindow};
use earshot_core::{
    Conversation, ConversationEvent, ConversationState, EventKind, Mention, Note, Priority, Reply,
    ReplyStatus,
};

use crate::i18n::Tr;
use crate::view::{iso_time, safe_href, show_time};

/// Characters of the root mention shown in the list.
const FIRST_LINE_CHARS: usize = 160;

/// The translation key of a state's name.
pub fn state_key(state: ConversationState) -> &'static str {
    match state {
        ConversationState::New => "inbox.state_new",
        ConversationState::Assigned => "inbox.state_assigned",
        ConversationState::Waiting => "inbox.state_waiting",
        ConversationState::Resolved => "inbox.state_resolved",
        ConversationState::Ignored => "inbox.state_ignored",
    }
}

pub fn priority_key(priority: Priority) -> &'static str {
    match priority {
        Priority::Urgent => "inbox.priority_urgent",
        Priority::High => "inbox.priority_high",
        Priority::Normal => "inbox.priority_normal",
        Priority::Low => "inbox.priority_low",
    }
}

pub fn reply_status_key(status: ReplyStatus) -> &'static str {
    match status {
        ReplyStatus::Pending => "conversation.reply_pending",
        ReplyStatus::Sent => "conversation.reply_sent",
        ReplyStatus::Failed => "conversation.reply_failed",
        ReplyStatus::AnsweredElsewhere => "conversation.reply_elsewhere",
    }
}

/// A duration in the largest two units that matter ("3d 4h", "2h 5m", "12m", "<1m").
pub fn short_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        "<1m".into()
    }
}

/// The running SLA clock of a conversation, as shown in the list and on its page.
#[derive(Debug, Clone)]
pub struct SlaView {
    pub due_iso: String,
    pub due: String,
    /// "in 2h 5m" or "3h 10m ago" in words of the current language.
    pub left: String,
    pub overdue: bool,
    /// Which clock: first response or resolution.
    pub clock_label: &'static str,
}

impl SlaView {
    /// The deadline still running: the first response until one was given, then resolution;
    /// none for closed conversations.
    pub fn of(c: &Conversation, now: DateTime<Utc>, tr: Tr) -> Option<SlaView> {
        if !c.state.is_open() {
            return None;
        }
        let (due, clock_label, flagged) = match (c.first_response_at, c.first_response_due) {
            (None, Some(due)) => (
                due,
                tr.t("inbox.sla_first_response"),
                c.first_response_overdue,
            ),
            _ => (
                c.resolution_due?,
                tr.t("inbox.sla_resolution"),
                c.resolution_overdue,
            ),
        };
        let overdue = flagged || due <= now;
        let left = if overdue {
            format!(
                "{} {}",
                tr.t("inbox.overdue_by"),
                short_duration((now - due).num_seconds())
            )
        } else {
            format!(
                "{} {}",
                tr.t("inbox.due_in"),
                short_duration((due - now).num_seconds())
            )
        };
        Some(SlaView {
            due_iso: iso_time(due),
            due: show_time(due),
            left,
            overdue,
            clock_label,
        })
    }
}

/// One line of the inbox list (and of a live-update fragment).
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: i64,
    pub state: &'static str,
    pub state_label: &'static str,
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub team: Option<String>,
    pub assignee: Option<String>,
    pub age: String,
    pub created_iso: String,
    pub sla: Option<SlaView>,
    pub overdue: bool,
    pub source: String,
    pub brands: Vec<String>,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub first_line: String,
    pub mention_count: u32,
}

impl ConversationRow {
    pub fn new(c: &Conversation, root: Option<&Mention>, now: DateTime<Utc>, tr: Tr) -> Self {
        let sla = SlaView::of(c, now, tr);
        let first_line = root
            .map(|m| {
                let text = m.title.as_deref().filter(|t| !t.trim().is_empty());
                first_line(text.unwrap_or(&m.text))
            })
            .unwrap_or_default();
        ConversationRow {
            id: c.id.0,
            state: c.state.as_str(),
            state_label: tr.t(state_key(c.state)),
            priority: c.priority.as_str(),
            priority_label: tr.t(priority_key(c.priority)),
            team: c.team.clone(),
            assignee: c.assignee.clone(),
            age: short_duration((now - c.created_at).num_seconds()),
            created_iso: iso_time(c.created_at),
            overdue: c.is_overdue() || sla.as_ref().is_some_and(|s| s.overdue),
            sla,
            source: c.source.clone(),
            brands: c.brands.clone(),
            tags: c.tags.clone(),
            author: c.author_name.clone().or_else(|| c.author_handle.clone()),
            first_line,
            mention_count: c.mention_count,
        }
    }
}

/// The first non-empty line, shortened.
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    match line.char_indices().nth(FIRST_LINE_CHARS) {
        None => line.to_string(),
        Some((cut, _)) => format!("{}…", line[..cut].trim_end()),
    }
}

/// One mention of the thread on the conversation page.
#[derive(Debug, Clone)]
pub struct ThreadItem {
    pub id: i64,
    pub author_label: Option<String>,
    pub author_handle: Option<String>,
    pub author_href: Option<String>,
    pub followers: Option<u64>,
    pub published: String,
    pub published_iso: String,
    pub title: Option<String>,
    pub text: String,
    pub link: Option<String>,
    pub lang: String,
    pub is_root: bool,
    /// The analysis labels as shown, and the choices of the correction forms.
    pub labels: super::labels::MentionLabels,
}

impl ThreadItem {
    pub fn new(m: &Mention, root: earshot_core::MentionId) -> Self {
        let author = m.author.clone().unwrap_or_default();
        ThreadItem {
            id: m.id.0,
            author_label: author.name.clone().or_else(|| author.handle.clone()),
            author_handle: author.handle.clone().filter(|_| author.name.is_some()),
            author_href: author.url.as_deref().and_then(safe_href),
            followers: author.followers,
            published: show_time(m.published_at),
            published_iso: iso_time(m.published_at),
            title: m.title.clone().filter(|t| !t.trim().is_empty()),
            text: m.text.clone(),
            link: m
                .url
                .as_deref()
                .and_then(safe_href)
                .or_else(|| m.canonical_url.as_deref().and_then(safe_href)),
            lang: m.lang.clone(),
            is_root: m.id == root,
            labels: super::labels::MentionLabels::new(m),
        }
    }
}

/// A piece of a note: plain text, or an `@colleague` mention to highlight.
#[derive(Debug, Clone)]
pub struct NotePart {
    pub text: String,
    pub mention: bool,
}

/// Split a note at the `@name` mentions the store recorded (only those: an e-mail address
/// or an unknown name stays plain text).
pub fn note_parts(body: &str, mentions: &[String]) -> Vec<NotePart> {
    let mut parts = Vec::new();
    let mut plain = String::new();
    let mut rest = body;
    'outer: while let Some(at) = rest.find('@') {
        let before_ok = rest[..at]
            .chars()
            .next_back()
            .or_else(|| plain.chars().next_back())
            .is_none_or(|c| !c.is_alphanumeric());
        if before_ok {
            let after = &rest[at + 1..];
            for name in mentions {
                let matches = after
                    .get(..name.len())
                    .is_some_and(|head| head.to_lowercase() == name.to_lowercase());
                let boundary = after[name.len().min(after.len())..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                if matches && boundary {
                    plain.push_str(&rest[..at]);
                    if !plain.is_empty() {
                        parts.push(NotePart {
                            text: std::mem::take(&mut plain),
                            mention: false,
                        });
                    }
                    let end = at + 1 + name.len();
                    parts.push(NotePart {
                        text: rest[at..end].to_string(),
                        mention: true,
                    });
                    rest = &rest[end..];
                    continue 'outer;
                }
            }
        }
        plain.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
    }
    plain.push_str(rest);
    if !plain.is_empty() {
        parts.push(NotePart {
            text: plain,
            mention: false,
        });
    }
    parts
}

#[derive(Debug, Clone)]
pub struct NoteView {
    pub author: String,
    pub at: String,
    pub at_iso: String,
    pub parts: Vec<NotePart>,
}

impl NoteView {
    pub fn new(note: &Note) -> Self {
        NoteView {
            author: note.author.clone(),
            at: show_time(note.created_at),
            at_iso: iso_time(note.created_at),
            parts: note_parts(&note.body, &note.mentions),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReplyView {
    pub id: i64,
    pub body: String,
    pub author: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub error: Option<String>,
    pub link: Option<String>,
    pub at: String,
    pub attempts: u32,
    pub failed: bool,
}

impl ReplyView {
    pub fn new(reply: &Reply, tr: Tr) -> Self {
        ReplyView {
            id: reply.id.0,
            body: reply.body.clone(),
            author: reply.author.clone(),
            status: reply.status.as_str(),
            status_label: tr.t(reply_status_key(reply.status)),
            error: reply.error.clone(),
            link: reply.network_url.as_deref().and_then(safe_href),
            at: show_time(reply.sent_at.unwrap_or(reply.created_at)),
            attempts: reply.attempts,
            failed: reply.status == ReplyStatus::Failed,
        }
    }
}

/// One line of the history.
#[derive(Debug, Clone)]
pub struct EventView {
    pub actor: String,
    pub at: String,
    pub at_iso: String,
    pub label: &'static str,
    /// The event's details in plain words (names, states, reasons).
    pub detail: String,
}

impl EventView {
    pub fn new(event: &ConversationEvent, tr: Tr) -> Self {
        let name = |state: ConversationState| tr.t(state_key(state)).to_string();
        let prio = |p: Priority| tr.t(priority_key(p)).to_string();
        let nobody = || tr.t("inbox.nobody").to_string();
        let (label, detail) = match &event.kind {
            EventKind::Created { root_mention } => {
                (tr.t("event.created"), format!("#{root_mention}"))
            }
            EventKind::Routed { rule, reason, team } => (
                tr.t("event.routed"),
                [rule.clone(), team.clone(), reason.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
            ),
            EventKind::MentionAttached { mention } => {
                (tr.t("event.mention_attached"), format!("#{mention}"))
            }
            EventKind::Assigned { from, to } => (
                tr.t("event.assigned"),
                format!(
                    "{} → {}",
                    from.clone().unwrap_or_else(nobody),
                    to.clone().unwrap_or_else(nobody)
                ),
            ),
            EventKind::StateChanged { from, to } => (
                tr.t("event.state_changed"),
                format!("{} → {}", name(*from), name(*to)),
            ),
            EventKind::PriorityChanged { from, to } => (
                tr.t("event.priority_changed"),
                format!("{} → {}", prio(*from), prio(*to)),
            ),
            EventKind::Tagged { tag } => (tr.t("event.tagged"), tag.clone()),
            EventKind::Untagged { tag } => (tr.t("event.untagged"), tag.clone()),
            EventKind::NoteAdded { .. } => (tr.t("event.note_added"), String::new()),
            EventKind::ReplyQueued { reply } => (tr.t("event.reply_queued"), format!("#{reply}")),
            EventKind::ReplySent { reply } => (tr.t("event.reply_sent"), format!("#{reply}")),
            EventKind::ReplyFailed { reply, error } => {
                (tr.t("event.reply_failed"), format!("#{reply}: {error}"))
            }
            EventKind::ReplyAnsweredElsewhere { reply, url } => (
                tr.t("event.reply_elsewhere"),
                format!("#{reply} {}", url.clone().unwrap_or_default())
                    .trim_end()
                    .to_string(),
            ),
            EventKind::SlaBreached { clock, due } => (
                tr.t("event.sla_breached"),
                format!("{clock} {}", show_time(*due)),
            ),
            EventKind::Escalated { to, clock } => {
                (tr.t("event.escalated"), format!("{to} ({clock})"))
            }
            EventKind::LabelCorrected { label, from, to } => (
                tr.t("event.label_corrected"),
                format!(
                    "{label}: {} → {to}",
                    from.clone().unwrap_or_else(|| "–".into())
                ),
            ),
            EventKind::SentToProduct { theme, .. } => {
                (tr.t("event.sent_to_product"), theme.clone())
            }
            EventKind::TeamChanged { from, to } => {
                let team = |t: &Option<String>| {
                    t.clone()
                        .unwrap_or_else(|| tr.t("conversation.shared_queue").to_string())
                };
                (
                    tr.t("event.team_changed"),
                    format!("{} → {}", team(from), team(to)),
                )
            }
        };
        EventView {
            actor: event.actor.clone(),
            at: show_time(event.at),
            at_iso: iso_time(event.at),
            label,
            detail,
        }
    }
}

/// One row of a metrics table, formatted.
#[derive(Debug, Clone)]
pub struct MetricsRow {
    pub key: String,
    pub conversations: u64,
    pub responded: u64,
    pub response_rate: String,
    pub first_median: String,
    pub first_p90: String,
    pub resolution_median: String,
    pub resolution_p90: String,
}

impl MetricsRow {
    pub fn new(g: &GroupMetrics) -> Self {
        let secs = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |s| short_duration(s as i64));
        MetricsRow {
            key: g.key.clone(),
            conversations: g.conversations,
            responded: g.responded,
            response_rate: g
                .response_rate
                .map_or_else(|| "–".into(), |r| format!("{:.0}%", r * 100.0)),
            first_median: secs(g.first_response.median_secs),
            first_p90: secs(g.first_response.p90_secs),
            resolution_median: secs(g.resolution.median_secs),
            resolution_p90: secs(g.resolution.p90_secs),
        }
    }
}

pub fn window_label(window: &MetricsWindow) -> String {
    format!("{} – {}", show_time(window.since), show_time(window.until))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(parts: &[NotePart]) -> Vec<(String, bool)> {
        parts.iter().map(|p| (p.text.clone(), p.mention)).collect()
    }

    #[test]
    fn notes_highlight_only_recorded_mentions() {
        let parts = note_parts(
            "@anna see x@anna.com and @boris, @Anna.",
            &["anna".to_string()],
        );
        assert_eq!(
            texts(&parts),
            vec![
                ("@anna".into(), true),
                (" see x@anna.com and @boris, ".into(), false),
                ("@Anna".into(), true),
                (".".into(), false),
            ]
        );
        assert_eq!(
            texts(&note_parts("@annabel", &["anna".to_string()])),
            vec![("@annabel".into(), false)]
        );
    }

    #[test]
    fn durations_use_two_units() {
        assert_eq!(short_duration(30), "<1m");
        assert_eq!(short_duration(125), "2m");
        assert_eq!(short_duration(3 * 3600 + 600), "3h 10m");
        assert_eq!(short_duration(2 * 86_400 + 5 * 3600), "2d 5h");
        assert_eq!(short_duration(-5), "<1m");
    }

    #[test]
    fn first_line_skips_blank_lines_and_shortens() {
        assert_eq!(first_line("\n  \nhello\nworld"), "hello");
        let long = "x".repeat(300);
        assert_eq!(first_line(&long).chars().count(), FIRST_LINE_CHARS + 1);
    }
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;
    use crate::i18n::{parse_catalogue, EN_SOURCE, RU_SOURCE};

    /// The keys handed out by the lookup functions are not written as `t("…")` calls, so the
    /// catalogue test of i18n.rs cannot see them; this one does.
    #[test]
    fn every_state_priority_and_status_has_text_in_both_languages() {
        let en = parse_catalogue(EN_SOURCE).unwrap();
        let ru = parse_catalogue(RU_SOURCE).unwrap();
        let keys = ConversationState::ALL
            .iter()
            .map(|s| state_key(*s))
            .chain(Priority::ALL.iter().map(|p| priority_key(*p)))
            .chain(ReplyStatus::ALL.iter().map(|s| reply_status_key(*s)));
        for key in keys {
            assert!(en.contains_key(key), "{key} missing from en.toml");
            assert!(ru.contains_key(key), "{key} missing from ru.toml");
        }
    }
}
