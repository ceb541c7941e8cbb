//! Tracked links (`/l/{code}`), their clicks per day, conversions reported by a website or shop,
//! and the list of crawlers whose fetches are not counted as people.
//!
//! Rewriting a post's links (`add_utm`, `track_links`) needs URL parsing and the link finder of
//! `earshot-text`, which depends on this crate, so those functions live in
//! `earshot_text::tracking`; the types they produce are here.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::campaigns::{CampaignId, Currency};

/// Length of generated short codes: 62^8 ≈ 2^47.6 codes, so random codes practically never
/// collide (the store still checks).
pub const SHORT_CODE_LEN: usize = 8;
const SHORT_CODE_ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The longest UTM value kept; longer ones are refused, not cut.
pub const MAX_UTM_CHARS: usize = 200;
/// The longest target URL a link may have.
pub const MAX_TARGET_URL_BYTES: usize = 4096;

/// A short code from 64 random bits: letters and digits only, so it needs no escaping in a URL
/// and survives being typed or pasted into any network's post.
pub fn short_code_from_random(random: u64) -> String {
    let mut value = random % 62u64.pow(SHORT_CODE_LEN as u32);
    let mut code = [0u8; SHORT_CODE_LEN];
    for slot in code.iter_mut().rev() {
        *slot = SHORT_CODE_ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    code.iter().map(|&b| b as char).collect()
}

/// Whether `code` can be a short code: 4 to 32 letters, digits, `-` or `_`. Anything else in a
/// `/l/{code}` path is answered 404 without a database read.
pub fn is_valid_short_code(code: &str) -> bool {
    (4..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The five UTM parameters. `None` (or empty) leaves the parameter out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UtmParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
}

impl UtmParams {
    /// `(utm_name, value)` of the parameters that are set, in the conventional order.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("utm_source", &self.source),
            ("utm_medium", &self.medium),
            ("utm_campaign", &self.campaign),
            ("utm_content", &self.content),
            ("utm_term", &self.term),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        })
        .collect()
    }

    /// Refuses values a person would not have meant: too long, or with control characters.
    pub fn validate(&self) -> Result<(), LinkError> {
        for (name, value) in self.pairs() {
            if value.chars().count() > MAX_UTM_CHARS {
                return Err(LinkError::BadUtm(format!(
                    "{name} is longer than {MAX_UTM_CHARS} characters"
                )));
            }
            if value.chars().any(char::is_control) {
                return Err(LinkError::BadUtm(format!(
                    "{name} contains a control character"
                )));
            }
        }
        Ok(())
    }
}

/// Why a link could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("not an http(s) URL: {0}")]
    NotHttp(String),
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("invalid UTM parameter: {0}")]
    BadUtm(String),
    #[error("invalid short code {0:?}: 4 to 32 letters, digits, '-' or '_'")]
    BadCode(String),
}

/// How `/l/{code}` counts clicks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClickCounting {
    /// Counted in memory and written once a second (and at shutdown) in one transaction:
    /// the redirect never waits for the database. A crash loses at most the last second.
    #[default]
    Batched,
    /// One database UPSERT per click before the redirect answers.
    Direct,
}

/// `[links]` in earshot.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinksConfig {
    /// The public address short links start with (`https://go.example.com`); default
    /// `http://` + `server.addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default)]
    pub click_counting: ClickCounting,
    /// Whether the links of scheduled posts become short links with UTM parameters when they
    /// are queued for publishing (default: yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_posts: Option<bool>,
}

impl LinksConfig {
    pub fn tracks_posts(&self) -> bool {
        self.track_posts.unwrap_or(true)
    }

    pub fn is_default(&self) -> bool {
        *self == LinksConfig::default()
    }

    /// Where short links start, given the server's listening address.
    pub fn base_url_or(&self, server_addr: &str) -> String {
        match &self.base_url {
            Some(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_string(),
            _ => format!("http://{server_addr}"),
        }
    }
}

/// How a post's links are tracked: where short links point from, and what they carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackingSettings {
    /// The public address of this Earshot (`https://go.example.com`); short links are
    /// `{base_url}/l/{code}`.
    pub base_url: String,
    pub utm: UtmParams,
    pub campaign_id: Option<CampaignId>,
    /// The post the text belongs to (a plain id: posts live in another part of the product).
    pub post_id: Option<i64>,
}

impl TrackingSettings {
    /// How the links of a post published on `network` through account `account` are
    /// tagged: `utm_source` the network, `utm_medium` `social`, `utm_campaign` the post's
    /// campaign's, `utm_content` the account (which variant was clicked).
    pub fn for_post(
        base_url: &str,
        network: &str,
        account: &str,
        campaign: Option<(CampaignId, &str)>,
        post_id: i64,
    ) -> TrackingSettings {
        TrackingSettings {
            base_url: base_url.trim_end_matches('/').to_string(),
            utm: UtmParams {
                source: Some(network.to_string()),
                medium: Some("social".to_string()),
                campaign: campaign.map(|(_, utm)| utm.to_string()),
                content: Some(account.to_string()),
                term: None,
            },
            campaign_id: campaign.map(|(id, _)| id),
            post_id: Some(post_id),
        }
    }

