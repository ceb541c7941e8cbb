//! `earshot user` and `earshot token`: people, roles and API tokens.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use earshot_core::{validate_user_name, EmailAddress, Role, TokenId, User};
use earshot_store::{NewUser, Store};
use earshot_web::auth;

use crate::workspace::Workspace;
use crate::{TokenAction, UserAction};

/// The password from the terminal without echo (asked twice), or the first line of stdin.
fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let second = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        if first != second {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The link's host: where the server listens, as configured.
fn invite_link(workspace: &Workspace, secret: &str) -> String {
    let addr = workspace
        .load_config()
        .map(|c| c.server.addr)
        .unwrap_or_else(|_| "127.0.0.1:8080".into());
    format!("http://{addr}/invite/{secret}")
}

/// Create a user with a password; used by `user add` and `demo`.
pub async fn add_user_with_password(
    store: &dyn Store,
    name: &str,
    display_name: Option<String>,
    role: Role,
    password: &str,
) -> Result<User> {
    add_user(store, name, display_name, role, password, None).await
}

/// Create a user with a password and maybe an e-mail address, in one store write.
async fn add_user(
    store: &dyn Store,
    name: &str,
    display_name: Option<String>,
    role: Role,
    password: &str,
    email: Option<&EmailAddress>,
) -> Result<User> {
    validate_user_name(name)?;
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .context("hashing failed")??;
    Ok(store
        .create_user_with_email(
            NewUser {
                name: name.to_string(),
                display_name,
                role,
                password_hash: Some(hash),
                created_at: Utc::now(),
            },
            email,
        )
        .await?)
}

pub async fn user(workspace: &Workspace, action: UserAction) -> Result<()> {
    workspace.load_config()?;
    let store = workspace.open_store().await?;
    match action {
        UserAction::Add {
            name,
            role,
            display_name,
            invite,
            email,
        } => {
            validate_user_name(&name)?;
            if invite {
                let user = store
                    .create_user_with_email(
                        NewUser {
                            name: name.clone(),
                            display_name,
                            role,
                            password_hash: None,
                            created_at: Utc::now(),
                        },
                        email.as_ref(),
                    )
                    .await?;
                let secret = auth::issue_invite(store.as_ref(), user.id, Utc::now()).await?;
                println!(
                    "User {name} ({role}) added. Send them this one-time link (valid 7 days):"
                );
                println!("{}", invite_link(workspace, &secret));
            } else {
                let password = read_password()?;
                add_user(
                    store.as_ref(),
                    &name,
                    display_name,
                    role,
                    &password,
                    email.as_ref(),
                )
                .await?;
                println!("User {name} ({role}) added.");
            }
        }
        UserAction::List => {
            let users = store.users().await?;
            if users.is_empty() {
                println!("No users yet: earshot user add NAME --role admin");
            }
            let emails: std::collections::HashMap<String, EmailAddress> =
                store.user_emails().await?.into_iter().collect();
            for user in users {
                let state = if user.disabled { " (disabled)" } else { "" };
                println!(
                    "{}\t{}\t{}\t{}{state}",
                    user.name,
                    user.role,
                    user.display_name.as_deref().unwrap_or(""),
                    emails
                        .get(&user.name)
                        .map(EmailAddress::as_str)
                        .unwrap_or("")
                );
            }
        }
        UserAction::SetEmail { name, email, clear } => {
            let email = if clear { None } else { email };
            store.set_user_email(&name, email.as_ref()).await?;
            match email {
                Some(address) => println!("User {name} now has the e-mail address {address}."),
                None => println!("User {name} has no e-mail address now."),
            }
        }
        UserAction::SetRole { name, role } => {
            let user = store.set_role(&name, role).await?;
            println!("User {} is now {}.", user.name, user.role);
        }
        UserAction::Disable { name } => {
            store.disable_user(&name).await?;
            println!("User {name} disabled: their sessions ended and their tokens were revoked.");
        }
    }
    store.flush().await?;
    Ok(())
}

pub async fn token(workspace: &Workspace, action: TokenAction) -> Result<()> {
    workspace.load_config()?;
    let store = workspace.open_store().await?;
    match action {
        TokenAction::Create { user, name } => {
            let Some(found) = store.user_by_name(&user).await? else {
                bail!("no user named {user:?} (see earshot user list)");
            };
            if found.disabled {
                bail!("user {user:?} is disabled");
            }
            let (secret, stored) =
                auth::issue_token(store.as_ref(), found.id, &name, Utc::now()).await?;
            eprintln!(
                "Token {} ({}) for {user}; shown only now, keep it safe:",
                stored.id.0, stored.name
            );
            println!("{secret}");
        }
        TokenAction::List => {
            for token in store.tokens().await? {
                let state = if token.revoked { "revoked" } else { "active" };
                let used = token
                    .last_used_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{}\t{}…\t{}\t{}\t{state}\tlast used {used}",
                    token.id.0, token.prefix, token.name, token.user_name
                );
            }
        }
        TokenAction::Revoke { id } => {
            let token = store.revoke_token(TokenId(id)).await?;
            println!(
                "Token {} ({}) of {} revoked.",
                id, token.name, token.user_name
            );
        }
    }
    Ok(())
}
