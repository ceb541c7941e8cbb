//! Tracked links in the web layer: the public redirect `/l/{code}` with its click counter, the
//! signed conversions endpoint `POST /api/conversions` and its signing secret, the links page
//! and `/api/links`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Mutex;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use earshot_core::links::{
    is_bot, is_valid_short_code, ClickCount, ClickCounting, Conversion, ConversionOutcome,
    NewConversion, TrackedLink, UtmParams,
};
use earshot_core::{CampaignId, Currency, Role};
use earshot_store::{Store, StoreError, StoreResult};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{ApiError, WebError};
use crate::i18n::Tr;
use crate::pages::PageContext;
use crate::view::{show_time, Layout};
use crate::AppState;

// ---- Counting clicks ----

/// Counts clicks for `/l/{code}`, either straight into the store or in memory to be flushed
/// once a second (see [`ClickCounting`] and docs/BENCHMARKS.md for why batching is the
/// default).
pub struct ClickRecorder {
    mode: ClickCounting,
    pending: Mutex<HashMap<(String, NaiveDate), (u64, u64)>>,
}

impl ClickRecorder {
    pub fn new(mode: ClickCounting) -> ClickRecorder {
        ClickRecorder {
            mode,
            pending: Mutex::new(HashMap::new()),
        }
    }

    pub fn mode(&self) -> ClickCounting {
        self.mode
    }

    /// Count one click on `code` on `day`.
    pub async fn record(
        &self,
        store: &dyn Store,
        code: &str,
        day: NaiveDate,
        bot: bool,
    ) -> StoreResult<()> {
        let (human, bot) = if bot { (0, 1) } else { (1, 0) };
        match self.mode {
            ClickCounting::Direct => {
                store
                    .add_clicks(&[ClickCount {
                        code: code.to_string(),
                        day,
                        human,
                        bot,
                    }])
                    .await
            }
            ClickCounting::Batched => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                let counts = pending.entry((code.to_string(), day)).or_default();
                counts.0 += human;
                counts.1 += bot;
                Ok(())
            }
        }
    }

    /// Write the counts held in memory in one transaction; returns how many (link, day) rows
    /// were written. When the store fails, the counts are kept for the next flush.
    pub async fn flush(&self, store: &dyn Store) -> StoreResult<usize> {
        let taken: Vec<ClickCount> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending
                .drain()
                .map(|((code, day), (human, bot))| ClickCount {
                    code,
                    day,
                    human,
                    bot,
                })
                .collect()
        };
        if taken.is_empty() {
            return Ok(0);
        }
        match store.add_clicks(&taken).await {
            Ok(()) => Ok(taken.len()),
            Err(error) => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                for click in taken {
                    let counts = pending.entry((click.code, click.day)).or_default();
                    counts.0 += click.human;
                    counts.1 += click.bot;
                }
                Err(error)
            }
        }
    }
}

