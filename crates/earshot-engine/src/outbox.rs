//! The outbox worker: claims due messages from the store and delivers them — webhooks (signed
//! JSON POSTs), e-mails (SMTP) and posts (through a network's [`Publisher`]) — then records the
//! outcome: delivered, retried later with exponential backoff and jitter, or failed (a
//! permanent error, or the attempts ran out), kept and visible.
//!
//! Delivery is at least once: a worker that dies mid-delivery leaves its claim to expire, and
//! the next worker sends again. Every send carries the message's stable identity (webhook
//! `X-Earshot-Delivery`, e-mail `Message-ID`, Mastodon `Idempotency-Key`, Bluesky record
//! key), so the receiving side can make it exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use earshot_core::{
    Config, EmailPayload, OutboxConfig, OutboxId, OutboxKind, OutboxMessage, PublishPayload,
    SmtpConfig, SmtpSecurity, SourceKind, WebhookPayload,
};
use earshot_sources::{
    build_publisher, resolve_secret, HttpClient, PublishError, PublishRequest, Publisher,
};
use earshot_store::{Store, StoreError};
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The header carrying `sha256=` and the hex HMAC-SHA256 of the body under the webhook secret.
pub const SIGNATURE_HEADER: &str = "X-Earshot-Signature";
/// The header carrying the message's id: the same on every attempt, for receivers to dedup.
pub const DELIVERY_HEADER: &str = "X-Earshot-Delivery";
pub const EVENT_HEADER: &str = "X-Earshot-Event";

