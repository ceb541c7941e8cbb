//! `earshot account` and `earshot post`: the official accounts (credentials sealed with the
//! workspace's master key) and the publishing workflow, enough to script draft → scheduled.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use earshot_core::{
    Account, AccountCredentials, AccountStatus, Actor, Network, NewAccount, PostAction, PostId,
    PostState, VariantDraft,
};
use earshot_engine::publishing::{self, Verdict};
use earshot_sources::HttpClient;
use earshot_store::{PostFilter, Store};
use earshot_vault::{MasterKey, Vault, MASTER_KEY_ENV};

use crate::workspace::Workspace;
use crate::{AccountAction, PostCommand};

/// Where `account add` reads a Mastodon access token or a Bluesky app password when stdin is
/// a terminal or empty: never from the command line, where `ps` and shell history see it.
pub const SECRET_ENV: &str = "EARSHOT_ACCOUNT_SECRET";

fn read_secret(what: &str) -> Result<String> {
    if let Ok(value) = std::env::var(SECRET_ENV) {
        if !value.trim().is_empty() {
            return Ok(value.trim().to_string());
        }
    }
    if std::io::stdin().is_terminal() {
        let secret = rpassword::prompt_password(format!("{what}: "))
            .with_context(|| format!("cannot read the {what}"))?;
        return Ok(secret.trim().to_string());
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from stdin"))?;
    let secret = line.trim().to_string();
    if secret.is_empty() {
        bail!("no {what}: pipe it on stdin or set {SECRET_ENV}");
    }
    Ok(secret)
}

fn vault(workspace: &Workspace) -> Result<Vault> {
    Ok(Vault::new(&MasterKey::load(&workspace.dir)?))
}

fn open_credentials(vault: &Vault, account: &Account, sealed: &[u8]) -> Result<AccountCredentials> {
    let plain = vault.open(&account.identity(), sealed)?;
    serde_json::from_slice(&plain).map_err(|e| {
        anyhow!(
            "the credentials of account {} decrypt but are not readable: {e}",
            account.name
        )
    })
}

async fn account_named(store: &dyn Store, name: &str) -> Result<Account> {
    store
        .account_by_name(name)
        .await?
        .ok_or_else(|| anyhow!("no account named {name:?} (see earshot account list)"))
}

pub async fn account(workspace: &Workspace, action: AccountAction) -> Result<()> {
    let config = workspace.load_config()?;
    let store = workspace.open_store().await?;
    match action {
        AccountAction::Add {
            name,
            network,
            handle,
            server,
            owner,
            purpose,
            languages,
            posts_per_day,
            steps,
            identifier,
        } => {
            let vault = vault(workspace)?;
            if store.user_by_name(&owner).await?.is_none() {
                bail!("no user named {owner:?} to own the account (see earshot user list)");
            }
            for step in &steps {
                if !config.teams.iter().any(|t| &t.name == step)
                    && !earshot_core::routing::DEFAULT_TEAMS.contains(&step.as_str())
                {
                    bail!("approval step {step:?} is not a team in earshot.toml ([[team]])");
                }
            }
            let network: Network = network.parse()?;
            let server = server.unwrap_or_else(|| match network {
                Network::Bluesky => "https://bsky.social".into(),
                Network::Mastodon => String::new(),
            });
            if server.is_empty() {
                bail!("--server is required for a Mastodon account (e.g. https://mastodon.social)");
            }
            let credentials = match network {
                Network::Mastodon => AccountCredentials::Mastodon {
                    access_token: read_secret("access token")?,
                },
                Network::Bluesky => AccountCredentials::Bluesky {
                    identifier: identifier.unwrap_or_else(|| handle.clone()),
                    app_password: read_secret("app password")?,
                },
            };
            let mut new = NewAccount {
                network,
                name: name.clone(),
                handle,
                server_url: server.trim_end_matches('/').to_string(),
                owner,
                purpose: purpose.unwrap_or_default(),
                languages: if languages.is_empty() {
                    config.languages.iter().take(1).cloned().collect()
                } else {
                    languages
                },
                posts_per_day,
                approval_steps: steps,
                sealed_credentials: Vec::new(),
            };
            let plain = serde_json::to_vec(&credentials)?;
            new.sealed_credentials = vault.seal(&new.identity(), &plain);
            let account = store.create_account(new, Utc::now()).await?;
            println!(
                "Account {} ({} {}) added; its credentials are encrypted. Check them: earshot account check {}",
                account.name, account.network, account.handle, account.name
            );
        }
        AccountAction::List => {
            let accounts = store.accounts().await?;
            if accounts.is_empty() {
                println!("No accounts yet: earshot account add NAME --network mastodon ...");
            }
            for account in accounts {
                let health = match (&account.last_check_at, &account.last_error) {
                    (None, _) => "never checked".to_string(),
                    (Some(at), None) => format!("ok at {}", at.format("%Y-%m-%d %H:%M")),
                    (Some(at), Some(error)) => {
                        format!("failed at {}: {error}", at.format("%Y-%m-%d %H:%M"))
                    }
                };
                println!(
                    "{}\t{}\t{}\t{}\towner {}\t{}\t{}/day\t{}\t{health}",
                    account.name,
                    account.network,
                    account.handle,
                    account.status.as_str(),
                    account.owner,
                    account.languages.join(","),
                    account.posts_per_day,
                    if account.approval_steps.is_empty() {
                        "review".to_string()
                    } else {
                        account.approval_steps.join(" → ")
                    },
                );
            }
        }
        AccountAction::Remove { name } => {
            let account = account_named(store.as_ref(), &name).await?;
            store.delete_account(account.id).await?;
            println!("Account {name} removed with its credentials.");
        }
        AccountAction::Pause { name } => {
            set_status(store.as_ref(), &name, AccountStatus::Paused).await?
        }
        AccountAction::Resume { name } => {
            set_status(store.as_ref(), &name, AccountStatus::Active).await?
        }
        AccountAction::Check { name } => {
            let account = account_named(store.as_ref(), &name).await?;
            let vault = vault(workspace)?;
            let sealed = store.account_credentials(account.id).await?;
            let credentials = open_credentials(&vault, &account, &sealed)?;
            let http = HttpClient::new(crate::commands::HTTP_TIMEOUT)?;
            let outcome = earshot_sources::accounts::verify_credentials(
                &http,
                &account.name,
                &account.server_url,
                &credentials,
            )
            .await;
            match outcome {
                Ok(verified) => {
                    store
                        .record_account_check(account.id, None, Utc::now())
                        .await?;
                    println!(
                        "Account {}: credentials work (signed in as {}, id {}).",
                        account.name, verified.handle, verified.remote_id
                    );
                }
                Err(error) => {
                    store
                        .record_account_check(account.id, Some(&error.to_string()), Utc::now())
                        .await?;
                    bail!("account {} is disconnected: {error}", account.name);
                }
            }
        }
        AccountAction::Rekey => {
            if std::env::var(MASTER_KEY_ENV).is_ok_and(|v| !v.trim().is_empty()) {
                bail!(
                    "the master key comes from {MASTER_KEY_ENV}; rekey rotates the key file master.key. \
                     Unset {MASTER_KEY_ENV} (after writing its value to master.key with mode 0600) first"
                );
            }
            let old = vault(workspace)?;
            let key = MasterKey::generate();
            let new = Vault::new(&key);
            let mut resealed = Vec::new();
            for account in store.accounts().await? {
                let sealed = store.account_credentials(account.id).await?;
                let plain = old.open(&account.identity(), &sealed)?;
                resealed.push((account.id, new.seal(&account.identity(), &plain)));
            }
            // The new key is on disk before the database changes: a crash in between leaves
            // master.key.new next to a database sealed under it, which can be recovered.
            let staging = workspace.dir.join("master.key.new");
            std::fs::write(&staging, format!("{}\n", key.to_hex()))
                .with_context(|| format!("cannot write {}", staging.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))?;
            }
            let count = resealed.len();
            store.replace_credentials(resealed).await?;
            key.write_file(&workspace.dir)?;
            let _ = std::fs::remove_file(&staging);
            println!("New master key written to master.key; {count} account(s) re-encrypted.");
        }
    }
    store.flush().await?;
    Ok(())
}

