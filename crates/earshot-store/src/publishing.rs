//! Publishing storage ([`PublishingStore`], a supertrait of [`crate::Store`]): the official
//! accounts, posts with their variants, approvals and history, and its SQLite implementation
//! (`migrations/0008_publishing.sql`).
//!
//! Every change of a post runs in one `BEGIN IMMEDIATE` transaction that reads the post, asks
//! the pure workflow ([`earshot_core::WorkflowState::apply`]) whether the change is allowed,
//! writes it and its history event; two reviewers racing cannot both approve one step.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_core::publishing::required_steps;
use earshot_core::{
    Account, AccountId, AccountStatus, Actor, NewAccount, Post, PostAction, PostApproval,
    PostDetail, PostEvent, PostEventKind, PostId, PostState, Variant, VariantDraft, VariantId,
    VariantState, WorkflowState,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::sqlite::{db_error, from_micros, micros};
use crate::{SqliteStore, StoreError, StoreResult};

/// Longest post title.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest variant text kept (far above any network's limit, which the checks enforce).
pub const MAX_VARIANT_CHARS: usize = 10_000;
/// Most posts one list returns.
pub const MAX_POST_PAGE: usize = 500;

/// Which posts a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostFilter {
    /// Posts with a variant for this account.
    pub account: Option<AccountId>,
    pub states: Vec<PostState>,
    pub author: Option<String>,
    /// Posts scheduled in `[from, until)`; posts without a time are left out when set.
    pub scheduled_from: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
}

/// A variant of another post on the same account, for the checks that look at history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPost {
    pub post: PostId,
    pub state: PostState,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub text: String,
}

