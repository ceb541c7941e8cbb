//! Earshot's sources: one module per network or format. A source knows how to fetch items
//! and how to continue from a cursor; it knows nothing of storage, matching or analysis.

use async_trait::async_trait;
use earshot_core::{IncomingMention, SourceConfig, SourceKind};
use std::time::Duration;

pub mod accounts;
pub mod bluesky;
pub mod feed;
pub mod files;
pub mod http;
pub mod mastodon;
pub mod publish;

pub use http::{HttpClient, HttpClientError, HttpResponse};
pub use publish::{build_publisher, PublishError, PublishRequest, Published, Publisher};

/// What one poll returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollOutcome {
    pub items: Vec<IncomingMention>,
    /// The cursor to persist once `items` are stored. Polling again with it returns only
    /// items not returned before.
    pub cursor: Option<String>,
    /// Problems that did not stop the poll (a broken entry, an unreachable comment feed),
    /// each naming what and where.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{source_name}: rate limited by the server; retry after {retry_after:?}")]
    RateLimited {
        source_name: String,
        retry_after: Duration,
    },
    #[error("{source_name}: {message}")]
    Http {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: malformed response: {message}")]
    Malformed {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: authentication failed: {message}")]
    Auth {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: bad configuration: {message}")]
    Config {
        source_name: String,
        message: String,
    },
}

#[async_trait]
pub trait Source: Send + Sync {
    fn name(&self) -> &str;
    /// Fetch what is new since `cursor` (everything available when `None`).
    async fn poll(&self, cursor: Option<&str>) -> Result<PollOutcome, SourceError>;
}

/// Build the source a configuration describes. Every required field is checked here, so a
/// bad configuration fails before the first poll, naming the source and the field.
pub fn build_source(
    config: &SourceConfig,
    http: &HttpClient,
) -> Result<Box<dyn Source>, SourceError> {
    Ok(match config.kind {
        SourceKind::Feed => Box::new(feed::FeedSource::from_config(config, http.clone())?),
        SourceKind::Mastodon => {
            Box::new(mastodon::MastodonSource::from_config(config, http.clone())?)
        }
        SourceKind::Bluesky => Box::new(bluesky::BlueskySource::from_config(config, http.clone())?),
    })
}

/// A secret given literally, or as `env:NAME` to read it from the environment variable NAME
/// (so the configuration file need not hold it).
pub fn resolve_secret(source_name: &str, field: &str, value: &str) -> Result<String, SourceError> {
    let config_error = |message: String| SourceError::Config {
        source_name: source_name.to_string(),
        message,
    };
    let secret = match value.strip_prefix("env:") {
        Some(variable) => std::env::var(variable).map_err(|_| {
            config_error(format!(
                "`{field}` names the environment variable {variable}, which is not set or not UTF-8"
            ))
        })?,
        None => value.to_string(),
    };
    if secret.trim().is_empty() {
        return Err(config_error(format!("`{field}` is empty")));
    }
    Ok(secret)
}

/// A configured base URL, checked to be an absolute http(s) URL.
pub(crate) fn parse_base_url(
    source_name: &str,
    field: &str,
    value: &str,
) -> Result<url::Url, SourceError> {
    let url = url::Url::parse(value.trim()).map_err(|e| SourceError::Config {
        source_name: source_name.to_string(),
        message: format!("`{field}` {value:?} is not a valid URL: {e}"),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(SourceError::Config {
            source_name: source_name.to_string(),
            message: format!("`{field}` {value:?} must be an http or https URL"),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_literally_or_from_the_environment() {
        assert_eq!(resolve_secret("m", "token", "abc").unwrap(), "abc");
        std::env::set_var("EARSHOT_SOURCES_TEST_SECRET", "from-env");
        assert_eq!(
            resolve_secret("m", "token", "env:EARSHOT_SOURCES_TEST_SECRET").unwrap(),
            "from-env"
        );
        let missing = resolve_secret("m", "token", "env:EARSHOT_SOURCES_TEST_UNSET_VARIABLE")
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("EARSHOT_SOURCES_TEST_UNSET_VARIABLE"),
            "{missing}"
        );
        assert!(missing.starts_with("m: bad configuration"), "{missing}");
        assert!(resolve_secret("m", "token", "  ").is_err());
    }

    #[test]
    fn build_source_rejects_incomplete_configurations() {
        let http = HttpClient::new(Duration::from_secs(5)).unwrap();
        let feed = SourceConfig::new("blog", SourceKind::Feed);
        let error = build_source(&feed, &http).err().unwrap().to_string();
        assert!(error.contains("blog") && error.contains("url"), "{error}");

        let mut mastodon = SourceConfig::new("masto", SourceKind::Mastodon);
        mastodon.url = Some("https://mastodon.example".into());
        let error = build_source(&mastodon, &http).err().unwrap().to_string();
        assert!(
            error.contains("hashtags") && error.contains("search"),
            "{error}"
        );

        let bluesky = SourceConfig::new("sky", SourceKind::Bluesky);
        let error = build_source(&bluesky, &http).err().unwrap().to_string();
        assert!(error.contains("identifier"), "{error}");

        let mut ok = SourceConfig::new("blog", SourceKind::Feed);
        ok.url = Some("ftp://example.org/feed".into());
        assert!(build_source(&ok, &http).is_err());
        ok.url = Some("https://example.org/feed".into());
        assert_eq!(build_source(&ok, &http).unwrap().name(), "blog");
    }
}