async fn set_status(store: &dyn Store, name: &str, status: AccountStatus) -> Result<()> {
    let account = account_named(store, name).await?;
    let account = store.set_account_status(account.id, status).await?;
    println!("Account {} is {}.", account.name, account.status.as_str());
    Ok(())
}

/// The user acting, with their role and the teams from earshot.toml.
async fn actor(store: &dyn Store, config: &earshot_core::Config, name: &str) -> Result<Actor> {
    let user = store
        .user_by_name(name)
        .await?
        .ok_or_else(|| anyhow!("no user named {name:?} (see earshot user list)"))?;
    if user.disabled {
        bail!("user {name:?} is disabled");
    }
    Ok(Actor::from_teams(user.name, user.role, &config.teams))
}

fn parse_variant(spec: &str) -> Result<(String, String)> {
    let (account, text) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("--variant {spec:?} must be ACCOUNT=TEXT"))?;
    Ok((account.trim().to_string(), text.to_string()))
}

fn parse_at(value: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            anyhow!("--at {value:?} is not an RFC 3339 time like 2026-06-01T09:00:00Z: {e}")
        })
}

pub async fn post(workspace: &Workspace, command: PostCommand) -> Result<()> {
    let config = workspace.load_config()?;
    let store = workspace.open_store().await?;
    let analyzer = crate::models::load(Some(&workspace.dir))?.analyzer;
    let now = Utc::now();
    match command {
        PostCommand::Add {
            title,
            author,
            variants,
        } => {
            let author = actor(store.as_ref(), &config, &author).await?;
            let mut drafts = Vec::new();
            for spec in &variants {
                let (name, text) = parse_variant(spec)?;
                let account = account_named(store.as_ref(), &name).await?;
                drafts.push(VariantDraft {
                    account: account.id,
                    text,
                    media: Vec::new(),
                });
            }
            let detail = store
                .create_post(&title, &author.name, &drafts, now)
                .await?;
            println!("Post {} created as a draft.", detail.post.id);
            print_checks(
                &publishing::check_post(store.as_ref(), &config, &analyzer, &detail, None).await?,
            );
        }
        PostCommand::List { account, state } => {
            let mut filter = PostFilter::default();
            if let Some(name) = account {
                filter.account = Some(account_named(store.as_ref(), &name).await?.id);
            }
            if let Some(state) = state {
                filter.states = vec![state.parse::<PostState>().map_err(|e| anyhow!(e))?];
            }
            for post in store.list_posts(&filter, 200).await? {
                let when = post
                    .scheduled_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{}\t{when}\t{} variant(s)\t{}",
                    post.id,
                    post.state,
                    post.author,
                    post.variants.len(),
                    post.title
                );
            }
        }
        PostCommand::Show { id } => {
            let detail = store
                .post(PostId(id))
                .await?
                .ok_or_else(|| anyhow!("no post {id}"))?;
            println!(
                "Post {} — {} ({})",
                detail.post.id, detail.post.title, detail.post.state
            );
            println!("author {}", detail.post.author);
            for variant in &detail.post.variants {
                let name = store
                    .account(variant.account)
                    .await?
                    .map(|a| a.name)
                    .unwrap_or_default();
                println!("[{name}] {}", variant.text);
                if let Some(url) = &variant.url {
                    println!("  published: {url}");
                }
                if let Some(error) = &variant.error {
                    println!("  failed: {error}");
                }
            }
            println!("approval steps: {}", detail.steps.join(" → "));
            for approval in &detail.approvals {
                println!("  {} approved by {}", approval.step, approval.approver);
            }
            print_checks(
                &publishing::check_post(store.as_ref(), &config, &analyzer, &detail, None).await?,
            );
            println!("history:");
            for event in &detail.history {
                println!(
                    "  {} {} {} {} → {}{}",
                    event.at.format("%Y-%m-%d %H:%M:%S"),
                    event.actor,
                    event.kind.as_str(),
                    event.from,
                    event.to,
                    event
                        .comment
                        .as_ref()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default()
                );
            }
        }
        PostCommand::Submit { id, user } => {
            let actor = actor(store.as_ref(), &config, &user).await?;
            let detail = store
                .transition_post(PostId(id), &actor, &PostAction::Submit, now)
                .await?;
            println!(
                "Post {id} is {}; next step: {}.",
                detail.post.state,
                detail.next_step().unwrap_or("none")
            );
        }
        PostCommand::Approve { id, user } => {
            let actor = actor(store.as_ref(), &config, &user).await?;
            let detail =
                publishing::approve(store.as_ref(), &config, &analyzer, &actor, PostId(id), now)
                    .await?;
            println!("Post {id} is {}.", detail.post.state);
        }
        PostCommand::Reject { id, user, comment } => {
            let actor = actor(store.as_ref(), &config, &user).await?;
            store
                .transition_post(PostId(id), &actor, &PostAction::Reject { comment }, now)
                .await?;
            println!("Post {id} went back to draft.");
        }
        PostCommand::Schedule { id, user, at } => {
            let actor = actor(store.as_ref(), &config, &user).await?;
            let at = parse_at(&at)?;
            let detail = publishing::schedule(
                store.as_ref(),
                &config,
                &analyzer,
                &actor,
                PostId(id),
                at,
                now,
            )
            .await?;
            println!(
                "Post {id} is {} for {}.",
                detail.post.state,
                at.format("%Y-%m-%d %H:%M UTC")
            );
        }
    }
    store.flush().await?;
    Ok(())
}

