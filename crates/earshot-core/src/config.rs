//! `earshot.toml`: the workspace's brands, languages, sources and server settings.
//! Parsing lives here (serde derive only); reading and writing the file is the CLI's job.

use serde::{Deserialize, Serialize};

use crate::routing::{RoutingConfig, SlaConfig, TeamConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Languages the team works in, ISO 639-1; used to bias language identification.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default, rename = "brand")]
    pub brands: Vec<BrandConfig>,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Sessions, cookies and sign-in throttling (`[auth]`).
    #[serde(default)]
    pub auth: crate::auth::AuthConfig,
    /// Inbox teams; none configured means the default five (see [`crate::routing`]).
    #[serde(default, rename = "team", skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<TeamConfig>,
    /// Inbox routing rules; none configured means the default rules.
    #[serde(default, skip_serializing_if = "is_default")]
    pub routing: RoutingConfig,
    /// SLA policies per priority.
    #[serde(default, skip_serializing_if = "is_default")]
    pub sla: SlaConfig,
    /// `[outbox]`: webhook and SMTP delivery, retries.
    #[serde(
        default,
        skip_serializing_if = "crate::outbox::OutboxConfig::is_default"
    )]
    pub outbox: crate::outbox::OutboxConfig,
    /// `[publishing]`: banned terms, promotional cues, own domains and the pre-publish checks.
    #[serde(default, skip_serializing_if = "is_default")]
    pub publishing: crate::publishing::PublishingConfig,
    /// `[links]`: the public address of short links and how clicks are counted.
    #[serde(default, skip_serializing_if = "crate::links::LinksConfig::is_default")]
    pub links: crate::links::LinksConfig,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            languages: default_languages(),
            server: ServerConfig::default(),
            brands: Vec::new(),
            sources: Vec::new(),
            auth: crate::auth::AuthConfig::default(),
            teams: Vec::new(),
            routing: RoutingConfig::default(),
            sla: SlaConfig::default(),
            outbox: crate::outbox::OutboxConfig::default(),
            publishing: crate::publishing::PublishingConfig::default(),
            links: crate::links::LinksConfig::default(),
        }
    }
}

fn default_languages() -> Vec<String> {
    vec!["ru".into(), "el".into(), "en".into()]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerConfig {
    #[serde(default = "default_addr")]
    pub addr: String,
    /// Whether `earshot serve` runs the polling scheduler.
    #[serde(default = "default_true")]
    pub poll: bool,
    /// The address people reach this server at (`https://earshot.example.org`), for links
    /// in e-mails. Without it links are built from `addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: default_addr(),
            poll: true,
            public_url: None,
        }
    }
}

impl ServerConfig {
    /// The start of links to this server: `public_url` without a trailing slash, else
    /// `http://{addr}` (right on the machine itself, wrong for anyone else when `addr` is a
    /// loopback address; set `public_url` for links that others follow).
    pub fn base_url(&self) -> String {
        match self.public_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
            _ => format!("http://{}", self.addr),
        }
    }
}

fn default_addr() -> String {
    "127.0.0.1:8080".into()
}
fn default_true() -> bool {
    true
}

/// A brand (ours or a competitor's) and the boolean queries that find its mentions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandConfig {
    pub name: String,
    pub queries: Vec<String>,
    #[serde(default)]
    pub competitor: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// RSS 0.9x/1.0/2.0, Atom or JSON Feed.
    Feed,
    Mastodon,
    Bluesky,
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceKind::Feed => "feed",
            SourceKind::Mastodon => "mastodon",
            SourceKind::Bluesky => "bluesky",
        })
    }
}

/// One configured source. Fields that do not apply to a kind are left out of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    /// Feed URL (feed), server base URL (mastodon), or XRPC service URL (bluesky;
    /// default `https://bsky.social`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Seconds between polls.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Mastodon: hashtags to follow (without `#`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashtags: Vec<String>,
    /// Mastodon status search terms; Bluesky `searchPosts` queries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Mastodon access token, or the name of an environment variable holding it when it
    /// starts with `env:` (optional for Mastodon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Bluesky handle or DID used to create a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Bluesky app password, or `env:NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_password: Option<String>,
    /// Feeds: also read the comment feed a post advertises (`wfw:commentRss`).
    #[serde(default = "default_true")]
    pub follow_comments: bool,
}

fn default_interval() -> u64 {
    300
}

impl SourceConfig {
    pub fn new(name: impl Into<String>, kind: SourceKind) -> Self {
        SourceConfig {
            name: name.into(),
            kind,
            url: None,
            interval_secs: default_interval(),
            hashtags: Vec::new(),
            search: Vec::new(),
            token: None,
            identifier: None,
            app_password: None,
            follow_comments: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("brand {0:?} already exists")]
    DuplicateBrand(String),
    #[error("no brand named {0:?}")]
    UnknownBrand(String),
    #[error("source {0:?} already exists")]
    DuplicateSource(String),
    #[error("no source named {0:?}")]
    UnknownSource(String),
}

impl Config {
    /// Add a query to a brand, creating the brand when it is new.
    pub fn add_brand_query(&mut self, name: &str, query: &str, competitor: bool) {
        match self.brands.iter_mut().find(|b| b.name == name) {
            Some(brand) => {
                if !brand.queries.iter().any(|q| q == query) {
                    brand.queries.push(query.to_string());
                }
                brand.competitor = competitor;
            }
            None => self.brands.push(BrandConfig {
                name: name.to_string(),
                queries: vec![query.to_string()],
                competitor,
            }),
        }
    }

    pub fn remove_brand(&mut self, name: &str) -> Result<(), ConfigError> {
        let before = self.brands.len();
        self.brands.retain(|b| b.name != name);
        if self.brands.len() == before {
            return Err(ConfigError::UnknownBrand(name.into()));
        }
        Ok(())
    }

    pub fn add_source(&mut self, source: SourceConfig) -> Result<(), ConfigError> {
        if self.sources.iter().any(|s| s.name == source.name) {
            return Err(ConfigError::DuplicateSource(source.name));
        }
        self.sources.push(source);
        Ok(())
    }

    pub fn remove_source(&mut self, name: &str) -> Result<(), ConfigError> {
        let before = self.sources.len();
        self.sources.retain(|s| s.name != name);
        if self.sources.len() == before {
            return Err(ConfigError::UnknownSource(name.into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;

    #[test]
    fn links_start_at_the_public_url_else_at_the_listening_address() {
        let mut server = ServerConfig::default();
        assert_eq!(server.base_url(), "http://127.0.0.1:8080");
        server.public_url = Some("https://earshot.brand.example/ ".into());
        assert_eq!(server.base_url(), "https://earshot.brand.example");
    }
}
