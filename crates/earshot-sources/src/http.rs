//! The one HTTP client every network source shares, and the one place that turns HTTP
//! failures into [`SourceError`]s, so every source reports them the same way.

use crate::SourceError;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use std::time::{Duration, SystemTime};

/// Bodies larger than this are refused: no feed or API page we read comes near it, and an
/// endless body must not exhaust memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// How long to wait when a server says "too many requests" without saying for how long.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_EXCERPT_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client: {0}")]
pub struct HttpClientError(String);

/// A `reqwest::Client` built once (connection pool, TLS config) and shared by all sources.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    max_body_bytes: usize,
}

/// A response whose body has been read in full (within the size cap).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl HttpClient {
    /// `timeout` bounds each whole request, body included.
    pub fn new(timeout: Duration) -> Result<HttpClient, HttpClientError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .gzip(true)
            .user_agent(concat!("Earshot/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .build()
            .map_err(|e| HttpClientError(e.to_string()))?;
        Ok(HttpClient {
            client,
            timeout,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        })
    }

    pub fn with_max_body_bytes(mut self, max_body_bytes: usize) -> HttpClient {
        self.max_body_bytes = max_body_bytes;
        self
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Send a request and read its body, whatever the status. Transport failures, timeouts
    /// and oversized bodies become `SourceError::Http` naming the source and the URL.
    pub async fn fetch(
        &self,
        source_name: &str,
        request: RequestBuilder,
    ) -> Result<HttpResponse, SourceError> {
        let request = request.build().map_err(|e| SourceError::Http {
            source_name: source_name.to_string(),
            message: format!("could not build the request: {e}"),
        })?;
        let url = request.url().clone();
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| self.transport_error(source_name, url.as_str(), &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(length) = response.content_length() {
            if length > self.max_body_bytes as u64 {
                return Err(self.too_large(source_name, url.as_str()));
            }
        }
        let mut body = Vec::new();
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| self.transport_error(source_name, url.as_str(), &e))?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(self.too_large(source_name, url.as_str()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }

    fn too_large(&self, source_name: &str, url: &str) -> SourceError {
        SourceError::Http {
            source_name: source_name.to_string(),
            message: format!(
                "response from {url} is larger than the {} byte limit",
                self.max_body_bytes
            ),
        }
    }

    fn transport_error(&self, source_name: &str, url: &str, error: &reqwest::Error) -> SourceError {
        let message = if error.is_timeout() {
            format!(
                "request to {url} timed out after {} s",
                self.timeout.as_secs_f64()
            )
        } else if error.is_connect() {
            format!("could not connect to {url}: {}", error_chain(error))
        } else {
            format!("request to {url} failed: {}", error_chain(error))
        };
        SourceError::Http {
            source_name: source_name.to_string(),
            message,
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}

/// Turn a non-success status into the matching error: 429 → `RateLimited` (honouring
/// `Retry-After`, then a rate-limit reset header), 401/403 → `Auth`, other 4xx/5xx → `Http`
/// with a short excerpt of the body. Success and 304 pass.
pub fn check_status(source_name: &str, response: &HttpResponse) -> Result<(), SourceError> {
    let status = response.status;
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Ok(());
    }
    let source_name = source_name.to_string();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(SourceError::RateLimited {
            source_name,
            retry_after: retry_after(&response.headers, SystemTime::now()),
        });
    }
    let detail = error_detail(&response.body);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(SourceError::Auth {
            source_name,
            message: format!("HTTP {}: {detail}", status.as_u16()),
        });
    }
    Err(SourceError::Http {
        source_name,
        message: format!("HTTP {}: {detail}", status),
    })
}

/// The error message a JSON API put in its body (`{"error": ..., "message": ...}`, as both
/// Mastodon and XRPC do), or else a short excerpt of the body as text.
pub fn error_detail(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) {
        let error = fields.get("error").and_then(|v| v.as_str());
        let message = fields
            .get("message")
            .or_else(|| fields.get("error_description"))
            .and_then(|v| v.as_str());
        match (error, message) {
            (Some(e), Some(m)) => return format!("{e}: {m}"),
            (Some(e), None) => return e.to_string(),
            (None, Some(m)) => return m.to_string(),
            (None, None) => {}
        }
    }
    excerpt(body)
}

/// The first characters of a body, on one line, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .take(BODY_EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > BODY_EXCERPT_CHARS {
        out.push('…');
    }
    if out.trim().is_empty() {
        "(empty body)".to_string()
    } else {
        out.trim().to_string()
    }
}

/// How long to wait before asking again: `Retry-After` (seconds or HTTP-date), else a
/// rate-limit reset header (Mastodon's `X-RateLimit-Reset`, Bluesky's `ratelimit-reset`),
/// else [`DEFAULT_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Duration {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(value) = header(RETRY_AFTER.as_str()) {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Duration::from_secs(seconds);
        }
        if let Ok(when) = httpdate::parse_http_date(value) {
            return when.duration_since(now).unwrap_or(Duration::ZERO);
        }
    }
    for name in ["x-ratelimit-reset", "ratelimit-reset"] {
        if let Some(wait) = header(name).and_then(|v| reset_wait(v, now)) {
            return wait;
        }
    }
    DEFAULT_RETRY_AFTER
}

/// Rate-limit reset headers come as an RFC 3339 time (Mastodon), a Unix time (Bluesky) or,
/// per the IETF draft, seconds from now; a number too large to be a delay is a Unix time.
pub fn reset_wait(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(when) = DateTime::parse_from_rfc3339(value) {
        let when: SystemTime = when.with_timezone(&Utc).into();
        return Some(when.duration_since(now).unwrap_or(Duration::ZERO));
    }
    let number: u64 = value.parse().ok()?;
    const UNIX_TIME_THRESHOLD: u64 = 1_000_000_000;
    if number >= UNIX_TIME_THRESHOLD {
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(number);
        Some(when.duration_since(now).unwrap_or(Duration::ZERO))
    } else {
        Some(Duration::from_secs(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_reset_headers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "17")]), now),
            Duration::from_secs(17)
        );
        let in_two_minutes = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &in_two_minutes)]), now),
            Duration::from_secs(120)
        );
        assert_eq!(
            retry_after(
                &headers(&[("x-ratelimit-reset", "2023-11-14T22:18:20Z")]),
                now
            ),
            Duration::from_secs(300)
        );
        assert_eq!(
            retry_after(&headers(&[("ratelimit-reset", "1700000300")]), now),
            Duration::from_secs(300)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "soon")]), now),
            DEFAULT_RETRY_AFTER
        );
        assert_eq!(retry_after(&HeaderMap::new(), now), DEFAULT_RETRY_AFTER);
    }

    #[test]
    fn error_detail_prefers_the_json_error_fields() {
        assert_eq!(
            error_detail(br#"{"error":"The access token is invalid"}"#),
            "The access token is invalid"
        );
        assert_eq!(
            error_detail(br#"{"error":"ExpiredToken","message":"Token has expired"}"#),
            "ExpiredToken: Token has expired"
        );
        assert_eq!(error_detail(b"<html>\n oops</html>"), "<html>  oops</html>");
        assert_eq!(error_detail(b""), "(empty body)");
        assert!(excerpt(&[b'x'; 1000]).ends_with('…'));
    }
}