    /// The short link for `code`.
    pub fn short_url(&self, code: &str) -> String {
        format!("{}/l/{code}", self.base_url.trim_end_matches('/'))
    }
}

/// A link to create: the target already carries its UTM parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTrackedLink {
    pub code: String,
    /// Where `/l/{code}` redirects: the original URL with the UTM parameters added.
    pub target_url: String,
    pub utm: UtmParams,
    pub campaign_id: Option<CampaignId>,
    pub post_id: Option<i64>,
}

/// A stored tracked link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedLink {
    pub code: String,
    pub target_url: String,
    pub utm: UtmParams,
    pub campaign_id: Option<CampaignId>,
    pub post_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// Clicks on one link on one day (UTC). People and crawlers are counted apart; only `human`
/// counts in campaign figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClickDay {
    pub code: String,
    pub day: NaiveDate,
    pub human: u64,
    pub bot: u64,
}

/// A click (or several) to add to a link's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickCount {
    pub code: String,
    pub day: NaiveDate,
    pub human: u64,
    pub bot: u64,
}

/// A business outcome reported by a website or shop (`POST /api/conversions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewConversion {
    /// The reporter's own id of the outcome (order number, lead id): the idempotency key.
    pub external_id: String,
    /// In minor units of `currency` (cents); never a float.
    pub value: i64,
    pub currency: Currency,
    /// What happened (`sale`, `lead`, `sign_up`, ...), free text.
    pub kind: String,
    /// The tracked link that brought the visitor, if known.
    pub link_code: Option<String>,
    /// The `utm_campaign` the visitor arrived with, if known.
    pub utm_campaign: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// A stored conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    pub id: i64,
    pub external_id: String,
    pub value: i64,
    pub currency: Currency,
    pub kind: String,
    pub link_code: Option<String>,
    pub utm_campaign: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

impl Conversion {
    /// Whether `new` reports the same outcome as this record (a replay, not a clash).
    pub fn same_content(&self, new: &NewConversion) -> bool {
        self.external_id == new.external_id
            && self.value == new.value
            && self.currency == new.currency
            && self.kind == new.kind
            && self.link_code == new.link_code
            && self.utm_campaign == new.utm_campaign
            && self.occurred_at == new.occurred_at
    }
}

/// What recording a conversion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversionOutcome {
    Created(Conversion),
    /// The same external id with the same content was recorded before: the first record.
    Replayed(Conversion),
}

pub const MAX_EXTERNAL_ID_CHARS: usize = 200;
pub const MAX_KIND_CHARS: usize = 50;

impl NewConversion {
    /// Checks a conversion before it is stored; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let external = self.external_id.trim();
        if external.is_empty() || external.chars().count() > MAX_EXTERNAL_ID_CHARS {
            return Err(format!(
                "external_id must have 1 to {MAX_EXTERNAL_ID_CHARS} characters"
            ));
        }
        if self.value < 0 {
            return Err("value must not be negative (a refund is its own record)".into());
        }
        let kind = self.kind.trim();
        if kind.is_empty() || kind.chars().count() > MAX_KIND_CHARS {
            return Err(format!("kind must have 1 to {MAX_KIND_CHARS} characters"));
        }
        if self.link_code.is_none() && self.utm_campaign.is_none() {
            return Err(
                "a conversion needs link_code or utm_campaign, or no campaign can count it".into(),
            );
        }
        if let Some(code) = &self.link_code {
            if !is_valid_short_code(code) {
                return Err(format!("link_code {code:?} is not a short code"));
            }
        }
        if let Some(campaign) = &self.utm_campaign {
            if campaign.trim().is_empty() || campaign.chars().count() > MAX_UTM_CHARS {
                return Err(format!(
                    "utm_campaign must have 1 to {MAX_UTM_CHARS} characters"
                ));
            }
        }
        Ok(())
    }
}

