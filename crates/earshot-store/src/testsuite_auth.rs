//! Behaviour tests of [`crate::AuthStore`] every store must pass; each takes a fresh, empty
//! store. Run them from an integration test of the implementation (`tests/sqlite_auth.rs`).

use chrono::{DateTime, Duration, TimeZone, Utc};
use earshot_core::{Role, UserId};

use crate::{NewSession, NewToken, NewUser, Store, StoreError};

fn at_minute(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minute)
}

pub fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        name: name.to_string(),
        display_name: Some(format!("{name} <b>display</b>")),
        role,
        password_hash: Some(format!("$argon2id$fake-hash-of-{name}")),
        created_at: at_minute(0),
    }
}

fn session_for(id_hash: &str, user_id: UserId) -> NewSession {
    NewSession {
        id_hash: id_hash.to_string(),
        user_id,
        created_at: at_minute(1),
        expires_at: at_minute(60),
        csrf_secret: format!("csrf-{id_hash}"),
        client_addr: "192.0.2.7".into(),
    }
}

pub async fn run_all<F, Fut, S>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    users_are_unique_and_listed(&make().await).await;
    roles_change_and_unknown_names_are_reported(&make().await).await;
    sessions_round_trip_and_end(&make().await).await;
    tokens_are_found_by_hash_and_revoked(&make().await).await;
    disabling_ends_sessions_tokens_and_invites(&make().await).await;
    invites_are_single_use_and_expire(&make().await).await;
    login_failures_are_counted_per_key(&make().await).await;
}

pub async fn users_are_unique_and_listed(store: &dyn Store) {
    let anna = store
        .create_user(new_user("anna", Role::Agent))
        .await
        .unwrap();
    assert_eq!(anna.name, "anna");
    assert_eq!(anna.role, Role::Agent);
    assert_eq!(anna.display_name.as_deref(), Some("anna <b>display</b>"));
    assert!(!anna.disabled);
    assert_eq!(anna.created_at, at_minute(0));
    let clash = store.create_user(new_user("anna", Role::Admin)).await;
    match clash {
        Err(StoreError::Conflict(message)) => assert!(message.contains("anna"), "{message}"),
        other => panic!("a second `anna` must be a conflict, got {other:?}"),
    }
    let mut invited = new_user("boris", Role::Viewer);
    invited.password_hash = None;
    store.create_user(invited).await.unwrap();
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["anna", "boris"]);
    assert_eq!(store.user_count().await.unwrap(), 2);
    let (user, hash) = store.user_credentials("anna").await.unwrap().unwrap();
    assert_eq!(user, anna);
    assert_eq!(hash.as_deref(), Some("$argon2id$fake-hash-of-anna"));
    let (_, no_hash) = store.user_credentials("boris").await.unwrap().unwrap();
    assert_eq!(no_hash, None);
    assert!(store.user_credentials("nobody").await.unwrap().is_none());
    store.set_password(anna.id, "$argon2id$new").await.unwrap();
    let (_, hash) = store.user_credentials("anna").await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(store.user(anna.id).await.unwrap(), Some(anna));
}

pub async fn roles_change_and_unknown_names_are_reported(store: &dyn Store) {
    store
        .create_user(new_user("vera", Role::Viewer))
        .await
        .unwrap();
    let promoted = store.set_role("vera", Role::Manager).await.unwrap();
    assert_eq!(promoted.role, Role::Manager);
    assert_eq!(
        store.user_by_name("vera").await.unwrap().unwrap().role,
        Role::Manager
    );
    assert!(matches!(
        store.set_role("ghost", Role::Admin).await,
        Err(StoreError::NotFound(m)) if m.contains("ghost")
    ));
    assert!(matches!(
        store.disable_user("ghost").await,
        Err(StoreError::NotFound(m)) if m.contains("ghost")
    ));
}

pub async fn sessions_round_trip_and_end(store: &dyn Store) {
    let anna = store
        .create_user(new_user("anna", Role::Agent))
        .await
        .unwrap();
    store
        .create_session(session_for("s1", anna.id))
        .await
        .unwrap();
    store
        .create_session(session_for("s2", anna.id))
        .await
        .unwrap();
    let (session, user) = store.session("s1").await.unwrap().unwrap();
    assert_eq!(user.name, "anna");
    assert_eq!(session.csrf_secret, "csrf-s1");
    assert_eq!(session.client_addr, "192.0.2.7");
    assert_eq!(session.last_seen_at, at_minute(1));
    assert_eq!(session.expires_at, at_minute(60));
    store.touch_session("s1", at_minute(30)).await.unwrap();
    // An older touch (a slow concurrent request) never moves the time back.
    store.touch_session("s1", at_minute(20)).await.unwrap();
    let (session, _) = store.session("s1").await.unwrap().unwrap();
    assert_eq!(session.last_seen_at, at_minute(30));
    store.delete_session("s1").await.unwrap();
    assert!(store.session("s1").await.unwrap().is_none());
    assert!(store.session("s2").await.unwrap().is_some());
    // s2 was last seen at minute 1: idle since before minute 10, so it goes.
    let removed = store
        .delete_stale_sessions(at_minute(30), at_minute(10))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(store.session("s2").await.unwrap().is_none());
}

