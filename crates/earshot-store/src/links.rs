//! Tracked links, clicks per day and conversions ([`LinkStore`]); campaigns and their spend
//! ([`CampaignStore`]). Both are supertraits of [`crate::Store`]; the SQLite implementation is
//! below (`migrations/0009_links.sql`), the behaviour suite in [`testsuite`].
//!
//! Privacy: a click is one increment of a per-link, per-day counter. No address, user agent,
//! cookie or referrer of a visitor reaches the store.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use earshot_core::links::{
    is_valid_short_code, short_code_from_random, ClickCount, ClickDay, Conversion,
    ConversionOutcome, NewConversion, NewTrackedLink, TrackedLink, TrackingSettings, UtmParams,
};
use earshot_core::{
    Campaign, CampaignFigures, CampaignId, CampaignReport, ConversionTotal, Currency, Goal, Money,
    NewCampaign, NewSpend, SpendEntry,
};
use rand::RngCore;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use crate::sqlite::{from_micros, micros};
use crate::{SqliteStore, Store, StoreError, StoreResult};

/// The most rows a list of links or conversions returns.
pub const MAX_LINK_PAGE: usize = 1_000;

#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Store new links in one transaction; a code that is taken fails the whole call with
    /// [`StoreError::Conflict`] (nothing is stored).
    async fn create_links(
        &self,
        links: &[NewTrackedLink],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<TrackedLink>>;
    async fn link(&self, code: &str) -> StoreResult<Option<TrackedLink>>;
    /// The redirect target alone (the `/l/{code}` hot path).
    async fn link_target(&self, code: &str) -> StoreResult<Option<String>>;
    /// Newest first; only the campaign's links when `campaign` is given.
    async fn links(
        &self,
        campaign: Option<CampaignId>,
        limit: usize,
    ) -> StoreResult<Vec<TrackedLink>>;
    /// The links made for post `post_id` (when it was queued for publishing), oldest first.
    async fn post_links(&self, post_id: i64) -> StoreResult<Vec<TrackedLink>>;
    /// Add click counts to their (link, day) rows in one transaction. Counts for a code that
    /// is not (or no longer) a link are dropped.
    async fn add_clicks(&self, clicks: &[ClickCount]) -> StoreResult<()>;
    /// Clicks per link and day in `[since, until]`, by day then code; one link's with `code`.
    async fn clicks_per_day(
        &self,
        code: Option<&str>,
        since: NaiveDate,
        until: NaiveDate,
    ) -> StoreResult<Vec<ClickDay>>;
    /// Record a conversion once. The same `external_id` with the same content returns the
    /// first record ([`ConversionOutcome::Replayed`]); with different content it is a
    /// [`StoreError::Conflict`] naming the id. Never two records for one id.
    async fn record_conversion(
        &self,
        conversion: NewConversion,
        received_at: DateTime<Utc>,
    ) -> StoreResult<ConversionOutcome>;
    /// Newest first; only those counted for the campaign when `campaign` is given.
    async fn conversions(
        &self,
        campaign: Option<CampaignId>,
        limit: usize,
    ) -> StoreResult<Vec<Conversion>>;
}

#[async_trait]
pub trait CampaignStore: Send + Sync {
    async fn create_campaign(&self, new: NewCampaign, at: DateTime<Utc>) -> StoreResult<Campaign>;
    async fn campaign(&self, id: CampaignId) -> StoreResult<Option<Campaign>>;
    /// By name (any case) or by `utm_campaign`.
    async fn campaign_named(&self, name: &str) -> StoreResult<Option<Campaign>>;
    /// By start date, newest first.
    async fn campaigns(&self) -> StoreResult<Vec<Campaign>>;
    async fn add_spend(
        &self,
        campaign: CampaignId,
        spend: NewSpend,
        at: DateTime<Utc>,
    ) -> StoreResult<SpendEntry>;
    async fn spend_entries(&self, campaign: CampaignId) -> StoreResult<Vec<SpendEntry>>;
    /// Replace a campaign's settings and its list of posts. Links made before keep the
    /// `utm_campaign` they were made with.
    async fn update_campaign(&self, id: CampaignId, new: NewCampaign) -> StoreResult<Campaign>;
    /// Remove a campaign that holds no figures. One with spend entries, links or conversions
    /// counted for it is refused with [`StoreError::Conflict`] (its figures would be lost:
    /// give it an end date instead).
    async fn delete_campaign(&self, id: CampaignId) -> StoreResult<()>;
    /// Make `post_id` serve `campaign` alone (`None`: no campaign). A missing campaign is
    /// [`StoreError::NotFound`].
    async fn set_post_campaign(
        &self,
        post_id: i64,
        campaign: Option<CampaignId>,
    ) -> StoreResult<()>;
    /// What the report counts: human and bot clicks on the campaign's links, conversions
    /// attributed to it (through one of its links, or reported with its `utm_campaign`; each
    /// conversion once), and spend per currency.
    async fn campaign_figures(&self, campaign: CampaignId) -> StoreResult<CampaignFigures>;

    /// The campaign's report, or `None` when there is no such campaign.
    async fn campaign_report(&self, id: CampaignId) -> StoreResult<Option<CampaignReport>> {
        let Some(campaign) = self.campaign(id).await? else {
            return Ok(None);
        };
        let figures = self.campaign_figures(id).await?;
        Ok(Some(CampaignReport::compute(campaign, &figures)))
    }
}

/// A short code no link has yet (checked against the store).
pub async fn fresh_code(store: &dyn Store) -> StoreResult<String> {
    for _ in 0..16 {
        let code = short_code_from_random(rand::rngs::OsRng.next_u64());
        if store.link_target(&code).await?.is_none() {
            return Ok(code);
        }
    }
    Err(StoreError::Conflict(
        "could not find a free short code in 16 tries".into(),
    ))
}

/// `text` with every link replaced by a short link with a fresh code (checked against the
/// store), and the links to store. Nothing is written: the caller stores the links, with
/// whatever else belongs to them, and plans again should a code be taken meanwhile.
pub async fn plan_tracking(
    store: &dyn Store,
    text: &str,
    settings: &TrackingSettings,
) -> StoreResult<(String, Vec<NewTrackedLink>)> {
    let invalid = |e: earshot_core::links::LinkError| StoreError::InvalidInput(e.to_string());
    let link_count = earshot_text::tracking::track_links(text, settings, &mut String::new)
        .map_err(invalid)?
        .1
        .len();
    let mut codes = Vec::with_capacity(link_count);
    for _ in 0..link_count {
        codes.push(fresh_code(store).await?);
    }
    let mut handed = codes.into_iter();
    earshot_text::tracking::track_links(text, settings, &mut || handed.next().unwrap_or_default())
        .map_err(invalid)
}

