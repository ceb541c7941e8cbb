//! People and access: roles, users, API tokens, the `[auth]` section of `earshot.toml`, and
//! the login throttling rule. Hashing and storage live elsewhere; these are the shared terms.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What a person may do, ordered by power: every role may do all that the roles below it may.
/// See docs/SECURITY.md for the full table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything: pages and the GET API.
    Viewer,
    /// Also works conversations: triage, assign to self, reply, notes, tags, corrections.
    Agent,
    /// Also edits routing rules, teams, saved replies and SLAs, assigns to others, sees metrics.
    Manager,
    /// Also manages users, tokens, sources, brands and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Agent, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected admin, manager, agent or viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "agent" => Ok(Role::Agent),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(text.to_string())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserId(pub i64);

/// A person who signs in. The password hash is not part of it: only the store and the login
/// code ever see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    /// The sign-in name: unique, no spaces.
    pub name: String,
    pub display_name: Option<String>,
    pub role: Role,
    /// A disabled user cannot sign in, and their sessions and tokens are gone.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// What to call the user on a page.
    pub fn label(&self) -> &str {
        self.display_name
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserNameError {
    #[error("a user name cannot be empty")]
    Empty,
    #[error("user name {0:?} is longer than 64 characters")]
    TooLong(String),
    #[error("user name {0:?} may hold only letters, digits, `.`, `_`, `-` and `@`")]
    BadCharacter(String),
}

/// Sign-in names are typed on the command line and in the login form, so they stay plain.
pub fn validate_user_name(name: &str) -> Result<(), UserNameError> {
    if name.is_empty() {
        return Err(UserNameError::Empty);
    }
    if name.chars().count() > 64 {
        return Err(UserNameError::TooLong(name.to_string()));
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(UserNameError::BadCharacter(name.to_string()));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TokenId(pub i64);

/// An API bearer token as listed (the secret itself is shown once, when it is created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: TokenId,
    /// The first characters of the secret, so a person can tell their tokens apart.
    pub prefix: String,
    pub name: String,
    pub user_id: UserId,
    pub user_name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// The `[auth]` section of `earshot.toml`. Every field has a default, so older files load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Mark the session cookie `Secure` on every answer. Without it the cookie is `Secure`
    /// only when the request came over HTTPS (a proxy saying `X-Forwarded-Proto: https`), so
    /// plain HTTP on localhost still works.
    pub secure_cookies: bool,
    /// A session not used for this long ends.
    pub session_idle_minutes: u32,
    /// A session ends this long after sign-in, used or not.
    pub session_max_hours: u32,
    /// Failed sign-ins for one account, within the counting window, before it is slowed.
    pub account_free_attempts: u32,
    /// Failed sign-ins from one address before it is slowed (higher: offices share addresses).
    pub address_free_attempts: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            secure_cookies: false,
            session_idle_minutes: 8 * 60,
            session_max_hours: 7 * 24,
            account_free_attempts: 5,
            address_free_attempts: 20,
        }
    }
}

impl AuthConfig {
    pub fn session_idle(&self) -> Duration {
        Duration::minutes(self.session_idle_minutes.max(1) as i64)
    }

    pub fn session_max(&self) -> Duration {
        Duration::hours(self.session_max_hours.max(1) as i64)
    }
}

/// Failures older than this no longer count against an account or address.
pub const THROTTLE_WINDOW: Duration = Duration::hours(1);
/// The first wait after the free attempts; each further failure doubles it.
const THROTTLE_FIRST_WAIT_SECS: i64 = 30;
const THROTTLE_MAX_WAIT_SECS: i64 = 15 * 60;

/// How long sign-in stays closed after `failures` recent failures, the last at `last_failure`:
/// nothing while within `free_attempts`, then 30 s doubling per failure up to 15 minutes.
/// `None` when an attempt may go ahead now.
pub fn throttle_wait(
    failures: u32,
    last_failure: DateTime<Utc>,
    free_attempts: u32,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if failures < free_attempts.max(1) {
        return None;
    }
    let doublings = (failures - free_attempts.max(1)).min(16);
    let wait_secs = (THROTTLE_FIRST_WAIT_SECS << doublings).min(THROTTLE_MAX_WAIT_SECS);
    let open_at = last_failure + Duration::seconds(wait_secs);
    (open_at > now).then(|| open_at - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power_and_round_trip() {
        assert!(Role::Viewer < Role::Agent);
        assert!(Role::Agent < Role::Manager);
        assert!(Role::Manager < Role::Admin);
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("ADMIN".parse::<Role>(), Ok(Role::Admin));
        let error = "root".parse::<Role>().unwrap_err();
        assert!(error.to_string().contains("\"root\""), "{error}");
    }

    #[test]
    fn user_names_are_plain() {
        assert!(validate_user_name("anna.k@support").is_ok());
        assert!(validate_user_name("Иван").is_ok());
        assert_eq!(validate_user_name(""), Err(UserNameError::Empty));
        assert!(matches!(
            validate_user_name("a b"),
            Err(UserNameError::BadCharacter(_))
        ));
        assert!(matches!(
            validate_user_name("<script>"),
            Err(UserNameError::BadCharacter(_))
        ));
        assert!(matches!(
            validate_user_name(&"x".repeat(65)),
            Err(UserNameError::TooLong(_))
        ));
    }

    #[test]
    fn throttling_starts_after_the_free_attempts_and_doubles() {
        let last = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(throttle_wait(4, last, 5, last), None);
        assert_eq!(throttle_wait(5, last, 5, last), Some(Duration::seconds(30)));
        assert_eq!(throttle_wait(6, last, 5, last), Some(Duration::seconds(60)));
        assert_eq!(
            throttle_wait(7, last, 5, last + Duration::seconds(100)),
            Some(Duration::seconds(20))
        );
        assert_eq!(
            throttle_wait(7, last, 5, last + Duration::seconds(120)),
            None
        );
        assert_eq!(
            throttle_wait(60, last, 5, last),
            Some(Duration::minutes(15))
        );
    }

    #[test]
    fn older_config_files_get_the_defaults() {
        let config: AuthConfig = serde_json::from_str("{\"secure_cookies\": true}").unwrap();
        assert!(config.secure_cookies);
        assert_eq!(config.account_free_attempts, 5);
        assert_eq!(config.session_idle(), Duration::hours(8));
    }
}