/// How often batched click counts are written.
pub const CLICK_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// `GET|HEAD /l/{code}`: 302 to the link's target (UTM included) and one click counted for
/// today (UTC), as a person or as a crawler. Nothing about the visitor is stored.
pub(crate) async fn redirect(
    State(app): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Path(code): Path<String>,
    ctx: PageContext,
) -> Response {
    if !is_valid_short_code(&code) {
        return ctx.error_page(unknown_link(&code));
    }
    let target = match app.web.store.link_target(&code).await {
        Ok(Some(target)) => target,
        Ok(None) => return ctx.error_page(unknown_link(&code)),
        Err(error) => return ctx.error_page(error.into()),
    };
    let Ok(location) = HeaderValue::from_str(&target) else {
        return ctx.error_page(WebError::Internal(format!(
            "link {code} has a target that is not a valid header value"
        )));
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let bot = is_bot(method == Method::HEAD, user_agent);
    let day = app.now().date_naive();
    // A failed count must not cost the visitor the redirect.
    if let Err(error) = app
        .clicks
        .record(app.web.store.as_ref(), &code, day, bot)
        .await
    {
        tracing::warn!("counting a click on {code} failed: {error}");
    }
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The target site learns which site sent the visitor (the origin only, never the path);
    // the pages of Earshot itself keep `same-origin`.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    response
}

fn unknown_link(code: &str) -> WebError {
    WebError::NotFound(format!("there is no link /l/{code}"))
}

// ---- The signing secret ----

/// The workspace's conversion signing secret lives in this file (mode 0600), outside the
/// database, so a copy of the database cannot forge conversions.
pub const SIGNING_SECRET_FILE: &str = "conversions.secret";

pub fn signing_secret_path(workspace: &FsPath) -> PathBuf {
    workspace.join(SIGNING_SECRET_FILE)
}

/// The secret, or `None` when none was created yet.
pub fn read_signing_secret(workspace: &FsPath) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(signing_secret_path(workspace)) {
        Ok(text) => {
            let secret = text.trim().to_string();
            Ok((!secret.is_empty()).then_some(secret))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The secret, created when missing or when `rotate` is set (256 random bits as 64 hex
/// digits). The file is written beside the old one with mode 0600 and renamed over it, so a
/// reader sees the old or the new secret, never half of one.
pub fn ensure_signing_secret(workspace: &FsPath, rotate: bool) -> std::io::Result<String> {
    if !rotate {
        if let Some(secret) = read_signing_secret(workspace)? {
            return Ok(secret);
        }
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let path = signing_secret_path(workspace);
    let temporary = workspace.join(format!("{SIGNING_SECRET_FILE}.new"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(format!("{secret}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    Ok(secret)
}

// ---- POST /api/conversions ----

pub const TIMESTAMP_HEADER: &str = "x-earshot-timestamp";
pub const SIGNATURE_HEADER: &str = "x-earshot-signature";
/// A signed request is accepted this long after (or before, for clock skew) its timestamp.
pub const SIGNATURE_TOLERANCE: Duration = Duration::minutes(5);
/// The largest conversion body read.
const MAX_CONVERSION_BYTES: usize = 64 * 1024;

/// `sha256=` + hex HMAC-SHA256 of `timestamp + "." + body` under `secret`.
pub fn sign_conversion(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = hmac_for(secret);
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn hmac_for(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

/// Why a signed request was refused (answered 401; the message says what to fix).
fn verify_signature(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    let header_text = |name: &str| {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map(str::trim)
                    .map_err(|_| format!("{name} is not text"))
            })
            .transpose()
    };
    let timestamp = header_text(TIMESTAMP_HEADER)?
        .ok_or_else(|| "missing header X-Earshot-Timestamp (Unix seconds)".to_string())?;
    let signature = header_text(SIGNATURE_HEADER)?
        .ok_or_else(|| "missing header X-Earshot-Signature (sha256=HEX)".to_string())?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| format!("X-Earshot-Timestamp {timestamp:?} is not Unix seconds"))?;
    let sent = DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| format!("X-Earshot-Timestamp {timestamp:?} is out of range"))?;
    if (now - sent).abs() > SIGNATURE_TOLERANCE {
        return Err(format!(
            "X-Earshot-Timestamp is {} s away from the server's time; a signature is valid for \
             5 minutes (sign each request when sending it, and check the clock)",
            (now - sent).num_seconds()
        ));
    }
    let hex_part = signature
        .strip_prefix("sha256=")
        .ok_or_else(|| "X-Earshot-Signature must look like sha256=HEX".to_string())?;
    let sent_mac = hex::decode(hex_part)
        .map_err(|_| "X-Earshot-Signature: the part after sha256= is not hex".to_string())?;
    let mut mac = hmac_for(secret);
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sent_mac).map_err(|_| {
        "X-Earshot-Signature does not match: sign timestamp + \".\" + the exact body with the \
         workspace's secret (earshot conversions secret)"
            .to_string()
    })?;
    Ok(sent)
}

/// The JSON a website or shop sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversionBody {
    external_id: String,
    /// Minor units (cents), a whole number.
    value: i64,
    currency: String,
    kind: String,
    #[serde(default)]
    link_code: Option<String>,
    #[serde(default)]
    utm_campaign: Option<String>,
    /// RFC 3339; default: the request's X-Earshot-Timestamp.
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
struct ConversionAnswer {
    conversion: Conversion,
    /// `true` when this external id was recorded before with the same content.
    replayed: bool,
}

fn signature_refused(message: String) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(crate::error::ApiErrorBody { error: message }),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("X-Earshot-Signature"),
    );
    response
}

/// `POST /api/conversions`, authenticated by its signature only (no session, no token).
#[utoipa::path(
    post,
    path = "/api/conversions",
    tag = "campaigns",
    params(
        ("X-Earshot-Timestamp" = i64, Header, description = "Unix seconds when the request was signed (within 5 minutes of the server's clock)"),
        ("X-Earshot-Signature" = String, Header, description = "`sha256=` + hex HMAC-SHA256(secret, timestamp + \".\" + body)"),
    ),
    request_body(content = serde_json::Value, description = "`{\"external_id\": \"order-1001\", \"value\": 4999, \"currency\": \"EUR\", \"kind\": \"sale\", \"link_code\": \"Ab12Cd34\", \"utm_campaign\": \"spring-sale\", \"occurred_at\": \"RFC 3339\"}`; value in minor units"),
    responses(
        (status = 201, description = "Recorded: `{\"conversion\": {...}, \"replayed\": false}`", body = serde_json::Value),
        (status = 200, description = "The same external_id with the same content again: the first record, `\"replayed\": true`", body = serde_json::Value),
        (status = 400, description = "A field is missing or malformed; the message names it", body = crate::error::ApiErrorBody),
        (status = 401, description = "Missing or wrong signature, or a timestamp outside the window", body = crate::error::ApiErrorBody),
        (status = 409, description = "The external_id was recorded with different content", body = crate::error::ApiErrorBody),
    )
)]
pub(crate) async fn record_conversion(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.len() > MAX_CONVERSION_BYTES {
        return ApiError(WebError::BadRequest(format!(
            "the body has {} bytes; at most {MAX_CONVERSION_BYTES}",
            body.len()
        )))
        .into_response();
    }
    let secret = match read_signing_secret(&app.web.workspace) {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return signature_refused(
                "this workspace has no signing secret yet: run `earshot conversions secret`".into(),
            )
        }
        Err(error) => {
            return ApiError(WebError::Internal(format!(
                "cannot read the signing secret: {error}"
            )))
            .into_response()
        }
    };
    let now = app.now();
    let signed_at = match verify_signature(&secret, &headers, &body, now) {
        Ok(signed_at) => signed_at,
        Err(message) => return signature_refused(message),
    };
    let parsed: ConversionBody = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(error) => {
            return ApiError(WebError::BadRequest(format!("body: {error}"))).into_response()
        }
    };
    let currency = match Currency::parse(&parsed.currency) {
        Ok(currency) => currency,
        Err(error) => {
            return ApiError(WebError::BadRequest(format!("currency: {error}"))).into_response()
        }
    };
    let conversion = NewConversion {
        external_id: parsed.external_id,
        value: parsed.value,
        currency,
        kind: parsed.kind,
        link_code: parsed.link_code.filter(|c| !c.trim().is_empty()),
        utm_campaign: parsed.utm_campaign.filter(|c| !c.trim().is_empty()),
        // The signing time, not the arrival time: resending the same signed request is then a
        // replay of the same content, not a conflict.
        occurred_at: parsed.occurred_at.unwrap_or(signed_at),
    };
    match app.web.store.record_conversion(conversion, now).await {
        Ok(ConversionOutcome::Created(conversion)) => (
            StatusCode::CREATED,
            Json(ConversionAnswer {
                conversion,
                replayed: false,
            }),
        )
            .into_response(),
        Ok(ConversionOutcome::Replayed(conversion)) => (
            StatusCode::OK,
            Json(ConversionAnswer {
                conversion,
                replayed: true,
            }),
        )
            .into_response(),
        Err(StoreError::Conflict(message)) => ApiError(WebError::Conflict(message)).into_response(),
        Err(StoreError::InvalidInput(message)) => {
            ApiError(WebError::BadRequest(message)).into_response()
        }
        Err(error) => ApiError(error.into()).into_response(),
    }
}

