//! How users are reached outside Earshot ([`UserContactStore`], a supertrait of
//! [`crate::Store`]): the optional e-mail address of a user (`users.email`, migration
//! `0011_inbox_ops.sql`), to which SLA escalations of the teams they manage are mailed.

use async_trait::async_trait;
use earshot_core::{EmailAddress, User};
use sqlx::Row;

use crate::auth::NewUser;
use crate::sqlite::{db_error, micros};
use crate::{AuthStore, SqliteStore, StoreError, StoreResult};

#[async_trait]
pub trait UserContactStore: Send + Sync {
    /// Create a user with (or without) an e-mail address in one step, so a failure stores
    /// neither. A taken name is a [`StoreError::Conflict`].
    async fn create_user_with_email(
        &self,
        user: NewUser,
        email: Option<&EmailAddress>,
    ) -> StoreResult<User>;
    /// Set or (with `None`) clear a user's e-mail address; [`StoreError::NotFound`] names the
    /// user when there is none of that name.
    async fn set_user_email(&self, name: &str, email: Option<&EmailAddress>) -> StoreResult<()>;
    /// The user's address; `None` when the user has none or does not exist.
    async fn user_email(&self, name: &str) -> StoreResult<Option<EmailAddress>>;
    /// Every user with an address, by name.
    async fn user_emails(&self) -> StoreResult<Vec<(String, EmailAddress)>>;
}

/// A stored address is re-checked when read: a row written by hand that is not an address is
/// reported, never mailed.
fn stored_address(raw: String, user: &str) -> StoreResult<EmailAddress> {
    EmailAddress::parse(&raw).map_err(|error| {
        StoreError::Database(format!("users.email of {user:?} is not valid: {error}"))
    })
}

#[async_trait]
impl UserContactStore for SqliteStore {
    async fn create_user_with_email(
        &self,
        user: NewUser,
        email: Option<&EmailAddress>,
    ) -> StoreResult<User> {
        let result = sqlx::query(
            "INSERT INTO users (name, display_name, role, password_hash, created_at, email) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&user.name)
        .bind(&user.display_name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(micros(user.created_at))
        .bind(email.map(EmailAddress::as_str))
        .execute(self.pool())
        .await;
        match result {
            Ok(_) => self
                .user_by_name(&user.name)
                .await?
                .ok_or_else(|| StoreError::Database("a user vanished as it was created".into())),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Err(
                StoreError::Conflict(format!("a user named {:?} already exists", user.name)),
            ),
            Err(error) => Err(db_error("creating a user")(error)),
        }
    }

    async fn set_user_email(&self, name: &str, email: Option<&EmailAddress>) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET email = ?2 WHERE name = ?1")
            .bind(name)
            .bind(email.map(EmailAddress::as_str))
            .execute(self.pool())
            .await
            .map_err(db_error("setting a user's e-mail address"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "no user named {name:?} (see earshot user list)"
            )));
        }
        Ok(())
    }

    async fn user_email(&self, name: &str) -> StoreResult<Option<EmailAddress>> {
        let raw: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM users WHERE name = ?1")
                .bind(name)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error("reading a user's e-mail address"))?;
        raw.flatten()
            .map(|address| stored_address(address, name))
            .transpose()
    }

    async fn user_emails(&self) -> StoreResult<Vec<(String, EmailAddress)>> {
        let rows =
            sqlx::query("SELECT name, email FROM users WHERE email IS NOT NULL ORDER BY name")
                .fetch_all(self.pool())
                .await
                .map_err(db_error("listing users' e-mail addresses"))?;
        rows.into_iter()
            .map(|row| {
                let name: String = row.get("name");
                let address = stored_address(row.get("email"), &name)?;
                Ok((name, address))
            })
            .collect()
    }
}