/// User agents that fetch links without a person behind them: search engine crawlers and the
/// link-preview fetchers of chat apps and social networks. Each entry is a case-insensitive
/// substring of the `User-Agent` header and who sends it.
pub const KNOWN_BOT_AGENTS: &[(&str, &str)] = &[
    ("googlebot", "Google search crawler"),
    ("bingbot", "Bing search crawler"),
    (
        "facebookexternalhit",
        "Facebook and Instagram link previews",
    ),
    ("twitterbot", "X (Twitter) link cards"),
    ("slackbot", "Slack link unfurling (Slackbot-LinkExpanding)"),
    ("telegrambot", "Telegram link previews"),
    ("discordbot", "Discord link embeds"),
    ("whatsapp", "WhatsApp link previews (WhatsApp/2.x)"),
    ("linkedinbot", "LinkedIn link previews"),
    // Mastodon fetches previews with `http.rb/5.x (Mastodon/4.x; +https://instance/)`, from
    // every instance a post reaches: one post can cause hundreds of these fetches.
    ("http.rb", "Mastodon link previews (http.rb ... Mastodon)"),
    ("cardyb", "Bluesky link cards (Bluesky Cardyb)"),
    // Generic words that crawlers put in their names.
    ("bot", "any agent calling itself a bot"),
    ("crawler", "any crawler"),
    ("spider", "any spider"),
    ("preview", "any link-preview fetcher"),
];

/// Whether a request to a short link is counted as a crawler rather than a person: a `HEAD`
/// request (browsers follow links with `GET`; previewers probe with `HEAD`), a missing or empty
/// user agent, or one that contains an entry of [`KNOWN_BOT_AGENTS`].
pub fn is_bot(is_head_request: bool, user_agent: Option<&str>) -> bool {
    if is_head_request {
        return true;
    }
    let Some(agent) = user_agent.map(str::trim).filter(|a| !a.is_empty()) else {
        return true;
    };
    let agent = agent.to_ascii_lowercase();
    KNOWN_BOT_AGENTS
        .iter()
        .any(|(needle, _)| agent.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSERS: &[&str] = &[
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ];

    #[test]
    fn every_listed_crawler_is_a_bot() {
        let agents = [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Twitterbot/1.0",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "TelegramBot (like TwitterBot)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "WhatsApp/2.23.20.0",
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "http.rb/5.1.1 (Mastodon/4.2.0; +https://mastodon.social/)",
            "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
            "SomeNewCrawler/0.1",
            "my-spider",
            "Acme Link Preview Service",
            "ExampleBot",
        ];
        for agent in agents {
            assert!(is_bot(false, Some(agent)), "{agent}");
        }
        // Every listed needle is itself recognised (the list and the check agree).
        for (needle, _) in KNOWN_BOT_AGENTS {
            assert!(is_bot(false, Some(&needle.to_uppercase())), "{needle}");
        }
    }

    #[test]
    fn browsers_are_people_unless_they_probe_with_head() {
        for agent in BROWSERS {
            assert!(!is_bot(false, Some(agent)), "{agent}");
            assert!(is_bot(true, Some(agent)), "HEAD {agent}");
        }
        assert!(is_bot(false, None));
        assert!(is_bot(false, Some("   ")));
    }

    #[test]
    fn short_codes_are_url_safe_and_fixed_length() {
        for random in [0u64, 1, 61, 62, u64::MAX, 0x1234_5678_9abc_def0] {
            let code = short_code_from_random(random);
            assert_eq!(code.len(), SHORT_CODE_LEN);
            assert!(is_valid_short_code(&code), "{code}");
        }
        assert_eq!(short_code_from_random(0), "00000000");
        assert_eq!(short_code_from_random(61), "0000000z");
        assert_ne!(short_code_from_random(1), short_code_from_random(2));
        for bad in [
            "",
            "abc",
            "a/b/c/d",
            "abcd%20",
            "ab cd",
            "x".repeat(33).as_str(),
        ] {
            assert!(!is_valid_short_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn utm_values_are_checked() {
        let mut utm = UtmParams {
            source: Some("mastodon".into()),
            medium: Some("  ".into()),
            ..UtmParams::default()
        };
        assert_eq!(utm.pairs(), vec![("utm_source", "mastodon")]);
        assert!(utm.validate().is_ok());
        utm.term = Some("a\nb".into());
        assert!(utm.validate().unwrap_err().to_string().contains("utm_term"));
        utm.term = Some("x".repeat(MAX_UTM_CHARS + 1));
        assert!(utm.validate().unwrap_err().to_string().contains("longer"));
    }

    #[test]
    fn conversions_need_an_attribution_and_sane_fields() {
        let mut conversion = NewConversion {
            external_id: "order-1".into(),
            value: 4999,
            currency: Currency::parse("EUR").unwrap(),
            kind: "sale".into(),
            link_code: Some("Ab12Cd34".into()),
            utm_campaign: None,
            occurred_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        assert!(conversion.validate().is_ok());
        conversion.link_code = None;
        assert!(conversion.validate().unwrap_err().contains("link_code"));
        conversion.utm_campaign = Some("spring".into());
        assert!(conversion.validate().is_ok());
        conversion.value = -1;
        assert!(conversion.validate().unwrap_err().contains("negative"));
        conversion.value = 0;
        conversion.external_id = " ".into();
        assert!(conversion.validate().unwrap_err().contains("external_id"));
    }
}