// ---- The links page and /api/links ----

/// Days of clicks the links page and `/api/links` show.
const LINK_DAYS: i64 = 14;

pub struct LinkRow {
    pub code: String,
    pub short_url: String,
    pub target: String,
    pub campaign: Option<CampaignRef>,
    pub post_id: Option<i64>,
    pub created: String,
    /// Human clicks per shown day, oldest first.
    pub days: Vec<u64>,
    pub human: u64,
    pub bot: u64,
}

pub struct CampaignRef {
    pub id: i64,
    pub name: String,
}

#[derive(Template)]
#[template(path = "links.html")]
struct LinksPage {
    t: Tr,
    layout: Layout,
    day_labels: Vec<String>,
    rows: Vec<LinkRow>,
    can_edit: bool,
    csrf: String,
    campaigns: Vec<CampaignRef>,
    created: Option<String>,
}

pub(crate) fn can_manage(ctx: &PageContext) -> bool {
    ctx.signed_in
        .as_ref()
        .is_some_and(|s| s.user.role >= Role::Manager)
}

pub(crate) fn csrf_of(ctx: &PageContext) -> String {
    ctx.signed_in
        .as_ref()
        .and_then(|s| s.csrf())
        .unwrap_or_default()
        .to_string()
}

/// The public base of short links, from the configuration.
pub(crate) fn base_url(app: &AppState) -> String {
    let config = app.web.config();
    config.links.base_url_or(&config.server.addr)
}