fn print_checks(results: &[publishing::CheckResult]) {
    println!("checks:");
    for result in results {
        let mark = match result.verdict {
            Verdict::Pass => "pass ",
            Verdict::Warn => "WARN ",
            Verdict::Block => "BLOCK",
        };
        println!("  {mark} {}: {}", result.check.as_str(), result.explanation);
    }
}

/// How often the publishing worker looks for due publications when it found none.
const PUBLISH_IDLE: std::time::Duration = std::time::Duration::from_secs(1);
/// How often scheduled posts are turned into publications (and unscheduled ones withdrawn).
const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How often the accounts and their credentials are read again, so an account added or
/// re-keyed while the server runs publishes without a restart.
const ACCOUNTS_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

type Publishers =
    std::sync::RwLock<std::collections::HashMap<i64, Arc<dyn earshot_sources::Publisher>>>;

/// The publisher of every active account whose credentials open. An account that cannot be
/// used is reported and left out: its publications fail with a message saying so.
async fn load_publishers(
    store: &dyn Store,
    vault: Option<&Vault>,
    http: &HttpClient,
    publishers: &Publishers,
) {
    let accounts = match store.accounts().await {
        Ok(accounts) => accounts,
        Err(error) => {
            tracing::error!("cannot read the accounts to publish through: {error}");
            return;
        }
    };
    let mut built = std::collections::HashMap::new();
    for account in accounts {
        if account.status != AccountStatus::Active {
            continue;
        }
        let Some(vault) = vault else { continue };
        let publisher = async {
            let sealed = store.account_credentials(account.id).await?;
            let credentials = open_credentials(vault, &account, &sealed)?;
            let mut source = earshot_core::SourceConfig::new(
                account.name.clone(),
                account.network.source_kind(),
            );
            source.url = Some(account.server_url.clone());
            match credentials {
                AccountCredentials::Mastodon { access_token } => source.token = Some(access_token),
                AccountCredentials::Bluesky {
                    identifier,
                    app_password,
                } => {
                    source.identifier = Some(identifier);
                    source.app_password = Some(app_password);
                }
            }
            let publisher = earshot_sources::build_publisher(&source, http)?;
            anyhow::Ok(Arc::<dyn earshot_sources::Publisher>::from(publisher))
        }
        .await;
        match publisher {
            Ok(publisher) => {
                built.insert(account.id.0, publisher);
            }
            Err(error) => tracing::warn!(
                "account {} cannot publish: {error:#} (see `earshot account check {}`)",
                account.name,
                account.name
            ),
        }
    }
    *publishers.write().unwrap_or_else(|e| e.into_inner()) = built;
}