pub async fn tokens_are_found_by_hash_and_revoked(store: &dyn Store) {
    let anna = store
        .create_user(new_user("anna", Role::Manager))
        .await
        .unwrap();
    let token = store
        .create_token(NewToken {
            token_hash: "hash-1".into(),
            prefix: "es_abcd".into(),
            name: "ci".into(),
            user_id: anna.id,
            created_at: at_minute(2),
        })
        .await
        .unwrap();
    assert_eq!(token.user_name, "anna");
    assert_eq!(token.prefix, "es_abcd");
    assert!(!token.revoked);
    assert_eq!(token.last_used_at, None);
    let (found, user) = store.token_by_hash("hash-1").await.unwrap().unwrap();
    assert_eq!(found, token);
    assert_eq!(user.role, Role::Manager);
    assert!(store.token_by_hash("hash-2").await.unwrap().is_none());
    store.touch_token(token.id, at_minute(5)).await.unwrap();
    let revoked = store.revoke_token(token.id).await.unwrap();
    assert!(revoked.revoked);
    assert_eq!(revoked.last_used_at, Some(at_minute(5)));
    let (found, _) = store.token_by_hash("hash-1").await.unwrap().unwrap();
    assert!(found.revoked);
    assert_eq!(store.tokens().await.unwrap(), vec![revoked]);
    assert!(matches!(
        store.revoke_token(earshot_core::TokenId(999)).await,
        Err(StoreError::NotFound(_))
    ));
    let orphan = store
        .create_token(NewToken {
            token_hash: "hash-3".into(),
            prefix: "es_x".into(),
            name: "x".into(),
            user_id: UserId(999),
            created_at: at_minute(2),
        })
        .await;
    assert!(orphan.is_err(), "a token for no user must be refused");
}

pub async fn disabling_ends_sessions_tokens_and_invites(store: &dyn Store) {
    let anna = store
        .create_user(new_user("anna", Role::Admin))
        .await
        .unwrap();
    let other = store
        .create_user(new_user("oleg", Role::Admin))
        .await
        .unwrap();
    store
        .create_session(session_for("a", anna.id))
        .await
        .unwrap();
    store
        .create_session(session_for("o", other.id))
        .await
        .unwrap();
    store
        .create_token(NewToken {
            token_hash: "t".into(),
            prefix: "es_t".into(),
            name: "t".into(),
            user_id: anna.id,
            created_at: at_minute(2),
        })
        .await
        .unwrap();
    store
        .create_invite("inv", anna.id, at_minute(0), at_minute(100))
        .await
        .unwrap();
    let disabled = store.disable_user("anna").await.unwrap();
    assert!(disabled.disabled);
    assert!(store.session("a").await.unwrap().is_none());
    assert!(
        store.session("o").await.unwrap().is_some(),
        "others keep theirs"
    );
    assert!(store.token_by_hash("t").await.unwrap().unwrap().0.revoked);
    assert!(store
        .invite_user("inv", at_minute(1))
        .await
        .unwrap()
        .is_none());
}

pub async fn invites_are_single_use_and_expire(store: &dyn Store) {
    let mut invited = new_user("nina", Role::Agent);
    invited.password_hash = None;
    let nina = store.create_user(invited).await.unwrap();
    store
        .create_invite("inv-1", nina.id, at_minute(0), at_minute(100))
        .await
        .unwrap();
    store
        .create_invite("inv-2", nina.id, at_minute(0), at_minute(10))
        .await
        .unwrap();
    assert_eq!(
        store.invite_user("inv-1", at_minute(5)).await.unwrap(),
        Some(nina.clone())
    );
    assert!(store
        .invite_user("inv-2", at_minute(10))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .redeem_invite("inv-2", "$argon2id$late", at_minute(11))
        .await
        .unwrap()
        .is_none());
    let (_, hash) = store.user_credentials("nina").await.unwrap().unwrap();
    assert_eq!(hash, None, "an expired invite sets nothing");
    let redeemed = store
        .redeem_invite("inv-1", "$argon2id$set", at_minute(6))
        .await
        .unwrap();
    assert_eq!(redeemed.map(|u| u.id), Some(nina.id));
    let (_, hash) = store.user_credentials("nina").await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$set"));
    assert!(store
        .redeem_invite("inv-1", "$argon2id$again", at_minute(7))
        .await
        .unwrap()
        .is_none());
    let (_, hash) = store.user_credentials("nina").await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$set"), "used once only");
}

pub async fn login_failures_are_counted_per_key(store: &dyn Store) {
    for minute in [1, 2, 3] {
        store
            .record_login_failure("account:anna", at_minute(minute))
            .await
            .unwrap();
    }
    store
        .record_login_failure("address:192.0.2.7", at_minute(2))
        .await
        .unwrap();
    let anna = store
        .login_failures("account:anna", at_minute(0))
        .await
        .unwrap();
    assert_eq!(anna.count, 3);
    assert_eq!(anna.last, Some(at_minute(3)));
    let recent = store
        .login_failures("account:anna", at_minute(2))
        .await
        .unwrap();
    assert_eq!(recent.count, 2);
    store.clear_login_failures("account:anna").await.unwrap();
    let cleared = store
        .login_failures("account:anna", at_minute(0))
        .await
        .unwrap();
    assert_eq!(cleared.count, 0);
    assert_eq!(cleared.last, None);
    let address = store
        .login_failures("address:192.0.2.7", at_minute(0))
        .await
        .unwrap();
    assert_eq!(address.count, 1, "clearing one key leaves the others");
}