struct LinkFigures {
    links: Vec<TrackedLink>,
    days: Vec<NaiveDate>,
    per_link: HashMap<String, (Vec<u64>, u64, u64)>,
}

async fn link_figures(
    app: &AppState,
    campaign: Option<CampaignId>,
) -> Result<LinkFigures, WebError> {
    let store = app.web.store.as_ref();
    let links = store.links(campaign, 500).await?;
    let today = app.now().date_naive();
    let first = today - Duration::days(LINK_DAYS - 1);
    let days: Vec<NaiveDate> = (0..LINK_DAYS).map(|i| first + Duration::days(i)).collect();
    let clicks = store.clicks_per_day(None, first, today).await?;
    let mut per_link: HashMap<String, (Vec<u64>, u64, u64)> = HashMap::new();
    for click in clicks {
        let entry = per_link
            .entry(click.code.clone())
            .or_insert_with(|| (vec![0; days.len()], 0, 0));
        if let Some(slot) = days.iter().position(|d| *d == click.day) {
            entry.0[slot] += click.human;
        }
        entry.1 += click.human;
        entry.2 += click.bot;
    }
    Ok(LinkFigures {
        links,
        days,
        per_link,
    })
}

pub(crate) async fn links_page(State(app): State<AppState>, ctx: PageContext) -> Response {
    let tr = ctx.tr();
    let figures = match link_figures(&app, None).await {
        Ok(figures) => figures,
        Err(error) => return ctx.error_page(error),
    };
    let campaigns = match app.web.store.campaigns().await {
        Ok(campaigns) => campaigns,
        Err(error) => return ctx.error_page(error.into()),
    };
    let names: HashMap<i64, String> = campaigns.iter().map(|c| (c.id.0, c.name.clone())).collect();
    let base = base_url(&app);
    let rows = figures
        .links
        .iter()
        .map(|link| {
            let (days, human, bot) = figures
                .per_link
                .get(&link.code)
                .cloned()
                .unwrap_or_else(|| (vec![0; figures.days.len()], 0, 0));
            LinkRow {
                code: link.code.clone(),
                short_url: format!("{base}/l/{}", link.code),
                target: link.target_url.clone(),
                campaign: link.campaign_id.map(|id| CampaignRef {
                    id: id.0,
                    name: names.get(&id.0).cloned().unwrap_or_else(|| id.to_string()),
                }),
                post_id: link.post_id,
                created: show_time(link.created_at),
                days,
                human,
                bot,
            }
        })
        .collect();
    let created = ctx.query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "created")
            .map(|(_, v)| v.into_owned())
            .filter(|c| is_valid_short_code(c))
            .map(|c| format!("{base}/l/{c}"))
    });
    let page = LinksPage {
        t: tr,
        layout: ctx.layout(tr.t("links.title"), "links"),
        day_labels: figures
            .days
            .iter()
            .map(|d| d.format("%m-%d").to_string())
            .collect(),
        rows,
        can_edit: can_manage(&ctx),
        csrf: csrf_of(&ctx),
        campaigns: campaigns
            .iter()
            .map(|c| CampaignRef {
                id: c.id.0,
                name: c.name.clone(),
            })
            .collect(),
        created,
    };
    ctx.respond(StatusCode::OK, &page)
}