const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the worker reads the time: the system clock, or a hand-moved one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("[outbox] configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How often and how long to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    pub fn from_config(config: &OutboxConfig) -> RetryPolicy {
        RetryPolicy {
            max_attempts: config.max_attempts.max(1),
            base_backoff: Duration::from_secs(config.base_backoff_secs.max(1)),
            max_backoff: Duration::from_secs(config.max_backoff_secs.max(1)),
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): the base doubled per attempt,
    /// capped, then jittered into its upper half so messages that failed together do not all
    /// come back at the same instant. The jitter is drawn from the message id and attempt, so
    /// it is reproducible.
    pub fn backoff(&self, id: OutboxId, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        let full = self
            .base_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);
        let digest = Sha256::digest(format!("{}:{attempt}", id.0).as_bytes());
        let fraction = f64::from(u16::from_be_bytes([digest[0], digest[1]])) / f64::from(u16::MAX);
        full.div_f64(2.0) + full.div_f64(2.0).mul_f64(fraction)
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Done; what the remote answered (kept as the message's result).
    Delivered(serde_json::Value),
    /// Try again later; `after` when the remote said how long to wait.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Trying again will not help.
    Failed(String),
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxReport {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

struct Webhook {
    url: url::Url,
    secret: String,
}

struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

pub struct OutboxWorker {
    store: Arc<dyn Store>,
    http: HttpClient,
    webhook: Option<Webhook>,
    mailer: Option<Mailer>,
    /// By account name; an account whose publisher could not be built keeps the reason, so
    /// its messages fail with it.
    publishers: HashMap<String, Result<Arc<dyn Publisher>, String>>,
    policy: RetryPolicy,
    lease: Duration,
    batch: usize,
    clock: Arc<dyn Clock>,
}

impl OutboxWorker {
    /// A worker for `[outbox]`: the webhook and SMTP settings are checked here, so a bad
    /// configuration fails at start, naming the field.
    pub fn new(
        store: Arc<dyn Store>,
        http: HttpClient,
        config: &OutboxConfig,
    ) -> Result<OutboxWorker, OutboxError> {
        let webhook = config
            .webhook
            .as_ref()
            .map(|hook| -> Result<Webhook, OutboxError> {
                let url = url::Url::parse(hook.url.trim())
                    .ok()
                    .filter(|u| u.scheme() == "http" || u.scheme() == "https")
                    .ok_or_else(|| {
                        OutboxError::Config(format!(
                            "webhook `url` {:?} must be an http or https URL",
                            hook.url
                        ))
                    })?;
                let secret = resolve_secret("outbox.webhook", "secret", &hook.secret)
                    .map_err(|e| OutboxError::Config(e.to_string()))?;
                Ok(Webhook { url, secret })
            })
            .transpose()?;
        let mailer = config.smtp.as_ref().map(build_mailer).transpose()?;
        Ok(OutboxWorker {
            store,
            http,
            webhook,
            mailer,
            publishers: HashMap::new(),
            policy: RetryPolicy::from_config(config),
            lease: Duration::from_secs(config.lease_secs.max(1)),
            batch: 20,
            clock: Arc::new(SystemClock),
        })
    }

    /// A worker for a whole earshot.toml: `[outbox]`, and a publisher for every Mastodon
    /// source with a `token` and every Bluesky source.
    pub fn from_config(
        store: Arc<dyn Store>,
        http: HttpClient,
        config: &Config,
    ) -> Result<OutboxWorker, OutboxError> {
        let mut worker = OutboxWorker::new(store, http.clone(), &config.outbox)?;
        for source in &config.sources {
            let can_post = match source.kind {
                SourceKind::Mastodon => source.token.is_some(),
                SourceKind::Bluesky => true,
                SourceKind::Feed => false,
            };
            if can_post {
                let built = build_publisher(source, &http)
                    .map(Arc::from)
                    .map_err(|e| e.to_string());
                worker.publishers.insert(source.name.clone(), built);
            }
        }
        Ok(worker)
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> OutboxWorker {
        self.clock = clock;
        self
    }

    pub fn with_publisher(mut self, publisher: Arc<dyn Publisher>) -> OutboxWorker {
        self.publishers
            .insert(publisher.account().to_string(), Ok(publisher));
        self
    }

    /// Messages claimed per pass.
    pub fn with_batch(mut self, batch: usize) -> OutboxWorker {
        self.batch = batch.max(1);
        self
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Claim what is due and deliver it, one message after another.
    pub async fn run_once(&self) -> Result<OutboxReport, OutboxError> {
        let claims = self
            .store
            .claim_due(self.clock.now(), self.batch, self.lease)
            .await?;
        let mut report = OutboxReport {
            claimed: claims.len(),
            ..OutboxReport::default()
        };
        for claim in claims {
            let message = &claim.message;
            let outcome = if message.attempts > self.policy.max_attempts {
                // Claimed again after its worker died on the last allowed attempt.
                Delivery::Failed(format!(
                    "gave up after {} attempts; last error: {}",
                    self.policy.max_attempts,
                    message.last_error.as_deref().unwrap_or("none recorded")
                ))
            } else {
                self.deliver(message).await
            };
            let now = self.clock.now();
            match outcome {
                Delivery::Delivered(result) => {
                    self.store.mark_delivered(message.id, result, now).await?;
                    report.delivered += 1;
                }
                Delivery::Retry { error, .. } if message.attempts >= self.policy.max_attempts => {
                    let error = format!(
                        "gave up after {} attempts; last error: {error}",
                        message.attempts
                    );
                    tracing::warn!(id = %message.id, kind = %message.kind, "{error}");
                    self.store
                        .mark_failed(message.id, claim.claim, &error, now)
                        .await?;
                    report.failed += 1;
                }
                Delivery::Retry { error, after } => {
                    let wait = after
                        .unwrap_or_default()
                        .max(self.policy.backoff(message.id, message.attempts));
                    let next =
                        now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    tracing::info!(id = %message.id, kind = %message.kind, retry_in_s = wait.as_secs(), "{error}");
                    self.store
                        .mark_retry(message.id, claim.claim, &error, next, now)
                        .await?;
                    report.retried += 1;
                }
                Delivery::Failed(error) => {
                    tracing::warn!(id = %message.id, kind = %message.kind, "{error}");
                    self.store
                        .mark_failed(message.id, claim.claim, &error, now)
                        .await?;
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Pass after pass until `shutdown`, resting `idle` when nothing was due.
    pub async fn run(&self, shutdown: CancellationToken, idle: Duration) {
        loop {
            let worked = match self.run_once().await {
                Ok(report) => report.claimed > 0,
                Err(e) => {
                    tracing::error!("outbox pass failed: {e}");
                    false
                }
            };
            if !worked {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(idle) => {}
                }
            } else if shutdown.is_cancelled() {
                return;
            }
        }
    }

    /// One delivery attempt, without recording anything in the store.
    pub async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        match message.kind {
            OutboxKind::Webhook => match serde_json::from_value(message.payload.clone()) {
                Ok(payload) => self.send_webhook(message, &payload).await,
                Err(e) => Delivery::Failed(format!("webhook payload is not valid: {e}")),
            },
            OutboxKind::Email => match serde_json::from_value(message.payload.clone()) {
                Ok(payload) => self.send_email(message, &payload).await,
                Err(e) => Delivery::Failed(format!("e-mail payload is not valid: {e}")),
            },
            OutboxKind::Publish => match serde_json::from_value(message.payload.clone()) {
                Ok(payload) => self.publish(message, payload).await,
                Err(e) => Delivery::Failed(format!("publish payload is not valid: {e}")),
            },
        }
    }

    async fn send_webhook(&self, message: &OutboxMessage, payload: &WebhookPayload) -> Delivery {
        let Some(hook) = &self.webhook else {
            return Delivery::Failed(
                "no webhook is configured: add [outbox.webhook] url and secret to earshot.toml"
                    .into(),
            );
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "delivery": message.id,
            "event": payload.event,
            "created_at": message.created_at,
            "data": payload.data,
        }))
        .expect("a JSON value always serializes");
        let request = self
            .http
            .client()
            .post(hook.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(&hook.secret, &body))
            .header(DELIVERY_HEADER, message.id.to_string())
            .header(EVENT_HEADER, sanitize_header(&payload.event))
            .body(body);
        let response = match self.http.fetch("webhook", request).await {
            Ok(response) => response,
            Err(e) => {
                return Delivery::Retry {
                    error: e.to_string(),
                    after: None,
                }
            }
        };
        let status = response.status;
        if status.is_success() {
            return Delivery::Delivered(serde_json::json!({ "status": status.as_u16() }));
        }
        let error = format!(
            "webhook {} answered HTTP {status}: {}",
            hook.url,
            earshot_sources::http::excerpt(&response.body)
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait =
                earshot_sources::http::retry_after(&response.headers, self.clock.now().into());
            return Delivery::Retry {
                error,
                after: Some(wait),
            };
        }
        if status.is_client_error() && status != StatusCode::REQUEST_TIMEOUT {
            return Delivery::Failed(error);
        }
        Delivery::Retry { error, after: None }
    }

    async fn send_email(&self, message: &OutboxMessage, payload: &EmailPayload) -> Delivery {
        let Some(mailer) = &self.mailer else {
            return Delivery::Failed(
                "no SMTP server is configured: add [outbox.smtp] to earshot.toml".into(),
            );
        };
        if payload.to.is_empty() {
            return Delivery::Failed("the e-mail has no recipient".into());
        }
        let key_hash = hex::encode(&Sha256::digest(message.dedup_key.as_bytes())[..8]);
        let mut builder = lettre::Message::builder()
            .from(mailer.from.clone())
            .subject(payload.subject.clone())
            // The same id on every attempt: mail systems drop a repeat they already have.
            .message_id(Some(format!("<outbox-{}-{key_hash}@earshot>", message.id)))
            .header(ContentType::TEXT_PLAIN);
        for to in &payload.to {
            match to.parse::<lettre::message::Mailbox>() {
                Ok(mailbox) => builder = builder.to(mailbox),
                Err(e) => {
                    return Delivery::Failed(format!(
                        "recipient {to:?} is not an e-mail address: {e}"
                    ))
                }
            }
        }
        let email = match builder.body(payload.body.clone()) {
            Ok(email) => email,
            Err(e) => return Delivery::Failed(format!("could not build the e-mail: {e}")),
        };
        match mailer.transport.send(email).await {
            Ok(response) => Delivery::Delivered(serde_json::json!({
                "smtp_code": response.code().to_string(),
                "smtp_message": response.message().collect::<Vec<_>>().join(" "),
            })),
            Err(e) if e.is_permanent() => {
                Delivery::Failed(format!("the SMTP server refused the e-mail: {e}"))
            }
            Err(e) => Delivery::Retry {
                error: format!("sending the e-mail failed: {e}"),
                after: None,
            },
        }
    }

    async fn publish(&self, message: &OutboxMessage, payload: PublishPayload) -> Delivery {
        let publisher = match self.publishers.get(&payload.account) {
            Some(Ok(publisher)) => publisher,
            Some(Err(reason)) => return Delivery::Failed(reason.clone()),
            None => {
                return Delivery::Failed(format!(
                    "no account {:?} can post: configure it as a mastodon source with a `token` or a bluesky source",
                    payload.account
                ))
            }
        };
        let request = PublishRequest {
            text: payload.text,
            reply_to: payload.reply_to,
            language: payload.language,
            idempotency_key: message.dedup_key.clone(),
            created_at: payload.created_at,
        };
        match publisher.publish(&request).await {
            Ok(published) => Delivery::Delivered(
                serde_json::to_value(published).expect("Published always serializes"),
            ),
            Err(error @ PublishError::Retryable { .. }) => Delivery::Retry {
                after: error.retry_after(),
                error: error.to_string(),
            },
            Err(error) => Delivery::Failed(error.to_string()),
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Header values must be visible ASCII; an event name is ours, but a caller may pass anything.
fn sanitize_header(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect()
}

fn build_mailer(smtp: &SmtpConfig) -> Result<Mailer, OutboxError> {
    let config_error = |message: String| OutboxError::Config(format!("smtp: {message}"));
    let host = smtp.host.trim();
    if host.is_empty() {
        return Err(config_error("`host` is empty".into()));
    }
    let from = smtp.from.parse::<lettre::message::Mailbox>().map_err(|e| {
        config_error(format!(
            "`from` {:?} is not an e-mail address: {e}",
            smtp.from
        ))
    })?;
    let builder = match smtp.security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| config_error(format!("STARTTLS to {host}: {e}")))?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|e| config_error(format!("TLS to {host}: {e}")))?,
        SmtpSecurity::Plain => {
            let local = matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]")
                || host.ends_with(".localhost");
            if !local {
                return Err(config_error(format!(
                    "security = \"plain\" sends passwords and mail unencrypted, so it is only allowed for a server on this machine (localhost), not {host}; use \"starttls\" or \"tls\""
                )));
            }
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        }
    };
    let mut builder = builder.port(smtp.port).timeout(Some(SMTP_TIMEOUT));
    match (&smtp.user, &smtp.password) {
        (Some(user), Some(password)) => {
            let password = resolve_secret("outbox.smtp", "password", password)
                .map_err(|e| OutboxError::Config(e.to_string()))?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        (None, None) => {}
        _ => return Err(config_error("`user` and `password` go together".into())),
    }
    Ok(Mailer {
        transport: builder.build(),
        from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_capped() {
        let policy = RetryPolicy {
            max_attempts: 8,
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(600),
        };
        for attempt in 1..=10 {
            let full =
                Duration::from_secs(30 * (1u64 << (attempt - 1))).min(Duration::from_secs(600));
            let wait = policy.backoff(OutboxId(7), attempt);
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: {wait:?} vs {full:?}"
            );
        }
        let spread: std::collections::HashSet<_> =
            (1..50).map(|id| policy.backoff(OutboxId(id), 3)).collect();
        assert!(spread.len() > 40, "jitter spreads messages apart");
    }

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn plain_smtp_is_refused_for_remote_hosts() {
        let mut smtp = SmtpConfig {
            host: "mail.example.org".into(),
            port: 25,
            security: SmtpSecurity::Plain,
            user: None,
            password: None,
            from: "Earshot <earshot@example.org>".into(),
        };
        let error = build_mailer(&smtp).err().unwrap().to_string();
        assert!(
            error.contains("localhost") && error.contains("starttls"),
            "{error}"
        );
        smtp.host = "localhost".into();
        assert!(build_mailer(&smtp).is_ok());
        smtp.from = "not an address".into();
        let error = build_mailer(&smtp).err().unwrap().to_string();
        assert!(error.contains("`from`"), "{error}");
    }
}