/// The publishing side of `earshot serve`: scheduled posts become publications, the worker
/// publishes them at their time exactly once, and the outcomes settle the posts.
pub fn start_publishing_tasks(
    workspace: &Workspace,
    config: &earshot_core::Config,
    store: Arc<dyn Store>,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let http = HttpClient::new(crate::commands::HTTP_TIMEOUT)?;
    // Without a master key there are no credentials to open: say so once; nothing publishes.
    let vault = match MasterKey::load(&workspace.dir) {
        Ok(key) => Some(Vault::new(&key)),
        Err(error) => {
            tracing::warn!("publishing through official accounts is off: {error}");
            None
        }
    };
    let publishers: Arc<Publishers> = Arc::default();
    let directory = {
        let publishers = publishers.clone();
        move |account: i64| {
            publishers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&account)
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "account #{account} is not active or its credentials cannot be opened \
                         (see `earshot account list` and `earshot account check`)"
                    )
                })
        }
    };
    let worker =
        publishing::PublicationWorker::new(store.clone(), Arc::new(directory), &config.outbox)
            .with_outcomes(Arc::new(publishing::PostOutcomes::new(store.clone())));
    let loader_store = store.clone();
    let short_links = publishing::post_link_tracking(config);
    let handle = tokio::spawn(async move {
        // The worker starts once the accounts are read: a post due at start would otherwise
        // fail for an account that is merely not loaded yet.
        load_publishers(loader_store.as_ref(), vault.as_ref(), &http, &publishers).await;
        let mut accounts_read = std::time::Instant::now();
        let worker_stop = shutdown.clone();
        let worker = tokio::spawn(async move { worker.run(worker_stop, PUBLISH_IDLE).await });
        loop {
            if accounts_read.elapsed() >= ACCOUNTS_EVERY {
                load_publishers(loader_store.as_ref(), vault.as_ref(), &http, &publishers).await;
                accounts_read = std::time::Instant::now();
            }
            if let Err(error) = publishing::reconcile_scheduled_posts(
                loader_store.as_ref(),
                Utc::now(),
                short_links.as_deref(),
            )
            .await
            {
                tracing::error!("cannot queue the scheduled posts: {error}");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(RECONCILE_EVERY) => {}
            }
        }
        let _ = worker.await;
    });
    Ok(vec![handle])
}