/// The seam for publishing: `text` with every link replaced by a short link, and the links,
/// stored. Codes are random and checked; should another writer take one of them in between,
/// the whole text is done again (at most three times).
pub async fn track_text(
    store: &dyn Store,
    text: &str,
    settings: &TrackingSettings,
    at: DateTime<Utc>,
) -> StoreResult<(String, Vec<TrackedLink>)> {
    let mut last_error = None;
    for _ in 0..3 {
        let (tracked, links) = plan_tracking(store, text, settings).await?;
        match store.create_links(&links, at).await {
            Ok(stored) => return Ok((tracked, stored)),
            Err(StoreError::Conflict(message)) => last_error = Some(message),
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::Conflict(last_error.unwrap_or_default()))
}

/// One tracked link to `url` with UTM parameters added (the CLI and the links page).
pub async fn create_tracked_link(
    store: &dyn Store,
    url: &str,
    utm: &UtmParams,
    campaign_id: Option<CampaignId>,
    post_id: Option<i64>,
    at: DateTime<Utc>,
) -> StoreResult<TrackedLink> {
    let target_url = earshot_text::tracking::add_utm(url, utm)
        .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
    let mut last_error = None;
    for _ in 0..3 {
        let link = NewTrackedLink {
            code: fresh_code(store).await?,
            target_url: target_url.clone(),
            utm: utm.clone(),
            campaign_id,
            post_id,
        };
        match store.create_links(std::slice::from_ref(&link), at).await {
            Ok(mut stored) => {
                return stored
                    .pop()
                    .ok_or_else(|| StoreError::Database("the link was not stored".into()))
            }
            Err(StoreError::Conflict(message)) => last_error = Some(message),
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::Conflict(last_error.unwrap_or_default()))
}

fn db(context: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Database(format!("{context}: {e}"))
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

fn conflicting_conversion(external_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "conversion {external_id:?} was recorded before with different content \
         (value, currency, kind, link_code, utm_campaign or occurred_at); an external_id \
         names one outcome: send a new id for a new outcome"
    ))
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn parse_day(text: &str, column: &str) -> StoreResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| StoreError::Database(format!("{column} holds an impossible date: {text:?}")))
}

fn parse_currency(text: &str, column: &str) -> StoreResult<Currency> {
    Currency::parse(text).map_err(|_| {
        StoreError::Database(format!("{column} holds an impossible currency: {text:?}"))
    })
}

const LINK_COLUMNS: &str = "code, target_url, utm_source, utm_medium, utm_campaign, utm_content, \
                            utm_term, campaign_id, post_id, created_at";

fn row_to_link(row: &SqliteRow) -> StoreResult<TrackedLink> {
    Ok(TrackedLink {
        code: row.get("code"),
        target_url: row.get("target_url"),
        utm: UtmParams {
            source: row.get("utm_source"),
            medium: row.get("utm_medium"),
            campaign: row.get("utm_campaign"),
            content: row.get("utm_content"),
            term: row.get("utm_term"),
        },
        campaign_id: row.get::<Option<i64>, _>("campaign_id").map(CampaignId),
        post_id: row.get("post_id"),
        created_at: from_micros(row.get("created_at"), "tracked_links.created_at")?,
    })
}

const CONVERSION_COLUMNS: &str = "id, external_id, value_minor, currency, kind, link_code, \
                                  utm_campaign, occurred_at, received_at";

fn row_to_conversion(row: &SqliteRow) -> StoreResult<Conversion> {
    Ok(Conversion {
        id: row.get("id"),
        external_id: row.get("external_id"),
        value: row.get("value_minor"),
        currency: parse_currency(row.get("currency"), "conversions.currency")?,
        kind: row.get("kind"),
        link_code: row.get("link_code"),
        utm_campaign: row.get("utm_campaign"),
        occurred_at: from_micros(row.get("occurred_at"), "conversions.occurred_at")?,
        received_at: from_micros(row.get("received_at"), "conversions.received_at")?,
    })
}

const CAMPAIGN_COLUMNS: &str = "c.id, c.name, c.utm_campaign, c.goal, c.custom_goal, c.target, \
    c.budget_minor, c.budget_currency, c.starts_on, c.ends_on, c.created_at, \
    (SELECT group_concat(post_id) FROM \
        (SELECT post_id FROM campaign_posts p WHERE p.campaign_id = c.id ORDER BY post_id)) AS posts";

fn row_to_campaign(row: &SqliteRow) -> StoreResult<Campaign> {
    let goal: String = row.get("goal");
    let budget = match (
        row.get::<Option<i64>, _>("budget_minor"),
        row.get::<Option<String>, _>("budget_currency"),
    ) {
        (Some(minor), Some(currency)) => Some(Money {
            minor,
            currency: parse_currency(&currency, "campaigns.budget_currency")?,
        }),
        _ => None,
    };
    let posts: Option<String> = row.get("posts");
    let post_ids = posts
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<i64>()
                .map_err(|_| StoreError::Database(format!("campaign_posts.post_id holds {p:?}")))
        })
        .collect::<StoreResult<Vec<i64>>>()?;
    Ok(Campaign {
        id: CampaignId(row.get("id")),
        name: row.get("name"),
        utm_campaign: row.get("utm_campaign"),
        goal: Goal::parse(&goal).map_err(StoreError::Database)?,
        custom_goal: row.get("custom_goal"),
        target: row.get("target"),
        budget,
        starts_on: parse_day(row.get("starts_on"), "campaigns.starts_on")?,
        ends_on: row
            .get::<Option<String>, _>("ends_on")
            .map(|d| parse_day(&d, "campaigns.ends_on"))
            .transpose()?,
        post_ids,
        created_at: from_micros(row.get("created_at"), "campaigns.created_at")?,
    })
}

