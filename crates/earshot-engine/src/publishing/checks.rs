//! Pre-publish checks: pure functions over a post's variants, their accounts, the accounts'
//! recent posts and the store's facts. Each returns pass, warn or block with an explanation the
//! editor shows; `[publishing.checks]` says per check whether a failure blocks or warns.
//! The definitions are written out in docs/PUBLISHING.md.

use chrono::{DateTime, Utc};
use earshot_core::publishing::{check_variant_rules, links};
use earshot_core::{Account, CheckMode, PublishingConfig, Scored};
use earshot_text::{fold, tokenize, AnalyzedText, BrandMatcher};
use serde::{Deserialize, Serialize};

/// The checks, in the order the editor lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// Each network's length, media and mention rules (always blocks).
    NetworkRules,
    Policy,
    Language,
    SelfPromotion,
    Automation,
    Tracking,
}

impl CheckName {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::NetworkRules => "network_rules",
            CheckName::Policy => "policy",
            CheckName::Language => "language",
            CheckName::SelfPromotion => "self_promotion",
            CheckName::Automation => "automation",
            CheckName::Tracking => "tracking",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Block,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Block => "block",
        }
    }
}

/// One check's outcome with what it found (or why it passed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: CheckName,
    pub verdict: Verdict,
    pub explanation: String,
}

impl CheckResult {
    fn pass(check: CheckName, explanation: impl Into<String>) -> CheckResult {
        CheckResult {
            check,
            verdict: Verdict::Pass,
            explanation: explanation.into(),
        }
    }

    /// A failed check, as blocking as the policy says.
    fn failed(check: CheckName, mode: CheckMode, problems: Vec<String>) -> CheckResult {
        let verdict = match mode {
            CheckMode::Block => Verdict::Block,
            CheckMode::Warn => Verdict::Warn,
            CheckMode::Off => Verdict::Pass,
        };
        let mut explanation = problems.join("; ");
        if mode == CheckMode::Off {
            explanation = format!("(check off by policy) {explanation}");
        }
        CheckResult {
            check,
            verdict,
            explanation,
        }
    }
}

/// One variant and the facts the checks need about it.
#[derive(Debug, Clone)]
pub struct VariantFacts<'a> {
    pub account: &'a Account,
    pub text: &'a str,
    pub media_count: usize,
    /// The offensive model's label and score for the text (`None` without a model).
    pub offensive: Option<Scored>,
    /// The account's most recent other posts' texts (newest first), for self-promotion.
    pub recent_texts: Vec<String>,
    /// The account's other posts scheduled or published on the same UTC day as this one.
    pub posts_same_day: usize,
    /// Open conversations past their SLA in the account's inbox (see [`super::account_inbox_sources`]).
    pub overdue_conversations: usize,
    /// When the links of posts are tracked (`[links] track_posts`): the text as the network
    /// will get it, every link a short link (`Err` names a link that cannot be tracked).
    /// `None` when links are published as written.
    pub published_text: Option<Result<String, String>>,
}

impl VariantFacts<'_> {
    /// The text the network's rules apply to: the tracked text when links are tracked.
    fn text_as_published(&self) -> &str {
        match &self.published_text {
            Some(Ok(text)) => text,
            _ => self.text,
        }
    }
}

/// Everything the checks read.
#[derive(Debug, Clone)]
pub struct CheckInput<'a> {
    pub variants: Vec<VariantFacts<'a>>,
    pub config: &'a PublishingConfig,
    /// Our brands (not competitors).
    pub our_brands: &'a BrandMatcher,
    /// When the post is to go out (`None` while it has no time yet).
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// Promotional cue words used when `[publishing] promo_words` is empty.
pub const DEFAULT_PROMO_WORDS: &[&str] = &[
    "sale",
    "discount",
    "offer",
    "buy",
    "order now",
    "shop now",
    "limited time",
    "promo",
    "deal",
    "free shipping",
    "скидка",
    "акция",
    "купить",
    "распродажа",
    "προσφορά",
    "έκπτωση",
];

/// Every check, in the editor's order.
pub fn run_all(input: &CheckInput<'_>) -> Vec<CheckResult> {
    vec![
        network_rules(input),
        policy(input),
        language(input),
        self_promotion(input),
        automation(input),
        tracking(input),
    ]
}

/// Whether any result stops approval and scheduling.
pub fn blocking(results: &[CheckResult]) -> Vec<&CheckResult> {
    results
        .iter()
        .filter(|r| r.verdict == Verdict::Block)
        .collect()
}

