//! People and access in storage: users, sessions, API tokens, invites and failed sign-ins.
//!
//! The store never sees a secret: callers hand it SHA-256 hashes of session ids, tokens and
//! invites, and argon2id PHC strings of passwords. It keeps no policy either (expiry, idle
//! time, throttling rules): it stores and answers, and the web layer decides.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::{ApiToken, Role, TokenId, User, UserId};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::sqlite::{db_error, from_micros, micros};
use crate::{SqliteStore, StoreError, StoreResult};

/// A user to create. Without a password hash the user can sign in only after an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A session to store; `id_hash` is the SHA-256 (hex) of the id in the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id_hash: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub csrf_secret: String,
    pub client_addr: String,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub csrf_secret: String,
    pub client_addr: String,
}

/// An API token to store; `token_hash` is the SHA-256 (hex) of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub token_hash: String,
    pub prefix: String,
    pub name: String,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
}

/// Recent failed sign-ins under one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub last: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the name is taken.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    /// The user and their password hash, for signing in.
    async fn user_credentials(&self, name: &str) -> StoreResult<Option<(User, Option<String>)>>;
    /// Every user, by name.
    async fn users(&self) -> StoreResult<Vec<User>>;
    async fn user_count(&self) -> StoreResult<u64>;
    /// Fails with [`StoreError::NotFound`] for an unknown name.
    async fn set_role(&self, name: &str, role: Role) -> StoreResult<User>;
    async fn set_password(&self, id: UserId, password_hash: &str) -> StoreResult<()>;
    /// Disable a user and, in the same transaction, end their sessions, revoke their tokens
    /// and drop their invites. Fails with [`StoreError::NotFound`] for an unknown name.
    async fn disable_user(&self, name: &str) -> StoreResult<User>;

    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    /// The session and its user, whatever their state (the caller checks expiry and
    /// `disabled`).
    async fn session(&self, id_hash: &str) -> StoreResult<Option<(Session, User)>>;
    async fn touch_session(&self, id_hash: &str, at: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Forget sessions that expired before `now`, or were last seen before `idle_before`.
    async fn delete_stale_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StoreResult<u64>;

    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken>;
    /// The token (revoked or not) with this hash, and its user.
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>>;
    async fn touch_token(&self, id: TokenId, at: DateTime<Utc>) -> StoreResult<()>;
    async fn tokens(&self) -> StoreResult<Vec<ApiToken>>;
    /// Fails with [`StoreError::NotFound`] for an unknown id; revoking twice is fine.
    async fn revoke_token(&self, id: TokenId) -> StoreResult<ApiToken>;

    async fn create_invite(
        &self,
        token_hash: &str,
        user_id: UserId,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The user an unexpired invite is for, without using it up.
    async fn invite_user(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<User>>;
    /// Use an unexpired invite: set the password and delete the invite in one transaction.
    /// `None` when the invite is unknown, used or expired (nothing changes then).
    async fn redeem_invite(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>>;

    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Failures under `key` at or after `since`.
    async fn login_failures(&self, key: &str, since: DateTime<Utc>) -> StoreResult<LoginFailures>;
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}

const USER_COLUMNS: &str = "u.id, u.name, u.display_name, u.role, u.disabled, u.created_at";
const TOKEN_COLUMNS: &str = "t.id, t.prefix, t.name, t.user_id, u.name AS user_name, \
    t.created_at, t.last_used_at, t.revoked";

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    let role: String = row.get("role");
    Ok(User {
        id: UserId(row.get("id")),
        name: row.get("name"),
        display_name: row.get("display_name"),
        role: role
            .parse()
            .map_err(|e| StoreError::Database(format!("column users.role: {e}")))?,
        disabled: row.get::<i64, _>("disabled") != 0,
        created_at: from_micros(row.get("created_at"), "users.created_at")?,
    })
}

fn token_from_row(row: &SqliteRow) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: TokenId(row.get("id")),
        prefix: row.get("prefix"),
        name: row.get("name"),
        user_id: UserId(row.get("user_id")),
        user_name: row.get("user_name"),
        created_at: from_micros(row.get("created_at"), "api_tokens.created_at")?,
        last_used_at: row
            .get::<Option<i64>, _>("last_used_at")
            .map(|t| from_micros(t, "api_tokens.last_used_at"))
            .transpose()?,
        revoked: row.get::<i64, _>("revoked") != 0,
    })
}