fn row_to_spend(row: &SqliteRow) -> StoreResult<SpendEntry> {
    Ok(SpendEntry {
        id: row.get("id"),
        campaign_id: CampaignId(row.get("campaign_id")),
        amount: Money {
            minor: row.get("amount_minor"),
            currency: parse_currency(row.get("currency"), "campaign_spend.currency")?,
        },
        spent_on: parse_day(row.get("spent_on"), "campaign_spend.spent_on")?,
        note: row.get("note"),
        created_at: from_micros(row.get("created_at"), "campaign_spend.created_at")?,
    })
}

async fn campaign_exists(tx: &mut Transaction<'_, Sqlite>, id: CampaignId) -> StoreResult<bool> {
    Ok(sqlx::query("SELECT 1 FROM campaigns WHERE id = ?")
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db("reading a campaign"))?
        .is_some())
}

/// Refuse links the redirect could not serve, before anything is written.
pub(crate) fn validate_links(links: &[NewTrackedLink]) -> StoreResult<()> {
    for link in links {
        if !is_valid_short_code(&link.code) {
            return Err(StoreError::InvalidInput(format!(
                "invalid short code {:?}: 4 to 32 letters, digits, '-' or '_'",
                link.code
            )));
        }
        if link.target_url.len() > earshot_core::links::MAX_TARGET_URL_BYTES
            || !(link.target_url.starts_with("http://") || link.target_url.starts_with("https://"))
        {
            return Err(StoreError::InvalidInput(format!(
                "link {}: the target must be an http(s) URL of at most {} bytes",
                link.code,
                earshot_core::links::MAX_TARGET_URL_BYTES
            )));
        }
        link.utm
            .validate()
            .map_err(|e| StoreError::InvalidInput(format!("link {}: {e}", link.code)))?;
    }
    Ok(())
}

/// Insert validated links inside the caller's transaction (so a publication and the links
/// its text points to are stored together). A taken code is [`StoreError::Conflict`].
pub(crate) async fn insert_links(
    tx: &mut Transaction<'_, Sqlite>,
    links: &[NewTrackedLink],
    at: DateTime<Utc>,
) -> StoreResult<Vec<TrackedLink>> {
    let mut stored = Vec::with_capacity(links.len());
    for link in links {
        if let Some(campaign) = link.campaign_id {
            if !campaign_exists(tx, campaign).await? {
                return Err(StoreError::NotFound(format!("no campaign {campaign}")));
            }
        }
        let row = sqlx::query(&format!(
            "INSERT INTO tracked_links ({LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             RETURNING {LINK_COLUMNS}"
        ))
        .bind(&link.code)
        .bind(&link.target_url)
        .bind(&link.utm.source)
        .bind(&link.utm.medium)
        .bind(&link.utm.campaign)
        .bind(&link.utm.content)
        .bind(&link.utm.term)
        .bind(link.campaign_id.map(|c| c.0))
        .bind(link.post_id)
        .bind(micros(at))
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("short code {} is taken", link.code))
            } else {
                StoreError::Database(format!("storing a tracked link: {e}"))
            }
        })?;
        stored.push(row_to_link(&row)?);
    }
    Ok(stored)
}

/// The settings columns of `campaigns`, in the order of the INSERT and the UPDATE.
fn bind_campaign_fields<'q>(
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    new: &'q NewCampaign,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    query
        .bind(new.name.trim())
        .bind(&new.utm_campaign)
        .bind(new.goal.as_str())
        .bind(new.custom_goal.as_deref().map(str::trim))
        .bind(new.target)
        .bind(new.budget.as_ref().map(|b| b.minor))
        .bind(new.budget.as_ref().map(|b| b.currency.as_str().to_string()))
        .bind(day_text(new.starts_on))
        .bind(new.ends_on.map(day_text))
}

/// A campaign's name and `utm_campaign` are unique: a clash is the user's to resolve.
fn campaign_write_error(error: sqlx::Error, new: &NewCampaign, context: &str) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Conflict(format!(
            "another campaign is named {:?} or has utm_campaign {:?}",
            new.name.trim(),
            new.utm_campaign
        ))
    } else {
        StoreError::Database(format!("{context}: {error}"))
    }
}

async fn begin_immediate(store: &SqliteStore) -> StoreResult<Transaction<'static, Sqlite>> {
    store
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db("starting a transaction"))
}

