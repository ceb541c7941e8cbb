//! Checking an official account's credentials against its network, for `earshot account check`
//! and the account's connection health: Mastodon `GET /api/v1/accounts/verify_credentials`
//! with the access token, Bluesky `com.atproto.server.createSession` with the app password.
//! A network added later brings its own check here.

use earshot_core::AccountCredentials;
use reqwest::StatusCode;

use crate::http::{check_status, error_detail};
use crate::{HttpClient, SourceError};

/// Who the credentials sign in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccount {
    /// Mastodon `acct` (`shop`, or `shop@host` when remote), Bluesky handle.
    pub handle: String,
    /// Mastodon account id, Bluesky DID.
    pub remote_id: String,
}

fn endpoint(label: &str, server_url: &str, path: &[&str]) -> Result<url::Url, SourceError> {
    let mut url = url::Url::parse(server_url.trim()).map_err(|e| SourceError::Config {
        source_name: label.to_string(),
        message: format!("server URL {server_url:?} is not a URL: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SourceError::Config {
            source_name: label.to_string(),
            message: format!("server URL {server_url:?} must start with https://"),
        });
    }
    url.path_segments_mut()
        .map_err(|_| SourceError::Config {
            source_name: label.to_string(),
            message: format!("server URL {server_url:?} cannot take a path"),
        })?
        .pop_if_empty()
        .extend(path);
    Ok(url)
}

fn field(label: &str, body: &serde_json::Value, name: &str) -> Result<String, SourceError> {
    body.get(name)
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| SourceError::Malformed {
            source_name: label.to_string(),
            message: format!("the answer has no {name:?}"),
        })
}

/// Sign in with `credentials` on `server_url` and say as whom. `label` names the account in
/// errors. 401/403 (and Bluesky's 400 for refused sessions) are [`SourceError::Auth`].
pub async fn verify_credentials(
    http: &HttpClient,
    label: &str,
    server_url: &str,
    credentials: &AccountCredentials,
) -> Result<VerifiedAccount, SourceError> {
    match credentials {
        AccountCredentials::Mastodon { access_token } => {
            let url = endpoint(
                label,
                server_url,
                &["api", "v1", "accounts", "verify_credentials"],
            )?;
            let request = http.client().get(url).bearer_auth(access_token);
            let response = http.fetch(label, request).await?;
            check_status(label, &response)?;
            let body: serde_json::Value =
                serde_json::from_slice(&response.body).map_err(|e| SourceError::Malformed {
                    source_name: label.to_string(),
                    message: format!("verify_credentials answered non-JSON: {e}"),
                })?;
            Ok(VerifiedAccount {
                handle: field(label, &body, "acct")?,
                remote_id: field(label, &body, "id")?,
            })
        }
        AccountCredentials::Bluesky {
            identifier,
            app_password,
        } => {
            let url = endpoint(
                label,
                server_url,
                &["xrpc", "com.atproto.server.createSession"],
            )?;
            let request = http.client().post(url).json(&serde_json::json!({
                "identifier": identifier,
                "password": app_password,
            }));
            let response = http.fetch(label, request).await?;
            if response.status == StatusCode::BAD_REQUEST {
                return Err(SourceError::Auth {
                    source_name: label.to_string(),
                    message: format!("createSession refused: {}", error_detail(&response.body)),
                });
            }
            check_status(label, &response)?;
            let body: serde_json::Value =
                serde_json::from_slice(&response.body).map_err(|e| SourceError::Malformed {
                    source_name: label.to_string(),
                    message: format!("createSession answered non-JSON: {e}"),
                })?;
            // The session's tokens are not kept: the check only proves the password works.
            Ok(VerifiedAccount {
                handle: field(label, &body, "handle")?,
                remote_id: field(label, &body, "did")?,
            })
        }
    }
}