fn session_from_row(row: &SqliteRow) -> StoreResult<Session> {
    Ok(Session {
        id_hash: row.get("id_hash"),
        user_id: UserId(row.get("user_id")),
        created_at: from_micros(row.get("s_created_at"), "sessions.created_at")?,
        last_seen_at: from_micros(row.get("last_seen_at"), "sessions.last_seen_at")?,
        expires_at: from_micros(row.get("expires_at"), "sessions.expires_at")?,
        csrf_secret: row.get("csrf_secret"),
        client_addr: row.get("client_addr"),
    })
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl SqliteStore {
    async fn token_by_id(&self, id: TokenId) -> StoreResult<Option<ApiToken>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("reading a token"))?;
        row.as_ref().map(token_from_row).transpose()
    }
}

#[async_trait]
impl AuthStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let result = sqlx::query(
            "INSERT INTO users (name, display_name, role, password_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&user.name)
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(micros(user.created_at))
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) => self
                .user(UserId(done.last_insert_rowid()))
                .await?
                .ok_or_else(|| StoreError::Database("a user vanished as it was created".into())),
            Err(error) if is_unique_violation(&error) => Err(StoreError::Conflict(format!(
                "a user named {:?} already exists",
                user.name
            ))),
            Err(error) => Err(db_error("creating a user")(error)),
        }
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("reading a user"))?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        Ok(self.user_credentials(name).await?.map(|(user, _)| user))
    }

    async fn user_credentials(&self, name: &str) -> StoreResult<Option<(User, Option<String>)>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = ?1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("reading a user"))?;
        row.map(|row| Ok((user_from_row(&row)?, row.get("password_hash"))))
            .transpose()
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("listing users"))?
        .iter()
        .map(user_from_row)
        .collect()
    }

    async fn user_count(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error("counting users"))?;
        Ok(count as u64)
    }

    async fn set_role(&self, name: &str, role: Role) -> StoreResult<User> {
        let done = sqlx::query("UPDATE users SET role = ?2 WHERE name = ?1")
            .bind(name)
            .bind(role.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error("changing a role"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no user named {name:?}")));
        }
        self.user_by_name(name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user named {name:?}")))
    }

    async fn set_password(&self, id: UserId, password_hash: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET password_hash = ?2 WHERE id = ?1")
            .bind(id.0)
            .bind(password_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error("setting a password"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no user with id {}", id.0)));
        }
        Ok(())
    }

    async fn disable_user(&self, name: &str) -> StoreResult<User> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_error("starting a transaction"))?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = ?1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error("reading a user"))?;
        let Some(id) = id else {
            return Err(StoreError::NotFound(format!("no user named {name:?}")));
        };
        for statement in [
            "UPDATE users SET disabled = 1 WHERE id = ?1",
            "DELETE FROM sessions WHERE user_id = ?1",
            "UPDATE api_tokens SET revoked = 1 WHERE user_id = ?1",
            "DELETE FROM invites WHERE user_id = ?1",
        ] {
            sqlx::query(statement)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_error("disabling a user"))?;
        }
        tx.commit().await.map_err(db_error("disabling a user"))?;
        self.user(UserId(id))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no user named {name:?}")))
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, \
             csrf_secret, client_addr) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
        )
        .bind(&session.id_hash)
        .bind(session.user_id.0)
        .bind(micros(session.created_at))
        .bind(micros(session.expires_at))
        .bind(&session.csrf_secret)
        .bind(&session.client_addr)
        .execute(&self.pool)
        .await
        .map_err(db_error("creating a session"))?;
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> StoreResult<Option<(Session, User)>> {
        let row = sqlx::query(&format!(
            "SELECT s.id_hash, s.user_id, s.created_at AS s_created_at, s.last_seen_at, \
             s.expires_at, s.csrf_secret, s.client_addr, {USER_COLUMNS} \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?1"
        ))
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("reading a session"))?;
        row.map(|row| Ok((session_from_row(&row)?, user_from_row(&row)?)))
            .transpose()
    }

    async fn touch_session(&self, id_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id_hash = ?1")
            .bind(id_hash)
            .bind(micros(at))
            .execute(&self.pool)
            .await
            .map_err(db_error("updating a session"))?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error("ending a session"))?;
        Ok(())
    }

    async fn delete_stale_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at < ?2")
            .bind(micros(now))
            .bind(micros(idle_before))
            .execute(&self.pool)
            .await
            .map_err(db_error("forgetting stale sessions"))?;
        Ok(done.rows_affected())
    }

    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        let done = sqlx::query(
            "INSERT INTO api_tokens (token_hash, prefix, name, user_id, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&token.token_hash)
        .bind(&token.prefix)
        .bind(&token.name)
        .bind(token.user_id.0)
        .bind(micros(token.created_at))
        .execute(&self.pool)
        .await
        .map_err(|error| {
            if matches!(&error, sqlx::Error::Database(db) if db.is_foreign_key_violation()) {
                StoreError::NotFound(format!("no user with id {}", token.user_id.0))
            } else {
                db_error("creating a token")(error)
            }
        })?;
        self.token_by_id(TokenId(done.last_insert_rowid()))
            .await?
            .ok_or_else(|| StoreError::Database("a token vanished as it was created".into()))
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS}, u.display_name, u.role, u.disabled, \
             u.created_at AS u_created_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("reading a token"))?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row)?;
        let role: String = row.get("role");
        let user = User {
            id: token.user_id,
            name: token.user_name.clone(),
            display_name: row.get("display_name"),
            role: role
                .parse()
                .map_err(|e| StoreError::Database(format!("column users.role: {e}")))?,
            disabled: row.get::<i64, _>("disabled") != 0,
            created_at: from_micros(row.get("u_created_at"), "users.created_at")?,
        };
        Ok(Some((token, user)))
    }

    async fn touch_token(&self, id: TokenId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")
            .bind(id.0)
            .bind(micros(at))
            .execute(&self.pool)
            .await
            .map_err(db_error("updating a token"))?;
        Ok(())
    }

    async fn tokens(&self) -> StoreResult<Vec<ApiToken>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("listing tokens"))?
        .iter()
        .map(token_from_row)
        .collect()
    }

    async fn revoke_token(&self, id: TokenId) -> StoreResult<ApiToken> {
        sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = ?1")
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_error("revoking a token"))?;
        self.token_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no token with id {}", id.0)))
    }

    async fn create_invite(
        &self,
        token_hash: &str,
        user_id: UserId,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO invites (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(token_hash)
        .bind(user_id.0)
        .bind(micros(created_at))
        .bind(micros(expires_at))
        .execute(&self.pool)
        .await
        .map_err(db_error("creating an invite"))?;
        Ok(())
    }

    async fn invite_user(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM invites i JOIN users u ON u.id = i.user_id \
             WHERE i.token_hash = ?1 AND i.expires_at > ?2 AND u.disabled = 0"
        ))
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("reading an invite"))?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn redeem_invite(
        &self,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_error("starting a transaction"))?;
        // Deleting first makes the invite single-use even when two requests race.
        let user_id: Option<i64> = sqlx::query_scalar(
            "DELETE FROM invites WHERE token_hash = ?1 AND expires_at > ?2 \
             AND user_id IN (SELECT id FROM users WHERE disabled = 0) RETURNING user_id",
        )
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("using an invite"))?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        sqlx::query("UPDATE users SET password_hash = ?2 WHERE id = ?1")
            .bind(user_id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(db_error("setting a password"))?;
        tx.commit().await.map_err(db_error("using an invite"))?;
        self.user(UserId(user_id)).await
    }

    async fn record_login_failure(&self, key: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("INSERT INTO login_failures (key, failed_at) VALUES (?1, ?2)")
            .bind(key)
            .bind(micros(at))
            .execute(&self.pool)
            .await
            .map_err(db_error("recording a failed sign-in"))?;
        // Old failures count for nothing; dropping them here keeps the table small.
        sqlx::query("DELETE FROM login_failures WHERE key = ?1 AND failed_at < ?2")
            .bind(key)
            .bind(micros(at - chrono::Duration::days(1)))
            .execute(&self.pool)
            .await
            .map_err(db_error("recording a failed sign-in"))?;
        Ok(())
    }

    async fn login_failures(&self, key: &str, since: DateTime<Utc>) -> StoreResult<LoginFailures> {
        let row = sqlx::query(
            "SELECT count(*) AS n, max(failed_at) AS last FROM login_failures \
             WHERE key = ?1 AND failed_at >= ?2",
        )
        .bind(key)
        .bind(micros(since))
        .fetch_one(&self.pool)
        .await
        .map_err(db_error("reading failed sign-ins"))?;
        Ok(LoginFailures {
            count: row.get::<i64, _>("n").clamp(0, u32::MAX as i64) as u32,
            last: row
                .get::<Option<i64>, _>("last")
                .map(|t| from_micros(t, "login_failures.failed_at"))
                .transpose()?,
        })
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = ?1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_error("clearing failed sign-ins"))?;
        Ok(())
    }
}