#[derive(Debug, Deserialize)]
pub struct NewLinkForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    utm_source: String,
    #[serde(default)]
    utm_medium: String,
    #[serde(default)]
    utm_campaign: String,
    #[serde(default)]
    utm_content: String,
    #[serde(default)]
    utm_term: String,
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `POST /links` (manager): one tracked link; back to the list with the new short link shown.
pub(crate) async fn create_link(
    State(app): State<AppState>,
    ctx: PageContext,
    Form(form): Form<NewLinkForm>,
) -> Response {
    let store = app.web.store.as_ref();
    let campaign = match optional(&form.campaign) {
        None => None,
        Some(id) => match id.parse::<i64>() {
            Ok(id) => match store.campaign(CampaignId(id)).await {
                Ok(Some(campaign)) => Some(campaign),
                Ok(None) => {
                    return ctx
                        .error_page(WebError::BadRequest(format!("campaign: no campaign {id}")))
                }
                Err(error) => return ctx.error_page(error.into()),
            },
            Err(_) => {
                return ctx.error_page(WebError::BadRequest(format!(
                    "campaign: {id:?} is not a campaign id"
                )))
            }
        },
    };
    let utm = UtmParams {
        source: optional(&form.utm_source),
        medium: optional(&form.utm_medium),
        // A campaign's links carry its utm_campaign unless one is typed.
        campaign: optional(&form.utm_campaign)
            .or_else(|| campaign.as_ref().map(|c| c.utm_campaign.clone())),
        content: optional(&form.utm_content),
        term: optional(&form.utm_term),
    };
    match earshot_store::links::create_tracked_link(
        store,
        form.url.trim(),
        &utm,
        campaign.map(|c| c.id),
        None,
        app.now(),
    )
    .await
    {
        Ok(link) => Redirect::to(&format!("/links?created={}", link.code)).into_response(),
        Err(StoreError::InvalidInput(message)) => {
            ctx.error_page(WebError::BadRequest(format!("url: {message}")))
        }
        Err(error) => ctx.error_page(error.into()),
    }
}

#[derive(Debug, Serialize)]
struct ApiLink {
    #[serde(flatten)]
    link: TrackedLink,
    short_url: String,
    clicks: Vec<ApiClickDay>,
}

#[derive(Debug, Serialize)]
struct ApiClickDay {
    day: NaiveDate,
    human: u64,
}