#[async_trait]
pub trait PublishingStore: Send + Sync {
    /// Register an account; its name and its `(network, handle, server)` are unique.
    async fn create_account(&self, account: NewAccount, at: DateTime<Utc>) -> StoreResult<Account>;
    /// Every account, by name.
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>>;
    /// The sealed credentials (open them with `earshot_vault::Vault::open(account.identity())`).
    async fn account_credentials(&self, id: AccountId) -> StoreResult<Vec<u8>>;
    /// Replace several accounts' sealed credentials at once (key rotation): all or none.
    async fn replace_credentials(&self, sealed: Vec<(AccountId, Vec<u8>)>) -> StoreResult<()>;
    /// Record a connection check: `error` `None` is healthy (a disconnected account becomes
    /// active again), `Some` marks it disconnected with the reason.
    async fn record_account_check(
        &self,
        id: AccountId,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Account>;
    async fn set_account_status(
        &self,
        id: AccountId,
        status: AccountStatus,
    ) -> StoreResult<Account>;
    /// Remove an account that no post uses (pause it otherwise).
    async fn delete_account(&self, id: AccountId) -> StoreResult<()>;

    /// A new draft by `author` with one variant per account.
    async fn create_post(
        &self,
        title: &str,
        author: &str,
        variants: &[VariantDraft],
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail>;
    /// Change the title and variants; after any approval the post goes back to review and its
    /// approvals are cleared ([`PostAction::Edit`]). An edit that changes nothing writes nothing.
    async fn update_post(
        &self,
        id: PostId,
        title: &str,
        variants: &[VariantDraft],
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail>;
    /// Submit, approve, reject, withdraw, schedule or unschedule, checked by the workflow.
    async fn transition_post(
        &self,
        id: PostId,
        actor: &Actor,
        action: &PostAction,
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail>;
    async fn post(&self, id: PostId) -> StoreResult<Option<PostDetail>>;
    /// Posts, newest first (by scheduled time when a time range is given, earliest first).
    async fn list_posts(&self, filter: &PostFilter, limit: usize) -> StoreResult<Vec<Post>>;
    /// The account's other posts, newest first (by scheduled time, else creation), at most
    /// `limit`, leaving out `except`.
    async fn account_posts(
        &self,
        account: AccountId,
        except: Option<PostId>,
        limit: usize,
    ) -> StoreResult<Vec<AccountPost>>;

    /// The publishing worker's success: the network's id and link. The post becomes
    /// `published` when every variant is.
    async fn mark_variant_published(
        &self,
        variant: VariantId,
        remote_id: &str,
        url: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail>;
    /// The worker gave up on a variant: the post becomes `failed`.
    async fn mark_variant_failed(
        &self,
        variant: VariantId,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail>;
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::InvalidInput(message.into())
}

fn parse<T: std::str::FromStr>(text: &str, column: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StoreError::Database(format!("{column} holds {text:?}: {e}")))
}

fn json_list(text: &str, column: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Database(format!("{column} is not a JSON list: {e}")))
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings serializes")
}

const ACCOUNT_COLUMNS: &str = "id, network, name, handle, server_url, owner, purpose, languages, \
     status, last_check_at, last_error, posts_per_day, approval_steps, created_at";

fn row_to_account(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Account> {
    let network: String = row.get("network");
    let status: String = row.get("status");
    let languages: String = row.get("languages");
    let steps: String = row.get("approval_steps");
    let last_check: Option<i64> = row.get("last_check_at");
    let per_day: i64 = row.get("posts_per_day");
    Ok(Account {
        id: AccountId(row.get("id")),
        network: parse(&network, "publishing_accounts.network")?,
        name: row.get("name"),
        handle: row.get("handle"),
        server_url: row.get("server_url"),
        owner: row.get("owner"),
        purpose: row.get("purpose"),
        languages: json_list(&languages, "publishing_accounts.languages")?,
        status: parse(&status, "publishing_accounts.status")?,
        last_check_at: last_check
            .map(|t| from_micros(t, "publishing_accounts.last_check_at"))
            .transpose()?,
        last_error: row.get("last_error"),
        posts_per_day: u32::try_from(per_day).unwrap_or(u32::MAX),
        approval_steps: json_list(&steps, "publishing_accounts.approval_steps")?,
        created_at: from_micros(row.get("created_at"), "publishing_accounts.created_at")?,
    })
}

fn row_to_post(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Post> {
    let state: String = row.get("state");
    let scheduled: Option<i64> = row.get("scheduled_at");
    let revision: i64 = row.get("revision");
    Ok(Post {
        id: PostId(row.get("id")),
        title: row.get("title"),
        author: row.get("author"),
        state: parse(&state, "posts.state")?,
        scheduled_at: scheduled
            .map(|t| from_micros(t, "posts.scheduled_at"))
            .transpose()?,
        revision: u32::try_from(revision).unwrap_or(u32::MAX),
        created_at: from_micros(row.get("created_at"), "posts.created_at")?,
        updated_at: from_micros(row.get("updated_at"), "posts.updated_at")?,
        variants: Vec::new(),
    })
}

fn row_to_variant(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Variant> {
    let media: String = row.get("media");
    let state: String = row.get("state");
    let published: Option<i64> = row.get("published_at");
    Ok(Variant {
        id: VariantId(row.get("id")),
        post: PostId(row.get("post")),
        account: AccountId(row.get("account")),
        text: row.get("text"),
        media: json_list(&media, "post_variants.media")?,
        state: match state.as_str() {
            "pending" => VariantState::Pending,
            "published" => VariantState::Published,
            "failed" => VariantState::Failed,
            other => {
                return Err(StoreError::Database(format!(
                    "post_variants.state holds {other:?}"
                )))
            }
        },
        remote_id: row.get("remote_id"),
        url: row.get("url"),
        error: row.get("error"),
        published_at: published
            .map(|t| from_micros(t, "post_variants.published_at"))
            .transpose()?,
    })
}

async fn begin(store: &SqliteStore) -> StoreResult<Transaction<'static, Sqlite>> {
    store
        .pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db_error("starting a publishing transaction"))
}

fn check_account_fields(account: &NewAccount) -> StoreResult<()> {
    let name = account.name.trim();
    if name.is_empty() {
        return Err(invalid("an account needs a name"));
    }
    if name.chars().count() > 64 {
        return Err(invalid(format!(
            "account name {name:?} is longer than 64 characters"
        )));
    }
    if account.handle.trim().is_empty() {
        return Err(invalid(format!("account {name:?} needs a handle")));
    }
    if account.owner.trim().is_empty() {
        return Err(invalid(format!("account {name:?} needs an owner")));
    }
    if account.posts_per_day == 0 {
        return Err(invalid(format!(
            "account {name:?}: posts per day must be at least 1"
        )));
    }
    if account.sealed_credentials.is_empty() {
        return Err(invalid(format!("account {name:?} has no credentials")));
    }
    for language in &account.languages {
        if language.len() != 2 || !language.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(invalid(format!(
                "account {name:?}: audience language {language:?} is not an ISO 639-1 code like \"en\""
            )));
        }
    }
    Ok(())
}

fn check_post_fields(title: &str, variants: &[VariantDraft]) -> StoreResult<()> {
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid(format!(
            "the title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    for (index, variant) in variants.iter().enumerate() {
        if variant.text.chars().count() > MAX_VARIANT_CHARS {
            return Err(invalid(format!(
                "variant {} is longer than {MAX_VARIANT_CHARS} characters",
                index + 1
            )));
        }
        if variants[..index]
            .iter()
            .any(|v| v.account == variant.account)
        {
            return Err(invalid(format!(
                "account {} has two variants; one post has one variant per account",
                variant.account
            )));
        }
    }
    Ok(())
}

async fn account_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: AccountId,
) -> StoreResult<Option<Account>> {
    let row = sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM publishing_accounts WHERE id = ?"
    ))
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error("reading an account"))?;
    row.as_ref().map(row_to_account).transpose()
}

async fn post_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: PostId,
) -> StoreResult<Option<PostDetail>> {
    let Some(row) = sqlx::query(
        "SELECT id, title, author, state, scheduled_at, revision, created_at, updated_at \
         FROM posts WHERE id = ?",
    )
    .bind(id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error("reading a post"))?
    else {
        return Ok(None);
    };
    let mut post = row_to_post(&row)?;
    let variants = sqlx::query(
        "SELECT id, post, account, text, media, state, remote_id, url, error, published_at \
         FROM post_variants WHERE post = ? ORDER BY position, id",
    )
    .bind(id.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error("reading a post's variants"))?;
    post.variants = variants
        .iter()
        .map(row_to_variant)
        .collect::<StoreResult<_>>()?;
    let mut accounts = Vec::new();
    for variant in &post.variants {
        if let Some(account) = account_in(tx, variant.account).await? {
            accounts.push(account);
        }
    }
    let steps = required_steps(&accounts);
    let approvals = sqlx::query(
        "SELECT step, approver, at FROM post_approvals WHERE post = ? ORDER BY step_index",
    )
    .bind(id.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error("reading a post's approvals"))?
    .iter()
    .map(|row| {
        Ok(PostApproval {
            step: row.get("step"),
            approver: row.get("approver"),
            at: from_micros(row.get("at"), "post_approvals.at")?,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let history = sqlx::query(
        "SELECT id, post, actor, at, kind, from_state, to_state, comment \
         FROM post_events WHERE post = ? ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error("reading a post's history"))?
    .iter()
    .map(|row| {
        let kind: String = row.get("kind");
        let from: String = row.get("from_state");
        let to: String = row.get("to_state");
        Ok(PostEvent {
            id: row.get("id"),
            post: PostId(row.get("post")),
            actor: row.get("actor"),
            at: from_micros(row.get("at"), "post_events.at")?,
            kind: parse(&kind, "post_events.kind")?,
            from: parse(&from, "post_events.from_state")?,
            to: parse(&to, "post_events.to_state")?,
            comment: row.get("comment"),
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(PostDetail {
        post,
        steps,
        approvals,
        history,
    }))
}

async fn existing_post(
    tx: &mut Transaction<'static, Sqlite>,
    id: PostId,
) -> StoreResult<PostDetail> {
    post_in(tx, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no post {id}")))
}

#[allow(clippy::too_many_arguments)]
async fn write_event(
    tx: &mut Transaction<'static, Sqlite>,
    post: PostId,
    actor: &str,
    at: DateTime<Utc>,
    kind: PostEventKind,
    from: PostState,
    to: PostState,
    comment: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO post_events (post, actor, at, kind, from_state, to_state, comment) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(post.0)
    .bind(actor)
    .bind(micros(at))
    .bind(kind.as_str())
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(comment)
    .execute(&mut **tx)
    .await
    .map_err(db_error("recording a post event"))?;
    Ok(())
}

async fn write_variants(
    tx: &mut Transaction<'static, Sqlite>,
    post: PostId,
    variants: &[VariantDraft],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM post_variants WHERE post = ?")
        .bind(post.0)
        .execute(&mut **tx)
        .await
        .map_err(db_error("replacing a post's variants"))?;
    for (position, variant) in variants.iter().enumerate() {
        if account_in(tx, variant.account).await?.is_none() {
            return Err(invalid(format!(
                "variant {}: no account {}",
                position + 1,
                variant.account
            )));
        }
        sqlx::query(
            "INSERT INTO post_variants (post, account, position, text, media) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(post.0)
        .bind(variant.account.0)
        .bind(position as i64)
        .bind(&variant.text)
        .bind(to_json(&variant.media))
        .execute(&mut **tx)
        .await
        .map_err(db_error("writing a variant"))?;
    }
    Ok(())
}

async fn set_post_state(
    tx: &mut Transaction<'static, Sqlite>,
    post: PostId,
    state: PostState,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE posts SET state = ?, updated_at = ? WHERE id = ?")
        .bind(state.as_str())
        .bind(micros(at))
        .bind(post.0)
        .execute(&mut **tx)
        .await
        .map_err(db_error("changing a post's state"))?;
    Ok(())
}

async fn clear_approvals(tx: &mut Transaction<'static, Sqlite>, post: PostId) -> StoreResult<()> {
    sqlx::query("DELETE FROM post_approvals WHERE post = ?")
        .bind(post.0)
        .execute(&mut **tx)
        .await
        .map_err(db_error("clearing approvals"))?;
    Ok(())
}

fn workflow_error(error: earshot_core::WorkflowError) -> StoreError {
    StoreError::Conflict(error.to_string())
}

#[async_trait]
impl PublishingStore for SqliteStore {
    async fn create_account(&self, account: NewAccount, at: DateTime<Utc>) -> StoreResult<Account> {
        check_account_fields(&account)?;
        let result = sqlx::query(&format!(
            "INSERT INTO publishing_accounts (network, name, handle, server_url, owner, purpose, \
             languages, posts_per_day, approval_steps, credentials, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(account.network.as_str())
        .bind(account.name.trim())
        .bind(account.handle.trim())
        .bind(account.server_url.trim_end_matches('/'))
        .bind(account.owner.trim())
        .bind(account.purpose.trim())
        .bind(to_json(&account.languages))
        .bind(i64::from(account.posts_per_day))
        .bind(to_json(&account.approval_steps))
        .bind(&account.sealed_credentials)
        .bind(micros(at))
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => row_to_account(&row),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!(
                    "an account named {:?} or with handle {} on {} already exists",
                    account.name, account.handle, account.server_url
                )))
            }
            Err(e) => Err(db_error("adding an account")(e)),
        }
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM publishing_accounts ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("reading accounts"))?
        .iter()
        .map(row_to_account)
        .collect()
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM publishing_accounts WHERE id = ?"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("reading an account"))?;
        row.as_ref().map(row_to_account).transpose()
    }

    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM publishing_accounts WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("reading an account"))?;
        row.as_ref().map(row_to_account).transpose()
    }

    async fn account_credentials(&self, id: AccountId) -> StoreResult<Vec<u8>> {
        sqlx::query_scalar("SELECT credentials FROM publishing_accounts WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("reading credentials"))?
            .ok_or_else(|| StoreError::NotFound(format!("no account {id}")))
    }

    async fn replace_credentials(&self, sealed: Vec<(AccountId, Vec<u8>)>) -> StoreResult<()> {
        let mut tx = begin(self).await?;
        for (id, credentials) in sealed {
            let done = sqlx::query("UPDATE publishing_accounts SET credentials = ? WHERE id = ?")
                .bind(credentials)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_error("replacing credentials"))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("no account {id}")));
            }
        }
        tx.commit().await.map_err(db_error("replacing credentials"))
    }

    async fn record_account_check(
        &self,
        id: AccountId,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        // A failed check disconnects; a good one reconnects a disconnected account but never
        // resumes one a person paused.
        let row = sqlx::query(&format!(
            "UPDATE publishing_accounts SET last_check_at = ?, last_error = ?, \
             status = CASE WHEN ? IS NOT NULL THEN 'disconnected' \
                           WHEN status = 'disconnected' THEN 'active' ELSE status END \
             WHERE id = ? RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(micros(at))
        .bind(error)
        .bind(error)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("recording an account check"))?
        .ok_or_else(|| StoreError::NotFound(format!("no account {id}")))?;
        row_to_account(&row)
    }

    async fn set_account_status(
        &self,
        id: AccountId,
        status: AccountStatus,
    ) -> StoreResult<Account> {
        let row = sqlx::query(&format!(
            "UPDATE publishing_accounts SET status = ? WHERE id = ? RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(status.as_str())
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("changing an account's status"))?
        .ok_or_else(|| StoreError::NotFound(format!("no account {id}")))?;
        row_to_account(&row)
    }

    async fn delete_account(&self, id: AccountId) -> StoreResult<()> {
        let mut tx = begin(self).await?;
        let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM post_variants WHERE account = ?")
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error("counting an account's posts"))?;
        if used > 0 {
            return Err(StoreError::Conflict(format!(
                "account {id} has {used} post variant(s); pause it instead of removing it"
            )));
        }
        let done = sqlx::query("DELETE FROM publishing_accounts WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error("removing an account"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no account {id}")));
        }
        tx.commit().await.map_err(db_error("removing an account"))
    }

    async fn create_post(
        &self,
        title: &str,
        author: &str,
        variants: &[VariantDraft],
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail> {
        check_post_fields(title, variants)?;
        if author.trim().is_empty() {
            return Err(invalid("a post needs an author"));
        }
        let mut tx = begin(self).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO posts (title, author, state, created_at, updated_at) \
             VALUES (?, ?, 'draft', ?, ?) RETURNING id",
        )
        .bind(title.trim())
        .bind(author)
        .bind(micros(at))
        .bind(micros(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("creating a post"))?;
        let id = PostId(id);
        write_variants(&mut tx, id, variants).await?;
        write_event(
            &mut tx,
            id,
            author,
            at,
            PostEventKind::Created,
            PostState::Draft,
            PostState::Draft,
            None,
        )
        .await?;
        let detail = existing_post(&mut tx, id).await?;
        tx.commit().await.map_err(db_error("creating a post"))?;
        Ok(detail)
    }

    async fn update_post(
        &self,
        id: PostId,
        title: &str,
        variants: &[VariantDraft],
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail> {
        check_post_fields(title, variants)?;
        let mut tx = begin(self).await?;
        let before = existing_post(&mut tx, id).await?;
        let unchanged = before.post.title == title.trim()
            && before.post.variants.len() == variants.len()
            && before.post.variants.iter().zip(variants).all(|(old, new)| {
                old.account == new.account && old.text == new.text && old.media == new.media
            });
        if unchanged {
            return Ok(before);
        }
        let approved: Vec<String> = before.approvals.iter().map(|a| a.step.clone()).collect();
        let transition = WorkflowState {
            state: before.post.state,
            author: &before.post.author,
            steps: &before.steps,
            approved: &approved,
            variant_count: before.post.variants.len(),
        }
        .apply(actor, &PostAction::Edit)
        .map_err(workflow_error)?;
        sqlx::query(
            "UPDATE posts SET title = ?, state = ?, revision = revision + 1, updated_at = ? \
             WHERE id = ?",
        )
        .bind(title.trim())
        .bind(transition.to.as_str())
        .bind(micros(at))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_error("editing a post"))?;
        write_variants(&mut tx, id, variants).await?;
        clear_approvals(&mut tx, id).await?;
        let comment = (!before.approvals.is_empty())
            .then(|| format!("{} approval(s) cleared by the edit", before.approvals.len()));
        write_event(
            &mut tx,
            id,
            &actor.name,
            at,
            PostEventKind::Edited,
            before.post.state,
            transition.to,
            comment.as_deref(),
        )
        .await?;
        let detail = existing_post(&mut tx, id).await?;
        tx.commit().await.map_err(db_error("editing a post"))?;
        Ok(detail)
    }

    async fn transition_post(
        &self,
        id: PostId,
        actor: &Actor,
        action: &PostAction,
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail> {
        let mut tx = begin(self).await?;
        let before = existing_post(&mut tx, id).await?;
        let approved: Vec<String> = before.approvals.iter().map(|a| a.step.clone()).collect();
        let transition = WorkflowState {
            state: before.post.state,
            author: &before.post.author,
            steps: &before.steps,
            approved: &approved,
            variant_count: before.post.variants.len(),
        }
        .apply(actor, action)
        .map_err(workflow_error)?;
        set_post_state(&mut tx, id, transition.to, at).await?;
        if transition.clears_approvals {
            clear_approvals(&mut tx, id).await?;
        }
        if let Some(step) = &transition.approves {
            sqlx::query(
                "INSERT INTO post_approvals (post, step_index, step, approver, at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(id.0)
            .bind(before.approvals.len() as i64)
            .bind(step)
            .bind(&actor.name)
            .bind(micros(at))
            .execute(&mut *tx)
            .await
            .map_err(db_error("recording an approval"))?;
        }
        let mut comment = None;
        match action {
            PostAction::Schedule { at: when } => {
                sqlx::query("UPDATE posts SET scheduled_at = ? WHERE id = ?")
                    .bind(micros(*when))
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("scheduling a post"))?;
                comment = Some(format!("for {}", when.format("%Y-%m-%d %H:%M UTC")));
            }
            PostAction::Reject { comment: text } => comment = Some(text.trim().to_string()),
            PostAction::Approve => {
                comment = transition.approves.as_ref().map(|s| format!("step {s}"));
            }
            PostAction::Withdraw | PostAction::Unschedule => {
                // Back to draft (or to approved) resets what the worker would pick up.
                sqlx::query(
                    "UPDATE post_variants SET state = 'pending', error = NULL \
                     WHERE post = ? AND state = 'failed'",
                )
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_error("resetting variants"))?;
            }
            _ => {}
        }
        write_event(
            &mut tx,
            id,
            &actor.name,
            at,
            transition.kind,
            before.post.state,
            transition.to,
            comment.as_deref(),
        )
        .await?;
        let detail = existing_post(&mut tx, id).await?;
        tx.commit().await.map_err(db_error("changing a post"))?;
        Ok(detail)
    }

    async fn post(&self, id: PostId) -> StoreResult<Option<PostDetail>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_error("reading a post"))?;
        let detail = post_in(&mut tx, id).await?;
        tx.commit().await.map_err(db_error("reading a post"))?;
        Ok(detail)
    }

    async fn list_posts(&self, filter: &PostFilter, limit: usize) -> StoreResult<Vec<Post>> {
        let limit = limit.clamp(1, MAX_POST_PAGE);
        let mut sql = String::from(
            "SELECT id, title, author, state, scheduled_at, revision, created_at, updated_at \
             FROM posts WHERE 1 = 1",
        );
        if filter.account.is_some() {
            sql.push_str(" AND id IN (SELECT post FROM post_variants WHERE account = ?)");
        }
        if !filter.states.is_empty() {
            sql.push_str(" AND state IN (");
            sql.push_str(&vec!["?"; filter.states.len()].join(", "));
            sql.push(')');
        }
        if filter.author.is_some() {
            sql.push_str(" AND author = ?");
        }
        let ranged = filter.scheduled_from.is_some() || filter.scheduled_until.is_some();
        if filter.scheduled_from.is_some() {
            sql.push_str(" AND scheduled_at >= ?");
        }
        if filter.scheduled_until.is_some() {
            sql.push_str(" AND scheduled_at < ?");
        }
        sql.push_str(if ranged {
            " ORDER BY scheduled_at, id LIMIT ?"
        } else {
            " ORDER BY id DESC LIMIT ?"
        });
        let mut query = sqlx::query(&sql);
        if let Some(account) = filter.account {
            query = query.bind(account.0);
        }
        for state in &filter.states {
            query = query.bind(state.as_str());
        }
        if let Some(author) = &filter.author {
            query = query.bind(author);
        }
        if let Some(from) = filter.scheduled_from {
            query = query.bind(micros(from));
        }
        if let Some(until) = filter.scheduled_until {
            query = query.bind(micros(until));
        }
        let rows = query
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("listing posts"))?;
        let mut posts: Vec<Post> = rows.iter().map(row_to_post).collect::<StoreResult<_>>()?;
        if posts.is_empty() {
            return Ok(posts);
        }
        // The variants of the whole page in one read.
        let ids: Vec<i64> = posts.iter().map(|p| p.id.0).collect();
        let sql = format!(
            "SELECT id, post, account, text, media, state, remote_id, url, error, published_at \
             FROM post_variants WHERE post IN ({}) ORDER BY post, position, id",
            vec!["?"; ids.len()].join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(id);
        }
        let variants = query
            .fetch_all(&self.pool)
            .await
            .map_err(db_error("listing variants"))?;
        for row in &variants {
            let variant = row_to_variant(row)?;
            if let Some(post) = posts.iter_mut().find(|p| p.id == variant.post) {
                post.variants.push(variant);
            }
        }
        Ok(posts)
    }

    async fn account_posts(
        &self,
        account: AccountId,
        except: Option<PostId>,
        limit: usize,
    ) -> StoreResult<Vec<AccountPost>> {
        let rows = sqlx::query(
            "SELECT p.id, p.state, p.scheduled_at, p.created_at, v.text \
             FROM post_variants v JOIN posts p ON p.id = v.post \
             WHERE v.account = ? AND p.id != ? \
             ORDER BY COALESCE(p.scheduled_at, p.created_at) DESC, p.id DESC LIMIT ?",
        )
        .bind(account.0)
        .bind(except.map_or(-1, |p| p.0))
        .bind(limit.min(MAX_POST_PAGE) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("reading an account's posts"))?;
        rows.iter()
            .map(|row| {
                let state: String = row.get("state");
                let scheduled: Option<i64> = row.get("scheduled_at");
                Ok(AccountPost {
                    post: PostId(row.get("id")),
                    state: parse(&state, "posts.state")?,
                    scheduled_at: scheduled
                        .map(|t| from_micros(t, "posts.scheduled_at"))
                        .transpose()?,
                    created_at: from_micros(row.get("created_at"), "posts.created_at")?,
                    text: row.get("text"),
                })
            })
            .collect()
    }

    async fn mark_variant_published(
        &self,
        variant: VariantId,
        remote_id: &str,
        url: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail> {
        finish_variant(self, variant, Ok((remote_id, url)), at).await
    }

    async fn mark_variant_failed(
        &self,
        variant: VariantId,
        error: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<PostDetail> {
        finish_variant(self, variant, Err(error), at).await
    }
}

/// One variant's outcome from the worker, and the post's state that follows from all of them.
async fn finish_variant(
    store: &SqliteStore,
    variant: VariantId,
    outcome: Result<(&str, &str), &str>,
    at: DateTime<Utc>,
) -> StoreResult<PostDetail> {
    let mut tx = begin(store).await?;
    let post: i64 = sqlx::query_scalar("SELECT post FROM post_variants WHERE id = ?")
        .bind(variant.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error("reading a variant"))?
        .ok_or_else(|| StoreError::NotFound(format!("no post variant {}", variant.0)))?;
    let post = PostId(post);
    let before = existing_post(&mut tx, post).await?;
    let current = before
        .post
        .variants
        .iter()
        .find(|v| v.id == variant)
        .expect("the variant belongs to the post just read");
    match (&outcome, current.state) {
        // The worker may report a success twice (a retry after a crash): the first one stands.
        (Ok((remote_id, _)), VariantState::Published) => {
            if current.remote_id.as_deref() == Some(*remote_id) {
                return Ok(before);
            }
            return Err(StoreError::Conflict(format!(
                "variant {} was already published as {}",
                variant.0,
                current.remote_id.as_deref().unwrap_or("?")
            )));
        }
        (Err(_), VariantState::Published) => {
            return Err(StoreError::Conflict(format!(
                "variant {} is already published; a failure cannot undo that",
                variant.0
            )));
        }
        _ => {}
    }
    if !matches!(before.post.state, PostState::Scheduled | PostState::Failed) {
        return Err(StoreError::Conflict(format!(
            "post {post} is {}, not scheduled: it is not being published",
            before.post.state
        )));
    }
    let (kind, comment) = match outcome {
        Ok((remote_id, url)) => {
            sqlx::query(
                "UPDATE post_variants SET state = 'published', remote_id = ?, url = ?, \
                 error = NULL, published_at = ? WHERE id = ?",
            )
            .bind(remote_id)
            .bind(url)
            .bind(micros(at))
            .bind(variant.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error("marking a variant published"))?;
            (PostEventKind::VariantPublished, url.to_string())
        }
        Err(error) => {
            sqlx::query("UPDATE post_variants SET state = 'failed', error = ? WHERE id = ?")
                .bind(error)
                .bind(variant.0)
                .execute(&mut *tx)
                .await
                .map_err(db_error("marking a variant failed"))?;
            (PostEventKind::VariantFailed, error.to_string())
        }
    };
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM post_variants WHERE post = ?")
        .bind(post.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error("reading variant states"))?;
    let to = if states.iter().any(|s| s == "failed") {
        PostState::Failed
    } else if states.iter().all(|s| s == "published") {
        PostState::Published
    } else {
        before.post.state
    };
    write_event(
        &mut tx,
        post,
        "publisher",
        at,
        kind,
        before.post.state,
        before.post.state,
        Some(&comment),
    )
    .await?;
    if to != before.post.state {
        set_post_state(&mut tx, post, to, at).await?;
        let kind = if to == PostState::Published {
            PostEventKind::Published
        } else {
            PostEventKind::Failed
        };
        write_event(
            &mut tx,
            post,
            "publisher",
            at,
            kind,
            before.post.state,
            to,
            None,
        )
        .await?;
    }
    let detail = existing_post(&mut tx, post).await?;
    tx.commit()
        .await
        .map_err(db_error("recording a publication"))?;
    Ok(detail)
}