/// Commit what `result` did, or roll it back at once when it failed: a transaction merely
/// dropped keeps its write lock until the pool next uses that connection, and the next
/// writer on another connection would find the database locked.
pub(crate) async fn settle<T>(
    tx: Transaction<'static, Sqlite>,
    result: StoreResult<T>,
    context: &'static str,
) -> StoreResult<T> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(db(context))?;
            Ok(value)
        }
        Err(error) => {
            // The failure is what the caller needs to hear; a failed rollback is not news.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

async fn insert_campaign_posts(
    tx: &mut Transaction<'_, Sqlite>,
    campaign: CampaignId,
    posts: &[i64],
) -> StoreResult<()> {
    for post in posts {
        sqlx::query(
            "INSERT INTO campaign_posts (campaign_id, post_id) VALUES (?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(campaign.0)
        .bind(post)
        .execute(&mut **tx)
        .await
        .map_err(db("storing a campaign's posts"))?;
    }
    Ok(())
}

/// Conversions counted for campaign `?1` (its id) with utm_campaign `?2`.
const CAMPAIGN_CONVERSIONS: &str =
    "(link_code IN (SELECT code FROM tracked_links WHERE campaign_id = ?1) \
     OR utm_campaign = ?2)";

#[async_trait]
impl LinkStore for SqliteStore {
    async fn create_links(
        &self,
        links: &[NewTrackedLink],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<TrackedLink>> {
        validate_links(links)?;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        let stored = insert_links(&mut tx, links, at).await?;
        tx.commit().await.map_err(db("storing tracked links"))?;
        Ok(stored)
    }

    async fn link(&self, code: &str) -> StoreResult<Option<TrackedLink>> {
        let row = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM tracked_links WHERE code = ?"
        ))
        .bind(code)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a tracked link"))?;
        row.as_ref().map(row_to_link).transpose()
    }

    async fn link_target(&self, code: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT target_url FROM tracked_links WHERE code = ?")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a tracked link"))
    }

    async fn links(
        &self,
        campaign: Option<CampaignId>,
        limit: usize,
    ) -> StoreResult<Vec<TrackedLink>> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM tracked_links \
             WHERE (?1 IS NULL OR campaign_id = ?1) ORDER BY created_at DESC, code LIMIT ?2"
        ))
        .bind(campaign.map(|c| c.0))
        .bind(limit.min(MAX_LINK_PAGE) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing tracked links"))?;
        rows.iter().map(row_to_link).collect()
    }

    async fn post_links(&self, post_id: i64) -> StoreResult<Vec<TrackedLink>> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM tracked_links WHERE post_id = ? \
             ORDER BY created_at, code LIMIT {MAX_LINK_PAGE}"
        ))
        .bind(post_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing a post's links"))?;
        rows.iter().map(row_to_link).collect()
    }

    async fn add_clicks(&self, clicks: &[ClickCount]) -> StoreResult<()> {
        if clicks.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        for click in clicks {
            let human = i64::try_from(click.human).unwrap_or(i64::MAX);
            let bot = i64::try_from(click.bot).unwrap_or(i64::MAX);
            sqlx::query(
                "INSERT INTO link_clicks (code, day, human, bot) \
                 SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM tracked_links WHERE code = ?1) \
                 ON CONFLICT (code, day) DO UPDATE SET human = human + excluded.human, \
                 bot = bot + excluded.bot",
            )
            .bind(&click.code)
            .bind(day_text(click.day))
            .bind(human)
            .bind(bot)
            .execute(&mut *tx)
            .await
            .map_err(db("counting clicks"))?;
        }
        tx.commit().await.map_err(db("counting clicks"))?;
        Ok(())
    }

    async fn clicks_per_day(
        &self,
        code: Option<&str>,
        since: NaiveDate,
        until: NaiveDate,
    ) -> StoreResult<Vec<ClickDay>> {
        let rows = sqlx::query(
            "SELECT code, day, human, bot FROM link_clicks \
             WHERE (?1 IS NULL OR code = ?1) AND day >= ?2 AND day <= ?3 ORDER BY day, code",
        )
        .bind(code)
        .bind(day_text(since))
        .bind(day_text(until))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading clicks"))?;
        rows.iter()
            .map(|row| {
                Ok(ClickDay {
                    code: row.get("code"),
                    day: parse_day(row.get("day"), "link_clicks.day")?,
                    human: row.get::<i64, _>("human").max(0) as u64,
                    bot: row.get::<i64, _>("bot").max(0) as u64,
                })
            })
            .collect()
    }

    async fn record_conversion(
        &self,
        conversion: NewConversion,
        received_at: DateTime<Utc>,
    ) -> StoreResult<ConversionOutcome> {
        conversion.validate().map_err(StoreError::InvalidInput)?;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        let existing = sqlx::query(&format!(
            "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE external_id = ?"
        ))
        .bind(&conversion.external_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("reading a conversion"))?;
        if let Some(row) = existing {
            let first = row_to_conversion(&row)?;
            return if first.same_content(&conversion) {
                Ok(ConversionOutcome::Replayed(first))
            } else {
                Err(conflicting_conversion(&conversion.external_id))
            };
        }
        if let Some(code) = &conversion.link_code {
            let known = sqlx::query("SELECT 1 FROM tracked_links WHERE code = ?")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a tracked link"))?;
            if known.is_none() {
                return Err(StoreError::InvalidInput(format!(
                    "link_code {code:?} is no tracked link of this workspace"
                )));
            }
        }
        let row = sqlx::query(&format!(
            "INSERT INTO conversions (external_id, value_minor, currency, kind, link_code, \
             utm_campaign, occurred_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             RETURNING {CONVERSION_COLUMNS}"
        ))
        .bind(&conversion.external_id)
        .bind(conversion.value)
        .bind(conversion.currency.as_str())
        .bind(conversion.kind.trim())
        .bind(&conversion.link_code)
        .bind(&conversion.utm_campaign)
        .bind(micros(conversion.occurred_at))
        .bind(micros(received_at))
        .fetch_one(&mut *tx)
        .await;
        let row = match row {
            Ok(row) => row,
            // Another request stored the same id between our read and our write: answer as
            // a replay of that one.
            Err(error) if is_unique_violation(&error) => {
                drop(tx);
                let first = sqlx::query(&format!(
                    "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE external_id = ?"
                ))
                .bind(&conversion.external_id)
                .fetch_one(&self.pool)
                .await
                .map_err(db("reading a conversion"))?;
                let first = row_to_conversion(&first)?;
                return if first.same_content(&conversion) {
                    Ok(ConversionOutcome::Replayed(first))
                } else {
                    Err(conflicting_conversion(&conversion.external_id))
                };
            }
            Err(error) => {
                return Err(StoreError::Database(format!(
                    "storing a conversion: {error}"
                )))
            }
        };
        let stored = row_to_conversion(&row)?;
        tx.commit().await.map_err(db("storing a conversion"))?;
        Ok(ConversionOutcome::Created(stored))
    }

    async fn conversions(
        &self,
        campaign: Option<CampaignId>,
        limit: usize,
    ) -> StoreResult<Vec<Conversion>> {
        let limit = limit.min(MAX_LINK_PAGE) as i64;
        let rows = match campaign {
            None => {
                sqlx::query(&format!(
                    "SELECT {CONVERSION_COLUMNS} FROM conversions ORDER BY occurred_at DESC, id DESC LIMIT ?"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
            Some(id) => {
                let utm: Option<String> =
                    sqlx::query_scalar("SELECT utm_campaign FROM campaigns WHERE id = ?")
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db("reading a campaign"))?;
                let Some(utm) = utm else {
                    return Err(StoreError::NotFound(format!("no campaign {id}")));
                };
                sqlx::query(&format!(
                    "SELECT {CONVERSION_COLUMNS} FROM conversions WHERE {CAMPAIGN_CONVERSIONS} \
                     ORDER BY occurred_at DESC, id DESC LIMIT ?3"
                ))
                .bind(id.0)
                .bind(utm)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db("listing conversions"))?;
        rows.iter().map(row_to_conversion).collect()
    }
}

#[async_trait]
impl CampaignStore for SqliteStore {
    async fn create_campaign(&self, new: NewCampaign, at: DateTime<Utc>) -> StoreResult<Campaign> {
        new.validate().map_err(StoreError::InvalidInput)?;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        let row = bind_campaign_fields(
            sqlx::query(
                "INSERT INTO campaigns (name, utm_campaign, goal, custom_goal, target, \
                 budget_minor, budget_currency, starts_on, ends_on, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            ),
            &new,
        )
        .bind(micros(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| campaign_write_error(e, &new, "storing a campaign"))?;
        let id: i64 = row.get("id");
        insert_campaign_posts(&mut tx, CampaignId(id), &new.post_ids).await?;
        tx.commit().await.map_err(db("storing a campaign"))?;
        self.campaign(CampaignId(id))
            .await?
            .ok_or_else(|| StoreError::Database("the campaign just stored is gone".into()))
    }

    async fn campaign(&self, id: CampaignId) -> StoreResult<Option<Campaign>> {
        let row = sqlx::query(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns c WHERE c.id = ?"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a campaign"))?;
        row.as_ref().map(row_to_campaign).transpose()
    }

    async fn campaign_named(&self, name: &str) -> StoreResult<Option<Campaign>> {
        let row = sqlx::query(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns c \
             WHERE c.name = ?1 COLLATE NOCASE OR c.utm_campaign = ?1 ORDER BY c.id LIMIT 1"
        ))
        .bind(name.trim())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a campaign"))?;
        row.as_ref().map(row_to_campaign).transpose()
    }

    async fn campaigns(&self) -> StoreResult<Vec<Campaign>> {
        let rows = sqlx::query(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns c ORDER BY c.starts_on DESC, c.id DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing campaigns"))?;
        rows.iter().map(row_to_campaign).collect()
    }

    async fn add_spend(
        &self,
        campaign: CampaignId,
        spend: NewSpend,
        at: DateTime<Utc>,
    ) -> StoreResult<SpendEntry> {
        if spend.amount.minor < 0 {
            return Err(StoreError::InvalidInput(
                "spend must not be negative".into(),
            ));
        }
        if spend.note.chars().count() > 500 {
            return Err(StoreError::InvalidInput(
                "the spend note is longer than 500 characters".into(),
            ));
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("starting a transaction"))?;
        if !campaign_exists(&mut tx, campaign).await? {
            return Err(StoreError::NotFound(format!("no campaign {campaign}")));
        }
        let row = sqlx::query(
            "INSERT INTO campaign_spend (campaign_id, amount_minor, currency, spent_on, note, \
             created_at) VALUES (?, ?, ?, ?, ?, ?) \
             RETURNING id, campaign_id, amount_minor, currency, spent_on, note, created_at",
        )
        .bind(campaign.0)
        .bind(spend.amount.minor)
        .bind(spend.amount.currency.as_str())
        .bind(day_text(spend.spent_on))
        .bind(spend.note.trim())
        .bind(micros(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db("storing spend"))?;
        let entry = row_to_spend(&row)?;
        tx.commit().await.map_err(db("storing spend"))?;
        Ok(entry)
    }

    async fn update_campaign(&self, id: CampaignId, new: NewCampaign) -> StoreResult<Campaign> {
        new.validate().map_err(StoreError::InvalidInput)?;
        let mut tx = begin_immediate(self).await?;
        let result = async {
            let updated = bind_campaign_fields(
                sqlx::query(
                    "UPDATE campaigns SET name = ?, utm_campaign = ?, goal = ?, custom_goal = ?, \
                     target = ?, budget_minor = ?, budget_currency = ?, starts_on = ?, \
                     ends_on = ? WHERE id = ?",
                ),
                &new,
            )
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| campaign_write_error(e, &new, "updating a campaign"))?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("no campaign {id}")));
            }
            sqlx::query("DELETE FROM campaign_posts WHERE campaign_id = ?")
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db("updating a campaign's posts"))?;
            insert_campaign_posts(&mut tx, id, &new.post_ids).await
        }
        .await;
        settle(tx, result, "updating a campaign").await?;
        self.campaign(id)
            .await?
            .ok_or_else(|| StoreError::Database("the campaign just updated is gone".into()))
    }

    async fn delete_campaign(&self, id: CampaignId) -> StoreResult<()> {
        let mut tx = begin_immediate(self).await?;
        let result = async {
            let Some(utm): Option<String> =
                sqlx::query_scalar("SELECT utm_campaign FROM campaigns WHERE id = ?")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("reading a campaign"))?
            else {
                return Err(StoreError::NotFound(format!("no campaign {id}")));
            };
            let (spend, links, conversions): (i64, i64, i64) = sqlx::query_as(&format!(
                "SELECT (SELECT count(*) FROM campaign_spend WHERE campaign_id = ?1), \
                        (SELECT count(*) FROM tracked_links WHERE campaign_id = ?1), \
                        (SELECT count(*) FROM conversions WHERE {CAMPAIGN_CONVERSIONS})"
            ))
            .bind(id.0)
            .bind(&utm)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("counting a campaign's figures"))?;
            if spend + links + conversions > 0 {
                return Err(StoreError::Conflict(format!(
                    "campaign {id} holds figures ({spend} spend entries, {links} links, \
                     {conversions} conversions) that deleting it would lose; give it an end date instead"
                )));
            }
            // Its campaign_posts rows go with it (ON DELETE CASCADE; foreign keys are on).
            sqlx::query("DELETE FROM campaigns WHERE id = ?")
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db("deleting a campaign"))?;
            Ok(())
        }
        .await;
        settle(tx, result, "deleting a campaign").await
    }

    async fn set_post_campaign(
        &self,
        post_id: i64,
        campaign: Option<CampaignId>,
    ) -> StoreResult<()> {
        let mut tx = begin_immediate(self).await?;
        let result = async {
            if let Some(campaign) = campaign {
                if !campaign_exists(&mut tx, campaign).await? {
                    return Err(StoreError::NotFound(format!("no campaign {campaign}")));
                }
            }
            sqlx::query("DELETE FROM campaign_posts WHERE post_id = ?")
                .bind(post_id)
                .execute(&mut *tx)
                .await
                .map_err(db("changing a post's campaign"))?;
            match campaign {
                Some(campaign) => insert_campaign_posts(&mut tx, campaign, &[post_id]).await,
                None => Ok(()),
            }
        }
        .await;
        settle(tx, result, "changing a post's campaign").await
    }

    async fn spend_entries(&self, campaign: CampaignId) -> StoreResult<Vec<SpendEntry>> {
        let rows = sqlx::query(
            "SELECT id, campaign_id, amount_minor, currency, spent_on, note, created_at \
             FROM campaign_spend WHERE campaign_id = ? ORDER BY spent_on, id",
        )
        .bind(campaign.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading spend"))?;
        rows.iter().map(row_to_spend).collect()
    }

    async fn campaign_figures(&self, campaign: CampaignId) -> StoreResult<CampaignFigures> {
        let utm: Option<String> =
            sqlx::query_scalar("SELECT utm_campaign FROM campaigns WHERE id = ?")
                .bind(campaign.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a campaign"))?;
        let Some(utm) = utm else {
            return Err(StoreError::NotFound(format!("no campaign {campaign}")));
        };
        let clicks = sqlx::query(
            "SELECT COALESCE(SUM(k.human), 0) AS human, COALESCE(SUM(k.bot), 0) AS bot \
             FROM link_clicks k JOIN tracked_links l ON l.code = k.code WHERE l.campaign_id = ?",
        )
        .bind(campaign.0)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting a campaign's clicks"))?;
        let conversion_rows = sqlx::query(&format!(
            "SELECT currency, kind, COUNT(*) AS n, SUM(value_minor) AS total FROM conversions \
             WHERE {CAMPAIGN_CONVERSIONS} GROUP BY currency, kind ORDER BY currency, kind"
        ))
        .bind(campaign.0)
        .bind(&utm)
        .fetch_all(&self.pool)
        .await
        .map_err(db("counting a campaign's conversions"))?;
        let spend_rows = sqlx::query(
            "SELECT currency, SUM(amount_minor) AS total FROM campaign_spend \
             WHERE campaign_id = ? GROUP BY currency ORDER BY currency",
        )
        .bind(campaign.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db("summing a campaign's spend"))?;
        Ok(CampaignFigures {
            clicks_human: clicks.get::<i64, _>("human").max(0) as u64,
            clicks_bot: clicks.get::<i64, _>("bot").max(0) as u64,
            conversions: conversion_rows
                .iter()
                .map(|row| {
                    Ok(ConversionTotal {
                        currency: parse_currency(row.get("currency"), "conversions.currency")?,
                        kind: row.get("kind"),
                        count: row.get::<i64, _>("n").max(0) as u64,
                        value: row.get("total"),
                    })
                })
                .collect::<StoreResult<_>>()?,
            spend: spend_rows
                .iter()
                .map(|row| {
                    Ok(Money {
                        minor: row.get("total"),
                        currency: parse_currency(row.get("currency"), "campaign_spend.currency")?,
                    })
                })
                .collect::<StoreResult<_>>()?,
        })
    }
}

/// Behaviour tests of [`LinkStore`] and [`CampaignStore`], runnable against any [`Store`].
pub mod testsuite {
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};
    use earshot_core::links::{
        ClickCount, ConversionOutcome, NewConversion, NewTrackedLink, TrackingSettings, UtmParams,
    };
    use earshot_core::{CampaignId, Currency, Goal, Money, NewCampaign, NewSpend};

    use crate::{Store, StoreError};

    pub async fn run_all(store: &dyn Store) {
        links_are_stored_and_codes_are_unique(store).await;
        clicks_are_counted_per_day_people_and_bots_apart(store).await;
        conversions_are_recorded_once(store).await;
        campaign_reports_count_only_their_own(store).await;
        tracked_texts_store_their_links(store).await;
        bad_campaigns_and_spend_are_refused(store).await;
        campaigns_are_edited_and_only_empty_ones_deleted(store).await;
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 2, 10, 0, 0).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 3, d).unwrap()
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn link(code: &str, campaign: Option<CampaignId>) -> NewTrackedLink {
        NewTrackedLink {
            code: code.into(),
            target_url: format!("https://zeltron.com/{code}?utm_source=mastodon"),
            utm: UtmParams {
                source: Some("mastodon".into()),
                ..UtmParams::default()
            },
            campaign_id: campaign,
            post_id: Some(7),
        }
    }

    fn campaign(name: &str) -> NewCampaign {
        NewCampaign {
            name: name.into(),
            utm_campaign: earshot_core::campaigns::slug(name),
            goal: Goal::Sales,
            custom_goal: None,
            target: Some(20),
            budget: Some(Money {
                minor: 100_000,
                currency: eur(),
            }),
            starts_on: day(1),
            ends_on: Some(day(31)),
            post_ids: vec![11, 12],
        }
    }

    fn conversion(id: &str, value: i64, code: Option<&str>, utm: Option<&str>) -> NewConversion {
        NewConversion {
            external_id: id.into(),
            value,
            currency: eur(),
            kind: "sale".into(),
            link_code: code.map(str::to_string),
            utm_campaign: utm.map(str::to_string),
            occurred_at: at(),
        }
    }

    pub async fn links_are_stored_and_codes_are_unique(store: &dyn Store) {
        let stored = store
            .create_links(&[link("aaaa0001", None), link("aaaa0002", None)], at())
            .await
            .unwrap();
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].code, "aaaa0001");
        assert_eq!(stored[0].post_id, Some(7));
        assert_eq!(stored[0].created_at, at());
        assert_eq!(
            store.link_target("aaaa0002").await.unwrap().as_deref(),
            Some("https://zeltron.com/aaaa0002?utm_source=mastodon")
        );
        assert_eq!(
            store.link("aaaa0001").await.unwrap(),
            Some(stored[0].clone())
        );
        assert!(store.link("nope0000").await.unwrap().is_none());
        // A taken code fails the whole batch: the new code in it is not stored either.
        let clash = store
            .create_links(&[link("aaaa0003", None), link("aaaa0001", None)], at())
            .await;
        assert!(
            matches!(&clash, Err(StoreError::Conflict(m)) if m.contains("aaaa0001")),
            "{clash:?}"
        );
        assert!(store.link("aaaa0003").await.unwrap().is_none());
        let mut bad = link("aaaa0004", None);
        bad.target_url = "javascript:alert(1)".into();
        assert!(matches!(
            store.create_links(&[bad], at()).await,
            Err(StoreError::InvalidInput(_))
        ));
        let unknown_campaign = store
            .create_links(&[link("aaaa0005", Some(CampaignId(999_999)))], at())
            .await;
        assert!(matches!(unknown_campaign, Err(StoreError::NotFound(_))));
        let fresh = super::fresh_code(store).await.unwrap();
        assert!(store.link(&fresh).await.unwrap().is_none());
    }

    pub async fn clicks_are_counted_per_day_people_and_bots_apart(store: &dyn Store) {
        store
            .create_links(&[link("clk00001", None), link("clk00002", None)], at())
            .await
            .unwrap();
        let count = |code: &str, d: u32, human: u64, bot: u64| ClickCount {
            code: code.into(),
            day: day(d),
            human,
            bot,
        };
        store
            .add_clicks(&[
                count("clk00001", 2, 3, 1),
                count("clk00001", 3, 1, 0),
                count("clk00002", 2, 0, 4),
                count("gone0000", 2, 5, 5),
            ])
            .await
            .unwrap();
        store
            .add_clicks(&[count("clk00001", 2, 2, 2)])
            .await
            .unwrap();
        let one = store
            .clicks_per_day(Some("clk00001"), day(1), day(31))
            .await
            .unwrap();
        let figures: Vec<(NaiveDate, u64, u64)> =
            one.iter().map(|c| (c.day, c.human, c.bot)).collect();
        assert_eq!(figures, [(day(2), 5, 3), (day(3), 1, 0)]);
        let on_the_second = store.clicks_per_day(None, day(2), day(2)).await.unwrap();
        assert_eq!(on_the_second.len(), 2);
        assert_eq!(on_the_second[1].code, "clk00002");
        assert_eq!((on_the_second[1].human, on_the_second[1].bot), (0, 4));
        assert!(store
            .clicks_per_day(Some("gone0000"), day(1), day(31))
            .await
            .unwrap()
            .is_empty());
    }

    pub async fn conversions_are_recorded_once(store: &dyn Store) {
        store
            .create_links(&[link("cnv00001", None)], at())
            .await
            .unwrap();
        let first = conversion("order-1001", 4_999, Some("cnv00001"), None);
        let created = match store.record_conversion(first.clone(), at()).await.unwrap() {
            ConversionOutcome::Created(c) => c,
            other => panic!("expected a new record, got {other:?}"),
        };
        assert_eq!(created.value, 4_999);
        assert_eq!(created.received_at, at());
        // The same report again, later: the first record, unchanged.
        let later = at() + chrono::Duration::minutes(3);
        match store.record_conversion(first.clone(), later).await.unwrap() {
            ConversionOutcome::Replayed(c) => assert_eq!(c, created),
            other => panic!("expected the first record, got {other:?}"),
        }
        // Different content under the same id: refused, nothing changes.
        let mut changed = first.clone();
        changed.value = 5_999;
        let clash = store.record_conversion(changed, later).await;
        assert!(
            matches!(&clash, Err(StoreError::Conflict(m)) if m.contains("order-1001")),
            "{clash:?}"
        );
        let all = store.conversions(None, 100).await.unwrap();
        assert_eq!(
            all.iter().filter(|c| c.external_id == "order-1001").count(),
            1
        );
        assert_eq!(
            all.iter()
                .find(|c| c.external_id == "order-1001")
                .unwrap()
                .value,
            4_999
        );
        let unknown = store
            .record_conversion(conversion("order-1002", 1, Some("zzzz9999"), None), at())
            .await;
        assert!(
            matches!(&unknown, Err(StoreError::InvalidInput(m)) if m.contains("zzzz9999")),
            "{unknown:?}"
        );
        let unattributed = store
            .record_conversion(conversion("order-1003", 1, None, None), at())
            .await;
        assert!(matches!(unattributed, Err(StoreError::InvalidInput(_))));
    }

    pub async fn campaign_reports_count_only_their_own(store: &dyn Store) {
        let spring = store
            .create_campaign(campaign("Spring Sale"), at())
            .await
            .unwrap();
        let other = store
            .create_campaign(campaign("Autumn"), at())
            .await
            .unwrap();
        assert_eq!(spring.post_ids, [11, 12]);
        assert_eq!(spring.utm_campaign, "spring-sale");
        assert_eq!(
            store
                .campaign_named("spring sale")
                .await
                .unwrap()
                .map(|c| c.id),
            Some(spring.id)
        );
        assert_eq!(
            store.campaign_named("autumn").await.unwrap().map(|c| c.id),
            Some(other.id)
        );
        store
            .create_links(
                &[
                    link("spr00001", Some(spring.id)),
                    link("aut00001", Some(other.id)),
                ],
                at(),
            )
            .await
            .unwrap();
        store
            .add_clicks(&[
                ClickCount {
                    code: "spr00001".into(),
                    day: day(2),
                    human: 40,
                    bot: 7,
                },
                ClickCount {
                    code: "aut00001".into(),
                    day: day(2),
                    human: 1_000,
                    bot: 0,
                },
            ])
            .await
            .unwrap();
        // Through the link, through utm_campaign, and both at once (counted once).
        for c in [
            conversion("s-1", 10_000, Some("spr00001"), None),
            conversion("s-2", 20_000, None, Some("spring-sale")),
            conversion("s-3", 30_000, Some("spr00001"), Some("spring-sale")),
            conversion("a-1", 99_000, Some("aut00001"), None),
        ] {
            store.record_conversion(c, at()).await.unwrap();
        }
        let mut usd_lead = conversion("s-4", 500, None, Some("spring-sale"));
        usd_lead.currency = Currency::parse("USD").unwrap();
        usd_lead.kind = "lead".into();
        store.record_conversion(usd_lead, at()).await.unwrap();
        store
            .add_spend(
                spring.id,
                NewSpend {
                    amount: Money {
                        minor: 15_000,
                        currency: eur(),
                    },
                    spent_on: day(2),
                    note: "boosted post".into(),
                },
                at(),
            )
            .await
            .unwrap();
        store
            .add_spend(
                spring.id,
                NewSpend {
                    amount: Money {
                        minor: 5_000,
                        currency: eur(),
                    },
                    spent_on: day(3),
                    note: String::new(),
                },
                at(),
            )
            .await
            .unwrap();
        assert_eq!(store.spend_entries(spring.id).await.unwrap().len(), 2);
        let report = store.campaign_report(spring.id).await.unwrap().unwrap();
        assert_eq!((report.clicks_human, report.clicks_bot), (40, 7));
        assert_eq!(report.conversions, 4);
        assert_eq!(report.goal_conversions, 3);
        assert_eq!(report.rows.len(), 2);
        let eur_row = &report.rows[0];
        assert_eq!(eur_row.currency.as_str(), "EUR");
        assert_eq!(eur_row.spend, 20_000);
        assert_eq!(eur_row.conversions, 3);
        assert_eq!(eur_row.conversion_value, 60_000);
        assert_eq!(eur_row.cost_per_conversion, Some(6_667));
        assert_eq!(eur_row.roi_basis_points, Some(20_000)); // (600 − 200) / 200 = 200 %
        let usd_row = &report.rows[1];
        assert_eq!((usd_row.conversions, usd_row.conversion_value), (1, 500));
        assert_eq!(usd_row.roi_basis_points, None);
        let spring_conversions = store.conversions(Some(spring.id), 100).await.unwrap();
        assert_eq!(spring_conversions.len(), 4);
        assert_eq!(store.links(Some(spring.id), 10).await.unwrap().len(), 1);
        assert!(store
            .campaign_report(CampaignId(999_999))
            .await
            .unwrap()
            .is_none());
        let names: Vec<String> = store
            .campaigns()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert!(names.contains(&"Spring Sale".to_string()) && names.contains(&"Autumn".into()));
    }

    pub async fn tracked_texts_store_their_links(store: &dyn Store) {
        let settings = TrackingSettings {
            base_url: "https://go.zeltron.com".into(),
            utm: UtmParams {
                source: Some("bluesky".into()),
                campaign: Some("launch".into()),
                ..UtmParams::default()
            },
            campaign_id: None,
            post_id: Some(99),
        };
        let (text, links) = super::track_text(
            store,
            "Out now: https://zeltron.com/x1. Docs: https://docs.zeltron.com/#start",
            &settings,
            at(),
        )
        .await
        .unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(
            text,
            format!(
                "Out now: https://go.zeltron.com/l/{}. Docs: https://go.zeltron.com/l/{}",
                links[0].code, links[1].code
            )
        );
        assert_ne!(links[0].code, links[1].code);
        let of_post: Vec<String> = store
            .post_links(99)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.code)
            .collect();
        let mut made: Vec<String> = links.iter().map(|l| l.code.clone()).collect();
        made.sort();
        let mut listed = of_post.clone();
        listed.sort();
        assert_eq!(listed, made, "the post's links are listed for the post");
        assert_eq!(
            store.link_target(&links[1].code).await.unwrap().as_deref(),
            Some("https://docs.zeltron.com/?utm_source=bluesky&utm_campaign=launch#start")
        );
        let single = super::create_tracked_link(
            store,
            "https://zeltron.com/pricing",
            &settings.utm,
            None,
            None,
            at(),
        )
        .await
        .unwrap();
        assert!(single.target_url.ends_with("utm_campaign=launch"));
        let refused = super::create_tracked_link(
            store,
            "ftp://zeltron.com/file",
            &settings.utm,
            None,
            None,
            at(),
        )
        .await;
        assert!(matches!(refused, Err(StoreError::InvalidInput(_))));
    }

    pub async fn bad_campaigns_and_spend_are_refused(store: &dyn Store) {
        let mut bad = campaign("Broken");
        bad.ends_on = Some(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert!(matches!(
            store.create_campaign(bad, at()).await,
            Err(StoreError::InvalidInput(m)) if m.contains("end date")
        ));
        store
            .create_campaign(campaign("Twice"), at())
            .await
            .unwrap();
        assert!(matches!(
            store.create_campaign(campaign("Twice"), at()).await,
            Err(StoreError::Conflict(_))
        ));
        let spend = NewSpend {
            amount: Money {
                minor: 1,
                currency: eur(),
            },
            spent_on: day(1),
            note: String::new(),
        };
        assert!(matches!(
            store.add_spend(CampaignId(999_999), spend, at()).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn campaigns_are_edited_and_only_empty_ones_deleted(store: &dyn Store) {
        let first = store
            .create_campaign(campaign("Edit Me"), at())
            .await
            .unwrap();
        let other = store
            .create_campaign(campaign("Other One"), at())
            .await
            .unwrap();
        let mut changed = campaign("Edited");
        changed.utm_campaign = "edited-2027".into();
        changed.target = Some(5);
        changed.budget = None;
        changed.post_ids = vec![501, 502];
        let edited = store.update_campaign(first.id, changed).await.unwrap();
        assert_eq!(edited.name, "Edited");
        assert_eq!(edited.utm_campaign, "edited-2027");
        assert_eq!(edited.target, Some(5));
        assert_eq!(edited.budget, None);
        assert_eq!(edited.post_ids, vec![501, 502]);
        assert_eq!(edited.created_at, first.created_at);
        let mut clash = campaign("Other One");
        clash.utm_campaign = "unique-utm".into();
        assert!(matches!(
            store.update_campaign(first.id, clash).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.campaign(first.id).await.unwrap().unwrap().name,
            "Edited"
        );
        assert!(matches!(
            store
                .update_campaign(CampaignId(999_999), campaign("Nobody"))
                .await,
            Err(StoreError::NotFound(_))
        ));

        // A post serves one campaign when set from the post.
        store.set_post_campaign(501, Some(other.id)).await.unwrap();
        assert_eq!(
            store.campaign(first.id).await.unwrap().unwrap().post_ids,
            vec![502]
        );
        assert!(store
            .campaign(other.id)
            .await
            .unwrap()
            .unwrap()
            .post_ids
            .contains(&501));
        store.set_post_campaign(501, None).await.unwrap();
        assert!(!store
            .campaign(other.id)
            .await
            .unwrap()
            .unwrap()
            .post_ids
            .contains(&501));
        assert!(matches!(
            store
                .set_post_campaign(501, Some(CampaignId(999_999)))
                .await,
            Err(StoreError::NotFound(_))
        ));

        // Figures keep a campaign; an empty one goes, with its list of posts.
        store
            .create_links(&[link("keepme01", Some(other.id))], at())
            .await
            .unwrap();
        let refused = store.delete_campaign(other.id).await.unwrap_err();
        assert!(
            matches!(&refused, StoreError::Conflict(m) if m.contains("1 links")),
            "{refused:?}"
        );
        assert!(store.campaign(other.id).await.unwrap().is_some());
        store.delete_campaign(first.id).await.unwrap();
        assert!(store.campaign(first.id).await.unwrap().is_none());
        assert!(matches!(
            store.delete_campaign(first.id).await,
            Err(StoreError::NotFound(_))
        ));
        let mut reused = campaign("Edited");
        reused.utm_campaign = "edited-2027".into();
        let again = store.create_campaign(reused, at()).await.unwrap();
        assert_eq!(
            again.post_ids,
            vec![11, 12],
            "no rows of the deleted campaign remain"
        );
    }
}