/// `GET /api/links`: links, newest first, with human clicks per day of the last 14 days.
#[utoipa::path(
    get,
    path = "/api/links",
    tag = "campaigns",
    responses((status = 200, description = "`{\"links\": [...]}`: short links, newest first, with clicks by people per day of the last 14 days", body = serde_json::Value))
)]
pub(crate) async fn api_links(State(app): State<AppState>) -> Result<Response, ApiError> {
    let figures = link_figures(&app, None).await?;
    let base = base_url(&app);
    let links: Vec<ApiLink> = figures
        .links
        .into_iter()
        .map(|link| {
            let per_day = figures
                .per_link
                .get(&link.code)
                .map(|(days, _, _)| days.clone())
                .unwrap_or_else(|| vec![0; figures.days.len()]);
            ApiLink {
                short_url: format!("{base}/l/{}", link.code),
                clicks: figures
                    .days
                    .iter()
                    .zip(per_day)
                    .map(|(day, human)| ApiClickDay { day: *day, human })
                    .collect(),
                link,
            }
        })
        .collect();
    Ok(Json(serde_json::json!({ "links": links })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from_str(timestamp).unwrap());
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers
    }

    #[test]
    fn signatures_are_checked_over_timestamp_and_body() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let body = br#"{"external_id":"1"}"#;
        let good = sign_conversion("s3cret", "1800000000", body);
        assert!(good.starts_with("sha256=") && good.len() == 7 + 64);
        assert!(verify_signature("s3cret", &headers("1800000000", &good), body, now).is_ok());
        let wrong_secret = verify_signature("other", &headers("1800000000", &good), body, now);
        assert!(wrong_secret.unwrap_err().contains("does not match"));
        let tampered = verify_signature("s3cret", &headers("1800000000", &good), b"{}", now);
        assert!(tampered.is_err());
        // Moving the timestamp breaks the signature even inside the window.
        let moved = verify_signature("s3cret", &headers("1800000001", &good), body, now);
        assert!(moved.unwrap_err().contains("does not match"));
        let stale_signature = sign_conversion("s3cret", "1799999699", body);
        let stale = verify_signature(
            "s3cret",
            &headers("1799999699", &stale_signature),
            body,
            now,
        );
        assert!(stale.unwrap_err().contains("5 minutes"));
        let at_the_edge = sign_conversion("s3cret", "1799999700", body);
        assert!(
            verify_signature("s3cret", &headers("1799999700", &at_the_edge), body, now).is_ok()
        );
        let missing = verify_signature("s3cret", &HeaderMap::new(), body, now);
        assert!(missing.unwrap_err().contains("X-Earshot-Timestamp"));
        let bare_hex = good.trim_start_matches("sha256=").to_string();
        let no_prefix = verify_signature("s3cret", &headers("1800000000", &bare_hex), body, now);
        assert!(no_prefix.unwrap_err().contains("sha256=HEX"));
    }

    #[tokio::test]
    async fn batched_clicks_reach_the_store_only_when_flushed() {
        use earshot_core::links::NewTrackedLink;
        use earshot_store::LinkStore;
        let dir = tempfile::tempdir().unwrap();
        let store = earshot_store::SqliteStore::open(dir.path()).await.unwrap();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        store
            .create_links(
                &[NewTrackedLink {
                    code: "batch001".into(),
                    target_url: "https://zeltron.com/".into(),
                    utm: UtmParams::default(),
                    campaign_id: None,
                    post_id: None,
                }],
                at,
            )
            .await
            .unwrap();
        let day = at.date_naive();
        let recorder = ClickRecorder::new(ClickCounting::Batched);
        for bot in [false, false, true] {
            recorder.record(&store, "batch001", day, bot).await.unwrap();
        }
        async fn read(
            store: &earshot_store::SqliteStore,
            day: NaiveDate,
        ) -> Vec<earshot_core::ClickDay> {
            store
                .clicks_per_day(Some("batch001"), day, day)
                .await
                .unwrap()
        }
        assert!(
            read(&store, day).await.is_empty(),
            "nothing written before the flush"
        );
        assert_eq!(recorder.flush(&store).await.unwrap(), 1);
        let counted = read(&store, day).await;
        assert_eq!((counted[0].human, counted[0].bot), (2, 1));
        assert_eq!(
            recorder.flush(&store).await.unwrap(),
            0,
            "nothing left over"
        );
        recorder
            .record(&store, "batch001", day, false)
            .await
            .unwrap();
        recorder.flush(&store).await.unwrap();
        assert_eq!(read(&store, day).await[0].human, 3);

        let direct = ClickRecorder::new(ClickCounting::Direct);
        direct.record(&store, "batch001", day, true).await.unwrap();
        assert_eq!(
            read(&store, day).await[0].bot,
            2,
            "direct counting writes at once"
        );
    }

    #[test]
    fn the_secret_file_is_private_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_signing_secret(dir.path()).unwrap(), None);
        let first = ensure_signing_secret(dir.path(), false).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(ensure_signing_secret(dir.path(), false).unwrap(), first);
        let rotated = ensure_signing_secret(dir.path(), true).unwrap();
        assert_ne!(rotated, first);
        assert_eq!(read_signing_secret(dir.path()).unwrap(), Some(rotated));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(signing_secret_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
