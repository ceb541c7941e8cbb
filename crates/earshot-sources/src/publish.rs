//! Writing to a network: the [`Publisher`] trait every connector that can post implements
//! (beside its [`Source`](crate::Source), in the same module), and the errors it reports.
//!
//! Every request carries an idempotency key. A publisher makes sure that sending the same
//! request again (after a timeout, a crash, a lost answer) does not post twice: Mastodon
//! through its `Idempotency-Key` header, Bluesky through a record key derived from the key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{ReplyTarget, SourceConfig, SourceKind};
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::{HttpClient, SourceError};

/// A post, or a reply to a mention, to publish through one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    pub text: String,
    pub reply_to: Option<ReplyTarget>,
    /// ISO 639-1 language of the text.
    pub language: Option<String>,
    /// Stable across retries of the same post (the outbox message's dedup key).
    pub idempotency_key: String,
    /// When the post was written; stable across retries.
    pub created_at: DateTime<Utc>,
}

/// Where the post ended up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    /// The network's id of the post (Mastodon status id, Bluesky `at://` URI).
    pub remote_id: String,
    /// Its public web address.
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// Worth trying again: the network was unreachable, timed out, failed (5xx) or asked us
    /// to slow down (then `retry_after` says for how long).
    #[error("{account}: {message} (will be retried)")]
    Retryable {
        account: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// Trying again will not help until someone changes the text, the target or the
    /// credentials; the message says which.
    #[error("{account}: {message}")]
    Permanent { account: String, message: String },
}

impl PublishError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PublishError::Retryable { .. })
    }

    /// The wait the network asked for (429), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PublishError::Retryable { retry_after, .. } => *retry_after,
            PublishError::Permanent { .. } => None,
        }
    }

    pub(crate) fn permanent(account: &str, message: impl Into<String>) -> PublishError {
        PublishError::Permanent {
            account: account.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn retryable(account: &str, message: impl Into<String>) -> PublishError {
        PublishError::Retryable {
            account: account.to_string(),
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<SourceError> for PublishError {
    /// Errors from the shared HTTP and session code: transport failures and server errors
    /// may pass, bad credentials and configuration will not.
    fn from(error: SourceError) -> Self {
        match error {
            SourceError::RateLimited {
                source_name,
                retry_after,
            } => PublishError::Retryable {
                account: source_name,
                message: format!(
                    "rate limited by the server; retrying after {} s",
                    retry_after.as_secs()
                ),
                retry_after: Some(retry_after),
            },
            SourceError::Http {
                source_name,
                message,
            }
            | SourceError::Malformed {
                source_name,
                message,
            } => PublishError::retryable(&source_name, message),
            SourceError::Auth {
                source_name,
                message,
            } => PublishError::permanent(
                &source_name,
                format!("the account's credentials were refused ({message}); update them"),
            ),
            SourceError::Config {
                source_name,
                message,
            } => PublishError::permanent(&source_name, format!("bad configuration: {message}")),
        }
    }
}

#[async_trait]
pub trait Publisher: Send + Sync {
    /// The account's name (its `[[source]]` name).
    fn account(&self) -> &str;
    async fn publish(&self, request: &PublishRequest) -> Result<Published, PublishError>;

    /// How long after a request the network still recognises its idempotency key, when that
    /// is limited. Past it, resending a request whose outcome is unknown could post twice, so
    /// the publishing worker asks a person instead. `None`: recognised for good (Bluesky's
    /// record key is checked on every attempt).
    fn idempotency_window(&self) -> Option<Duration> {
        None
    }
}

/// Build the publisher for an account described like a source: Mastodon needs `url` and
/// `token` (with the `write:statuses` scope), Bluesky `identifier` and `app_password`.
pub fn build_publisher(
    config: &SourceConfig,
    http: &HttpClient,
) -> Result<Box<dyn Publisher>, PublishError> {
    Ok(match config.kind {
        SourceKind::Mastodon => Box::new(crate::mastodon::publish::MastodonPublisher::from_config(
            config,
            http.clone(),
        )?),
        SourceKind::Bluesky => Box::new(crate::bluesky::publish::BlueskyPublisher::from_config(
            config,
            http.clone(),
        )?),
        SourceKind::Feed => {
            return Err(PublishError::permanent(
                &config.name,
                "a feed cannot be published to; reply on the site itself and mark the mention \"answered elsewhere\"",
            ))
        }
    })
}

/// A timestamp identifier (TID, the AT Protocol's record key for posts) derived from the
/// idempotency key and the post's creation time: the same request always gets the same
/// record key, so a repeated create is recognised instead of posting twice.
///
/// 64 bits, top bit 0, then 53 bits of microseconds since the Unix epoch and a 10-bit
/// "clock id" taken from a hash of the key (two posts created in the same microsecond still
/// differ), written as 13 characters of base32-sortable.
pub fn tid_for(idempotency_key: &str, created_at: DateTime<Utc>) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let micros = u64::try_from(created_at.timestamp_micros()).unwrap_or(0) & ((1 << 53) - 1);
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let clock_id = u64::from(u16::from_be_bytes([digest[0], digest[1]]) & 0x3ff);
    let value = (micros << 10) | clock_id;
    (0..13)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 0x1f) as usize] as char)
        .collect()
}