pub fn network_rules(input: &CheckInput<'_>) -> CheckResult {
    let problems: Vec<String> = input
        .variants
        .iter()
        .flat_map(|v| {
            check_variant_rules(
                v.account.network,
                &v.account.name,
                v.text_as_published(),
                v.media_count,
            )
        })
        .map(|violation| violation.to_string())
        .collect();
    if problems.is_empty() {
        CheckResult::pass(
            CheckName::NetworkRules,
            "every variant is within its network's length, media and mention rules",
        )
    } else {
        CheckResult::failed(CheckName::NetworkRules, CheckMode::Block, problems)
    }
}

/// Folded words of a text, as the search box sees them.
fn folded_words(text: &str) -> Vec<String> {
    tokenize(text).map(|token| fold(token.text)).collect()
}

/// Whether the folded word sequence `needle` occurs in `haystack`.
fn contains_words(haystack: &[String], needle: &[String]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

pub fn policy(input: &CheckInput<'_>) -> CheckResult {
    let mode = input.config.checks.policy;
    let threshold = input.config.checks.offensive_threshold;
    let banned: Vec<(String, Vec<String>)> = input
        .config
        .banned_terms
        .iter()
        .map(|term| (term.clone(), folded_words(term)))
        .collect();
    let mut problems = Vec::new();
    for variant in &input.variants {
        let words = folded_words(variant.text);
        for (term, folded) in &banned {
            if contains_words(&words, folded) {
                problems.push(format!(
                    "the variant for {} contains the banned term {term:?}",
                    variant.account.name
                ));
            }
        }
        if let Some(scored) = &variant.offensive {
            if scored.label == "OFF" && scored.score >= threshold {
                problems.push(format!(
                    "the offensive-language model rates the variant for {} offensive ({:.2} ≥ {threshold:.2})",
                    variant.account.name, scored.score
                ));
            }
        }
    }
    if problems.is_empty() {
        let model = if input.variants.iter().any(|v| v.offensive.is_some()) {
            "the offensive-language model"
        } else {
            "no offensive-language model is loaded, so only"
        };
        CheckResult::pass(
            CheckName::Policy,
            format!(
                "{model} and the {} banned term(s) found nothing",
                banned.len()
            ),
        )
    } else {
        CheckResult::failed(CheckName::Policy, mode, problems)
    }
}

pub fn language(input: &CheckInput<'_>) -> CheckResult {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for variant in &input.variants {
        if variant.account.languages.is_empty() {
            continue;
        }
        let detected = earshot_text::lang::detect(variant.text, None);
        if detected == earshot_text::lang::UNDETERMINED {
            notes.push(format!(
                "the variant for {} is too short to tell its language",
                variant.account.name
            ));
        } else if !variant.account.languages.contains(&detected) {
            problems.push(format!(
                "the variant for {} reads as {detected}, but the account's audience reads {}",
                variant.account.name,
                variant.account.languages.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        let mut explanation = "every variant is in its account's audience language".to_string();
        if !notes.is_empty() {
            explanation = format!("{explanation} ({})", notes.join("; "));
        }
        CheckResult::pass(CheckName::Language, explanation)
    } else {
        CheckResult::failed(CheckName::Language, input.config.checks.language, problems)
    }
}

fn host_of(link: &str) -> Option<String> {
    url::Url::parse(link)
        .ok()?
        .host_str()
        .map(|h| h.trim_start_matches("www.").to_ascii_lowercase())
}

fn is_own_host(host: &str, own_domains: &[String]) -> bool {
    own_domains.iter().any(|domain| {
        let domain = domain
            .trim()
            .trim_start_matches("www.")
            .to_ascii_lowercase();
        host == domain || host.ends_with(&format!(".{domain}"))
    })
}

/// Whether a text only promotes the company: it names one of our brands, links to our own
/// domains or uses a promotional cue word, and it does not ask a question, mention someone
/// (`@…`) or link to anyone else's site.
pub fn is_promotional(text: &str, our_brands: &BrandMatcher, config: &PublishingConfig) -> bool {
    let words = folded_words(text);
    let cues: Vec<Vec<String>> = if config.promo_words.is_empty() {
        DEFAULT_PROMO_WORDS
            .iter()
            .map(|w| folded_words(w))
            .collect()
    } else {
        config.promo_words.iter().map(|w| folded_words(w)).collect()
    };
    let hosts: Vec<String> = links(text).into_iter().filter_map(host_of).collect();
    let about_us = !our_brands.matching(&AnalyzedText::new(text)).is_empty()
        || hosts.iter().any(|h| is_own_host(h, &config.own_domains))
        || cues.iter().any(|cue| contains_words(&words, cue));
    let talks_with_others = text.contains('?')
        || text
            .split_whitespace()
            .any(|w| w.starts_with('@') && w.len() > 1)
        || hosts.iter().any(|h| !is_own_host(h, &config.own_domains));
    about_us && !talks_with_others
}

pub fn self_promotion(input: &CheckInput<'_>) -> CheckResult {
    let policy = &input.config.checks;
    let window = policy.recent_posts.max(1) as usize;
    let mut problems = Vec::new();
    let mut shares = Vec::new();
    for variant in &input.variants {
        // This post plus the account's most recent others, `window` in all.
        let texts: Vec<&str> = std::iter::once(variant.text)
            .chain(variant.recent_texts.iter().map(String::as_str))
            .take(window)
            .collect();
        let promotional = texts
            .iter()
            .filter(|t| is_promotional(t, input.our_brands, input.config))
            .count();
        let share = promotional as f32 / texts.len() as f32;
        let line = format!(
            "{} of the last {} posts of {} only promote the company ({:.0}%)",
            promotional,
            texts.len(),
            variant.account.name,
            share * 100.0
        );
        if share > policy.self_promotion_share {
            problems.push(format!(
                "{line}, above the {:.0}% limit",
                policy.self_promotion_share * 100.0
            ));
        } else {
            shares.push(line);
        }
    }
    if problems.is_empty() {
        CheckResult::pass(CheckName::SelfPromotion, shares.join("; "))
    } else {
        CheckResult::failed(CheckName::SelfPromotion, policy.self_promotion, problems)
    }
}

fn normalized(text: &str) -> String {
    folded_words(text).join(" ")
}

pub fn automation(input: &CheckInput<'_>) -> CheckResult {
    let mut problems = Vec::new();
    // The same text to several accounts, unchanged.
    for (index, variant) in input.variants.iter().enumerate() {
        let text = normalized(variant.text);
        if text.is_empty() {
            continue;
        }
        let same: Vec<&str> = input.variants[index + 1..]
            .iter()
            .filter(|other| normalized(other.text) == text)
            .map(|other| other.account.name.as_str())
            .collect();
        let already_reported = input.variants[..index]
            .iter()
            .any(|earlier| normalized(earlier.text) == text);
        if !same.is_empty() && !already_reported {
            problems.push(format!(
                "the same text goes unchanged to {} and {}: adapt it to each audience",
                variant.account.name,
                same.join(", ")
            ));
        }
    }
    for variant in &input.variants {
        if input.scheduled_at.is_some() {
            let total = variant.posts_same_day + 1;
            if total > variant.account.posts_per_day as usize {
                problems.push(format!(
                    "{} would post {total} times that day; its limit is {}",
                    variant.account.name, variant.account.posts_per_day
                ));
            }
        }
        if variant.overdue_conversations > 0 {
            problems.push(format!(
                "{} has {} conversation(s) past their SLA in its inbox: answer customers before posting",
                variant.account.name, variant.overdue_conversations
            ));
        }
    }
    if problems.is_empty() {
        CheckResult::pass(
            CheckName::Automation,
            "variants differ, the daily limits hold and no customer waits past the SLA",
        )
    } else {
        CheckResult::failed(
            CheckName::Automation,
            input.config.checks.automation,
            problems,
        )
    }
}

/// A link is tracked when it carries `utm_*` parameters or is an Earshot short link (`/l/…`).
pub fn is_tracked(link: &str) -> bool {
    let Ok(url) = url::Url::parse(link) else {
        return false;
    };
    url.path().starts_with("/l/") || url.query_pairs().any(|(key, _)| key.starts_with("utm_"))
}

pub fn tracking(input: &CheckInput<'_>) -> CheckResult {
    let mut problems = Vec::new();
    let mut count = 0;
    let mut to_track = 0;
    for variant in &input.variants {
        if let Some(Err(reason)) = &variant.published_text {
            problems.push(format!(
                "the variant for {} has a link that cannot be tracked: {reason}",
                variant.account.name
            ));
        }
        for link in links(variant.text) {
            count += 1;
            if is_tracked(link) {
                continue;
            }
            if matches!(variant.published_text, Some(Ok(_))) {
                to_track += 1;
            } else {
                problems.push(format!(
                    "the variant for {} links to {link} without utm_* parameters or an Earshot /l/ short link",
                    variant.account.name
                ));
            }
        }
    }
    if !problems.is_empty() {
        return CheckResult::failed(CheckName::Tracking, input.config.checks.tracking, problems);
    }
    CheckResult::pass(
        CheckName::Tracking,
        match (count, to_track) {
            (0, _) => "no links".to_string(),
            (_, 0) => format!("all {count} link(s) are tracked"),
            _ => format!(
                "{to_track} of {count} link(s) become Earshot short links with UTM parameters \
                 when the post is queued for publishing ([links] track_posts)"
            ),
        },
    )
}