/// The error for a non-success answer to a write: 408, 429 and 5xx may pass (429 with the
/// wait the server asked for); other 4xx are permanent, carrying the API's own message and,
/// for refused credentials, what to do about them.
pub(crate) fn error_for_status(
    account: &str,
    action: &str,
    response: &crate::HttpResponse,
) -> PublishError {
    use reqwest::StatusCode;
    let status = response.status;
    let detail = crate::http::error_detail(&response.body);
    if status == StatusCode::TOO_MANY_REQUESTS {
        let wait = crate::http::retry_after(&response.headers, std::time::SystemTime::now());
        return PublishError::Retryable {
            account: account.to_string(),
            message: format!(
                "{action}: rate limited (HTTP 429: {detail}); retrying after {} s",
                wait.as_secs()
            ),
            retry_after: Some(wait),
        };
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return PublishError::retryable(account, format!("{action}: HTTP {status}: {detail}"));
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return PublishError::permanent(
            account,
            format!(
                "{action}: the account's credentials were refused (HTTP {}: {detail}); \
                 give the account a valid token allowed to post",
                status.as_u16()
            ),
        );
    }
    PublishError::permanent(
        account,
        format!("{action}: refused (HTTP {}: {detail})", status.as_u16()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn tids_are_stable_per_key_and_well_formed() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap();
        let tid = tid_for("reply:7:1", at);
        assert_eq!(tid.len(), 13);
        assert_eq!(tid, tid_for("reply:7:1", at));
        assert_ne!(tid, tid_for("reply:7:2", at));
        // The first character carries the top bit, which must be 0.
        assert!("234567abcdefghij".contains(&tid[..1]), "{tid}");
        assert!(tid
            .chars()
            .all(|c| "234567abcdefghijklmnopqrstuvwxyz".contains(c)));
        // Later posts sort after earlier ones, like the network's own TIDs.
        let later = tid_for("reply:7:1", at + chrono::Duration::seconds(1));
        assert!(later > tid, "{later} <= {tid}");
    }

    #[test]
    fn source_errors_map_to_retryable_or_permanent() {
        let limited: PublishError = SourceError::RateLimited {
            source_name: "m".into(),
            retry_after: Duration::from_secs(42),
        }
        .into();
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(42)));
        let auth: PublishError = SourceError::Auth {
            source_name: "m".into(),
            message: "HTTP 401: The access token is invalid".into(),
        }
        .into();
        assert!(!auth.is_retryable());
        assert!(auth.to_string().contains("The access token is invalid"));
    }

    #[test]
    fn feeds_have_no_publisher() {
        let http = HttpClient::new(Duration::from_secs(5)).unwrap();
        let error = build_publisher(&SourceConfig::new("blog", SourceKind::Feed), &http)
            .err()
            .unwrap();
        assert!(error.to_string().contains("answered elsewhere"), "{error}");
    }
}
